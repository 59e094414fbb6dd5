// The HTTP layer under hostile and sloppy clients: limits, timeouts, framing, methods, connection handling.
// Raw TCP clients on loopback against the real ApiServer.
#include "apiserver.h"
#include "dnstestserver.h"
#include "engine.h"
#include "httptestclient.h"

#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestHttp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void health();
    void unknownRouteIs404Json();
    void wrongMethodIs405WithAllow();
    void declaredBodyTooLargeIs413();
    void streamedBodyTooLargeIs413();
    void chunkedBodyTooLargeIs413();
    void chunkedBodyWithinLimitIsRead();
    void headersTooLargeIs431();
    void malformedRequestLineIs400();
    void unsupportedVersionIs505();
    void conflictingFramingIs400();
    void slowClientTimesOutWith408();
    void idleConnectionIsClosed();
    void keepAliveServesSeveralRequests();
    void pipelinedRequestsAreRefused();
    void headGetsHeadersOnly();
    void whatQtWouldRejectIsAnswered_data();
    void whatQtWouldRejectIsAnswered();
    void rejectedConnectionsAreReleased();
    void connectionCloseIsHonoured();
    void http10ClosesByDefault();
    void expectContinueGetsInterimResponse();
    void idleClientsMakeRoomAtTheCap();
    void connectionCapAnswers503();
    void serverSurvivesAbruptDisconnects();

private:
    RawResponse roundTrip(const QByteArray &request);

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    Engine m_engine;
    std::unique_ptr<server::ApiServer> m_server;
    quint16 m_port = 0;
};

void TestHttp::initTestCase()
{
    EngineConfig config;
    config.dataDir = m_dir.path();
    // Never answers: a verification holds its connection for the DNS timeout (connections being served).
    QVERIFY(m_dns.listen());
    m_dns.setDefaultBehaviour(DnsTestServer::Behaviour::Silent);
    config.dnsServers = m_dns.serverString();
    QString error;
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));
    server::HttpLimits limits;
    limits.requestTimeoutMs = 600;
    limits.idleTimeoutMs = 1500;
    limits.maxConnections = 8;
    limits.lingerMs = 300;
    m_server = std::make_unique<server::ApiServer>(m_engine, nullptr, limits);
    QVERIFY2(m_server->listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
    m_port = m_server->port();
    QVERIFY(m_port != 0);
}

void TestHttp::cleanupTestCase()
{
    m_server.reset();
    m_engine.stop();
}

RawResponse TestHttp::roundTrip(const QByteArray &request)
{
    RawClient client(m_port);
    if (!client.waitConnected())
        return {};
    client.send(request);
    if (!QTest::qWaitFor([&] { return !client.responses().isEmpty() || client.isClosed(); }, 5000))
        return {};
    return client.responses().value(0);
}

void TestHttp::health()
{
    const RawResponse r = roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(r.status, 200);
    QCOMPARE(r.header("content-type"), QByteArray("application/json"));
    QCOMPARE(r.json().value(u"status"_s).toString(), u"ok"_s);
    QCOMPARE(r.json().value(u"version"_s).toString(), QStringLiteral(MAILCAFF_VERSION));
}

