#include "webhookstore.h"

#include "signing.h"
#include "storage/database.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>
#include <QVariant>

using namespace Qt::StringLiterals;

namespace mailcaff::webhooks {

namespace {

qint64 nowSecs()
{
    return QDateTime::currentSecsSinceEpoch();
}

Delivery::State stateFromString(const QString &text)
{
    if (text == "delivered"_L1)
        return Delivery::State::Delivered;
    if (text == "failed"_L1)
        return Delivery::State::Failed;
    if (text == "abandoned"_L1)
        return Delivery::State::Abandoned;
    return Delivery::State::Pending;
}

const auto DeliveryColumns =
    u"id, key_id, event, job_id, payload, attempts, next_attempt_at, state, last_status, "
    "last_error, last_duration_ms, created_at, delivered_at"_s;

Delivery readDelivery(const QSqlQuery &q)
{
    Delivery d;
    d.id = q.value(0).toString();
    d.keyId = q.value(1).toLongLong();
    d.event = q.value(2).toString();
    d.jobId = q.value(3).toString();
    d.payload = q.value(4).toString().toUtf8();
    d.attempts = q.value(5).toInt();
    d.nextAttemptAt = q.value(6).toLongLong();
    d.state = stateFromString(q.value(7).toString());
    d.lastStatus = q.value(8).toInt();
    d.lastError = q.value(9).toString();
    d.lastDurationMs = q.value(10).toInt();
    d.createdAt = q.value(11).toLongLong();
    d.deliveredAt = q.value(12).toLongLong();
    return d;
}

} // namespace

QString toString(Delivery::State state)
{
    switch (state) {
    case Delivery::State::Pending:
        return u"pending"_s;
    case Delivery::State::Delivered:
        return u"delivered"_s;
    case Delivery::State::Failed:
        return u"failed"_s;
    case Delivery::State::Abandoned:
        return u"abandoned"_s;
    }
    return u"pending"_s;
}

WebhookStore::WebhookStore(storage::Database *database)
    : m_database(database)
{
}

QString WebhookStore::validateUrl(const QString &text)
{
    if (text.size() > MaxUrlLength)
        return u"the webhook URL is longer than %1 characters"_s.arg(MaxUrlLength);
    const QUrl url(text.trimmed(), QUrl::StrictMode);
    if (text.trimmed().isEmpty() || !url.isValid() || url.isRelative())
        return u"the webhook URL is not a valid URL"_s;
    if (url.scheme().compare("https"_L1, Qt::CaseInsensitive) != 0)
        return u"only HTTPS webhook URLs are accepted"_s;
    if (url.host().isEmpty())
        return u"the webhook URL has no host"_s;
    // Credentials in a URL end up in logs and in the window; receivers authenticate by the signature.
    if (!url.userInfo().isEmpty())
        return u"the webhook URL must not contain a user name or password"_s;
    if (url.host(QUrl::EncodeUnicode).isEmpty())
        return u"the webhook URL's host name is not valid"_s;
    return {};
}

SetEndpointResult WebhookStore::setEndpoint(qint64 keyId, const QString &url)
{
    SetEndpointResult result;
    result.error = validateUrl(url);
    if (!result.ok())
        return result;
    const QByteArray secret = generateSecret();
    QSqlQuery q(m_database->connection());
    q.prepare(
        u"INSERT INTO webhook_endpoints(key_id, url, secret, enabled, created_at, disabled_reason) "
        "VALUES (?, ?, ?, 1, ?, NULL) ON CONFLICT(key_id) DO UPDATE SET url = excluded.url, "
        "secret = excluded.secret, enabled = 1, created_at = excluded.created_at, disabled_reason = NULL"_s);
    q.addBindValue(keyId);
    q.addBindValue(QUrl(url.trimmed()).toString(QUrl::FullyEncoded));
    q.addBindValue(QString::fromLatin1(secret));
    q.addBindValue(nowSecs());
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        result.error = u"the webhook could not be saved"_s;
        return result;
    }
    result.secret = secret;
    return result;
}

