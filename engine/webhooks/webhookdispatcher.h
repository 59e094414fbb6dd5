#pragma once

#include "net/targetpolicy.h"
#include "webhookstore.h"

#include <QHash>
#include <QList>
#include <QObject>
#include <QSslCertificate>
#include <QTimer>

namespace mailcaff::dns {
class Resolver;
}
namespace mailcaff::net {
class HttpExchange;
}

namespace mailcaff::webhooks {

/// Delivers queued webhooks: polls the store for due deliveries (every second, and at once when kicked),
/// keeps a few in flight, and posts each one signed per Standard Webhooks over HTTPS. The target's host is
/// resolved through the engine's resolver and every address is checked against the TargetPolicy on every
/// attempt, then the connection goes to that checked address (DNS rebinding cannot slip past) while TLS still
/// verifies the host name. Redirects are never followed; 2xx delivers, 410 disables the endpoint, anything
/// else is retried on the schedule stored in the database, so retries survive restarts.
class WebhookDispatcher : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WebhookDispatcher)
public:
    /// Delays before the 2nd, 3rd, … attempt; after the last the delivery is 'failed'.
    static QList<int> defaultRetryScheduleMs();
    static constexpr int DefaultTimeoutMs = 10000;
    /// How long after an attempt's timeout a claimed delivery whose result was never recorded (its server
    /// died during the attempt) becomes due again for any server.
    static constexpr int ClaimMarginSecs = 30;
    /// The longest wait a Retry-After header may impose.
    static constexpr qint64 MaxRetryAfterSecs = 10 * 3600;

    /// `extraCaCertificates` are trusted besides the system's (tests, private CAs); certificate errors are
    /// never ignored.
    WebhookDispatcher(WebhookStore *store, dns::Resolver *resolver, net::TargetPolicy policy,
                      QList<QSslCertificate> extraCaCertificates = {}, QObject *parent = nullptr);
    ~WebhookDispatcher() override;

    void setRetrySchedule(const QList<int> &delaysMs) { m_scheduleMs = delaysMs; }
    QList<int> retrySchedule() const { return m_scheduleMs; }
    /// Total time for one attempt, DNS to headers (default 10 s).
    void setTimeout(int milliseconds) { m_timeoutMs = milliseconds; }
    void setMaxInFlight(int count) { m_maxInFlight = qMax(1, count); }
    void setPollInterval(int milliseconds);
    /// Adds up to ±10% to schedule delays so retries of many deliveries spread out (on by default).
    void setJitter(bool on) { m_jitter = on; }

    void start();
    void stop();
    bool isRunning() const { return m_poll.isActive(); }
    int inFlight() const { return int(m_attempts.size()); }

    /// WebhookStore::enqueue, then an immediate look for work.
    QString enqueue(qint64 keyId, const QString &event, const QString &jobId, const QJsonObject &payload);
    /// Looks for due deliveries now instead of at the next poll.
    void kick();

Q_SIGNALS:
    /// After each attempt was recorded; `state` is the delivery's state afterwards.
    void attemptFinished(const QString &deliveryId, int status, const QString &error,
                         mailcaff::webhooks::Delivery::State state);

private:
    void poll();
    void begin(const Delivery &delivery);
    void finish(const QString &deliveryId, qint64 keyId, int status, const QString &error, int durationMs,
                std::optional<qint64> retryAfterSecs);
    qint64 retryDelayMs(int attemptsMade, std::optional<qint64> retryAfterSecs, bool *exhausted) const;

    WebhookStore *m_store = nullptr;
    dns::Resolver *m_resolver = nullptr;
    net::TargetPolicy m_policy;
    QList<QSslCertificate> m_caCertificates; ///< empty: the system's, loaded on demand
    QList<int> m_scheduleMs = defaultRetryScheduleMs();
    int m_timeoutMs = DefaultTimeoutMs;
    int m_maxInFlight = 4;
    bool m_jitter = true;
    QTimer m_poll;
    bool m_kickQueued = false;
    QHash<QString, net::HttpExchange *> m_attempts;
    /// Sub-second retry times of this run (the database keeps whole seconds): a retry is not started before
    /// its exact time even when its second has come.
    QHash<QString, qint64> m_notBeforeMs;
};

} // namespace mailcaff::webhooks
