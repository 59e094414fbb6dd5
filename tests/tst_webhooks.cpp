#include "dns/resolver.h"
#include "dnstestserver.h"
#include "httpsreceiver.h"
#include "net/targetpolicy.h"
#include "procstats.h"
#include "storage/database.h"
#include "testdatabase.h"
#include "webhooks/signing.h"
#include "webhooks/webhookdispatcher.h"
#include "webhooks/webhookstore.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMessageAuthenticationCode>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace mailcaff;
using mailcaff::test::DnsTestServer;
using mailcaff::test::HttpsReceiver;
using webhooks::Delivery;
using webhooks::WebhookDispatcher;
using webhooks::WebhookStore;

namespace {

constexpr qint64 KeyId = 7;
// Generous for a busy machine; nothing here is a speed assertion.
constexpr int WaitMs = 8000;

const auto HookHost = u"hooks.test"_s;
const auto MismatchHost = u"wrong.test"_s;

/// The signature computed here independently of webhooks::sign(), from the specification's recipe.
QByteArray expectedSignature(const QByteArray &secret, const QByteArray &id, const QByteArray &timestamp,
                             const QByteArray &body)
{
    const QByteArray key = QByteArray::fromBase64(secret.mid(6));
    return "v1," + QMessageAuthenticationCode::hash(id + '.' + timestamp + '.' + body, key,
                                                    QCryptographicHash::Sha256)
                       .toBase64();
}

HttpsReceiver::Response reply(int status, const HttpsReceiver::Headers &headers = {}, int delayMs = 0)
{
    HttpsReceiver::Response response;
    response.status = status;
    response.headers = headers;
    response.delayMs = delayMs;
    return response;
}

HttpsReceiver::Response hang()
{
    HttpsReceiver::Response response;
    response.hang = true;
    return response;
}

QJsonObject completedPayload()
{
    return QJsonObject{{u"job_type"_s, u"verify"_s},
                       {u"status"_s, u"completed"_s},
                       {u"total"_s, 3},
                       {u"summary"_s, QJsonObject{{u"valid"_s, 2}, {u"invalid"_s, 1}}}};
}

} // namespace

class TestWebhooks : public QObject
{
    Q_OBJECT

private:
    QString hookUrl(const QString &host = HookHost) const
    {
        return u"https://%1:%2/hook?x=1"_s.arg(host).arg(m_receiver->port());
    }

    std::unique_ptr<WebhookDispatcher> makeDispatcher(net::TargetPolicy policy = net::TargetPolicy(true),
                                                      const QList<int> &schedule = {},
                                                      bool trustReceiver = true)
    {
        QList<QSslCertificate> trusted;
        if (trustReceiver)
            trusted.append(m_receiver->certificate());
        auto dispatcher = std::make_unique<WebhookDispatcher>(m_store.get(), &m_resolver, policy, trusted);
        dispatcher->setRetrySchedule(schedule);
        dispatcher->setJitter(false);
        dispatcher->setPollInterval(100);
        dispatcher->setTimeout(3000);
        return dispatcher;
    }

    std::optional<Delivery> deliveryOf(const QString &id) const { return m_store->delivery(id); }
    QString stateOf(const QString &id) const
    {
        const auto d = m_store->delivery(id);
        return d ? webhooks::toString(d->state) : u"missing"_s;
    }

    QByteArray setEndpoint(const QString &url)
    {
        const auto result = m_store->setEndpoint(KeyId, url);
        return result.ok() ? result.secret : QByteArray();
    }

