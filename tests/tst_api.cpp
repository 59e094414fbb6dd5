// The REST API over real HTTP: authentication, input errors, quick-mode results against a loopback DNS
// server.
#include "apiserver.h"
#include "dnstestserver.h"
#include "engine.h"
#include "httpsreceiver.h"
#include "httptestclient.h"
#include "smtptestserver.h"
#include "storage/settings.h"
#include "testengine.h"
#include "webhooks/signing.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QScopeGuard>
#include <QtConcurrent>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestApi : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void healthNeedsNoKey();
    void unauthorized_data();
    void unauthorized();
    void badRequests_data();
    void badRequests();
    void powerModeOverHttp();
    void powerAnswerDoesNotHoldUpOtherRequests();
    void quickResults_data();
    void quickResults();
    void everyDocumentedFieldIsPresent();
    void dnsAnswersAreCached();
    void clientGoneBeforeAnswer();
    void requestWhileAnswerPendingClosesAfterIt();
    void requestIdOnEveryAnswer();
    void requestsAreLoggedForTheWindow();
    void accountAndRateLimitHeaders();
    void badRequestsCostNothing();
    void exhaustedCreditsGive429();
    void keyChangesTakeEffectAtOnce();
    void badKeysAreThrottledPerAddress();
    void twoHundredConcurrentRequestsTenCredits();
    void quickVerificationsOfOneTurnAnswerEachItsOwn();
    void maintenanceMode();
    void contentTypeAndEncoding();
    void openApiDescribesEveryRoute();
    void findDomain_data();
    void findDomain();
    void findValidation_data();
    void findValidation();
    void findOverHttp();
    void findBulkCompletes();
    void bulkValidation_data();
    void bulkValidation();
    void bulkJobCompletes();
    void bulkJobsOfOtherKeysAreNotFound();
    void bulkWithoutEnoughCreditsIs429();
    void bulkJobCanBeCancelled();
    void webhookConfiguration();
    void webhookDeliveredWhenABulkJobEnds();
    void jobEndAndItsWebhookAreOneTransaction();
    void idempotentBulkSubmission();

private:
    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    SmtpTestServer m_smtp;
    SmtpTestServer m_tarpit;
    HttpsReceiver m_hooks{{u"hooks.test"_s}};
    Engine m_engine;
    std::unique_ptr<server::ApiServer> m_server;
    std::unique_ptr<ApiClient> m_client;
    QByteArray m_key;
    QByteArray m_revokedKey;
};

void TestApi::initTestCase()
{
    QVERIFY(m_dns.listen());
    m_dns.addMx(u"example.com"_s, 10, u"mx1.example.com"_s);
    m_dns.addMx(u"example.com"_s, 20, u"mx2.example.com"_s);
    m_dns.addMx(u"gmail.com"_s, 5, u"gmail-smtp-in.l.google.com"_s);
    m_dns.addMx(u"acme-corp.test"_s, 10, u"acme-corp-test.mail.protection.outlook.com"_s);
    m_dns.addMx(u"yahoo.com"_s, 1, u"mta5.am0.yahoodns.net"_s);
    m_dns.addNullMx(u"nullmx.test"_s);
    m_dns.addA(u"implicit.test"_s, u"127.0.0.20"_s);
    m_dns.addTxt(u"nomail.test"_s, u"v=spf1 -all"_s);
    m_dns.setBehaviour(u"servfail.test"_s, DnsTestServer::Behaviour::ServFail);
    m_dns.setBehaviour(u"silent.test"_s, DnsTestServer::Behaviour::Silent);
    m_dns.addMx(u"xn--bcher-kva.test"_s, 10, u"mx.xn--bcher-kva.test"_s);
    m_dns.addMx(u"mailinator.com"_s, 10, u"mail.mailinator.com"_s);
    m_dns.addCname(u"alias.test"_s, u"example.com"_s);

    QVERIFY(m_smtp.listen(QHostAddress(u"127.0.0.31"_s)));
    QVERIFY(m_tarpit.listen(QHostAddress(u"127.0.0.32"_s), m_smtp.port()));
    m_smtp.addMailbox(u"alice@power.test"_s);
    m_tarpit.setTarpit(true);
    m_dns.addMx(u"power.test"_s, 10, u"mx.power.test"_s);
    m_dns.addA(u"mx.power.test"_s, u"127.0.0.31"_s);
    m_dns.addMx(u"tarpit.test"_s, 10, u"mx.tarpit.test"_s);
    m_dns.addA(u"mx.tarpit.test"_s, u"127.0.0.32"_s);

    QVERIFY2(m_hooks.listen(), qPrintable(m_hooks.errorString()));
    m_dns.addA(u"hooks.test"_s, u"127.0.0.1"_s);

    EngineConfig config = loopbackEngineConfig(m_dir.path(), m_dns, m_smtp.port(), 3000);
    config.webhookExtraCa = {m_hooks.certificate()};
    config.webhookRetryMs = {200, 200};
    QString error;
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));
    m_server = std::make_unique<server::ApiServer>(m_engine);
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
    QUrl base;
    base.setScheme(u"http"_s);
    base.setHost(u"127.0.0.1"_s);
    base.setPort(m_server->port());
    m_client = std::make_unique<ApiClient>(base);

    const auto key = m_engine.apiKeys().create(u"tests"_s, accounts::Plan::Starter);
    QVERIFY(key);
    m_key = key->secret.toLatin1();
    const auto revoked = m_engine.apiKeys().create(u"old"_s, accounts::Plan::Free);
    QVERIFY(revoked && m_engine.apiKeys().revoke(revoked->info.id));
    m_revokedKey = revoked->secret.toLatin1();
}

void TestApi::cleanupTestCase()
{
    m_server.reset();
    m_engine.stop();
}

void TestApi::healthNeedsNoKey()
{
    const auto r = m_client->get(u"/api/v1/health"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"status"_s).toString(), u"ok"_s);
}

void TestApi::unauthorized_data()
{
    QTest::addColumn<QByteArray>("authorization");
    QTest::addRow("missing") << QByteArray();
    QTest::addRow("empty bearer") << QByteArray("Bearer ");
    QTest::addRow("wrong scheme") << QByteArray("Basic dXNlcjpwYXNz");
    QTest::addRow("unknown key") << QByteArray("Bearer mc_0000000000000000000000000000000000000000");
    QTest::addRow("garbage") << QByteArray("Bearer ' OR 1=1 --");
    QTest::addRow("revoked key") << QByteArray("Bearer ") + m_revokedKey;
}

void TestApi::unauthorized()
{
    QFETCH(QByteArray, authorization);
    RawClient client(m_server->port());
    QVERIFY(client.waitConnected());
    const QByteArray body = R"({"email":"user@example.com","mode":"quick"})";
    QByteArray request = "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    if (!authorization.isEmpty())
        request += "Authorization: " + authorization + "\r\n";
    request += "Content-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    client.send(request);
    QTRY_COMPARE_WITH_TIMEOUT(client.responses().size(), 1, 5000);
    const RawResponse r = client.responses().first();
    // Every failure gets the same answer: nothing tells a caller which part was wrong.
    QCOMPARE(r.status, 401);
    QCOMPARE(r.header("www-authenticate"), QByteArray("Bearer"));
    QCOMPARE(r.body, QByteArray(R"({"error":"Unauthorized: missing or invalid API key"})"));
}

