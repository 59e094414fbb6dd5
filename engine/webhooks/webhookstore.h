#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <optional>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::webhooks {

/// The webhook URL of one API key and the secret its deliveries are signed with.
struct Endpoint
{
    qint64 keyId = 0;
    QString url;
    QByteArray secret; ///< "whsec_…"; shown to the user once, when set
    bool enabled = true;
    qint64 createdAt = 0; ///< epoch seconds
    QString disabledReason;
};

/// One event for one endpoint. Its id ("msg_…") is the webhook-id header and stays the same across retries.
struct Delivery
{
    enum class State { Pending, Delivered, Failed, Abandoned };

    QString id;
    qint64 keyId = 0;
    QString event;
    QString jobId;
    QByteArray payload; ///< the exact request body, signed as stored
    int attempts = 0;
    qint64 nextAttemptAt = 0; ///< epoch seconds
    State state = State::Pending;
    int lastStatus = 0; ///< HTTP status of the last attempt, 0 when none came back
    QString lastError;
    int lastDurationMs = 0;
    qint64 createdAt = 0;
    qint64 deliveredAt = 0; ///< 0 until delivered
};

QString toString(Delivery::State state);

/// One row of the delivery log.
struct DeliveryAttempt
{
    QString deliveryId;
    qint64 attemptedAt = 0;
    int status = 0;
    int durationMs = 0;
    QString error;
};

/// What an attempt came to, as the dispatcher records it.
struct AttemptRecord
{
    qint64 attemptedAt = 0;
    int status = 0;
    int durationMs = 0;
    QString error;
    Delivery::State newState = Delivery::State::Pending;
    qint64 nextAttemptAt = 0; ///< for Pending
};

/// Result of setEndpoint: the new secret, or why the URL was refused.
struct SetEndpointResult
{
    QByteArray secret;
    QString error;
    bool ok() const { return error.isEmpty(); }
};

/// Webhook endpoints, deliveries and the delivery log in the database (schema step 6). Uses the calling
/// thread's connection; every write is one short statement or transaction.
class WebhookStore
{
    Q_DISABLE_COPY_MOVE(WebhookStore)
public:
    static constexpr int MaxUrlLength = 2048;

    explicit WebhookStore(storage::Database *database);

    /// Empty when `url` is acceptable as a webhook target, otherwise the reason (for a 400 or the window).
    static QString validateUrl(const QString &url);

    /// Sets (or replaces) the key's URL with a new secret and enables it.
    SetEndpointResult setEndpoint(qint64 keyId, const QString &url);
    std::optional<Endpoint> endpoint(qint64 keyId) const;
    /// Removes the endpoint; its pending deliveries are abandoned.
    bool removeEndpoint(qint64 keyId);
    /// Disables the endpoint (410 Gone, or the user's choice) and abandons its pending deliveries.
    bool disableEndpoint(qint64 keyId, const QString &reason);

    /// Queues `event` for the key's endpoint when it has an enabled one; returns the delivery id, or an empty
    /// string when there is nothing to deliver to. `event` and `job_id` are added to the body when missing.
    QString enqueue(qint64 keyId, const QString &event, const QString &jobId, const QJsonObject &payload);

    /// Pending deliveries whose time has come, oldest schedule first.
    QList<Delivery> due(qint64 nowSecs, int limit) const;
    /// Takes the due `delivery` for one attempt (servers sharing a database see the same due deliveries;
    /// one of them sends it): its next attempt moves to `untilSecs`, after which another may try it if this
    /// attempt's result was never recorded (its server died). False when another took it first.
    bool claim(const Delivery &delivery, qint64 untilSecs);
    /// The earliest next_attempt_at of the pending deliveries, if any.
    std::optional<qint64> nextDue() const;
    std::optional<Delivery> delivery(const QString &id) const;
    /// Updates the delivery after an attempt and appends to the log, in one transaction.
    bool recordAttempt(const QString &deliveryId, const AttemptRecord &record);
    /// The key's deliveries, newest first.
    QList<Delivery> deliveries(qint64 keyId, int limit) const;
    /// One delivery's attempts, oldest first.
    QList<DeliveryAttempt> attempts(const QString &deliveryId) const;

    QString lastError() const { return m_lastError; }

private:
    /// Deliveries matching `whereAndOrder` (a WHERE … ORDER BY … LIMIT clause with `?` for `values`).
    QList<Delivery> queryDeliveries(const QString &whereAndOrder, const QVariantList &values) const;
    bool abandonPending(qint64 keyId, const QString &reason);

    storage::Database *m_database = nullptr;
    mutable QString m_lastError;
};

} // namespace mailcaff::webhooks
