// The fault matrix: DNS, SMTP and web servers on loopback that misbehave on purpose, and what the product
// makes of each. Every case ends in its documented status or error, within its timeout, with no crash, and
// gives back every socket it opened (open descriptors of this process counted before and after; the
// sanitizer build checks memory). Webhook receivers that hang, redirect or answer 410: tst_webhooks, which
// counts sockets the same way.
#include "dns/resolver.h"
#include "dnstestserver.h"
#include "engine.h"
#include "httptestserver.h"
#include "net/pagefetch.h"
#include "procstats.h"
#include "smtptestserver.h"
#include "testengine.h"

#include <QJsonDocument>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

namespace {

/// An SMTP server that gets it wrong on purpose: `greeting` on connect, then each command line answered
/// with what `answer` returns for it (nothing: silence). `floodAfterEhlo` bytes of one endless reply line
/// follow the EHLO, topped up only as the client reads them.
class ScriptedSmtp : public QObject
{
public:
    using Answer = std::function<QByteArray(const QByteArray &command)>;

    ScriptedSmtp(QByteArray greeting, Answer answer)
        : m_greeting(std::move(greeting))
        , m_answer(std::move(answer))
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection())
                serve(s);
        });
    }

    bool listen(const QHostAddress &address, quint16 port) { return m_server.listen(address, port); }
    quint16 port() const { return m_server.serverPort(); }
    QString errorString() const { return m_server.errorString(); }
    int connections() const { return m_connections; }
    qint64 flooded() const { return m_flooded; }
    qint64 floodAfterEhlo = 0;
    bool closeAfterGreeting = false;

private:
    void serve(QTcpSocket *socket)
    {
        ++m_connections;
        socket->setParent(this);
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
        socket->write(m_greeting);
        if (closeAfterGreeting) {
            socket->disconnectFromHost();
            return;
        }
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] {
            while (socket->canReadLine()) {
                const QByteArray line = socket->readLine().trimmed();
                if (floodAfterEhlo > 0 && line.toUpper().startsWith("EHLO"))
                    flood(socket);
                else
                    socket->write(m_answer(line));
            }
        });
    }

    void flood(QTcpSocket *socket)
    {
        socket->write("250-");
        streamFiller(socket, floodAfterEhlo, &m_flooded, [socket] { socket->write("\r\n250 OK\r\n"); });
    }

    QTcpServer m_server;
    QByteArray m_greeting;
    Answer m_answer;
    int m_connections = 0;
    qint64 m_flooded = 0;
};

/// A well-behaved dialogue with one twist: `rcptAnswer` for every RCPT.
ScriptedSmtp::Answer dialogue(QByteArray ehloAnswer, QByteArray mailAnswer,
                              std::function<QByteArray(const QByteArray &)> rcptAnswer)
{
    return [=](const QByteArray &command) -> QByteArray {
        const QByteArray verb = command.left(4).toUpper();
        if (verb == "EHLO")
            return ehloAnswer;
        if (verb == "MAIL")
            return mailAnswer;
        if (verb == "RCPT")
            return rcptAnswer(command);
        if (verb == "RSET")
            return "250 2.0.0 Ok\r\n";
        if (verb == "QUIT")
            return "221 2.0.0 Bye\r\n";
        return "502 5.5.2 Error: command not recognized\r\n";
    };
}

constexpr int DeadlineMs = 4000;
const QByteArray Banner = "220 mx.faults.test ESMTP\r\n";
const QByteArray Ehlo = "250-mx.faults.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n";

} // namespace

class TestFaults : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void dns_data();
    void dns();
    void smtp_data();
    void smtp();
    void smtpLinesAreNotBufferedWhole();
    void smtpInvalidUtf8IsReadByItsCodes();
    void website_data();
    void website();
    void websiteServing100MbIsReadOnlyAsFarAsNeeded();

private:
    core::VerificationResult verify(const QString &email);
    net::PageFetch::Outcome fetch(const QString &host, bool *inTime);
    void addDomain(const QString &domain, int octet);

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    SmtpTestServer m_good; ///< 127.0.0.90: behaves
    std::map<QString, std::unique_ptr<ScriptedSmtp>> m_scripted;
    quint16 m_port = 0;
    Engine m_engine;
    HttpTestServer m_web;
    dns::Resolver m_resolver;
    int m_sockets = -1; ///< open sockets before the case
};