void TestApi::badRequests_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("mentions");
    QTest::addRow("empty body") << QByteArray() << "body";
    QTest::addRow("not json") << QByteArray("email=user@example.com") << "Invalid JSON";
    QTest::addRow("truncated json") << QByteArray(R"({"email":"a@b.c")") << "Invalid JSON";
    QTest::addRow("array") << QByteArray(R"(["user@example.com"])") << "JSON object";
    QTest::addRow("missing email") << QByteArray(R"({"mode":"quick"})") << "email";
    QTest::addRow("null email") << QByteArray(R"({"email":null})") << "email";
    QTest::addRow("numeric email") << QByteArray(R"({"email":42})") << "email";
    QTest::addRow("empty email") << QByteArray(R"({"email":"   "})") << "email";
    QTest::addRow("unknown mode") << QByteArray(R"({"email":"user@example.com","mode":"fast"})") << "mode";
    QTest::addRow("mode not a string") << QByteArray(R"({"email":"user@example.com","mode":1})") << "mode";
    QTest::addRow("mode in capitals")
        << QByteArray(R"({"email":"user@example.com","mode":"QUICK"})") << "mode";
}

void TestApi::badRequests()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, mentions);
    const auto r = m_client->request("POST", u"/api/v1/verify"_s, body, m_key);
    QCOMPARE(r.status, 400);
    QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
    const QString error = r.json.value(u"error"_s).toString();
    QVERIFY2(error.contains(mentions), qPrintable(error));
}

void TestApi::quickVerificationsOfOneTurnAnswerEachItsOwn()
{
    // Quick verifications arriving together are charged in one transaction and read the result cache in
    // one query: each still gets its own answer, a fresh power verdict where there is one.
    QCOMPARE(m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"alice@power.test"_s}}, m_key)
                 .json.value(u"status"_s)
                 .toString(),
             u"valid"_s);
    QCOMPARE(m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"nobody@power.test"_s}}, m_key)
                 .json.value(u"status"_s)
                 .toString(),
             u"invalid"_s);
    struct Case
    {
        QString email;
        QString status;
        QString mode;
    };
    QList<Case> cases;
    for (int i = 0; i < 8; ++i) {
        cases.append({u"alice@power.test"_s, u"valid"_s, u"power"_s});
        cases.append({u"NoBody@power.test"_s, u"invalid"_s, u"power"_s});
        cases.append({u"new%1@power.test"_s.arg(i), u"risky"_s, u"quick"_s});
        cases.append({u"bad%1@@power.test"_s.arg(i), u"invalid"_s, u"quick"_s});
    }
    std::vector<std::unique_ptr<RawClient>> clients;
    for (const Case &c : cases) {
        const QByteArray body = QJsonDocument(QJsonObject{{u"email"_s, c.email}, {u"mode"_s, u"quick"_s}})
                                    .toJson(QJsonDocument::Compact);
        clients.push_back(std::make_unique<RawClient>(m_server->port()));
        clients.back()->socket().write("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                       "Authorization: Bearer " +
                                       m_key + "\r\nContent-Length: " + QByteArray::number(body.size()) +
                                       "\r\n\r\n" + body);
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(clients.begin(), clients.end(), [](const auto &c) { return !c->responses().isEmpty(); }),
        30000);
    for (qsizetype i = 0; i < cases.size(); ++i) {
        const RawResponse r = clients.at(i)->responses().first();
        QCOMPARE(r.status, 200);
        const QJsonObject json = r.json();
        QCOMPARE(json.value(u"email"_s).toString(), cases.at(i).email);
        QCOMPARE(json.value(u"status"_s).toString(), cases.at(i).status);
        QCOMPARE(json.value(u"mode"_s).toString(), cases.at(i).mode);
    }
}

void TestApi::powerModeOverHttp()
{
    // Power is the default mode.
    auto r = m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"alice@power.test"_s}}, m_key);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"status"_s).toString(), u"valid"_s);
    QCOMPARE(r.json.value(u"quality_score"_s).toInt(), 100);
    QCOMPARE(r.json.value(u"mode"_s).toString(), u"power"_s);
    QCOMPARE(r.json.value(u"is_valid"_s).toBool(), true);
    QCOMPARE(r.json.value(u"can_connect_smtp"_s).toBool(), true);
    QCOMPARE(r.json.value(u"mx_host"_s).toString(), u"mx.power.test"_s);
    QCOMPARE(r.json.value(u"is_catch_all"_s).toBool(true), false);
    QCOMPARE(r.json.value(u"smtp"_s).toObject().value(u"code"_s).toInt(), 250);

    r = m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"nobody@power.test"_s}, {u"mode"_s, u"power"_s}},
                       m_key);
    QCOMPARE(r.json.value(u"status"_s).toString(), u"invalid"_s);
    QCOMPARE(r.json.value(u"reason"_s).toString(), u"mailbox_not_found"_s);
    QCOMPARE(r.json.value(u"smtp"_s).toObject().value(u"enhanced_code"_s).toString(), u"5.1.1"_s);
    QCOMPARE(m_smtp.dataCount(), 0);
}

void TestApi::powerAnswerDoesNotHoldUpOtherRequests()
{
    // A power verification waiting on a tarpit is a deferred answer: the server keeps serving meanwhile.
    RawClient slow(m_server->port());
    QVERIFY(slow.waitConnected());
    const QByteArray body = R"({"email":"x@tarpit.test","mode":"power"})";
    slow.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + m_key +
              "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    for (int i = 0; i < 5; ++i) {
        const auto r = m_client->post(u"/api/v1/verify"_s,
                                      {{u"email"_s, u"user@example.com"_s}, {u"mode"_s, u"quick"_s}}, m_key);
        QCOMPARE(r.status, 200);
    }
    QVERIFY(slow.responses().isEmpty()); // still waiting on the tarpit
    QTRY_COMPARE_WITH_TIMEOUT(slow.responses().size(), 1, 6000);
    const QJsonObject o = slow.responses().first().json();
    QCOMPARE(o.value(u"status"_s).toString(), u"unknown"_s);
    QCOMPARE(o.value(u"reason"_s).toString(), u"smtp_timeout"_s);
}

void TestApi::quickResults_data()
{
    QTest::addColumn<QString>("email");
    QTest::addColumn<QString>("status");
    QTest::addColumn<int>("score");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<bool>("mxAcceptsMail");
    QTest::addColumn<QString>("flags"); // d=disposable r=role f=free

    QTest::addRow("plain address at a domain with MX") << "user@example.com"
                                                       << "risky" << 75 << "quick_check" << true << "";
    QTest::addRow("role account") << "info@example.com"
                                  << "risky" << 65 << "quick_check" << true << "r";
    QTest::addRow("free provider") << "jane.doe@gmail.com"
                                   << "risky" << 70 << "quick_check" << true << "f";
    QTest::addRow("role at free provider") << "support@gmail.com"
                                           << "risky" << 60 << "quick_check" << true << "rf";
    QTest::addRow("disposable provider") << "temp@mailinator.com"
                                         << "disposable" << 5 << "disposable_domain" << true << "d";
    QTest::addRow("null MX") << "user@nullmx.test"
                             << "invalid" << 5 << "null_mx" << false << "";
    QTest::addRow("implicit MX") << "user@implicit.test"
                                 << "risky" << 65 << "quick_check" << true << "";
    QTest::addRow("no MX, no address") << "user@nomail.test"
                                       << "invalid" << 5 << "no_mx_records" << false << "";
    QTest::addRow("domain does not exist") << "user@nowhere.test"
                                           << "invalid" << 5 << "domain_not_found" << false << "";
    QTest::addRow("SERVFAIL is unknown") << "user@servfail.test"
                                         << "unknown" << 40 << "dns_error" << false << "";
    QTest::addRow("DNS timeout is unknown") << "user@silent.test"
                                            << "unknown" << 40 << "dns_error" << false << "";
    QTest::addRow("bad syntax") << "not-an-address"
                                << "invalid" << 5 << "invalid_syntax" << false << "";
    QTest::addRow("two at signs") << "a@b@example.com"
                                  << "invalid" << 5 << "invalid_syntax" << false << "";
    QTest::addRow("IDN domain") << "user@bücher.test"
                                << "risky" << 75 << "quick_check" << true << "";
    QTest::addRow("CNAME to a domain with MX") << "user@alias.test"
                                               << "risky" << 75 << "quick_check" << true << "";
    QTest::addRow("accept-all provider") << "someone@yahoo.com"
                                         << "risky" << 65 << "quick_check" << true << "f";
}