    DnsTestServer m_dns;
    dns::Resolver m_resolver;
    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<test::TestDatabases> m_dbs;
    QString m_location;
    std::unique_ptr<storage::Database> m_db;
    std::unique_ptr<WebhookStore> m_store;
    std::unique_ptr<HttpsReceiver> m_receiver;
    int m_sockets = -1; ///< open sockets of this process when the case began

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(QSslSocket::supportsSsl());
        QVERIFY2(m_dns.listen(), qPrintable(m_dns.errorString()));
        m_dns.addA(HookHost, u"127.0.0.1"_s);
        m_dns.addA(MismatchHost, u"127.0.0.1"_s);
        // Names that lead to places a shared server must not reach (SSRF).
        m_dns.addA(u"metadata.test"_s, u"169.254.169.254"_s);
        m_dns.addA(u"ten.test"_s, u"10.0.0.1"_s);
        m_dns.addAAAA(u"mapped.test"_s, u"::ffff:127.0.0.1"_s);
        m_dns.addA(u"zero.test"_s, u"0.0.0.0"_s);
        m_dns.addA(u"both.test"_s, u"127.0.0.1"_s);
        m_dns.addAAAA(u"both.test"_s, u"::1"_s);
        QVERIFY(m_resolver.setServers(m_dns.serverString()));
        m_resolver.setTimeout(1000, 2);
    }

    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
        m_dbs = std::make_unique<test::TestDatabases>();
        m_db = std::make_unique<storage::Database>();
        QString error;
        m_location = m_dbs->create(m_dir->path(), u"mailcaff"_s, &error);
        QVERIFY2(m_db->open(m_location, &error), qPrintable(error));
        m_store = std::make_unique<WebhookStore>(m_db.get());
        m_receiver = std::make_unique<HttpsReceiver>(QStringList{HookHost, u"localhost"_s, u"rebind.test"_s});
        QVERIFY2(m_receiver->listen(), qPrintable(m_receiver->errorString()));
        m_sockets = test::proc::openSockets();
    }

    void cleanup()
    {
        // Whatever the receiver did (hang, redirect, 410, refuse), every connection made is closed again:
        // ours and, as it sees us go, the receiver's end.
        if (m_sockets > 0)
            QTRY_COMPARE_WITH_TIMEOUT(test::proc::openSockets(), m_sockets, 5000);
        m_sockets = -1;
        m_receiver.reset();
        m_store.reset();
        m_db.reset();
        m_dbs.reset();
        m_dir.reset();
    }

    void standardWebhooksExample()
    {
        // The example of the Standard Webhooks specification (spec/standard-webhooks.md, "Signature scheme").
        const QString signature =
            webhooks::sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", u"msg_p5jXN8AQM9LWM0D4loKWxJek"_s,
                           1614265330, R"({"test": 2432232314})");
        QCOMPARE(signature, u"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="_s);
        QVERIFY(webhooks::sign("whsec_not base64!", u"msg_x"_s, 1, "{}").isEmpty());
    }

    void secretsAndIds()
    {
        const QByteArray a = webhooks::generateSecret();
        const QByteArray b = webhooks::generateSecret();
        QVERIFY(a.startsWith("whsec_"));
        QCOMPARE(QByteArray::fromBase64(a.mid(6)).size(), 24);
        QVERIFY(a != b);
        const QString id = webhooks::generateMessageId();
        QVERIFY(id.startsWith(u"msg_"_s));
        QVERIFY(id != webhooks::generateMessageId());
    }

    void validateUrl_data()
    {
        QTest::addColumn<QString>("url");
        QTest::addColumn<QString>("error");
        QTest::addRow("https") << u"https://hooks.example.com/webhooks/mailcaff"_s << QString();
        QTest::addRow("https with port and query") << u"https://example.com:8443/h?t=1"_s << QString();
        QTest::addRow("https upper case scheme") << u"HTTPS://example.com/"_s << QString();
        QTest::addRow("http") << u"http://example.com/hook"_s << u"only HTTPS webhook URLs are accepted"_s;
        QTest::addRow("ftp") << u"ftp://example.com/hook"_s << u"only HTTPS webhook URLs are accepted"_s;
        QTest::addRow("userinfo") << u"https://user:pass@example.com/hook"_s
                                  << u"the webhook URL must not contain a user name or password"_s;
        QTest::addRow("user only") << u"https://user@example.com/hook"_s
                                   << u"the webhook URL must not contain a user name or password"_s;
        QTest::addRow("garbage") << u"not a url"_s << u"the webhook URL is not a valid URL"_s;
        QTest::addRow("empty") << QString() << u"the webhook URL is not a valid URL"_s;
        QTest::addRow("no host") << u"https:///path"_s << u"the webhook URL has no host"_s;
        QTest::addRow("too long") << u"https://example.com/"_s + QString(2100, u'a')
                                  << u"the webhook URL is longer than 2048 characters"_s;
    }

    void validateUrl()
    {
        QFETCH(QString, url);
        QFETCH(QString, error);
        QCOMPARE(WebhookStore::validateUrl(url), error);
        const auto result = m_store->setEndpoint(KeyId, url);
        QCOMPARE(result.error, error);
        QCOMPARE(result.secret.isEmpty(), !error.isEmpty());
        QCOMPARE(m_store->endpoint(KeyId).has_value(), error.isEmpty());
    }

    void endpointLifecycle()
    {
        QVERIFY(m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"j1"_s, {}).isEmpty()); // no endpoint yet
        const QByteArray first = setEndpoint(u"https://example.com/a"_s);
        const QByteArray second = setEndpoint(u"https://example.com/b"_s);
        QVERIFY(!first.isEmpty());
        QVERIFY(first != second); // a new secret each time it is set
        const auto endpoint = m_store->endpoint(KeyId);
        QVERIFY(endpoint);
        QCOMPARE(endpoint->url, u"https://example.com/b"_s);
        QCOMPARE(endpoint->secret, second);
        QVERIFY(endpoint->enabled);
        const QString id = m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"j1"_s, completedPayload());
        QVERIFY(id.startsWith(u"msg_"_s));
        QVERIFY(m_store->removeEndpoint(KeyId));
        QVERIFY(!m_store->endpoint(KeyId));
        QCOMPARE(stateOf(id), u"abandoned"_s);
    }

    void serversSharingADatabaseDeliverOnce()
    {
        // Two servers on one database: both see the delivery due; the one that claims it sends it, once.
        setEndpoint(hookUrl());
        storage::Database otherDb;
        QString error;
        QVERIFY2(otherDb.open(m_location, &error), qPrintable(error));
        WebhookStore otherStore(&otherDb);
        auto one = makeDispatcher();
        auto two = std::make_unique<WebhookDispatcher>(&otherStore, &m_resolver, net::TargetPolicy(true),
                                                       QList<QSslCertificate>{m_receiver->certificate()});
        two->setJitter(false);
        two->setPollInterval(20);
        one->setPollInterval(20);
        const QStringList ids = {
            m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"job_1"_s, completedPayload()),
            m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"job_2"_s, completedPayload()),
            m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"job_3"_s, completedPayload()),
        };
        one->start();
        two->start();
        for (const QString &id : ids)
            QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        QTest::qWait(300); // a second sender would have come by now
        QCOMPARE(m_receiver->requestCount(), 3);
        for (const QString &id : ids)
            QCOMPARE(deliveryOf(id)->attempts, 1);
        // A claim that lost its server (no attempt recorded) is due again once the claim runs out.
        const QString orphan =
            m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"job_4"_s, completedPayload());
        one->stop();
        two->stop();
        const auto pending = deliveryOf(orphan);
        QVERIFY(pending);
        QVERIFY(m_store->claim(*pending, pending->nextAttemptAt + 1));
        QVERIFY(!otherStore.claim(*pending, pending->nextAttemptAt + 5)); // taken: the old schedule is gone
        QVERIFY(m_store->due(pending->nextAttemptAt, 10).isEmpty());
        QCOMPARE(m_store->due(pending->nextAttemptAt + 1, 10).size(), 1);
    }

    void deliversSigned()
    {
        const QByteArray secret = setEndpoint(hookUrl());
        QVERIFY(!secret.isEmpty());
        auto dispatcher = makeDispatcher();
        dispatcher->start();
        const qint64 before = QDateTime::currentSecsSinceEpoch();
        const QString id =
            dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"job_1"_s, completedPayload());
        QVERIFY(!id.isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        QCOMPARE(m_receiver->requestCount(), 1);
        const HttpsReceiver::Request request = m_receiver->requests().constFirst();
        QCOMPARE(request.method, "POST");
        QCOMPARE(request.path, "/hook?x=1");
        QCOMPARE(request.header("host"), "hooks.test:" + QByteArray::number(m_receiver->port()));
        QCOMPARE(request.header("content-type"), "application/json");
        QCOMPARE(request.header("user-agent"), "Mailcaff-Webhooks/" MAILCAFF_VERSION);
        QCOMPARE(request.header("connection"), "close");
        QCOMPARE(request.header("content-length").toInt(), request.body.size());
        QCOMPARE(request.header("webhook-id"), id.toLatin1());
        const QByteArray timestamp = request.header("webhook-timestamp");
        QVERIFY(timestamp.toLongLong() >= before && timestamp.toLongLong() <= before + 10);
        QCOMPARE(request.header("webhook-signature"),
                 expectedSignature(secret, id.toLatin1(), timestamp, request.body));
        const QJsonObject body = QJsonDocument::fromJson(request.body).object();
        QCOMPARE(body.value("event"_L1).toString(), u"bulk_job.completed"_s);
        QCOMPARE(body.value("job_id"_L1).toString(), u"job_1"_s);
        QCOMPARE(body.value("total"_L1).toInt(), 3);
        const auto delivery = deliveryOf(id);
        QCOMPARE(delivery->attempts, 1);
        QCOMPARE(delivery->lastStatus, 200);
        QVERIFY(delivery->deliveredAt >= before);
    }

    void idStableAcrossRetries()
    {
        const QByteArray secret = setEndpoint(hookUrl());
        m_receiver->addResponse(reply(500));
        m_receiver->addResponse(reply(502));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {50, 50, 50});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.failed"_s, u"job_2"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        const auto requests = m_receiver->requests();
        QCOMPARE(requests.size(), 3);
        for (const auto &request : requests) {
            QCOMPARE(request.header("webhook-id"), id.toLatin1());
            QCOMPARE(request.body, requests.constFirst().body);
            QCOMPARE(
                request.header("webhook-signature"),
                expectedSignature(secret, id.toLatin1(), request.header("webhook-timestamp"), request.body));
        }
        QCOMPARE(deliveryOf(id)->attempts, 3);
        // The log has one row per attempt.
        const auto log = m_store->attempts(id);
        QCOMPARE(log.size(), 3);
        QCOMPARE(log.at(0).status, 500);
        QCOMPARE(log.at(0).error, u"HTTP 500"_s);
        QCOMPARE(log.at(1).status, 502);
        QCOMPARE(log.at(2).status, 200);
        QVERIFY(log.at(2).error.isEmpty());
    }

    void givesUpAfterSchedule()
    {
        setEndpoint(hookUrl());
        m_receiver->setDefaultResponse(reply(500));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {30, 30});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
        QTest::qWait(200);
        QCOMPARE(m_receiver->requestCount(), 3);
        QCOMPARE(m_store->attempts(id).size(), 3);
    }

    void redirectNotFollowed_data()
    {
        QTest::addColumn<QByteArray>("location");
        QTest::addRow("same receiver") << QByteArray("https://localhost:%1/other");
        // A public receiver that sends us on to cloud metadata or the LAN (SSRF by redirect).
        QTest::addRow("metadata address") << QByteArray("http://169.254.169.254/latest/meta-data/");
        QTest::addRow("private name") << QByteArray("https://ten.test/admin");
    }

    void redirectNotFollowed()
    {
        QFETCH(QByteArray, location);
        setEndpoint(hookUrl());
        const QByteArray elsewhere = location.replace("%1", QByteArray::number(m_receiver->port()));
        m_receiver->addResponse(reply(302, {{"Location", elsewhere}}));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
        QTest::qWait(200);
        QCOMPARE(m_receiver->requestCount(), 1);
        QCOMPARE(m_receiver->requests().constFirst().path, "/hook?x=1");
        const auto delivery = deliveryOf(id);
        QCOMPARE(delivery->lastStatus, 302);
        QVERIFY2(delivery->lastError.contains(u"not followed"_s), qPrintable(delivery->lastError));
    }

    void goneDisablesEndpoint()
    {
        setEndpoint(hookUrl());
        m_receiver->addResponse(reply(410));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {50});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"abandoned"_s, WaitMs);
        const auto endpoint = m_store->endpoint(KeyId);
        QVERIFY(endpoint);
        QVERIFY(!endpoint->enabled);
        QVERIFY(endpoint->disabledReason.contains(u"410"_s));
        QCOMPARE(deliveryOf(id)->lastStatus, 410);
        QVERIFY(dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j2"_s, completedPayload()).isEmpty());
        QTest::qWait(200);
        QCOMPARE(m_receiver->requestCount(), 1);
        // Setting the URL again re-enables it.
        QVERIFY(!setEndpoint(hookUrl()).isEmpty());
        QVERIFY(m_store->endpoint(KeyId)->enabled);
    }

    void retryAfter_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("retryAfter");
        QTest::addColumn<qint64>("expectedDelay");
        QTest::addRow("503 honoured") << 503 << QByteArray("120") << qint64(120);
        QTest::addRow("429 honoured") << 429 << QByteArray("3600") << qint64(3600);
        QTest::addRow("429 capped at 10 h") << 429 << QByteArray("999999999") << qint64(36000);
        QTest::addRow("500 ignores it") << 500 << QByteArray("120") << qint64(60);
        QTest::addRow("503 date form ignored")
            << 503 << QByteArray("Wed, 21 Oct 2015 07:28:00 GMT") << qint64(60);
    }

    void retryAfter()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, retryAfter);
        QFETCH(qint64, expectedDelay);
        setEndpoint(hookUrl());
        m_receiver->addResponse(reply(status, {{"Retry-After", retryAfter}}));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {60'000});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(m_store->attempts(id).size(), 1, WaitMs);
        const auto delivery = deliveryOf(id);
        QCOMPARE(webhooks::toString(delivery->state), u"pending"_s);
        QCOMPARE(delivery->lastStatus, status);
        const qint64 attemptedAt = m_store->attempts(id).constFirst().attemptedAt;
        QVERIFY2(qAbs(delivery->nextAttemptAt - (attemptedAt + expectedDelay)) <= 1,
                 qPrintable(u"next %1, attempted %2"_s.arg(delivery->nextAttemptAt).arg(attemptedAt)));
        QVERIFY(m_store->due(attemptedAt + 1, 10).isEmpty() || expectedDelay <= 1);
    }

    void hangingReceiverTimesOut()
    {
        setEndpoint(hookUrl());
        m_receiver->addResponse(hang());
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {});
        QCOMPARE(WebhookDispatcher::DefaultTimeoutMs, 10000);
        dispatcher->setTimeout(500);
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
        QCOMPARE(m_receiver->requestCount(), 1);
        const auto delivery = deliveryOf(id);
        QVERIFY2(delivery->lastError.contains(u"timed out"_s), qPrintable(delivery->lastError));
        QCOMPARE(delivery->lastStatus, 0);
        QVERIFY(delivery->lastDurationMs >= 450);
        QVERIFY(delivery->lastDurationMs < 5000);
    }

    void slowButInTimeIsDelivered()
    {
        setEndpoint(hookUrl());
        m_receiver->addResponse(reply(204, {}, 200));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        QVERIFY(deliveryOf(id)->lastDurationMs >= 150);
    }

    void privateTargetSpellingsRefused_data()
    {
        QTest::addColumn<QString>("url");
        // %1: the receiver's port on 127.0.0.1. Each spelling of an internal address, and each name that
        // resolves to one, must end without a request reaching the receiver.
        const QList<std::pair<const char *, const char *>> rows = {
            {"loopback", "https://127.0.0.1:%1/hook"},
            {"decimal IPv4", "https://2130706433:%1/hook"},
            {"octal IPv4", "https://0177.0.0.1:%1/hook"},
            {"hex IPv4", "https://0x7f.0.0.1:%1/hook"},
            {"short IPv4", "https://127.1:%1/hook"},
            {"IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]:%1/hook"},
            {"IPv6 loopback", "https://[::1]:%1/hook"},
            {"unspecified", "https://0.0.0.0:%1/hook"},
            {"metadata literal", "https://169.254.169.254/latest/meta-data/"},
            {"name to metadata", "https://metadata.test/latest/meta-data/"},
            {"name to 10/8", "https://ten.test:%1/hook"},
            {"name to mapped loopback", "https://mapped.test:%1/hook"},
            {"name to 0.0.0.0", "https://zero.test:%1/hook"},
            {"name to loopback, both families", "https://both.test:%1/hook"},
        };
        for (const auto &[name, url] : rows)
            QTest::newRow(name) << QString::fromLatin1(url);
    }

    void privateTargetSpellingsRefused()
    {
        QFETCH(QString, url);
        const QString target = url.contains(u"%1"_s) ? url.arg(m_receiver->port()) : url;
        // Refused when the endpoint is set (not a usable URL), or when the delivery is attempted.
        const auto set = m_store->setEndpoint(KeyId, target);
        if (set.ok()) {
            auto dispatcher = makeDispatcher(net::TargetPolicy(false), {});
            dispatcher->start();
            const QString id =
                dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
            QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
            const QString error = deliveryOf(id)->lastError;
            QVERIFY2(error.startsWith(u"refused target: "_s) || error.startsWith(u"cannot resolve"_s),
                     qPrintable(target + u": "_s + error));
        }
        QCOMPARE(m_receiver->requestCount(), 0);
    }

    void rebindingNeverReachesThePrivateAnswer()
    {
        // rebind.test answers 127.0.0.1 (allowed here) and 127.0.0.73 (not) in turn, TTL 0; a receiver
        // listens at both, trusted alike. Whichever answer a delivery gets, it connects to that checked
        // address: the second receiver never hears from us.
        HttpsReceiver rebound(QStringList{u"rebind.test"_s});
        QVERIFY2(rebound.listen(QHostAddress(u"127.0.0.73"_s), m_receiver->port()),
                 qPrintable(rebound.errorString()));
        m_dns.setAddressRotation(u"rebind.test"_s,
                                 {QHostAddress(u"127.0.0.1"_s), QHostAddress(u"127.0.0.73"_s)});
        setEndpoint(u"https://rebind.test:%1/hook"_s.arg(m_receiver->port()));
        WebhookDispatcher dispatcher(m_store.get(), &m_resolver,
                                     net::TargetPolicy(false, {{QHostAddress(u"127.0.0.1"_s), 32}}),
                                     {m_receiver->certificate(), rebound.certificate()});
        dispatcher.setRetrySchedule({});
        dispatcher.setJitter(false);
        dispatcher.setPollInterval(100);
        dispatcher.start();
        QStringList ids;
        for (int i = 0; i < 4; ++i) {
            ids.append(
                dispatcher.enqueue(KeyId, u"bulk_job.completed"_s, u"j%1"_s.arg(i), completedPayload()));
            QTRY_VERIFY_WITH_TIMEOUT(stateOf(ids.last()) != u"pending"_s, WaitMs);
        }
        int refused = 0;
        for (const QString &id : std::as_const(ids)) {
            if (stateOf(id) == u"failed"_s) {
                ++refused;
                QVERIFY2(deliveryOf(id)->lastError.startsWith(u"refused target: 127.0.0.73"_s),
                         qPrintable(deliveryOf(id)->lastError));
            } else {
                QCOMPARE(stateOf(id), u"delivered"_s);
            }
        }
        QCOMPARE(rebound.requestCount(), 0);
        QCOMPARE(m_receiver->requestCount(), int(ids.size()) - refused);
        QVERIFY(refused >= 1 && refused < ids.size());
    }

    void privateTargetRefused()
    {
        setEndpoint(hookUrl());
        {
            auto dispatcher = makeDispatcher(net::TargetPolicy(false), {});
            dispatcher->start();
            const QString id =
                dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
            QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
            const auto delivery = deliveryOf(id);
            QVERIFY2(delivery->lastError.startsWith(u"refused target: "_s), qPrintable(delivery->lastError));
            QCOMPARE(m_receiver->requestCount(), 0);
            // An address literal gets the same check.
            setEndpoint(u"https://127.0.0.1:%1/hook"_s.arg(m_receiver->port()));
            const QString literal = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, {});
            QTRY_COMPARE_WITH_TIMEOUT(stateOf(literal), u"failed"_s, WaitMs);
            QVERIFY(deliveryOf(literal)->lastError.startsWith(u"refused target: "_s));
            QCOMPARE(m_receiver->requestCount(), 0);
        }
        setEndpoint(hookUrl());
        auto allowing = makeDispatcher(net::TargetPolicy(true), {});
        allowing->start();
        const QString id = allowing->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        QCOMPARE(m_receiver->requestCount(), 1);
    }

    void certificateIsVerified()
    {
        // A name the certificate does not carry: TLS fails even though the address is the same.
        setEndpoint(hookUrl(MismatchHost));
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
        QVERIFY2(deliveryOf(id)->lastError.startsWith(u"TLS: "_s), qPrintable(deliveryOf(id)->lastError));
        QVERIFY2(deliveryOf(id)->lastError.contains(u"host name"_s), qPrintable(deliveryOf(id)->lastError));
        // The right name, but a certificate nobody told the dispatcher to trust.
        setEndpoint(hookUrl());
        auto untrusting = makeDispatcher(net::TargetPolicy(true), {}, false);
        untrusting->start();
        const QString other = untrusting->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(other), u"failed"_s, WaitMs);
        QVERIFY2(deliveryOf(other)->lastError.startsWith(u"TLS: "_s),
                 qPrintable(deliveryOf(other)->lastError));
        QVERIFY2(deliveryOf(other)->lastError.contains(u"self-signed"_s),
                 qPrintable(deliveryOf(other)->lastError));
        QCOMPARE(m_receiver->requestCount(), 0);
    }

    void unresolvableHost()
    {
        setEndpoint(u"https://nowhere.test/hook"_s);
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {});
        dispatcher->start();
        const QString id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"failed"_s, WaitMs);
        QVERIFY2(deliveryOf(id)->lastError.startsWith(u"cannot resolve nowhere.test"_s),
                 qPrintable(deliveryOf(id)->lastError));
    }

    void pendingSurvivesRestart()
    {
        const QByteArray secret = setEndpoint(hookUrl());
        m_receiver->addResponse(reply(500));
        QString id;
        {
            // The first run fails once and is shut down before its retry is due.
            auto dispatcher = makeDispatcher(net::TargetPolicy(true), {1500});
            dispatcher->start();
            id = dispatcher->enqueue(KeyId, u"bulk_job.completed"_s, u"j"_s, completedPayload());
            QTRY_COMPARE_WITH_TIMEOUT(m_store->attempts(id).size(), 1, WaitMs);
        }
        QCOMPARE(stateOf(id), u"pending"_s);
        // A restart: a new database handle, store and dispatcher on the same file.
        m_store.reset();
        m_db.reset();
        m_db = std::make_unique<storage::Database>();
        QString error;
        QVERIFY2(m_db->open(m_location, &error), qPrintable(error));
        m_store = std::make_unique<WebhookStore>(m_db.get());
        QCOMPARE(stateOf(id), u"pending"_s);
        auto dispatcher = makeDispatcher(net::TargetPolicy(true), {1500});
        dispatcher->start();
        QTRY_COMPARE_WITH_TIMEOUT(stateOf(id), u"delivered"_s, WaitMs);
        const auto requests = m_receiver->requests();
        QCOMPARE(requests.size(), 2);
        QCOMPARE(requests.at(1).header("webhook-id"), id.toLatin1());
        QCOMPARE(requests.at(1).header("webhook-signature"),
                 expectedSignature(secret, id.toLatin1(), requests.at(1).header("webhook-timestamp"),
                                   requests.at(1).body));
        QCOMPARE(m_store->attempts(id).size(), 2);
    }

    void deliveriesNewestFirst()
    {
        setEndpoint(u"https://example.com/hook"_s);
        const QString first = m_store->enqueue(KeyId, u"bulk_job.completed"_s, u"a"_s, {});
        const QString second = m_store->enqueue(KeyId, u"bulk_job.failed"_s, u"b"_s, {});
        const QString other = m_store->enqueue(KeyId + 1, u"bulk_job.failed"_s, u"c"_s, {});
        QVERIFY(other.isEmpty()); // that key has no endpoint
        const auto list = m_store->deliveries(KeyId, 10);
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0).id, second);
        QCOMPARE(list.at(0).event, u"bulk_job.failed"_s);
        QCOMPARE(list.at(1).id, first);
        QCOMPARE(m_store->deliveries(KeyId, 1).size(), 1);
        QCOMPARE(m_store->due(QDateTime::currentSecsSinceEpoch(), 10).size(), 2);
    }
};

QTEST_GUILESS_MAIN(TestWebhooks)
#include "tst_webhooks.moc"