void TestFaults::addDomain(const QString &domain, int octet)
{
    m_dns.addMx(domain, 10, u"mx."_s + domain);
    m_dns.addA(u"mx."_s + domain, u"127.0.0.%1"_s.arg(octet));
}

void TestFaults::initTestCase()
{
    QVERIFY(m_dns.listen());
    QVERIFY2(m_good.listen(QHostAddress(u"127.0.0.90"_s)), qPrintable(m_good.errorString()));
    m_port = m_good.port();
    m_good.addMailbox(u"ann@truncated.test"_s);
    m_good.addMailbox(u"ann@good.test"_s);

    auto rcpt = [](const QByteArray &command) -> QByteArray {
        return command.contains("ann@") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 User unknown\r\n";
    };
    auto add = [this](const QString &name, int octet, const QByteArray &greeting,
                      const ScriptedSmtp::Answer &answer) {
        auto server = std::make_unique<ScriptedSmtp>(greeting, answer);
        const bool listening = server->listen(QHostAddress(u"127.0.0.%1"_s.arg(octet)), m_port);
        if (!listening)
            qWarning("%s", qPrintable(server->errorString()));
        addDomain(name + u".test"_s, octet);
        ScriptedSmtp *raw = server.get();
        m_scripted[name] = std::move(server);
        return listening ? raw : nullptr;
    };
    // Stops in the middle of a line of its EHLO reply, and says nothing more.
    QVERIFY(add(u"stall"_s, 91, Banner, dialogue("250-mx.faults.test\r\n250-PIPEL", {}, rcpt)));
    // Hangs up right after its banner.
    ScriptedSmtp *drop = add(u"drop"_s, 92, Banner, {});
    QVERIFY(drop);
    drop->closeAfterGreeting = true;
    // Its EHLO reply is one 10 MB line.
    ScriptedSmtp *flood = add(u"flood"_s, 93, Banner, dialogue(Ehlo, "250 2.1.0 Ok\r\n", rcpt));
    QVERIFY(flood);
    flood->floodAfterEhlo = 10 * 1024 * 1024;
    // Answers the pipelined MAIL FROM and RCPT TO the wrong way round: the RCPT's answer first.
    QVERIFY(add(u"swapped"_s, 94, Banner, dialogue(Ehlo, {}, [](const QByteArray &) -> QByteArray {
                    return "250 2.1.5 Ok\r\n250 2.1.0 Ok\r\n";
                })));
    // Says "250" before anyone asked: every later reply would answer the command before it.
    QVERIFY(add(u"early"_s, 95, Banner + "250 2.0.0 Ok\r\n", dialogue(Ehlo, "250 2.1.0 Ok\r\n", rcpt)));
    // Bytes that are not UTF-8 in every reply.
    QVERIFY(add(u"latin"_s, 96, "220 mx.faults.test \xff\xfe ESMTP\r\n",
                dialogue("250-mx.faults.test \xc3\x28\r\n250 PIPELINING\r\n", "250 2.1.0 Ok \xe9t\xe9\r\n",
                         [](const QByteArray &command) -> QByteArray {
                             return command.contains("ann@") ? "250 2.1.5 Bo\xeete ok \xff\r\n"
                                                             : "550 5.1.1 Bo\xeete inconnue \xc3\r\n";
                         })));

    // DNS that fails in every way a resolver can see.
    addDomain(u"good.test"_s, 90);
    addDomain(u"truncated.test"_s, 90);
    m_dns.setBehaviour(u"truncated.test"_s, DnsTestServer::Behaviour::Truncated);
    m_dns.setBehaviour(u"timeout.test"_s, DnsTestServer::Behaviour::Silent);
    m_dns.setBehaviour(u"servfail.test"_s, DnsTestServer::Behaviour::ServFail);
    m_dns.setBehaviour(u"malformed.test"_s, DnsTestServer::Behaviour::Malformed);
    m_dns.addCname(u"loop.test"_s, u"loop2.test"_s);
    m_dns.addCname(u"loop2.test"_s, u"loop.test"_s);
    m_dns.addMx(u"mxtimeout.test"_s, 10, u"mx.silent.test"_s);
    m_dns.setBehaviour(u"mx.silent.test"_s, DnsTestServer::Behaviour::Silent);

    QString error;
    EngineConfig config = loopbackEngineConfig(m_dir.path(), m_dns, m_port, DeadlineMs);
    config.dnsTimeoutMs = 1500; // the truncated case must get its answer over TCP, even on a busy machine
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));

    // Websites.
    QVERIFY(m_web.listen(QHostAddress(u"127.0.0.97"_s)));
    for (const char *host : {"loop.example", "huge.example", "silent.example"})
        m_dns.addA(QString::fromLatin1(host), u"127.0.0.97"_s);
    m_web.addRedirect(u"loop.example"_s, u"/"_s, u"http://loop.example/again"_s);
    m_web.addRedirect(u"loop.example"_s, u"/again"_s, u"http://loop.example/"_s);
    HttpTestServer::Page huge;
    huge.headers.append(qMakePair(QByteArray("Content-Type"), QByteArray("text/html")));
    huge.streamBytes = 100 * 1024 * 1024;
    m_web.setPage(u"huge.example"_s, u"/"_s, huge);
    HttpTestServer::Page silent;
    silent.stall = true;
    m_web.setPage(u"silent.example"_s, u"/"_s, silent);
    QVERIFY(m_resolver.setServers(m_dns.serverString()));
    m_resolver.setTimeout(400, 1);
}