void TestApi::quickResults()
{
    QFETCH(QString, email);
    QFETCH(QString, status);
    QFETCH(int, score);
    QFETCH(QString, reason);
    QFETCH(bool, mxAcceptsMail);
    QFETCH(QString, flags);
    const auto r = m_client->post(u"/api/v1/verify"_s, {{u"email"_s, email}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(r.status, 200);
    const QJsonObject o = r.json;
    QCOMPARE(o.value(u"email"_s).toString(), email);
    QCOMPARE(o.value(u"status"_s).toString(), status);
    QCOMPARE(o.value(u"quality_score"_s).toInt(), score);
    QCOMPARE(o.value(u"reason"_s).toString(), reason);
    QCOMPARE(o.value(u"mx_accepts_mail"_s).toBool(), mxAcceptsMail);
    QCOMPARE(o.value(u"is_disposable"_s).toBool(), flags.contains(u'd'));
    QCOMPARE(o.value(u"is_role_account"_s).toBool(), flags.contains(u'r'));
    QCOMPARE(o.value(u"is_free_email"_s).toBool(), flags.contains(u'f'));
    // Quick mode never contacts a mail server.
    QCOMPARE(o.value(u"mode"_s).toString(), u"quick"_s);
    QCOMPARE(o.value(u"is_valid"_s).toBool(), false);
    QCOMPARE(o.value(u"is_deliverable"_s).toBool(), false);
    QCOMPARE(o.value(u"can_connect_smtp"_s).toBool(), false);
    QVERIFY(o.value(u"mx_host"_s).isNull());
    QVERIFY(!o.contains(u"smtp"_s));
}

void TestApi::everyDocumentedFieldIsPresent()
{
    const auto r = m_client->post(u"/api/v1/verify"_s,
                                  {{u"email"_s, u"  jane@gmial.com "_s}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(r.status, 200);
    const QJsonObject o = r.json;
    QCOMPARE(o.value(u"email"_s).toString(), u"jane@gmial.com"_s); // trimmed
    QCOMPARE(o.value(u"did_you_mean"_s).toString(), u"jane@gmail.com"_s);
    const QStringList booleans{u"is_valid"_s,        u"is_deliverable"_s, u"is_disposable"_s,
                               u"is_role_account"_s, u"is_free_email"_s,  u"can_connect_smtp"_s,
                               u"mx_accepts_mail"_s};
    for (const QString &b : booleans)
        QVERIFY2(o.value(b).isBool(), qPrintable(b));
    QVERIFY(o.value(u"quality_score"_s).isDouble());
    QVERIFY(o.value(u"response_ms"_s).isDouble());
    QVERIFY(o.value(u"response_ms"_s).toInteger() >= 0);
    QVERIFY(o.value(u"is_catch_all"_s).isNull());
    QVERIFY(o.contains(u"smtp_provider"_s));
    QVERIFY(!o.contains(u"is_spam_trap"_s)); // only when true

    const auto provider = m_client->post(
        u"/api/v1/verify"_s, {{u"email"_s, u"ceo@acme-corp.test"_s}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(provider.json.value(u"smtp_provider"_s).toString(), u"microsoft"_s);
}

void TestApi::dnsAnswersAreCached()
{
    m_dns.resetCounts();
    for (int i = 0; i < 5; ++i) {
        const auto r = m_client->post(
            u"/api/v1/verify"_s, {{u"email"_s, u"u%1@cached.example.com"_s.arg(i)}, {u"mode"_s, u"quick"_s}},
            m_key);
        QCOMPARE(r.status, 200);
    }
    // The domain does not exist: the negative answer is cached as well.
    QCOMPARE(m_dns.queryCount(u"cached.example.com"_s, DnsTestServer::RecordType::MX), 1);
}

void TestApi::clientGoneBeforeAnswer()
{
    // The answer needs a DNS timeout; the client leaves first. The server must not write to a dead socket.
    for (int i = 0; i < 10; ++i) {
        RawClient client(m_server->port());
        QVERIFY(client.waitConnected());
        const QByteArray body =
            QJsonDocument(QJsonObject{{u"email"_s, u"user%1@silent.test"_s.arg(i)}, {u"mode"_s, u"quick"_s}})
                .toJson(QJsonDocument::Compact);
        client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + m_key +
                    "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        QTest::qWait(20);
        client.socket().abort();
    }
    QTest::qWait(800); // the DNS timeouts fire and their answers find no client
    const auto r = m_client->get(u"/api/v1/health"_s);
    QCOMPARE(r.status, 200);
}

void TestApi::requestWhileAnswerPendingClosesAfterIt()
{
    // No pipelining: the pending answer is sent, then the connection closes (RFC 9112 9.3.2: the client
    // retries the unanswered request).
    RawClient client(m_server->port());
    QVERIFY(client.waitConnected());
    const QByteArray body = R"({"email":"late@silent.test","mode":"quick"})";
    client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + m_key +
                "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body);
    QTest::qWait(50);
    client.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    QCOMPARE(client.responses().size(), 1);
    QCOMPARE(client.responses().first().status, 200);
    QCOMPARE(client.responses().first().json().value(u"reason"_s).toString(), u"dns_error"_s);
    QCOMPARE(client.responses().first().header("connection"), QByteArray("close"));
}

void TestApi::requestIdOnEveryAnswer()
{
    QSet<QByteArray> ids;
    for (const auto &r : {m_client->get(u"/api/v1/health"_s), m_client->get(u"/api/v1/nope"_s),
                          m_client->get(u"/api/v1/account"_s), m_client->get(u"/api/v1/account"_s, m_key)}) {
        const QByteArray id = r.header("X-Request-Id");
        QCOMPARE(id.size(), 16);
        ids.insert(id);
    }
    QCOMPARE(ids.size(), 4);
}

void TestApi::requestsAreLoggedForTheWindow()
{
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).status, 200);
    QCOMPARE(m_client->get(u"/api/v1/account"_s, "mc_wrong").status, 401);
    const QList<core::RequestLogEntry> log = m_engine.requestLog().recent();
    QVERIFY(log.size() >= 2);
    QCOMPARE(log.at(0).status, 401);
    QVERIFY(log.at(0).keyPrefix.isEmpty());
    QCOMPARE(log.at(1).path, u"/api/v1/account"_s);
    QCOMPARE(log.at(1).method, u"GET"_s);
    QCOMPARE(log.at(1).status, 200);
    QCOMPARE(log.at(1).keyPrefix, QString::fromLatin1(m_key.left(11)));
    QVERIFY(log.at(1).at.isValid());
    for (const core::RequestLogEntry &e : log) // never the key itself
        QVERIFY(!e.keyPrefix.contains(QString::fromLatin1(m_key)) &&
                !e.path.contains(QString::fromLatin1(m_key)));
}

void TestApi::accountAndRateLimitHeaders()
{
    const auto before = m_client->get(u"/api/v1/account"_s, m_key);
    QCOMPARE(before.status, 200);
    QCOMPARE(before.json.value(u"plan"_s).toString(), u"starter"_s);
    QCOMPARE(before.json.value(u"monthly_limit"_s).toInt(), 10000);
    QCOMPARE(before.json.value(u"carried_over"_s).toInt(), 0);
    const int used = before.json.value(u"monthly_used"_s).toInt();
    QCOMPARE(before.json.value(u"remaining"_s).toInt(), 10000 - used);
    const QDateTime resets = QDateTime::fromString(before.json.value(u"resets_at"_s).toString(), Qt::ISODate);
    QVERIFY(resets.isValid() && resets.date().day() == 1 && resets > QDateTime::currentDateTimeUtc());
    QCOMPARE(before.header("X-RateLimit-Limit"), QByteArray("10000"));
    QCOMPARE(before.header("X-RateLimit-Reset").toLongLong(), resets.toSecsSinceEpoch());

    const auto r = m_client->post(u"/api/v1/verify"_s,
                                  {{u"email"_s, u"rate@example.com"_s}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("X-RateLimit-Remaining").toInt(), 10000 - used - 1);
    const auto after = m_client->get(u"/api/v1/account"_s, m_key);
    QCOMPARE(after.json.value(u"monthly_used"_s).toInt(), used + 1);
}

void TestApi::keyChangesTakeEffectAtOnce()
{
    // The server keeps what every request reads (the key, the maintenance switch) between requests, and
    // drops it as soon as the database says something changed.
    const auto a = m_engine.apiKeys().create(u"changing"_s, accounts::Plan::Free);
    const auto b = m_engine.apiKeys().create(u"revoked elsewhere"_s, accounts::Plan::Free);
    QVERIFY(a && b);
    const QByteArray keyA = a->secret.toLatin1();
    const QByteArray keyB = b->secret.toLatin1();
    QCOMPARE(m_client->get(u"/api/v1/account"_s, keyA).header("X-RateLimit-Limit"), QByteArray("600"));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, keyB).status, 200);
    // A plan changed by this process: the next answer has the new limit.
    accounts::Credits credits(m_engine.database());
    QVERIFY(credits.changePlan(a->info, accounts::Plan::Growth));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, keyA).header("X-RateLimit-Limit"), QByteArray("50000"));
    // Revoked here: refused at once.
    QVERIFY(m_engine.apiKeys().revoke(a->info.id));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, keyA).status, 401);
    // Revoked through another connection (another thread's, as another process would): refused at once.
    QVERIFY(QtConcurrent::run([&] { return m_engine.apiKeys().revoke(b->info.id); }).result());
    QCOMPARE(m_client->get(u"/api/v1/account"_s, keyB).status, 401);
    // Unknown keys are no different: still refused, whatever the server kept.
    for (int i = 0; i < 3; ++i)
        QCOMPARE(m_client->get(u"/api/v1/account"_s, "mc_" + QByteArray(40, 'x')).status, 401);
}