void TestHttp::unknownRouteIs404Json()
{
    const RawResponse r = roundTrip("GET /api/v1/nope HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(r.status, 404);
    QCOMPARE(r.header("content-type"), QByteArray("application/json"));
    QVERIFY(r.json().value(u"error"_s).toString().contains(u"/api/v1/nope"_s));
    QCOMPARE(roundTrip("GET / HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
}

void TestHttp::wrongMethodIs405WithAllow()
{
    RawResponse r = roundTrip("GET /api/v1/verify HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(r.status, 405);
    QCOMPARE(r.header("allow"), QByteArray("POST"));
    QVERIFY(!r.json().value(u"error"_s).toString().isEmpty());
    r = roundTrip("DELETE /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QCOMPARE(r.status, 405);
    QCOMPARE(r.header("allow"), QByteArray("GET"));
}

void TestHttp::declaredBodyTooLargeIs413()
{
    // Answered from the headers alone, before the body is sent.
    const RawResponse r =
        roundTrip("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  "Content-Length: 1048577\r\n\r\n");
    QCOMPARE(r.status, 413);
    QVERIFY(r.json().value(u"error"_s).toString().contains(u"too large"_s));
}

void TestHttp::streamedBodyTooLargeIs413()
{
    // A client that sends 2 MiB anyway still gets the 413 (the rest is drained, not reset).
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n");
    client.send(QByteArray(2 * 1024 * 1024, 'a'));
    QTRY_VERIFY_WITH_TIMEOUT(!client.responses().isEmpty(), 5000);
    QCOMPARE(client.responses().first().status, 413);
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
}

void TestHttp::chunkedBodyTooLargeIs413()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    const QByteArray chunk(256 * 1024, 'b');
    for (int i = 0; i < 5; ++i)
        client.send(QByteArray::number(chunk.size(), 16) + "\r\n" + chunk + "\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(!client.responses().isEmpty(), 5000);
    QCOMPARE(client.responses().first().status, 413);
}

void TestHttp::chunkedBodyWithinLimitIsRead()
{
    // The body reaches the handler (which then asks for authentication).
    const RawResponse r =
        roundTrip("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\n{\"ema\r\n9\r\nil\":\"a@b\"\r\n1\r\n}\r\n0\r\n\r\n");
    QCOMPARE(r.status, 401);
}

void TestHttp::headersTooLargeIs431()
{
    const RawResponse r =
        roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + QByteArray(20000, 'h') + "\r\n\r\n");
    QCOMPARE(r.status, 431);
}

void TestHttp::malformedRequestLineIs400()
{
    QCOMPARE(roundTrip("HELLO\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("GET\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("G(T /api/v1/health HTTP/1.1\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("GET api/v1/health HTTP/1.1\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("GET /api/v1/health HTTP/1.1\r\nNoColonHere\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("POST /api/v1/verify HTTP/1.1\r\nContent-Length: -5\r\n\r\n").status, 400);
    QCOMPARE(roundTrip("POST /api/v1/verify HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n").status, 400);
}

void TestHttp::unsupportedVersionIs505()
{
    QCOMPARE(roundTrip("GET /api/v1/health HTTP/2.0\r\n\r\n").status, 505);
}

void TestHttp::conflictingFramingIs400()
{
    QCOMPARE(
        roundTrip("POST /api/v1/verify HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
            .status,
        400);
    QCOMPARE(
        roundTrip("POST /api/v1/verify HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").status,
        400);
}

void TestHttp::slowClientTimesOutWith408()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"email\":");
    QTRY_VERIFY_WITH_TIMEOUT(!client.responses().isEmpty(), 5000);
    QCOMPARE(client.responses().first().status, 408);
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
}

void TestHttp::idleConnectionIsClosed()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    QVERIFY(client.received().isEmpty());
}

void TestHttp::keepAliveServesSeveralRequests()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    for (int i = 1; i <= 3; ++i) {
        client.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
        QTRY_COMPARE_WITH_TIMEOUT(client.responses().size(), i, 5000);
    }
    QVERIFY(!client.isClosed());
}

void TestHttp::pipelinedRequestsAreRefused()
{
    // Qt 6.4 would merge two requests read at once; we say so instead of answering something wrong.
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/nope HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    QCOMPARE(client.responses().size(), 1);
    QCOMPARE(client.responses().first().status, 400);
    QVERIFY(client.responses().first().json().value(u"error"_s).toString().contains(u"Pipelined"_s));
}

void TestHttp::headGetsHeadersOnly()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("HEAD /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.received().contains("\r\n\r\n"), 5000);
    QTest::qWait(100);
    QVERIFY(client.received().startsWith("HTTP/1.1 405"));
    QVERIFY(client.received().endsWith("\r\n\r\n")); // no body follows the headers
    // The connection stays in sync for the next request.
    const qsizetype before = client.received().size();
    client.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(parseResponses(client.received().mid(before)).size() == 1, 5000);
    QCOMPARE(parseResponses(client.received().mid(before)).first().status, 200);
}

void TestHttp::whatQtWouldRejectIsAnswered_data()
{
    QTest::addColumn<QByteArray>("request");
    QTest::addColumn<int>("status");
    QTest::addRow("lowercase method") << QByteArray("get /api/v1/health HTTP/1.1\r\n\r\n") << 501;
    QTest::addRow("unknown method") << QByteArray("BREW /api/v1/health HTTP/1.1\r\n\r\n") << 501;
    QTest::addRow("space before colon")
        << QByteArray("GET /api/v1/health HTTP/1.1\r\nHost : x\r\n\r\n") << 400;
    QTest::addRow("space in header name")
        << QByteArray("GET /api/v1/health HTTP/1.1\r\nBad Name: x\r\n\r\n") << 400;
    QTest::addRow("obs-fold") << QByteArray("GET /api/v1/health HTTP/1.1\r\nX-A: 1\r\n  folded\r\n\r\n")
                              << 400;
    QTest::addRow("control character in value")
        << QByteArray("GET /api/v1/health HTTP/1.1\r\nX-A: a\x01b\r\n\r\n") << 400;
    QTest::addRow("signed content length")
        << QByteArray("POST /api/v1/verify HTTP/1.1\r\nContent-Length: +5\r\n\r\n") << 400;
    QTest::addRow("bare LF line ends") << QByteArray("GET /api/v1/health HTTP/1.1\nHost: x\n\n") << 400;
    QTest::addRow("space before chunk size")
        << QByteArray(
               "POST /api/v1/verify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n")
        << 400;
    QTest::addRow("0x chunk size")
        << QByteArray(
               "POST /api/v1/verify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n")
        << 400;
    QTest::addRow("chunk data without CRLF")
        << QByteArray(
               "POST /api/v1/verify HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n")
        << 400;
    QTest::addRow("gzip transfer coding")
        << QByteArray("POST /api/v1/verify HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") << 501;
    QTest::addRow("upgrade")
        << QByteArray("GET /api/v1/health HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
        << 400;
    QTest::addRow("non-ASCII target") << QByteArray("GET /api/v1/h\xc3\xa9"
                                                    "alth HTTP/1.1\r\n\r\n")
                                      << 400;
}

void TestHttp::whatQtWouldRejectIsAnswered()
{
    QFETCH(QByteArray, request);
    QFETCH(int, status);
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send(request);
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    QCOMPARE(client.responses().value(0).status, status);
    QVERIFY(!client.responses().value(0).json().value(u"error"_s).toString().isEmpty());
}

void TestHttp::rejectedConnectionsAreReleased()
{
    // Refused requests must not hold connection slots: more of them than the cap, then a normal request.
    for (int i = 0; i < 12; ++i) {
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send("get / HTTP/1.1\r\n\r\n");
        QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 5000);
    }
    QTRY_COMPARE_WITH_TIMEOUT(roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").status, 200, 5000);
}

void TestHttp::connectionCloseIsHonoured()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 3000);
    QCOMPARE(client.responses().size(), 1);
    QCOMPARE(client.responses().first().header("connection"), QByteArray("close"));
}

void TestHttp::http10ClosesByDefault()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send("GET /api/v1/health HTTP/1.0\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.isClosed(), 3000);
    QCOMPARE(client.responses().value(0).status, 200);
}

void TestHttp::expectContinueGetsInterimResponse()
{
    RawClient client(m_port);
    QVERIFY(client.waitConnected());
    client.send(
        "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(client.received().startsWith("HTTP/1.1 100 Continue\r\n\r\n"), 3000);
    client.send("{}");
    QTRY_COMPARE_WITH_TIMEOUT(client.responses().size(), 1, 3000);
    QCOMPARE(client.responses().first().status, 401);
}

void TestHttp::idleClientsMakeRoomAtTheCap()
{
    // Eight connections that say nothing fill the cap (slowloris' opening move)...
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(std::make_unique<RawClient>(m_port));
        QVERIFY(clients.back()->waitConnected());
        QTest::qWait(20); // accepted in this order
    }
    QTest::qWait(100);
    // ... a client with a request is served at once, and the one silent the longest made room.
    QCOMPARE(roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
    QTRY_VERIFY_WITH_TIMEOUT(clients.front()->isClosed(), 1000);
    for (std::size_t i = 1; i < clients.size(); ++i) // (well within the 1.5 s idle timeout)
        QVERIFY(!clients.at(i)->isClosed());
}

void TestHttp::connectionCapAnswers503()
{
    // When every connection is being answered (verifications waiting on DNS), a newcomer is told to retry.
    QString error;
    const auto key = m_engine.apiKeys().create(u"cap"_s, accounts::Plan::Scale, &error);
    QVERIFY2(key, qPrintable(error));
    const QByteArray body = R"({"email":"ann@example.com"})";
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 8; ++i) {
        clients.push_back(std::make_unique<RawClient>(m_port));
        QVERIFY(clients.back()->waitConnected());
        clients.back()->send("POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             key->secret.toUtf8() + "\r\nContent-Type: application/json\r\nContent-Length: " +
                             QByteArray::number(body.size()) + "\r\n\r\n" + body);
    }
    QTest::qWait(200); // let the server accept them all and start on each
    RawClient extra(m_port);
    extra.waitConnected();
    QTRY_VERIFY_WITH_TIMEOUT(!extra.responses().isEmpty() || extra.isClosed(), 5000);
    QCOMPARE(extra.responses().value(0).status, 503);
    clients.clear();
    // Capacity comes back once they are gone.
    QTRY_COMPARE_WITH_TIMEOUT(roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").status, 200, 5000);
}

void TestHttp::serverSurvivesAbruptDisconnects()
{
    for (int i = 0; i < 50; ++i) {
        RawClient client(m_port);
        QVERIFY(client.waitConnected());
        client.send(i % 2 ? QByteArray("POST /api/v1/verify HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
                          : QByteArray("GET /api/v1/health HTTP/1.1\r\n\r\n"));
        client.socket().abort();
    }
    QCOMPARE(roundTrip("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n").status, 200);
}

QTEST_GUILESS_MAIN(TestHttp)
#include "tst_http.moc"
