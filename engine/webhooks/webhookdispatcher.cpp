#include "webhookdispatcher.h"

#include "dns/resolver.h"
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

/// One HTTPS POST: resolve, check, connect to the checked address, send, read the status line and headers.
/// Calls `done` exactly once, then ignores its socket; the dispatcher deletes it.
class WebhookAttempt : public QObject
{
public:
    struct Outcome
    {
        int status = 0;
        QString error;
        QByteArray location;
        std::optional<qint64> retryAfterSecs;
    };

    struct Request
    {
        QUrl url;
        QByteArray body;
        QByteArray headers; ///< the webhook-* lines, CRLF-terminated
    };

    /// `caCertificates` empty: the system's, loaded on demand.
    WebhookAttempt(Request request, dns::Resolver *resolver, const net::TargetPolicy &policy,
                   const QList<QSslCertificate> &caCertificates, int timeoutMs,
                   std::function<void(const Outcome &)> done, QObject *parent)
        : QObject(parent)
        , m_request(std::move(request))
        , m_resolver(resolver)
        , m_policy(policy)
        , m_caCertificates(caCertificates)
        , m_done(std::move(done))
    {
        m_timeout.setSingleShot(true);
        m_timeout.setInterval(timeoutMs);
        connect(&m_timeout, &QTimer::timeout, this,
                [this] { fail(u"timed out after %1 ms"_s.arg(m_timeout.interval())); });
    }

    int elapsedMs() const { return int(m_clock.elapsed()); }