void TestApi::badRequestsCostNothing()
{
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const auto bad = m_client->request("POST", u"/api/v1/verify"_s, R"({"mode":"quick"})", m_key);
    QCOMPARE(bad.status, 400);
    QCOMPARE(bad.header("X-RateLimit-Remaining").toInt(), 10000 - used); // every authenticated answer
    QCOMPARE(m_client->request("POST", u"/api/v1/verify"_s, "nonsense", m_key).status, 400);
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used);
}

void TestApi::exhaustedCreditsGive429()
{
    const auto key = m_engine.apiKeys().create(u"small"_s, accounts::Plan::Free);
    QVERIFY(key);
    accounts::Credits credits(m_engine.database());
    QVERIFY(credits.take(key->info, 600, u"test"_s).ok);
    const auto r =
        m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"a@example.com"_s}, {u"mode"_s, u"quick"_s}},
                       key->secret.toLatin1());
    QCOMPARE(r.status, 429);
    QCOMPARE(r.json.value(u"error"_s).toString(), u"Monthly limit exceeded"_s);
    QCOMPARE(r.json.value(u"monthly_limit"_s).toInt(), 600);
    QCOMPARE(r.json.value(u"monthly_used"_s).toInt(), 600);
    QCOMPARE(r.json.size(), 4);
    const QDateTime resets = QDateTime::fromString(r.json.value(u"resets_at"_s).toString(), Qt::ISODate);
    QVERIFY(resets.isValid());
    const qint64 retryAfter = r.header("Retry-After").toLongLong();
    QVERIFY(retryAfter > 0 && retryAfter <= 31 * 86400);
    QCOMPARE(r.header("X-RateLimit-Remaining"), QByteArray("0"));
}

void TestApi::twoHundredConcurrentRequestsTenCredits()
{
    const auto key = m_engine.apiKeys().create(u"contended"_s, accounts::Plan::Free);
    QVERIFY(key);
    accounts::Credits credits(m_engine.database());
    QVERIFY(credits.take(key->info, 590, u"test"_s).ok);
    const QByteArray body = R"({"email":"x@example.com","mode":"quick"})";
    const QByteArray request =
        "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " +
        key->secret.toLatin1() + "\r\nContent-Length: " + QByteArray::number(body.size()) + "\r\n\r\n" + body;
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 200; ++i) {
        clients.push_back(std::make_unique<RawClient>(m_server->port()));
        clients.back()->socket().write(request); // queued until connected
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(clients.begin(), clients.end(),
                    [](const auto &c) { return !c->responses().isEmpty() || c->isClosed(); }),
        30000);
    int ok = 0;
    int limited = 0;
    QList<int> remainingAfter;
    for (const auto &c : clients) {
        const int status = c->responses().value(0).status;
        ok += status == 200;
        limited += status == 429;
        if (status == 200)
            remainingAfter.append(c->responses().value(0).header("x-ratelimit-remaining").toInt());
    }
    QCOMPARE(ok, 10);
    QCOMPARE(limited, 190);
    // The charges of one turn of the server's loop share a transaction, and each still sees its own
    // balance: the ten successes left 9, 8, … 0.
    std::sort(remainingAfter.begin(), remainingAfter.end());
    QCOMPARE(remainingAfter, (QList<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
    QCOMPARE(credits.usage(key->info)->monthlyUsed, 600);
}

void TestApi::maintenanceMode()
{
    storage::Settings settings(m_engine.database());
    QVERIFY(settings.setValue(storage::setting::Maintenance, true));
    QVERIFY(settings.setValue(storage::setting::MaintenanceRetryAfter, 600));
    auto r = m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"a@example.com"_s}, {u"mode"_s, u"quick"_s}},
                            m_key);
    QCOMPARE(r.status, 503);
    QCOMPARE(r.body, QByteArray(R"({"error":"Service under maintenance","retry_after":600})"));
    QCOMPARE(r.header("Retry-After"), QByteArray("600"));
    const auto health = m_client->get(u"/api/v1/health"_s);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json.value(u"status"_s).toString(), u"maintenance"_s);
    QVERIFY(settings.setValue(storage::setting::Maintenance, false));
    r = m_client->post(u"/api/v1/verify"_s, {{u"email"_s, u"a@example.com"_s}, {u"mode"_s, u"quick"_s}},
                       m_key);
    QCOMPARE(r.status, 200);
    QCOMPARE(m_client->get(u"/api/v1/health"_s).json.value(u"status"_s).toString(), u"ok"_s);
    // Switched through another connection (as the command line does from its process), with only the
    // health route asked meanwhile: it follows at once, both ways.
    auto elsewhere = [&](bool on) {
        return QtConcurrent::run([&, on] {
                   return storage::Settings(m_engine.database()).setValue(storage::setting::Maintenance, on);
               })
            .result();
    };
    QVERIFY(elsewhere(true));
    QCOMPARE(m_client->get(u"/api/v1/health"_s).json.value(u"status"_s).toString(), u"maintenance"_s);
    QVERIFY(elsewhere(false));
    QCOMPARE(m_client->get(u"/api/v1/health"_s).json.value(u"status"_s).toString(), u"ok"_s);
}

