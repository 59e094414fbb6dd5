// SSRF regressions for the mail side: a domain whose MX (or its addresses) points at loopback, private,
// link-local (cloud metadata) or unspecified addresses is never contacted by a shared server (no
// --allow-private-targets); the answer says so. The webhook and website side: tst_webhooks
// (privateTargetSpellingsRefused), through the same address check (net::TargetPolicy).
#include "dnstestserver.h"
#include "engine.h"
#include "smtptestserver.h"

#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestSsrf : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void privateMailServersAreNeverContacted_data();
    void privateMailServersAreNeverContacted();
    void rebindingNeverReachesThePrivateAnswer();

private:
    EngineConfig sharedServerConfig(const QString &dataDir, quint16 smtpPort) const;

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    SmtpTestServer m_smtp;    ///< on 127.0.0.1: a connection to loopback would show here
    SmtpTestServer m_allowed; ///< on 127.0.0.71, allowed by --allow-target
    SmtpTestServer m_rebound; ///< on 127.0.0.72, the same port: where a rebinding answer points
    Engine m_engine;
};

void TestSsrf::initTestCase()
{
    QVERIFY(m_dns.listen());
    QVERIFY(m_smtp.listen(QHostAddress(u"127.0.0.1"_s)));
    m_smtp.addMailbox(u"ceo@loopback.test"_s);
    const QList<std::pair<QString, QStringList>> domains = {
        {u"loopback"_s, {u"127.0.0.1"_s}},
        {u"loopback8"_s, {u"127.8.9.10"_s}},
        {u"ten"_s, {u"10.1.2.3"_s}},
        {u"metadata"_s, {u"169.254.169.254"_s}},
        {u"mapped"_s, {u"::ffff:127.0.0.1"_s}},
        {u"zero"_s, {u"0.0.0.0"_s}},
        {u"ipv6loop"_s, {u"::1"_s}},
        {u"cgnat"_s, {u"100.64.0.1"_s}},
        {u"ula"_s, {u"fd00::25"_s}},
        {u"both"_s, {u"127.0.0.1"_s, u"::1"_s}},
    };
    for (const auto &[name, addresses] : domains) {
        const QString domain = name + u".test"_s;
        m_dns.addMx(domain, 10, u"mx."_s + domain);
        for (const QString &a : addresses)
            m_dns.addAddress(u"mx."_s + domain, QHostAddress(a));
    }
    // An MX whose exchange is written as an address (RFC 7505 forbids it; some zones do it anyway).
    m_dns.addMx(u"literal.test"_s, 10, u"127.0.0.1"_s);

    // DNS rebinding: mx.rebind.test answers 127.0.0.71 (allowed) and 127.0.0.72 (not) in turn, TTL 0. A
    // client that checked one answer and then connected by name would reach the second.
    QVERIFY(m_allowed.listen(QHostAddress(u"127.0.0.71"_s)));
    QVERIFY(m_rebound.listen(QHostAddress(u"127.0.0.72"_s), m_allowed.port()));
    for (SmtpTestServer *s : {&m_allowed, &m_rebound})
        for (int i = 0; i < 6; ++i)
            s->addMailbox(u"user%1@rebind.test"_s.arg(i));
    m_dns.addMx(u"rebind.test"_s, 10, u"mx.rebind.test"_s);
    m_dns.setAddressRotation(u"mx.rebind.test"_s,
                             {QHostAddress(u"127.0.0.71"_s), QHostAddress(u"127.0.0.72"_s)});

    QString error;
    QVERIFY2(m_engine.start(sharedServerConfig(m_dir.path(), m_smtp.port()), &error), qPrintable(error));
}

EngineConfig TestSsrf::sharedServerConfig(const QString &dataDir, quint16 smtpPort) const
{
    EngineConfig config;
    config.dataDir = dataDir;
    config.dnsServers = m_dns.serverString();
    config.dnsTimeoutMs = 1000;
    config.smtpPort = smtpPort;
    config.allowPrivateTargets = false; // a shared server's default
    config.heloName = u"verifier.mailcaff.test"_s;
    config.smtpConnectTimeoutMs = 1000;
    config.smtpCommandTimeoutMs = 1500;
    config.powerDeadlineMs = 6000;
    return config;
}

void TestSsrf::cleanupTestCase()
{
    m_engine.stop();
}

void TestSsrf::privateMailServersAreNeverContacted_data()
{
    QTest::addColumn<QString>("email");
    for (const char *name : {"loopback", "loopback8", "ten", "metadata", "mapped", "zero", "ipv6loop",
                             "cgnat", "ula", "both", "literal"})
        QTest::newRow(name) << u"ceo@%1.test"_s.arg(QString::fromLatin1(name));
}

void TestSsrf::privateMailServersAreNeverContacted()
{
    QFETCH(QString, email);
    std::optional<core::VerificationResult> result;
    QObject context;
    QVERIFY(m_engine.verify(email, core::Mode::Power, &context,
                            [&](const core::VerificationResult &r) { result = r; }));
    QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 10000);
    // Not a verdict on the mailbox: nothing was asked. Never valid, never invalid.
    QCOMPARE(core::toString(result->status), u"unknown"_s);
    QVERIFY(!result->canConnectSmtp);
    QCOMPARE(m_smtp.connectionCount(), 0);
    // And says why: e.g. "refused to connect: 169.254.169.254 is a link-local address (cloud metadata…)".
    QCOMPARE(core::toString(result->reason), u"smtp_connect_failed"_s);
    QVERIFY2(result->detail.contains(u"refused to connect: "_s), qPrintable(result->detail));
}

void TestSsrf::rebindingNeverReachesThePrivateAnswer()
{
    // The SMTP servers of the other cases are on another port: this one's MX listens on its own.
    Engine engine;
    QTemporaryDir dir;
    EngineConfig config = sharedServerConfig(dir.path(), m_allowed.port());
    config.allowedTargets = {{QHostAddress(u"127.0.0.71"_s), 32}};
    QString error;
    QVERIFY2(engine.start(config, &error), qPrintable(error));
    QStringList statuses;
    for (int i = 0; i < 6; ++i) {
        std::optional<core::VerificationResult> result;
        QObject context;
        QVERIFY(engine.verify(u"user%1@rebind.test"_s.arg(i), core::Mode::Power, &context,
                              [&](const core::VerificationResult &r) { result = r; }));
        QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 10000);
        statuses.append(core::toString(result->status));
        if (result->status != core::Status::Valid)
            QVERIFY2(result->detail.contains(u"refused to connect: 127.0.0.72 is a loopback address"_s),
                     qPrintable(result->detail));
    }
    engine.stop();
    qInfo("answers in turn: %s", qPrintable(statuses.join(u", "_s)));
    // Every time the name pointed at 127.0.0.72, nothing went there; the allowed answers were used.
    QCOMPARE(m_rebound.connectionCount(), 0);
    QVERIFY(m_allowed.connectionCount() >= 1);
    QVERIFY(statuses.contains(u"valid"_s));
    QVERIFY(statuses.contains(u"unknown"_s));
}

QTEST_GUILESS_MAIN(TestSsrf)
#include "tst_ssrf.moc"