void TestFaults::cleanupTestCase()
{
    m_engine.stop();
}

void TestFaults::init()
{
    m_sockets = proc::openSockets();
    QVERIFY(m_sockets > 0);
}

void TestFaults::cleanup()
{
    // Pooled SMTP sessions say goodbye when idle (5 s); everything else closes with its case.
    QTRY_COMPARE_WITH_TIMEOUT(proc::openSockets(), m_sockets, 10000);
}

core::VerificationResult TestFaults::verify(const QString &email)
{
    // Every case ends by the power-mode deadline, give or take the event loop.
    return verifyAndWait(m_engine, email, DeadlineMs + 2000);
}

void TestFaults::dns_data()
{
    QTest::addColumn<QString>("email");
    QTest::addColumn<QString>("status");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("detail");
    QTest::newRow("timeout") << u"ann@timeout.test"_s << u"unknown"_s << u"dns_error"_s << u"timeout"_s;
    QTest::newRow("SERVFAIL") << u"ann@servfail.test"_s << u"unknown"_s << u"dns_error"_s
                              << u"general failure"_s;
    QTest::newRow("malformed answer")
        << u"ann@malformed.test"_s << u"unknown"_s << u"dns_error"_s << QString();
    QTest::newRow("CNAME loop") << u"ann@loop.test"_s << u"unknown"_s << u"dns_error"_s << QString();
    QTest::newRow("MX host times out")
        << u"ann@mxtimeout.test"_s << u"unknown"_s << u"smtp_connect_failed"_s << u"timeout"_s;
    // The TC bit sends the question again over TCP, which has the records: an answer like any other.
    QTest::newRow("truncated, then TCP")
        << u"ann@truncated.test"_s << u"valid"_s << u"accepted"_s << QString();
}

void TestFaults::dns()
{
    QFETCH(QString, email);
    QFETCH(QString, status);
    QFETCH(QString, reason);
    QFETCH(QString, detail);
    const core::VerificationResult r = verify(email);
    QCOMPARE(r.email, email);
    QCOMPARE(core::toString(r.status), status);
    QCOMPARE(core::toString(r.reason), reason);
    QVERIFY2(r.detail.contains(detail, Qt::CaseInsensitive), qPrintable(r.detail));
    qInfo("%s: %s", qPrintable(core::toString(r.reason)), qPrintable(r.detail));
}

void TestFaults::smtp_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<QString>("detail");
    QTest::newRow("stalls mid-line") << u"stall.test"_s << u"smtp_timeout"_s
                                     << u"mx.stall.test (127.0.0.91): "_s;
    QTest::newRow("drops after the banner")
        << u"drop.test"_s << u"smtp_connect_failed"_s << u"mx.drop.test (127.0.0.92): "_s;
    QTest::newRow("10 MB line") << u"flood.test"_s << u"smtp_connect_failed"_s << u"longer than 4096"_s;
    QTest::newRow("answers out of order")
        << u"swapped.test"_s << u"smtp_connect_failed"_s << u"out of order"_s;
    QTest::newRow("answers before being asked")
        << u"early.test"_s << u"smtp_connect_failed"_s << u"before the command"_s;
}