void TestApi::contentTypeAndEncoding()
{
    RawClient client(m_server->port());
    QVERIFY(client.waitConnected());
    auto send = [&](const QByteArray &type, const QByteArray &body) {
        const qsizetype before = client.responses().size();
        client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + m_key +
                    "\r\nContent-Type: " + type + "\r\nContent-Length: " + QByteArray::number(body.size()) +
                    "\r\n\r\n" + body);
        if (!QTest::qWaitFor([&] { return client.responses().size() > before; }, 5000))
            return RawResponse{};
        return client.responses().last();
    };
    RawResponse r = send("application/x-www-form-urlencoded", "email=a%40example.com");
    QCOMPARE(r.status, 400);
    QVERIFY(r.json().value(u"error"_s).toString().contains(u"Content-Type"_s));
    r = send("application/json", "{\"email\":\"a\xff\xfe@example.com\",\"mode\":\"quick\"}");
    QCOMPARE(r.status, 400);
    QVERIFY(r.json().value(u"error"_s).toString().contains(u"UTF-8"_s));
    r = send("application/json; charset=utf-8", R"({"email":"a@example.com","mode":"quick"})");
    QCOMPARE(r.status, 200);
}

void TestApi::openApiDescribesEveryRoute()
{
    const auto r = m_client->get(u"/api/v1/openapi.json"_s);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"openapi"_s).toString().left(2), u"3."_s);
    QStringList documented;
    const QJsonObject paths = r.json.value(u"paths"_s).toObject();
    for (auto path = paths.begin(); path != paths.end(); ++path) {
        const QJsonObject methods = path.value().toObject();
        for (auto m = methods.begin(); m != methods.end(); ++m) {
            if (QStringList{u"get"_s, u"post"_s, u"put"_s, u"delete"_s, u"patch"_s}.contains(m.key()))
                documented.append(m.key().toUpper() + u' ' + path.key());
        }
    }
    QStringList served = m_server->routes();
    documented.sort();
    served.sort();
    QCOMPARE(documented, served);
    // The result fields the engine produces are the ones the document lists.
    const QJsonObject result = r.json.value(u"components"_s)
                                   .toObject()
                                   .value(u"schemas"_s)
                                   .toObject()
                                   .value(u"VerifyResult"_s)
                                   .toObject();
    const QJsonObject properties = result.value(u"properties"_s).toObject();
    core::VerificationResult sample;
    sample.mode = core::Mode::Power;
    sample.isSpamTrap = true;
    for (const QString &field : sample.toJson().keys())
        QVERIFY2(properties.contains(field), qPrintable(field));
    QCOMPARE(properties.size(), sample.toJson().size());
    const QJsonObject schemas = r.json.value(u"components"_s).toObject().value(u"schemas"_s).toObject();
    QCOMPARE(schemas.value(u"FindDomainResult"_s).toObject().value(u"properties"_s).toObject().keys(),
             domain::DomainResult().toJson().keys());
    QJsonObject findFields = find::FindResult().toJson(true);
    findFields.insert(u"domain"_s, QJsonValue::Null);
    QCOMPARE(schemas.value(u"FindResult"_s).toObject().value(u"properties"_s).toObject().keys(),
             findFields.keys());
}

void TestApi::findDomain_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("mentions");
    QTest::addRow("missing") << QByteArray(R"({})") << "company_name";
    QTest::addRow("null") << QByteArray(R"({"company_name":null})") << "company_name";
    QTest::addRow("number") << QByteArray(R"({"company_name":7})") << "company_name";
    QTest::addRow("empty") << QByteArray(R"({"company_name":""})") << "company_name";
    QTest::addRow("blank") << QByteArray(R"({"company_name":"   "})") << "company_name";
    QTest::addRow("too long") << QByteArray(R"({"company_name":")" + QByteArray(201, 'a') + R"("})")
                              << "company_name";
    QTest::addRow("not json") << QByteArray("company_name=Acme") << "Invalid JSON";
}

void TestApi::findDomain()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, mentions);
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const auto bad = m_client->request("POST", u"/api/v1/find-domain"_s, body, m_key);
    QCOMPARE(bad.status, 400);
    QVERIFY2(bad.json.value(u"error"_s).toString().contains(mentions),
             qPrintable(bad.json.value(u"error"_s).toString()));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used); // free

    // A good one: example.com has MX records and no website here: medium. One credit.
    const auto r = m_client->post(u"/api/v1/find-domain"_s, {{u"company_name"_s, u"Example Inc."_s}}, m_key);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"company_name"_s).toString(), u"Example Inc."_s);
    QCOMPARE(r.json.value(u"domain"_s).toString(), u"example.com"_s);
    QCOMPARE(r.json.value(u"has_mx"_s).toBool(), true);
    QCOMPARE(r.json.value(u"has_website"_s).toBool(true), false);
    QCOMPARE(r.json.value(u"confidence"_s).toString(), u"medium"_s);
    QCOMPARE(r.json.value(u"status"_s).toString(), u"found"_s);
    QVERIFY(r.json.value(u"candidates_checked"_s).toInt() >= 8);
    QVERIFY(r.json.value(u"response_ms"_s).isDouble());
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used + 1);
    // Nothing there: not_found, null domain and confidence.
    const auto none =
        m_client->post(u"/api/v1/find-domain"_s, {{u"company_name"_s, u"Qwxz Nothing"_s}}, m_key);
    QCOMPARE(none.status, 200);
    QCOMPARE(none.json.value(u"status"_s).toString(), u"not_found"_s);
    QVERIFY(none.json.value(u"domain"_s).isNull());
    QVERIFY(none.json.value(u"confidence"_s).isNull());
}

void TestApi::findValidation_data()
{
    QTest::addColumn<QByteArray>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("mentions");
    auto one = [](const char *name, QByteArray body, const char *mentions) {
        QTest::newRow(name) << QByteArray("/api/v1/find") << body << QString::fromLatin1(mentions);
    };
    one("no first name", R"({"last_name":"Doe","domain":"example.com"})", "first_name");
    one("empty last name", R"({"first_name":"John","last_name":" ","domain":"example.com"})", "last_name");
    one("number", R"({"first_name":1,"last_name":"Doe","domain":"example.com"})", "first_name");
    one("no domain", R"({"first_name":"John","last_name":"Doe"})", "domain");
    one("bad domain", R"({"first_name":"John","last_name":"Doe","domain":"not a domain"})", "domain");
    one("domain literal", R"({"first_name":"John","last_name":"Doe","domain":"[127.0.0.1]"})", "domain");
    one("empty company", R"({"first_name":"John","last_name":"Doe","company_name":""})", "company_name");
    one("array", R"([])", "JSON object");
    auto bulk = [](const char *name, QByteArray body, const char *mentions) {
        QTest::newRow(name) << QByteArray("/api/v1/find/bulk") << body << QString::fromLatin1(mentions);
    };
    bulk("bulk: no leads", R"({})", "leads");
    bulk("bulk: not an array", R"({"leads":{}})", "leads");
    bulk("bulk: empty", R"({"leads":[]})", "leads");
    QByteArray many = R"({"leads":[)";
    for (int i = 0; i < 501; ++i)
        many += QByteArray(i ? "," : "") + R"({"first_name":"A","last_name":"B","domain":"example.com"})";
    bulk("bulk: 501", many + "]}", "500");
    bulk("bulk: item not an object", R"({"leads":["john@example.com"]})", "item 0");
    bulk("bulk: bad item",
         R"({"leads":[{"first_name":"A","last_name":"B","domain":"example.com"},{"first_name":"C"}]})",
         "leads[1].last_name");
}