std::optional<Endpoint> WebhookStore::endpoint(qint64 keyId) const
{
    QSqlQuery q(m_database->connection());
    q.prepare(
        u"SELECT url, secret, enabled, created_at, disabled_reason FROM webhook_endpoints WHERE key_id = ?"_s);
    q.addBindValue(keyId);
    if (!q.exec() || !q.next()) {
        m_lastError = q.lastError().text();
        return std::nullopt;
    }
    Endpoint e;
    e.keyId = keyId;
    e.url = q.value(0).toString();
    e.secret = q.value(1).toString().toLatin1();
    e.enabled = q.value(2).toBool();
    e.createdAt = q.value(3).toLongLong();
    e.disabledReason = q.value(4).toString();
    return e;
}

bool WebhookStore::abandonPending(qint64 keyId, const QString &reason)
{
    QSqlQuery q(m_database->connection());
    q.prepare(u"UPDATE webhook_deliveries SET state = 'abandoned', last_error = COALESCE(last_error, ?) "
              "WHERE key_id = ? AND state = 'pending'"_s);
    q.addBindValue(reason);
    q.addBindValue(keyId);
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        return false;
    }
    return true;
}

bool WebhookStore::removeEndpoint(qint64 keyId)
{
    QSqlDatabase db = m_database->connection();
    return storage::inTransaction(db, [&] {
        QSqlQuery q(db);
        q.prepare(u"DELETE FROM webhook_endpoints WHERE key_id = ?"_s);
        q.addBindValue(keyId);
        if (!q.exec()) {
            m_lastError = q.lastError().text();
            return false;
        }
        return abandonPending(keyId, u"the webhook was removed"_s);
    });
}

bool WebhookStore::disableEndpoint(qint64 keyId, const QString &reason)
{
    QSqlDatabase db = m_database->connection();
    return storage::inTransaction(db, [&] {
        QSqlQuery q(db);
        q.prepare(u"UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ? WHERE key_id = ?"_s);
        q.addBindValue(reason);
        q.addBindValue(keyId);
        if (!q.exec()) {
            m_lastError = q.lastError().text();
            return false;
        }
        return abandonPending(keyId, reason);
    });
}

QString WebhookStore::enqueue(qint64 keyId, const QString &event, const QString &jobId,
                              const QJsonObject &payload)
{
    m_lastError.clear();
    const auto target = endpoint(keyId);
    if (!target || !target->enabled)
        return {};
    QJsonObject body = payload;
    if (!body.contains("event"_L1))
        body.insert(u"event"_s, event);
    if (!jobId.isEmpty() && !body.contains("job_id"_L1))
        body.insert(u"job_id"_s, jobId);
    const QString id = generateMessageId();
    const qint64 now = nowSecs();
    QSqlQuery q(m_database->connection());
    q.prepare(u"INSERT INTO webhook_deliveries(id, key_id, event, job_id, payload, attempts, "
              u"next_attempt_at, state, "
              "created_at) VALUES (?, ?, ?, ?, ?, 0, ?, 'pending', ?)"_s);
    q.addBindValue(id);
    q.addBindValue(keyId);
    q.addBindValue(event);
    q.addBindValue(jobId);
    q.addBindValue(QString::fromUtf8(QJsonDocument(body).toJson(QJsonDocument::Compact)));
    q.addBindValue(now);
    q.addBindValue(now);
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        return {};
    }
    return id;
}

QList<Delivery> WebhookStore::queryDeliveries(const QString &whereAndOrder, const QVariantList &values) const
{
    QList<Delivery> out;
    QSqlQuery q(m_database->connection());
    q.prepare(u"SELECT "_s + DeliveryColumns + u" FROM webhook_deliveries "_s + whereAndOrder);
    for (const QVariant &v : values)
        q.addBindValue(v);
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        return out;
    }
    while (q.next())
        out.append(readDelivery(q));
    return out;
}

QList<Delivery> WebhookStore::due(qint64 now, int limit) const
{
    return queryDeliveries(
        u"WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?"_s,
        {now, limit});
}