void TestFaults::smtp()
{
    QFETCH(QString, domain);
    QFETCH(QString, reason);
    QFETCH(QString, detail);
    // Never a verdict on the mailbox from a server we cannot follow: unknown, and why.
    for (const QString &local : {u"ann"_s, u"nobody"_s}) {
        const core::VerificationResult r = verify(local + u'@' + domain);
        QCOMPARE(core::toString(r.status), u"unknown"_s);
        QCOMPARE(core::toString(r.reason), reason);
        QVERIFY2(r.detail.contains(detail), qPrintable(r.detail));
        qInfo("%s: %s", qPrintable(core::toString(r.reason)), qPrintable(r.detail));
    }
    QVERIFY(m_scripted.at(domain.section(u'.', 0, 0))->connections() >= 1);
}

void TestFaults::smtpLinesAreNotBufferedWhole()
{
    // The 10 MB line is refused after 4 KiB: the rest is never read (a few socket buffers at most).
    const ScriptedSmtp &flood = *m_scripted.at(u"flood"_s);
    QVERIFY(flood.flooded() > 0);
    QVERIFY2(flood.flooded() < 10 * 1024 * 1024, qPrintable(QString::number(flood.flooded())));
    qInfo("10 MB line: %lld bytes sent before the client hung up", flood.flooded());
}

void TestFaults::smtpInvalidUtf8IsReadByItsCodes()
{
    const core::VerificationResult valid = verify(u"ann@latin.test"_s);
    QCOMPARE(core::toString(valid.status), u"valid"_s);
    QCOMPARE(core::toString(valid.reason), u"accepted"_s);
    const core::VerificationResult invalid = verify(u"nobody@latin.test"_s);
    QCOMPARE(core::toString(invalid.status), u"invalid"_s);
    QCOMPARE(core::toString(invalid.reason), u"mailbox_not_found"_s);
    // The text keeps what could be read, the rest replaced; the JSON the API sends is valid UTF-8.
    QVERIFY(invalid.smtp.has_value());
    QCOMPARE(invalid.smtp->code, 550);
    QVERIFY2(invalid.smtp->message.contains(u"inconnue"_s), qPrintable(invalid.smtp->message));
    const QByteArray json = QJsonDocument(invalid.toJson()).toJson(QJsonDocument::Compact);
    QVERIFY(QString::fromUtf8(json).toUtf8() == json);
    QVERIFY(QJsonDocument::fromJson(json).isObject());
}

net::PageFetch::Outcome TestFaults::fetch(const QString &host, bool *inTime)
{
    net::PageFetchConfig config;
    config.httpPort = m_web.port();
    config.httpsPort = m_web.port(); // a plain server: the TLS handshake fails, http:// is tried next
    config.timeoutMs = 1000;
    config.policy = net::TargetPolicy(true);
    std::optional<net::PageFetch::Outcome> outcome;
    QObject context;
    net::PageFetch::fetch(&m_resolver, config, host, u"/"_s, false, &context,
                          [&](const net::PageFetch::Outcome &o) { outcome = o; });
    // At most two timeouts (https, then http) and a few round trips.
    *inTime = QTest::qWaitFor([&] { return outcome.has_value(); }, 2 * config.timeoutMs + 2000);
    return outcome.value_or(net::PageFetch::Outcome{});
}

void TestFaults::website_data()
{
    QTest::addColumn<QString>("host");
    QTest::addColumn<QString>("error");
    QTest::newRow("redirects forever") << u"loop.example"_s << u"more than 5 redirects"_s;
    QTest::newRow("never answers") << u"silent.example"_s << u"timed out after 1000 ms"_s;
}

void TestFaults::website()
{
    QFETCH(QString, host);
    QFETCH(QString, error);
    bool inTime = false;
    const net::PageFetch::Outcome o = fetch(host, &inTime);
    QVERIFY(inTime);
    QCOMPARE(o.error, error);
    QVERIFY(o.body.isEmpty());
}

void TestFaults::websiteServing100MbIsReadOnlyAsFarAsNeeded()
{
    bool inTime = false;
    const net::PageFetch::Outcome o = fetch(u"huge.example"_s, &inTime);
    QVERIFY(inTime);
    QCOMPARE(o.status, 200);
    QCOMPARE(o.body.size(), 64 * 1024); // PageFetchConfig::maxBodyBytes
    QVERIFY2(m_web.bytesStreamed() < 16 * 1024 * 1024, qPrintable(QString::number(m_web.bytesStreamed())));
    qInfo("100 MB page: %lld bytes sent before the client hung up", m_web.bytesStreamed());
}

QTEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