void TestApi::findValidation()
{
    QFETCH(QByteArray, path);
    QFETCH(QByteArray, body);
    QFETCH(QString, mentions);
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const auto r = m_client->request("POST", QString::fromLatin1(path), body, m_key);
    QCOMPARE(r.status, 400);
    QVERIFY2(r.json.value(u"error"_s).toString().contains(mentions),
             qPrintable(r.json.value(u"error"_s).toString()));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used);
}

void TestApi::findOverHttp()
{
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    // alice@power.test exists, a random address there does not: SMTP-verified.
    const auto r = m_client->post(
        u"/api/v1/find"_s,
        {{u"first_name"_s, u"Alice"_s}, {u"last_name"_s, u"Liddell"_s}, {u"domain"_s, u"power.test"_s}},
        m_key);
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"found"_s).toBool(), true);
    QCOMPARE(r.json.value(u"email"_s).toString(), u"alice@power.test"_s);
    QCOMPARE(r.json.value(u"confidence"_s).toString(), u"high"_s);
    QCOMPARE(r.json.value(u"pattern"_s).toString(), u"first"_s);
    QCOMPARE(r.json.value(u"source"_s).toString(), u"learned"_s);
    QVERIFY(!r.json.contains(u"reason"_s));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used + 1);
    // Not found: the seed's nulls.
    const auto none = m_client->post(
        u"/api/v1/find"_s,
        {{u"first_name"_s, u"John"_s}, {u"last_name"_s, u"Doe"_s}, {u"domain"_s, u"nullmx.test"_s}}, m_key);
    QCOMPARE(none.status, 200);
    QCOMPARE(none.json.value(u"found"_s).toBool(true), false);
    for (const char *field : {"email", "confidence", "pattern", "source"})
        QVERIFY2(none.json.value(QLatin1StringView(field)).isNull(), field);
    QCOMPARE(none.json.value(u"reason"_s).toString(), u"no_mx_records"_s);
}

void TestApi::findBulkCompletes()
{
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const QJsonArray leads{
        QJsonObject{
            {u"first_name"_s, u"Alice"_s}, {u"last_name"_s, u"Liddell"_s}, {u"domain"_s, u"power.test"_s}},
        QJsonObject{
            {u"first_name"_s, u"John"_s}, {u"last_name"_s, u"Doe"_s}, {u"domain"_s, u"nullmx.test"_s}},
        QJsonObject{
            {u"first_name"_s, u" ALICE"_s}, {u"last_name"_s, u"liddell"_s}, {u"domain"_s, u"Power.test"_s}},
    };
    const auto accepted = m_client->post(u"/api/v1/find/bulk"_s, {{u"leads"_s, leads}}, m_key);
    QCOMPARE(accepted.status, 202);
    QCOMPARE(accepted.json.value(u"total"_s).toInt(), 3);
    QCOMPARE(accepted.json.value(u"status"_s).toString(), u"processing"_s);
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used + 3);
    const QString id = accepted.json.value(u"job_id"_s).toString();
    ApiClient::Response job;
    QTRY_VERIFY_WITH_TIMEOUT((job = m_client->get(u"/api/v1/find/bulk/"_s + id, m_key),
                              job.json.value(u"status"_s).toString() == u"completed"_s),
                             15000);
    QCOMPARE(job.json.value(u"processed"_s).toInt(), 3);
    QCOMPARE(job.json.value(u"found_count"_s).toInt(), 2);
    const QJsonArray results = job.json.value(u"results"_s).toArray();
    QCOMPARE(results.size(), 3);
    for (int i = 0; i < 3; ++i) {
        const QJsonObject r = results.at(i).toObject();
        for (const char *field : {"first_name", "last_name", "domain"}) // the lead's fields, as given
            QCOMPARE(r.value(QLatin1StringView(field)).toString(),
                     leads.at(i).toObject().value(QLatin1StringView(field)).toString());
        for (const char *field : {"found", "email", "confidence", "pattern", "source", "reason"})
            QVERIFY2(r.contains(QLatin1StringView(field)), field);
    }
    QCOMPARE(results.at(0).toObject().value(u"email"_s).toString(), u"alice@power.test"_s);
    QVERIFY(results.at(0).toObject().value(u"reason"_s).isNull());
    QCOMPARE(results.at(1).toObject().value(u"reason"_s).toString(), u"no_mx_records"_s);
    QCOMPARE(results.at(2).toObject().value(u"email"_s).toString(), u"alice@power.test"_s);
    // A find job is not a verify job, and another key's job is not found.
    QCOMPARE(m_client->get(u"/api/v1/verify/bulk/"_s + id, m_key).status, 404);
    const auto other = m_engine.apiKeys().create(u"other finder"_s, accounts::Plan::Free);
    QCOMPARE(m_client->get(u"/api/v1/find/bulk/"_s + id, other->secret.toLatin1()).status, 404);
}

void TestApi::bulkValidation_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("mentions");
    QStringList many;
    for (int i = 0; i < 501; ++i)
        many << u"\"u%1@example.com\""_s.arg(i);
    QTest::addRow("missing emails") << QByteArray(R"({"mode":"quick"})") << "emails";
    QTest::addRow("emails not an array") << QByteArray(R"({"emails":"a@example.com"})") << "emails";
    QTest::addRow("empty list") << QByteArray(R"({"emails":[]})") << "1 to 500";
    QTest::addRow("501 addresses") << (u"{\"emails\":["_s + many.join(u',') + u"]}"_s).toUtf8() << "got 501";
    QTest::addRow("a number in the list") << QByteArray(R"({"emails":["a@example.com",7]})") << "item 1";
    QTest::addRow("bad mode") << QByteArray(R"({"emails":["a@example.com"],"mode":"turbo"})") << "mode";
}

void TestApi::bulkValidation()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, mentions);
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const auto r = m_client->request("POST", u"/api/v1/verify/bulk"_s, body, m_key);
    QCOMPARE(r.status, 400);
    QVERIFY2(r.json.value(u"error"_s).toString().contains(mentions),
             qPrintable(r.json.value(u"error"_s).toString()));
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(),
             used); // nothing charged
}

