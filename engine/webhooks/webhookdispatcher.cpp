#include "webhookdispatcher.h"

#include "dns/resolver.h"
#include "net/httpexchange.h"
#include "signing.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QNetworkProxy>
#include <QPointer>
#include <QRandomGenerator>
#include <QSslConfiguration>
#include <QSslSocket>
#include <QUrl>

#include <functional>

using namespace Qt::StringLiterals;

namespace mailcaff::webhooks {

QList<int> WebhookDispatcher::defaultRetryScheduleMs()
{
    // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h: a receiver down for a deploy is retried within seconds, one down
    // for most of a day still gets its events.
    return {5'000, 300'000, 1'800'000, 7'200'000, 18'000'000, 36'000'000};
}

WebhookDispatcher::WebhookDispatcher(WebhookStore *store, dns::Resolver *resolver, net::TargetPolicy policy,
                                     QList<QSslCertificate> extraCaCertificates, QObject *parent)
    : QObject(parent)
    , m_store(store)
    , m_resolver(resolver)
    , m_policy(policy)
{
    // Adding CAs to a configuration turns off Qt's on-demand loading of the system's roots, so the extra
    // ones go on top of an explicit copy of the system store, read once per process (it is slow).
    if (!extraCaCertificates.isEmpty()) {
        static const QList<QSslCertificate> systemRoots = QSslConfiguration::systemCaCertificates();
        m_caCertificates = systemRoots + extraCaCertificates;
    }
    m_poll.setInterval(1000);
    connect(&m_poll, &QTimer::timeout, this, &WebhookDispatcher::poll);
}

WebhookDispatcher::~WebhookDispatcher()
{
    stop();
}

void WebhookDispatcher::setPollInterval(int milliseconds)
{
    m_poll.setInterval(milliseconds);
}

void WebhookDispatcher::start()
{
    m_poll.start();
    kick();
}

void WebhookDispatcher::stop()
{
    m_poll.stop();
    // Attempts in flight stay 'pending' in the database and are made again after a restart.
    const auto attempts = std::exchange(m_attempts, {});
    for (net::HttpExchange *attempt : attempts)
        delete attempt;
}

QString WebhookDispatcher::enqueue(qint64 keyId, const QString &event, const QString &jobId,
                                   const QJsonObject &payload)
{
    const QString id = m_store->enqueue(keyId, event, jobId, payload);
    if (!id.isEmpty())
        kick();
    return id;
}

void WebhookDispatcher::kick()
{
    if (m_kickQueued || !isRunning())
        return;
    m_kickQueued = true;
    QMetaObject::invokeMethod(this, &WebhookDispatcher::poll, Qt::QueuedConnection);
}

void WebhookDispatcher::poll()
{
    m_kickQueued = false;
    if (!isRunning())
        return;
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    const int limit = m_maxInFlight + int(m_attempts.size() + m_notBeforeMs.size());
    const QList<Delivery> due = m_store->due(nowMs / 1000, limit);
    for (const Delivery &delivery : due) {
        if (m_attempts.size() >= m_maxInFlight)
            break;
        if (m_attempts.contains(delivery.id) || m_notBeforeMs.value(delivery.id, 0) > nowMs)
            continue;
        m_notBeforeMs.remove(delivery.id);
        // Another server sharing the database may be sending it: one attempt each time, by whoever claims it.
        if (!m_store->claim(delivery, nowMs / 1000 + m_timeoutMs / 1000 + ClaimMarginSecs))
            continue;
        begin(delivery);
    }
}

void WebhookDispatcher::begin(const Delivery &delivery)
{
    const auto target = m_store->endpoint(delivery.keyId);
    if (!target || !target->enabled) {
        const QString error = target ? u"the webhook is disabled"_s : u"the webhook was removed"_s;
        AttemptRecord record;
        record.attemptedAt = QDateTime::currentSecsSinceEpoch();
        record.error = error;
        record.newState = Delivery::State::Abandoned;
        m_store->recordAttempt(delivery.id, record);
        Q_EMIT attemptFinished(delivery.id, 0, error, Delivery::State::Abandoned);
        return;
    }
    // A fresh timestamp per attempt (receivers reject old ones), the same id and body every time.
    const qint64 timestamp = QDateTime::currentSecsSinceEpoch();
    net::HttpExchange::Request request;
    request.url = QUrl(target->url);
    request.method = "POST";
    request.userAgent = "Mailcaff-Webhooks/" MAILCAFF_VERSION;
    request.contentType = "application/json";
    request.body = delivery.payload;
    request.headers = "webhook-id: " + delivery.id.toLatin1() +
                      "\r\nwebhook-timestamp: " + QByteArray::number(timestamp) + "\r\nwebhook-signature: " +
                      sign(target->secret, delivery.id, timestamp, delivery.payload).toLatin1() + "\r\n";
    const QString id = delivery.id;
    const qint64 keyId = delivery.keyId;
    auto *attempt = new net::HttpExchange(
        std::move(request), m_resolver, m_policy, m_caCertificates, m_timeoutMs,
        [this, id, keyId](const net::HttpExchange::Outcome &outcome) {
            net::HttpExchange *self = m_attempts.take(id);
            const int duration = self ? self->elapsedMs() : 0;
            if (self)
                self->deleteLater();
            QString error = outcome.error;
            if (error.isEmpty() && (outcome.status < 200 || outcome.status > 299)) {
                if (outcome.status >= 300 && outcome.status < 400)
                    error = outcome.location.isEmpty()
                                ? u"HTTP %1: redirects are not followed"_s.arg(outcome.status)
                                : u"HTTP %1 to %2: redirects are not followed"_s.arg(outcome.status)
                                      .arg(QString::fromLatin1(outcome.location));
                else
                    error = u"HTTP %1"_s.arg(outcome.status);
            }
            const bool retryAfterApplies = outcome.status == 429 || outcome.status == 503;
            finish(id, keyId, outcome.status, error, duration,
                   retryAfterApplies ? outcome.retryAfterSecs : std::nullopt);
        },
        this);
    m_attempts.insert(id, attempt);
    attempt->start();
}

qint64 WebhookDispatcher::retryDelayMs(int attemptsMade, std::optional<qint64> retryAfterSecs,
                                       bool *exhausted) const
{
    // attemptsMade counts the one just finished: after the first, the schedule's first delay applies.
    *exhausted = attemptsMade > m_scheduleMs.size();
    if (*exhausted)
        return 0;
    if (retryAfterSecs)
        return qMin(*retryAfterSecs, MaxRetryAfterSecs) * 1000;
    qint64 delay = m_scheduleMs.at(attemptsMade - 1);
    if (m_jitter && delay > 0)
        delay += QRandomGenerator::global()->bounded(delay / 5 + 1) - delay / 10;
    return qMax<qint64>(0, delay);
}

void WebhookDispatcher::finish(const QString &deliveryId, qint64 keyId, int status, const QString &error,
                               int durationMs, std::optional<qint64> retryAfterSecs)
{
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    const auto current = m_store->delivery(deliveryId);
    AttemptRecord record;
    record.attemptedAt = nowMs / 1000;
    record.status = status;
    record.durationMs = durationMs;
    record.error = error;
    if (status >= 200 && status <= 299) {
        record.newState = Delivery::State::Delivered;
    } else if (status == 410) {
        // 410 Gone: the receiver says the endpoint will never come back (Standard Webhooks, "disable").
        record.newState = Delivery::State::Abandoned;
    } else {
        bool exhausted = false;
        const qint64 delay = retryDelayMs((current ? current->attempts : 0) + 1, retryAfterSecs, &exhausted);
        if (exhausted) {
            record.newState = Delivery::State::Failed;
        } else {
            record.newState = Delivery::State::Pending;
            const qint64 atMs = nowMs + delay;
            record.nextAttemptAt = atMs / 1000;
            m_notBeforeMs.insert(deliveryId, atMs);
            // The poll timer may be slower than a short retry delay.
            if (delay < m_poll.interval())
                QTimer::singleShot(int(delay), this, &WebhookDispatcher::kick);
        }
    }
    m_store->recordAttempt(deliveryId, record);
    if (status == 410)
        m_store->disableEndpoint(keyId, u"the receiver answered 410 Gone"_s);
    Q_EMIT attemptFinished(deliveryId, status, error, record.newState);
    kick();
}

} // namespace mailcaff::webhooks