    void start()
    {
        m_clock.start();
        m_timeout.start();
        m_host = m_request.url.host(QUrl::EncodeUnicode).toLower();
        m_port = quint16(m_request.url.port(443));
        if (m_host.isEmpty()) {
            fail(u"the webhook URL has no host"_s);
            return;
        }
        // An address literal needs no DNS, but goes through the same check.
        const QHostAddress literal(m_host);
        if (!literal.isNull()) {
            connectTo({literal});
            return;
        }
        m_resolver->lookupAddresses(m_host, this, [this](const dns::AddressAnswer &answer) {
            if (answer.status != dns::DnsStatus::Ok || answer.addresses.isEmpty()) {
                fail(u"cannot resolve %1: %2"_s.arg(
                    m_host, answer.error.isEmpty() ? dns::toString(answer.status) : answer.error));
                return;
            }
            connectTo(answer.addresses);
        });
    }

private:
    void connectTo(const QList<QHostAddress> &addresses)
    {
        if (m_finished)
            return;
        // Connect only to an address the policy permits; the name never reaches the socket, so no second
        // lookup can hand it a different (internal) address.
        QHostAddress target;
        for (const QHostAddress &address : addresses) {
            if (m_policy.permits(address)) {
                target = address;
                break;
            }
        }
        if (target.isNull()) {
            fail(u"refused target: %1"_s.arg(net::TargetPolicy::describe(addresses.constFirst())));
            return;
        }
        m_socket = new QSslSocket(this);
        // A system or environment proxy would connect by name on our behalf and defeat the address check.
        m_socket->setProxy(QNetworkProxy::NoProxy);
        m_socket->setReadBufferSize(MaxRead);
        QSslConfiguration config = QSslConfiguration::defaultConfiguration();
        config.setProtocol(QSsl::TlsV1_2OrLater);
        config.setPeerVerifyMode(QSslSocket::VerifyPeer);
        if (!m_caCertificates.isEmpty())
            config.setCaCertificates(m_caCertificates);
        m_socket->setSslConfiguration(config);
        connect(m_socket, &QSslSocket::encrypted, this, &WebhookAttempt::send);
        connect(m_socket, &QSslSocket::readyRead, this, &WebhookAttempt::readResponse);
        connect(m_socket, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            QStringList texts;
            for (const QSslError &e : errors)
                texts.append(e.errorString());
            m_tlsError = u"TLS: "_s + texts.join(u"; "_s);
        });
        connect(m_socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
            // The receiver closes after answering (Connection: close): whatever it sent counts first.
            readResponse();
            fail(!m_tlsError.isEmpty() ? m_tlsError : m_socket->errorString());
        });
        connect(m_socket, &QAbstractSocket::disconnected, this, [this] {
            readResponse();
            fail(u"the receiver closed the connection before answering"_s);
        });
        // The peer name is the URL's host, so the certificate is verified against it, not the address.
        m_socket->connectToHostEncrypted(target.toString(), m_port, m_host);
    }

    void send()
    {
        QByteArray path = m_request.url.path(QUrl::FullyEncoded).toLatin1();
        if (path.isEmpty())
            path = "/";
        if (m_request.url.hasQuery())
            path += '?' + m_request.url.query(QUrl::FullyEncoded).toLatin1();
        QByteArray host = m_request.url.host(QUrl::FullyEncoded).toLatin1();
        if (host.contains(':'))
            host = '[' + host + ']';
        if (m_port != 443)
            host += ':' + QByteArray::number(m_port);
        QByteArray head = "POST " + path + " HTTP/1.1\r\nHost: " + host +
                          "\r\nUser-Agent: Mailcaff-Webhooks/" MAILCAFF_VERSION
                          "\r\nContent-Type: application/json\r\nContent-Length: " +
                          QByteArray::number(m_request.body.size()) + "\r\n" + m_request.headers +
                          "Connection: close\r\n\r\n";
        m_socket->write(head + m_request.body);
    }

    void readResponse()
    {
        if (m_finished)
            return;
        m_buffer += m_socket->readAll();
        for (;;) {
            const qsizetype end = m_buffer.indexOf("\r\n\r\n");
            if (end < 0) {
                if (m_buffer.size() > WebhookDispatcher::MaxResponseBytes)
                    fail(u"the response headers exceed %1 bytes"_s.arg(WebhookDispatcher::MaxResponseBytes));
                return;
            }
            const QList<QByteArray> lines = m_buffer.left(end).split('\n');
            const QList<QByteArray> statusLine = lines.constFirst().trimmed().split(' ');
            bool ok = false;
            const int status = statusLine.size() >= 2 ? statusLine.at(1).toInt(&ok) : 0;
            if (!statusLine.constFirst().startsWith("HTTP/1.") || !ok || status < 100 || status > 599) {
                fail(u"the receiver did not answer HTTP"_s);
                return;
            }
            // Interim answers (100 Continue, 103 Early Hints) come before the real one.
            if (status < 200) {
                m_buffer.remove(0, end + 4);
                continue;
            }
            Outcome outcome;
            outcome.status = status;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const QByteArray &line = lines.at(i);
                const qsizetype colon = line.indexOf(':');
                if (colon <= 0)
                    continue;
                const QByteArray name = line.left(colon).trimmed().toLower();
                const QByteArray value = line.mid(colon + 1).trimmed();
                if (name == "location") {
                    outcome.location = value.left(200);
                } else if (name == "retry-after") {
                    // RFC 9110 section 10.2.3 also allows an HTTP date; receivers of webhooks send seconds.
                    const qint64 secs = value.toLongLong(&ok);
                    if (ok && secs >= 0)
                        outcome.retryAfterSecs = secs;
                }
            }
            complete(outcome);
            return;
        }
    }

    void fail(const QString &error)
    {
        Outcome outcome;
        outcome.error = error;
        complete(outcome);
    }

    void complete(const Outcome &outcome)
    {
        if (m_finished)
            return;
        m_finished = true;
        m_timeout.stop();
        if (m_socket) {
            m_socket->disconnect(this);
            m_socket->abort();
        }
        m_done(outcome);
    }

    static constexpr qint64 MaxRead = 16 * 1024;

    Request m_request;
    dns::Resolver *m_resolver = nullptr;
    net::TargetPolicy m_policy;
    QList<QSslCertificate> m_caCertificates;
    std::function<void(const Outcome &)> m_done;
    QString m_host;
    quint16 m_port = 443;
    QSslSocket *m_socket = nullptr;
    QTimer m_timeout;
    QElapsedTimer m_clock;
    QByteArray m_buffer;
    QString m_tlsError;
    bool m_finished = false;
};

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
    for (WebhookAttempt *attempt : attempts)
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
    WebhookAttempt::Request request;
    request.url = QUrl(target->url);
    request.body = delivery.payload;
    request.headers = "webhook-id: " + delivery.id.toLatin1() +
                      "\r\nwebhook-timestamp: " + QByteArray::number(timestamp) + "\r\nwebhook-signature: " +
                      sign(target->secret, delivery.id, timestamp, delivery.payload).toLatin1() + "\r\n";
    const QString id = delivery.id;
    const qint64 keyId = delivery.keyId;
    auto *attempt = new WebhookAttempt(
        std::move(request), m_resolver, m_policy, m_caCertificates, m_timeoutMs,
        [this, id, keyId](const WebhookAttempt::Outcome &outcome) {
            WebhookAttempt *self = m_attempts.take(id);
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