std::optional<qint64> WebhookStore::nextDue() const
{
    QSqlQuery q(m_database->connection());
    if (!q.exec(u"SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE state = 'pending'"_s) ||
        !q.next() || q.value(0).isNull())
        return std::nullopt;
    return q.value(0).toLongLong();
}

std::optional<Delivery> WebhookStore::delivery(const QString &id) const
{
    QSqlQuery q(m_database->connection());
    q.prepare(u"SELECT "_s + DeliveryColumns + u" FROM webhook_deliveries WHERE id = ?"_s);
    q.addBindValue(id);
    if (!q.exec() || !q.next()) {
        m_lastError = q.lastError().text();
        return std::nullopt;
    }
    return readDelivery(q);
}

bool WebhookStore::recordAttempt(const QString &deliveryId, const AttemptRecord &r)
{
    QSqlDatabase db = m_database->connection();
    return storage::inTransaction(db, [&] {
        QSqlQuery q(db);
        q.prepare(u"UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, state = ?, "
                  "last_status = ?, last_error = ?, last_duration_ms = ?, delivered_at = ? WHERE id = ? AND "
                  "state = 'pending'"_s);
        q.addBindValue(r.newState == Delivery::State::Pending ? r.nextAttemptAt : r.attemptedAt);
        q.addBindValue(toString(r.newState));
        q.addBindValue(r.status);
        q.addBindValue(r.error.isEmpty() ? QVariant() : QVariant(r.error));
        q.addBindValue(r.durationMs);
        q.addBindValue(r.newState == Delivery::State::Delivered ? QVariant(r.attemptedAt) : QVariant());
        q.addBindValue(deliveryId);
        // Not pending any more: another server sharing the database ended it (its claim on an attempt
        // ran out while this one was still trying): that outcome stands.
        if (!q.exec() || q.numRowsAffected() != 1) {
            m_lastError =
                q.lastError().isValid() ? q.lastError().text() : u"the delivery has already ended"_s;
            return false;
        }
        q.prepare(u"INSERT INTO webhook_delivery_log(delivery_id, attempted_at, status, duration_ms, error) "
                  "VALUES (?, ?, ?, ?, ?)"_s);
        q.addBindValue(deliveryId);
        q.addBindValue(r.attemptedAt);
        q.addBindValue(r.status);
        q.addBindValue(r.durationMs);
        q.addBindValue(r.error.isEmpty() ? QVariant() : QVariant(r.error));
        if (!q.exec()) {
            m_lastError = q.lastError().text();
            return false;
        }
        return true;
    });
}

bool WebhookStore::claim(const Delivery &delivery, qint64 untilSecs)
{
    QSqlQuery q(m_database->connection());
    q.prepare(u"UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND state = 'pending' AND "
              "next_attempt_at = ?"_s);
    q.addBindValue(untilSecs);
    q.addBindValue(delivery.id);
    q.addBindValue(delivery.nextAttemptAt);
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        return false;
    }
    return q.numRowsAffected() == 1;
}

QList<Delivery> WebhookStore::deliveries(qint64 keyId, int limit) const
{
    return queryDeliveries(u"WHERE key_id = ? ORDER BY created_at DESC, "_s +
                               storage::insertionOrder(m_database->dialect()) + u" DESC LIMIT ?"_s,
                           {keyId, limit});
}

QList<DeliveryAttempt> WebhookStore::attempts(const QString &deliveryId) const
{
    QList<DeliveryAttempt> out;
    QSqlQuery q(m_database->connection());
    q.prepare(
        u"SELECT attempted_at, status, duration_ms, error FROM webhook_delivery_log WHERE delivery_id = ? "
        "ORDER BY id"_s);
    q.addBindValue(deliveryId);
    if (!q.exec()) {
        m_lastError = q.lastError().text();
        return out;
    }
    while (q.next()) {
        DeliveryAttempt a;
        a.deliveryId = deliveryId;
        a.attemptedAt = q.value(0).toLongLong();
        a.status = q.value(1).toInt();
        a.durationMs = q.value(2).toInt();
        a.error = q.value(3).toString();
        out.append(a);
    }
    return out;
}

} // namespace mailcaff::webhooks