void TestApi::bulkJobCompletes()
{
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const QStringList emails{u"user@example.com"_s,  u"bad@@x"_s,
                             u" USER@example.com"_s, u""_s,
                             u"a@nullmx.test"_s,     u"temp@mailinator.com"_s};
    const auto accepted =
        m_client->post(u"/api/v1/verify/bulk"_s,
                       {{u"emails"_s, QJsonArray::fromStringList(emails)}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(accepted.status, 202);
    QCOMPARE(accepted.json.value(u"total"_s).toInt(), 6);
    QCOMPARE(accepted.json.value(u"status"_s).toString(), u"processing"_s);
    const QString id = accepted.json.value(u"job_id"_s).toString();
    QVERIFY(!QUuid::fromString(id).isNull());
    // Charged when accepted, all at once.
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used + 6);

    ApiClient::Response job;
    QTRY_VERIFY_WITH_TIMEOUT((job = m_client->get(u"/api/v1/verify/bulk/"_s + id, m_key),
                              job.json.value(u"status"_s).toString() == u"completed"_s),
                             10000);
    const QJsonObject o = job.json;
    QCOMPARE(o.value(u"job_id"_s).toString(), id);
    QCOMPARE(o.value(u"total"_s).toInt(), 6);
    QCOMPARE(o.value(u"processed"_s).toInt(), 6);
    QCOMPARE(o.value(u"risky_count"_s).toInt(), 2); // the address and its duplicate
    QCOMPARE(o.value(u"invalid_count"_s).toInt(), 2);
    QCOMPARE(o.value(u"disposable_count"_s).toInt(), 1);
    QCOMPARE(o.value(u"error_count"_s).toInt(), 1);
    QCOMPARE(o.value(u"valid_count"_s).toInt(), 0);
    QCOMPARE(o.value(u"unknown_count"_s).toInt(), 0);
    QVERIFY(QDateTime::fromString(o.value(u"completed_at"_s).toString(), Qt::ISODate).isValid());
    const QJsonArray results = o.value(u"results"_s).toArray();
    QCOMPARE(results.size(), 6);
    for (int i = 0; i < 6; ++i)
        QCOMPARE(results.at(i).toObject().value(u"email"_s).toString(),
                 emails.at(i).trimmed()); // input order
    QCOMPARE(results.at(0).toObject().value(u"status"_s).toString(), u"risky"_s);
    QCOMPARE(results.at(2).toObject().value(u"status"_s).toString(), u"risky"_s);
    QCOMPARE(results.at(3).toObject().value(u"status"_s).toString(), u"error"_s);
    QCOMPARE(results.at(3).toObject().value(u"quality_score"_s).toInt(), 0);
    QCOMPARE(results.at(4).toObject().value(u"reason"_s).toString(), u"null_mx"_s);
    // Every result carries the single verify response's fields.
    for (const QString &field : core::VerificationResult().toJson().keys())
        QVERIFY2(results.at(0).toObject().contains(field), qPrintable(field));
}

void TestApi::bulkJobsOfOtherKeysAreNotFound()
{
    const auto accepted =
        m_client->post(u"/api/v1/verify/bulk"_s,
                       {{u"emails"_s, QJsonArray{u"x@example.com"_s}}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(accepted.status, 202);
    const QString id = accepted.json.value(u"job_id"_s).toString();
    const auto other = m_engine.apiKeys().create(u"other"_s, accounts::Plan::Free);
    QVERIFY(other);
    const auto theirs = m_client->get(u"/api/v1/verify/bulk/"_s + id, other->secret.toLatin1());
    const auto missing =
        m_client->get(u"/api/v1/verify/bulk/"_s + QUuid::createUuid().toString(QUuid::WithoutBraces),
                      other->secret.toLatin1());
    QCOMPARE(theirs.status, 404);
    QCOMPARE(missing.status, 404);
    QCOMPARE(theirs.json.keys(), missing.json.keys());
    QVERIFY(!theirs.body.contains("processing") && !theirs.body.contains("x@example.com"));
    QCOMPARE(m_client->request("DELETE", u"/api/v1/verify/bulk/"_s + id, {}, other->secret.toLatin1()).status,
             404);
    // A find job of the same key is not a verify job.
    const auto find = m_engine.jobs().createFindJob(
        &other->info,
        {{{u"first_name"_s, u"A"_s}, {u"last_name"_s, u"B"_s}, {u"domain"_s, u"example.com"_s}}});
    QCOMPARE(int(find.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(m_client->get(u"/api/v1/verify/bulk/"_s + find.jobId, other->secret.toLatin1()).status, 404);
    QCOMPARE(m_client->request("DELETE", u"/api/v1/verify/bulk/"_s + find.jobId, {}, other->secret.toLatin1())
                 .status,
             404);
}

void TestApi::bulkWithoutEnoughCreditsIs429()
{
    const auto key = m_engine.apiKeys().create(u"almost spent"_s, accounts::Plan::Free);
    QVERIFY(key);
    QVERIFY(m_engine.credits().take(key->info, 595, u"test"_s).ok);
    QJsonArray ten;
    for (int i = 0; i < 10; ++i)
        ten.append(u"p%1@example.com"_s.arg(i));
    const auto r = m_client->post(u"/api/v1/verify/bulk"_s, {{u"emails"_s, ten}, {u"mode"_s, u"quick"_s}},
                                  key->secret.toLatin1());
    QCOMPARE(r.status, 429);
    QCOMPARE(r.json.value(u"monthly_used"_s).toInt(), 595);
    QCOMPARE(m_engine.credits().usage(key->info)->monthlyUsed, 595); // all or nothing
}

void TestApi::bulkJobCanBeCancelled()
{
    // Quick mode at a silent DNS server: the items stay in flight (400 ms) long enough to cancel.
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    QJsonArray slow;
    for (int i = 0; i < 5; ++i)
        slow.append(u"c%1@silent.test"_s.arg(i));
    const auto accepted =
        m_client->post(u"/api/v1/verify/bulk"_s, {{u"emails"_s, slow}, {u"mode"_s, u"quick"_s}}, m_key);
    QCOMPARE(accepted.status, 202);
    const QString id = accepted.json.value(u"job_id"_s).toString();
    const auto cancelled = m_client->request("DELETE", u"/api/v1/verify/bulk/"_s + id, {}, m_key);
    QCOMPARE(cancelled.status, 200);
    QCOMPARE(cancelled.json.value(u"status"_s).toString(), u"cancelled"_s);
    QCOMPARE(cancelled.json.value(u"processed"_s).toInt(), 0);
    // Every unprocessed item is refunded.
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(), used);
    QCOMPARE(m_client->request("DELETE", u"/api/v1/verify/bulk/"_s + id, {}, m_key).status, 400);
    QTest::qWait(800); // the in-flight checks end at the DNS timeout and change nothing
    const auto after = m_client->get(u"/api/v1/verify/bulk/"_s + id, m_key);
    QCOMPARE(after.json.value(u"status"_s).toString(), u"cancelled"_s);
    QCOMPARE(after.json.value(u"processed"_s).toInt(), 0);
}

void TestApi::webhookConfiguration()
{
    const auto key = m_engine.apiKeys().create(u"hooks"_s, accounts::Plan::Free);
    QVERIFY(key);
    const QByteArray k = key->secret.toLatin1();
    QCOMPARE(m_client->get(u"/api/v1/webhook"_s, k).status, 404);
    auto r = m_client->request("PUT", u"/api/v1/webhook"_s, R"({"url":"http://hooks.test/x"})", k);
    QCOMPARE(r.status, 400);
    QVERIFY(r.json.value(u"error"_s).toString().contains(u"HTTPS"_s, Qt::CaseInsensitive));
    QCOMPARE(m_client->request("PUT", u"/api/v1/webhook"_s, R"({})", k).status, 400);
    r = m_client->request("PUT", u"/api/v1/webhook"_s, R"({"url":"https://hooks.test/x"})", k);
    QCOMPARE(r.status, 200);
    QVERIFY(r.json.value(u"secret"_s).toString().startsWith(u"whsec_"_s));
    const auto shown = m_client->get(u"/api/v1/webhook"_s, k);
    QCOMPARE(shown.status, 200);
    QCOMPARE(shown.json.value(u"url"_s).toString(), u"https://hooks.test/x"_s);
    QVERIFY(!shown.json.contains(u"secret"_s)); // shown once, when set
    QCOMPARE(m_client->request("DELETE", u"/api/v1/webhook"_s, {}, k).status, 200);
    QCOMPARE(m_client->get(u"/api/v1/webhook"_s, k).status, 404);
    QCOMPARE(m_client->request("DELETE", u"/api/v1/webhook"_s, {}, k).status, 404);
}

void TestApi::webhookDeliveredWhenABulkJobEnds()
{
    const auto key = m_engine.apiKeys().create(u"notified"_s, accounts::Plan::Starter);
    QVERIFY(key);
    const QByteArray k = key->secret.toLatin1();
    const QString url = u"https://hooks.test:%1/mailcaff"_s.arg(m_hooks.port());
    const auto set =
        m_client->request("PUT", u"/api/v1/webhook"_s,
                          QJsonDocument(QJsonObject{{u"url"_s, url}}).toJson(QJsonDocument::Compact), k);
    QCOMPARE(set.status, 200);
    const QByteArray secret = set.json.value(u"secret"_s).toString().toLatin1();
    m_hooks.clearRequests();
    const auto accepted = m_client->post(
        u"/api/v1/verify/bulk"_s,
        {{u"emails"_s, QJsonArray{u"a@example.com"_s, u"b@nullmx.test"_s, u"c@mailinator.com"_s}},
         {u"mode"_s, u"quick"_s}},
        k);
    QCOMPARE(accepted.status, 202);
    QTRY_COMPARE_WITH_TIMEOUT(m_hooks.requestCount(), 1, 10000);
    const HttpsReceiver::Request hook = m_hooks.requests().first();
    QCOMPARE(hook.method, QByteArray("POST"));
    QCOMPARE(hook.path, QByteArray("/mailcaff"));
    const QJsonObject payload = QJsonDocument::fromJson(hook.body).object();
    QCOMPARE(payload.value(u"event"_s).toString(), u"bulk_job.completed"_s);
    QCOMPARE(payload.value(u"job_id"_s).toString(), accepted.json.value(u"job_id"_s).toString());
    QCOMPARE(payload.value(u"job_type"_s).toString(), u"verify"_s);
    QCOMPARE(payload.value(u"status"_s).toString(), u"completed"_s);
    QCOMPARE(payload.value(u"total"_s).toInt(), 3);
    const QJsonObject summary = payload.value(u"summary"_s).toObject();
    QCOMPARE(summary.value(u"risky"_s).toInt(), 1);
    QCOMPARE(summary.value(u"invalid"_s).toInt(), 1);
    QCOMPARE(summary.value(u"disposable"_s).toInt(), 1);
    QCOMPARE(summary.value(u"valid"_s).toInt(), 0);
    QCOMPARE(summary.value(u"unknown"_s).toInt(), 0);
    // Signed per Standard Webhooks over exactly the bytes received.
    const QString id = QString::fromLatin1(hook.header("webhook-id"));
    const qint64 timestamp = hook.header("webhook-timestamp").toLongLong();
    QVERIFY(!id.isEmpty() && timestamp > 0);
    QCOMPARE(QString::fromLatin1(hook.header("webhook-signature")),
             webhooks::sign(secret, id, timestamp, hook.body));
    // And it is in the delivery log.
    QTRY_COMPARE_WITH_TIMEOUT(m_client->get(u"/api/v1/webhook/deliveries"_s, k)
                                  .json.value(u"deliveries"_s)
                                  .toArray()
                                  .first()
                                  .toObject()
                                  .value(u"state"_s)
                                  .toString(),
                              u"delivered"_s, 5000);
}

void TestApi::jobEndAndItsWebhookAreOneTransaction()
{
    // The delivery row is written in the transaction that ends the job (an outbox): there is no moment,
    // and so no crash, with an ended job and no announcement, even with no runner at all.
    const auto key = m_engine.apiKeys().create(u"outbox"_s, accounts::Plan::Free);
    QVERIFY(key);
    QVERIFY(m_engine.webhooks().setEndpoint(key->info.id, u"https://hooks.test/outbox"_s).ok());
    const auto created = m_engine.jobs().createVerifyJob(&key->info, {}, core::Mode::Quick); // ends at once
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(jobs::toString(m_engine.jobs().summary(created.jobId)->status), u"completed"_s);
    const auto deliveries = m_engine.webhooks().deliveries(key->info.id, 10);
    QCOMPARE(deliveries.size(), 1);
    QCOMPARE(deliveries.first().jobId, created.jobId);
    QCOMPARE(deliveries.first().event, u"bulk_job.completed"_s);
}

void TestApi::idempotentBulkSubmission()
{
    const int used = m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt();
    const QByteArray body = R"({"emails":["i1@example.com","i2@example.com"],"mode":"quick"})";
    auto submit = [&] {
        RawClient client(m_server->port());
        if (!client.waitConnected())
            return RawResponse{};
        client.send("POST /api/v1/verify/bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + m_key +
                    "\r\nIdempotency-Key: crm-batch-42\r\nContent-Length: " +
                    QByteArray::number(body.size()) + "\r\n\r\n" + body);
        if (!QTest::qWaitFor([&] { return !client.responses().isEmpty(); }, 5000))
            return RawResponse{};
        return client.responses().first();
    };
    const RawResponse first = submit();
    const RawResponse retry = submit(); // the client lost the first answer and tries again
    QCOMPARE(first.status, 202);
    QCOMPARE(retry.status, 202);
    QCOMPARE(retry.json().value(u"job_id"_s).toString(), first.json().value(u"job_id"_s).toString());
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).json.value(u"monthly_used"_s).toInt(),
             used + 2); // once
}

namespace {
int s_throttleLogs = 0;
QtMessageHandler s_previousHandler = nullptr;
void countThrottleLogs(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (message.contains(u"with a bad API key"_s))
        ++s_throttleLogs;
    s_previousHandler(type, context, message);
}
} // namespace

void TestApi::badKeysAreThrottledPerAddress()
{
    // A client guessing keys (or a script looping with an old one): after the limit, 429 for the rest of
    // the window without its keys being looked at, logged once; the server keeps answering.
    server::HttpLimits limits;
    limits.authFailureLimit = 20;
    limits.authFailureWindowMs = 3000;
    server::ApiServer guarded(m_engine, nullptr, limits);
    QString error;
    QVERIFY2(guarded.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
    QUrl base;
    base.setScheme(u"http"_s);
    base.setHost(u"127.0.0.1"_s);
    base.setPort(guarded.port());
    ApiClient client(base);
    s_throttleLogs = 0;
    s_previousHandler = qInstallMessageHandler(countThrottleLogs);
    const auto restore = qScopeGuard([] { qInstallMessageHandler(s_previousHandler); });
    QMap<int, int> statuses;
    for (int i = 0; i < 300; ++i)
        ++statuses[client.get(u"/api/v1/account"_s, "mc_guess" + QByteArray::number(i)).status];
    QCOMPARE(statuses.value(401), 20);
    QCOMPARE(statuses.value(429), 280);
    QCOMPARE(s_throttleLogs, 1);
    // While throttled, a good key from the same address waits too; the answer says how long.
    const auto waiting = client.get(u"/api/v1/account"_s, m_key);
    QCOMPARE(waiting.status, 429);
    const int retryAfter = waiting.json.value(u"retry_after"_s).toInt();
    QVERIFY(retryAfter >= 1 && retryAfter <= 3);
    QCOMPARE(waiting.header("retry-after"), QByteArray::number(retryAfter));
    QVERIFY(waiting.json.value(u"error"_s).toString().contains(u"failed authentication"_s));
    // Public routes are not throttled.
    QCOMPARE(client.get(u"/api/v1/health"_s).status, 200);
    // Once the window is over, the good key works.
    QTRY_COMPARE_WITH_TIMEOUT(client.get(u"/api/v1/account"_s, m_key).status, 200, 10000);
    // The main server (another limit's count) never saw these.
    QCOMPARE(m_client->get(u"/api/v1/account"_s, m_key).status, 200);
}

QTEST_GUILESS_MAIN(TestApi)
#include "tst_api.moc"
