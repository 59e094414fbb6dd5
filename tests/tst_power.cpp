// Power mode end to end through the engine: a loopback DNS server and SMTP servers on several 127.0.0.x
// addresses (one port, as MX hosts share port 25 in real life), one case per status and reason of API.md.
#include "dnstestserver.h"
#include "engine.h"
#include "smtptestserver.h"
#include "storage/database.h"
#include "testengine.h"

#include <QElapsedTimer>
#include <QJsonObject>
#include <QScopeGuard>
#include <QSet>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestPower : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void verdicts_data();
    void verdicts();
    void smtpFieldsOfAValidAddress();
    void greylistingResolvedWithinDeadline();
    void greylistingUnresolvedIsUnknown();
    void disposableNeverContactsAServer();
    void catchAllIsRememberedPerDomain();
    void concurrentChecksShareTheCatchAllProbe();
    void freshDomainAfterRejectionsIsProbedOnce();
    void politenessForManyAddressesAtOneDomain();
    void privateTargetsRefusedByDefault();
    void startTlsIsUsed();
    void droppedSessionIsRetriedOnce();
    void serverRecipientLimitIsRespected();
    void manyRejectionsUseFreshSessions();
    void politenessFiguresFor200Addresses();
    void resultsAreCachedAndQuickModeUsesThem();
    void aWriteLockedDatabaseDoesNotHoldUpTheEngine();
    void resultsReachEachCallerOnceOnItsThread();
    void internationalisedAddressDeclaresSmtpUtf8();
    void ipv6MailServer();
    void realisticListUsesAHandfulOfConnections();
    void bulkWaitsItsTurnWithoutLosingItsDeadline();
    void fullSessionsSayGoodbyeWithTheirLastAnswers();
    void answersAtOnceAreTheEnginesAnswers();
    void answersAtOnceFromManyThreads();
    void connectionsToAllServersStayUnderTheCap();
    void prefetchedRoutesAreNotAskedAgain();

private:
    std::optional<core::VerificationResult> verifyQueued(const QString &email, core::Mode mode);
    core::VerificationResult verify(Engine &engine, const QString &email);
    SmtpTestServer *server(int lastOctet);
    /// For a test's own engine: its data in `dataDir`, this test's DNS and SMTP servers.
    EngineConfig ownEngineConfig(const QString &dataDir) const;

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    std::vector<std::unique_ptr<SmtpTestServer>> m_smtp;
    quint16 m_port = 0;
    Engine m_engine;
};

SmtpTestServer *TestPower::server(int lastOctet)
{
    for (const auto &s : m_smtp) {
        if (s->address() == QHostAddress(u"127.0.0.%1"_s.arg(lastOctet)))
            return s.get();
    }
    return nullptr;
}

EngineConfig TestPower::ownEngineConfig(const QString &dataDir) const
{
    EngineConfig config;
    config.dataDir = dataDir;
    config.dnsServers = m_dns.serverString();
    config.smtpPort = m_port;
    config.allowPrivateTargets = true;
    config.mailFrom = u"probe@mailcaff.test"_s;
    return config;
}

void TestPower::initTestCase()
{
    QVERIFY(m_dns.listen());
    // SMTP servers share one port on different addresses: .11 main, .12 greylisting, .13 blocking, .14
    // tarpit, .16 greylisting forever. Nothing listens on .15 (a dead primary MX).
    for (int octet : {11, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22}) {
        auto s = std::make_unique<SmtpTestServer>();
        QVERIFY2(s->listen(QHostAddress(u"127.0.0.%1"_s.arg(octet)), m_port), qPrintable(s->errorString()));
        m_port = s->port();
        m_smtp.push_back(std::move(s));
    }
    auto mx = [&](const QString &domain, const QString &host, int octet, quint16 preference = 10) {
        m_dns.addMx(domain, preference, host);
        m_dns.addA(host, u"127.0.0.%1"_s.arg(octet));
    };
    SmtpTestServer *main = server(11);
    mx(u"acme.test"_s, u"mx.acme.test"_s, 11);
    main->addMailboxes(u"acme.test"_s, {u"alice"_s, u"bob"_s, u"info"_s, u"kim"_s, u"josé"_s});
    main->setMailboxReply(u"full@acme.test"_s, SmtpTestServer::mailboxFullReply());
    main->setMailboxReply(u"gone@acme.test"_s, SmtpTestServer::mailboxDisabledReply());
    mx(u"catchall.test"_s, u"mx.catchall.test"_s, 11);
    main->setCatchAll(u"catchall.test"_s, true);
    mx(u"gmailish.test"_s, u"mx.gmailish.test"_s, 11);
    main->addMailbox(u"real@gmailish.test"_s);
    main->setUnknownUserReply(u"gmailish.test"_s, SmtpTestServer::gmailUnknownUserReply());
    // A Yahoo-hosted domain: its MX accepts every RCPT.
    mx(u"yahoo-hosted.test"_s, u"mta5.am0.yahoodns.net"_s, 11);
    main->setCatchAll(u"yahoo-hosted.test"_s, true);
    // Primary MX down, secondary up.
    mx(u"backup.test"_s, u"mx1.backup.test"_s, 15, 10);
    mx(u"backup.test"_s, u"mx2.backup.test"_s, 11, 20);
    main->addMailbox(u"dave@backup.test"_s);
    // No MX: the domain's own address (RFC 5321 implicit MX).
    m_dns.addA(u"implicit.test"_s, u"127.0.0.11"_s);
    main->addMailbox(u"erin@implicit.test"_s);
    m_dns.addNullMx(u"nullmx.test"_s);
    mx(u"refused.test"_s, u"mx.refused.test"_s, 15);
    mx(u"grey.test"_s, u"mx.grey.test"_s, 12);
    server(12)->addMailbox(u"carol@grey.test"_s);
    server(12)->setGreylisting(true, 200);
    mx(u"blocked.test"_s, u"mx.blocked.test"_s, 13);
    server(13)->addMailbox(u"frank@blocked.test"_s);
    server(13)->setBlockMode(SmtpTestServer::BlockMode::AtRcpt);
    mx(u"tarpit.test"_s, u"mx.tarpit.test"_s, 14);
    server(14)->setTarpit(true);
    mx(u"slowgrey.test"_s, u"mx.slowgrey.test"_s, 16);
    server(16)->addMailbox(u"gina@slowgrey.test"_s);
    server(16)->setGreylisting(true, 600'000);
    m_dns.addMx(u"mailinator.com"_s, 10, u"mx.acme.test"_s);
    mx(u"tls.test"_s, u"mx.tls.test"_s, 17);
    server(17)->addMailbox(u"hank@tls.test"_s);
    QVERIFY(server(17)->setStartTls(true));
    mx(u"helo.test"_s, u"mx.helo.test"_s, 18);
    server(18)->addMailbox(u"ivy@helo.test"_s);
    server(18)->setEhloEnabled(false);
    server(18)->setPipelining(false);
    mx(u"busy.test"_s, u"mx.busy.test"_s, 19);
    server(19)->setBusy(true);
    mx(u"drops.test"_s, u"mx.drops.test"_s, 20);
    server(20)->setDisconnectAfterBanner(true);
    mx(u"limit.test"_s, u"mx.limit.test"_s, 21);
    server(21)->addMailboxes(u"limit.test"_s, {u"a1"_s, u"a2"_s, u"a3"_s});
    server(21)->setMaxRcptsPerSession(5);
    mx(u"strict.test"_s, u"mx.strict.test"_s, 22);
    server(22)->addMailbox(u"only@strict.test"_s);
    server(22)->setMaxConsecutiveRejections(8);

    EngineConfig config;
    config.dataDir = m_dir.path();
    config.dnsServers = m_dns.serverString();
    config.dnsTimeoutMs = 1000;
    config.smtpPort = m_port;
    config.allowPrivateTargets = true;
    config.heloName = u"verifier.mailcaff.test"_s;
    config.mailFrom = u"probe@mailcaff.test"_s;
    config.smtpConnectTimeoutMs = 1000;
    config.smtpCommandTimeoutMs = 1500;
    config.powerDeadlineMs = 6000;
    config.greylistRetryMs = {300, 600};
    QString error;
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));
}

void TestPower::cleanupTestCase()
{
    m_engine.stop();
    for (const auto &s : m_smtp)
        QCOMPARE(s->dataCount(), 0); // never DATA
}

std::optional<core::VerificationResult> TestPower::verifyQueued(const QString &email, core::Mode mode)
{
    std::optional<core::VerificationResult> result;
    QObject context;
    if (!m_engine.verify(email, mode, &context, [&](const core::VerificationResult &r) { result = r; }))
        return std::nullopt;
    if (!QTest::qWaitFor([&] { return result.has_value(); }, 10'000))
        return std::nullopt;
    return result;
}

core::VerificationResult TestPower::verify(Engine &engine, const QString &email)
{
    // The deadline is 6 s: every case must end within it.
    return verifyAndWait(engine, email, 10000);
}

void TestPower::verdicts_data()
{
    QTest::addColumn<QString>("email");
    QTest::addColumn<QString>("status");
    QTest::addColumn<int>("score");
    QTest::addColumn<QString>("reason");
    QTest::addColumn<bool>("canConnect");
    QTest::addColumn<bool>("deliverable");

    QTest::addRow("existing mailbox") << "alice@acme.test"
                                      << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("existing mailbox, other case") << "Bob@ACME.test"
                                                  << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("role address") << "info@acme.test"
                                  << "valid" << 90 << "accepted" << true << true;
    QTest::addRow("unknown mailbox") << "nobody@acme.test"
                                     << "invalid" << 10 << "mailbox_not_found" << true << false;
    QTest::addRow("gmail-style multi-line reject") << "ghost@gmailish.test"
                                                   << "invalid" << 10 << "mailbox_not_found" << true << false;
    QTest::addRow("disabled mailbox") << "gone@acme.test"
                                      << "invalid" << 10 << "mailbox_disabled" << true << false;
    QTest::addRow("full mailbox") << "full@acme.test"
                                  << "risky" << 45 << "mailbox_full" << true << false;
    QTest::addRow("catch-all domain") << "whoever@catchall.test"
                                      << "risky" << 70 << "catch_all" << true << true;
    QTest::addRow("accept-all provider") << "someone@yahoo-hosted.test"
                                         << "risky" << 70 << "accept_all_gateway" << true << true;
    QTest::addRow("server blocks our probe") << "frank@blocked.test"
                                             << "unknown" << 45 << "smtp_blocked" << true << false;
    QTest::addRow("tarpit") << "x@tarpit.test"
                            << "unknown" << 40 << "smtp_timeout" << false << false;
    QTest::addRow("connection refused") << "x@refused.test"
                                        << "unknown" << 40 << "smtp_connect_failed" << false << false;
    QTest::addRow("primary MX down, secondary works") << "dave@backup.test"
                                                      << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("implicit MX") << "erin@implicit.test"
                                 << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("null MX") << "x@nullmx.test"
                             << "invalid" << 5 << "null_mx" << false << false;
    QTest::addRow("domain does not exist") << "x@nowhere.test"
                                           << "invalid" << 5 << "domain_not_found" << false << false;
    QTest::addRow("bad syntax") << "x@@acme.test"
                                << "invalid" << 5 << "invalid_syntax" << false << false;
    QTest::addRow("STARTTLS offered") << "hank@tls.test"
                                      << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("HELO-only server") << "ivy@helo.test"
                                      << "valid" << 100 << "accepted" << true << true;
    QTest::addRow("server busy (421)") << "x@busy.test"
                                       << "unknown" << 40 << "smtp_connect_failed" << true << false;
    QTest::addRow("server drops after banner") << "x@drops.test"
                                               << "unknown" << 40 << "smtp_connect_failed" << true << false;
}

void TestPower::verdicts()
{
    QFETCH(QString, email);
    QFETCH(QString, status);
    QFETCH(int, score);
    QFETCH(QString, reason);
    QFETCH(bool, canConnect);
    QFETCH(bool, deliverable);
    const core::VerificationResult r = verify(m_engine, email);
    const QJsonObject o = r.toJson();
    QVERIFY2(!r.email.isEmpty(), "no result within the deadline");
    QCOMPARE(o.value(u"status"_s).toString(), status);
    QCOMPARE(o.value(u"reason"_s).toString(), reason);
    QCOMPARE(r.qualityScore, score);
    QCOMPARE(r.canConnectSmtp, canConnect);
    QCOMPARE(r.isDeliverable, deliverable);
    QCOMPARE(o.value(u"mode"_s).toString(), u"power"_s);
    QVERIFY(o.contains(u"smtp"_s));
    QVERIFY(r.responseMs < 6500);
    qInfo("%s: %s/%s in %lld ms", QTest::currentDataTag(), qPrintable(status), qPrintable(reason),
          qlonglong(r.responseMs));
}

void TestPower::smtpFieldsOfAValidAddress()
{
    const core::VerificationResult r = verify(m_engine, u"alice@acme.test"_s);
    QCOMPARE(r.mxHost, u"mx.acme.test"_s);
    QVERIFY(r.smtp.has_value());
    QCOMPARE(r.smtp->code, 250);
    QCOMPARE(r.isCatchAll, std::optional<bool>(false));
    QVERIFY(r.isValid);
    const core::VerificationResult backup = verify(m_engine, u"dave@backup.test"_s);
    QCOMPARE(backup.mxHost, u"mx2.backup.test"_s);
    const core::VerificationResult yahoo = verify(m_engine, u"someone@yahoo-hosted.test"_s);
    QCOMPARE(yahoo.smtpProvider, u"yahoo"_s);
    const core::VerificationResult unknown = verify(m_engine, u"ghost@gmailish.test"_s);
    QVERIFY(unknown.smtp.has_value());
    QCOMPARE(unknown.smtp->code, 550);
    QCOMPARE(unknown.smtp->enhancedCode, u"5.1.1"_s);
    QVERIFY(unknown.smtp->message.contains(u"does not exist"_s));
}

void TestPower::greylistingResolvedWithinDeadline()
{
    server(12)->resetGreylist();
    server(12)->resetCounters();
    const core::VerificationResult r = verify(m_engine, u"carol@grey.test"_s);
    QCOMPARE(core::toString(r.status), u"valid"_s);
    QVERIFY(server(12)->rcptCount() >= 2); // refused once, accepted on the retry
}

void TestPower::greylistingUnresolvedIsUnknown()
{
    const core::VerificationResult r = verify(m_engine, u"gina@slowgrey.test"_s);
    QCOMPARE(core::toString(r.status), u"unknown"_s);
    QCOMPARE(core::toString(r.reason), u"greylisted"_s);
    QCOMPARE(r.qualityScore, 45);
    QVERIFY(r.isCatchAll == std::nullopt); // never concluded from a 4xx
}

void TestPower::disposableNeverContactsAServer()
{
    const int before = server(11)->connectionCount();
    const core::VerificationResult r = verify(m_engine, u"temp@mailinator.com"_s);
    QCOMPARE(core::toString(r.status), u"disposable"_s);
    QCOMPARE(r.qualityScore, 5);
    QCOMPARE(server(11)->connectionCount(), before);
    QVERIFY(!r.canConnectSmtp);
}

void TestPower::catchAllIsRememberedPerDomain()
{
    // The first verification at a domain probes a random address; later ones reuse the answer.
    SmtpTestServer *s = server(11);
    verify(m_engine, u"first@catchall.test"_s);
    s->resetCounters();
    const core::VerificationResult r = verify(m_engine, u"second@catchall.test"_s);
    QCOMPARE(core::toString(r.reason), u"catch_all"_s);
    QCOMPARE(s->rcptCount(), 1);
}

void TestPower::concurrentChecksShareTheCatchAllProbe()
{
    // Checks of one domain in flight together (a list): one of them probes a random address, the others wait
    // for its answer. The prober's own address being unknown must not waste the answer: before the fix the
    // accepted ones came out "risky, catch-all unknown" (found by tests/bench/run: 140 of 600 mailboxes).
    SmtpTestServer *s = server(11);
    m_dns.addMx(u"mixed.test"_s, 10, u"mx.acme.test"_s);
    s->addMailboxes(u"mixed.test"_s, {u"ann"_s, u"bea"_s, u"cid"_s});
    QObject context;
    QHash<QString, core::VerificationResult> results;
    const QStringList emails{u"nobody@mixed.test"_s, u"ann@mixed.test"_s, u"bea@mixed.test"_s,
                             u"cid@mixed.test"_s};
    for (const QString &email : emails)
        QVERIFY(m_engine.verify(
            email, core::Mode::Power, &context,
            [&results, email](const core::VerificationResult &r) { results.insert(email, r); }));
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 4, 15000);
    QCOMPARE(core::toString(results.value(u"nobody@mixed.test"_s).status), u"invalid"_s);
    for (const QString &email : emails.mid(1)) {
        const core::VerificationResult &r = results.value(email);
        QCOMPARE(core::toString(r.status), u"valid"_s);
        QCOMPARE(r.isCatchAll, std::optional<bool>(false));
    }
}

void TestPower::freshDomainAfterRejectionsIsProbedOnce()
{
    // A session that has collected rejections has little budget left; an address and its domain's catch-all
    // probe must then go whole to a fresh session, not be cut to the address alone (found by the benchmark:
    // the probe came back "unused" and 364 of 6,000 mailboxes were called risky).
    SmtpTestServer *s = server(11);
    s->resetCounters();
    m_dns.addMx(u"fresh.test"_s, 10, u"mx.acme.test"_s);
    s->addMailboxes(u"fresh.test"_s, {u"dora"_s, u"emil"_s});
    QCOMPARE(core::toString(verify(m_engine, u"alice@acme.test"_s).status), u"valid"_s); // acme.test known
    QObject context;
    QHash<QString, core::VerificationResult> results;
    QStringList emails;
    // Four rejections in a row leave the session one short of its limit (5) when fresh.test's first
    // address arrives with its probe.
    for (int i = 0; i < 4; ++i)
        emails.append(u"nobody%1@acme.test"_s.arg(i));
    auto start = [&](const QStringList &some) {
        for (const QString &email : some)
            m_engine.verify(
                email, core::Mode::Power, &context,
                [&results, email](const core::VerificationResult &r) { results.insert(email, r); });
    };
    start(emails);
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 4, 15000); // the session idles, one rejection from its limit
    start({u"dora@fresh.test"_s, u"emil@fresh.test"_s});
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 6, 15000);
    for (const QString &email : {u"dora@fresh.test"_s, u"emil@fresh.test"_s}) {
        QCOMPARE(core::toString(results.value(email).status), u"valid"_s);
        QCOMPARE(results.value(email).isCatchAll, std::optional<bool>(false));
    }
    // Asked once each, and the domain probed once: nothing was cut off and asked again.
    const QStringList log = s->commandLog();
    const auto rcptsAt = [&log](const QString &domain) {
        return std::count_if(log.cbegin(), log.cend(), [&domain](const QString &line) {
            return line.startsWith(u"RCPT"_s, Qt::CaseInsensitive) && line.contains(domain);
        });
    };
    QCOMPARE(rcptsAt(u"@fresh.test>"_s), 3);
}

void TestPower::politenessForManyAddressesAtOneDomain()
{
    SmtpTestServer *s = server(11);
    s->resetCounters();
    QObject context;
    int done = 0;
    int valid = 0;
    int invalid = 0;
    for (int i = 0; i < 50; ++i) {
        const QString email = (i % 5 == 0) ? u"alice@acme.test"_s : u"unknown%1@acme.test"_s.arg(i);
        QVERIFY(m_engine.verify(email, core::Mode::Power, &context, [&](const core::VerificationResult &r) {
            ++done;
            valid += r.status == core::Status::Valid;
            invalid += r.status == core::Status::Invalid;
        }));
    }
    QTRY_COMPARE_WITH_TIMEOUT(done, 50, 15000);
    QCOMPARE(valid, 10);
    QCOMPARE(invalid, 40);
    // 50 addresses, a handful of connections, never more than 2 at once.
    qInfo("50 addresses at one domain: %d connections, peak %d concurrent, %d RCPTs", s->connectionCount(),
          s->peakConnections(), s->rcptCount());
    QVERIFY(s->peakConnections() <= 2);
    QVERIFY(s->connectionCount() <= 12);
    QCOMPARE(s->dataCount(), 0);
    // The server offers PIPELINING: each RSET leads its next transaction's group (RSET, MAIL, RCPTs in one
    // write, RFC 2920), instead of costing a round trip of its own.
    QVERIFY(s->commandCount(u"RSET"_s) > 0);
    QCOMPARE(s->pipelinedCount(u"RSET"_s), s->commandCount(u"RSET"_s));
}

void TestPower::privateTargetsRefusedByDefault()
{
    QTemporaryDir dir;
    Engine strict;
    EngineConfig config;
    config.dataDir = dir.path();
    config.dnsServers = m_dns.serverString();
    config.smtpPort = m_port;
    config.powerDeadlineMs = 3000;
    QString error;
    QVERIFY2(strict.start(config, &error), qPrintable(error));
    const int before = server(11)->connectionCount();
    const core::VerificationResult r = verify(strict, u"alice@acme.test"_s);
    QCOMPARE(core::toString(r.status), u"unknown"_s);
    QCOMPARE(core::toString(r.reason), u"smtp_connect_failed"_s);
    QVERIFY2(r.detail.contains(u"loopback"_s), qPrintable(r.detail));
    QCOMPARE(server(11)->connectionCount(), before);
    strict.stop();
}

void TestPower::startTlsIsUsed()
{
    // Counters since the start: the "STARTTLS offered" row's session may still be pooled, already encrypted.
    const core::VerificationResult r = verify(m_engine, u"nobody@tls.test"_s);
    QCOMPARE(core::toString(r.reason), u"mailbox_not_found"_s);
    // The test server's certificate is self-signed: recorded, not fatal.
    QVERIFY2(r.detail.contains(u"TLS certificate problems"_s), qPrintable(r.detail));
    QVERIFY(server(17)->startTlsCount() >= 1);
    QCOMPARE(server(17)->startTlsCount(), server(17)->commandCount(u"STARTTLS"_s));
}

void TestPower::droppedSessionIsRetriedOnce()
{
    server(20)->resetCounters();
    verify(m_engine, u"y@drops.test"_s);
    QCOMPARE(server(20)->connectionCount(), 2); // the first connection, one reconnect, no more
}

/// Verifies `emails` at once; status/reason per address, in input order.
static QStringList verifyAll(Engine &engine, const QStringList &emails)
{
    QStringList out(emails.size());
    int done = 0;
    QObject context;
    for (qsizetype i = 0; i < emails.size(); ++i) {
        engine.verify(emails.at(i), core::Mode::Power, &context,
                      [&out, &done, i](const core::VerificationResult &r) {
                          out[i] = core::toString(r.status) + u'/' + core::toString(r.reason);
                          ++done;
                      });
    }
    [[maybe_unused]] const bool finished = QTest::qWaitFor([&] { return done == emails.size(); }, 30000);
    return out;
}

void TestPower::serverRecipientLimitIsRespected()
{
    // The server takes 5 recipients per connection ("452 4.5.3" beyond): the rest go to new connections,
    // and every address still gets its own answer.
    SmtpTestServer *s = server(21);
    s->resetCounters();
    QStringList emails{u"a1@limit.test"_s, u"a2@limit.test"_s, u"a3@limit.test"_s};
    for (int i = 0; i < 12; ++i)
        emails << u"nobody%1@limit.test"_s.arg(i);
    const auto results = verifyAll(m_engine, emails);
    QCOMPARE(results.size(), emails.size());
    for (qsizetype i = 0; i < emails.size(); ++i) {
        const QString expected =
            emails[i].startsWith(u'a') ? u"valid/accepted"_s : u"invalid/mailbox_not_found"_s;
        QVERIFY2(results[i] == expected, qPrintable(emails[i] + u": "_s + results[i]));
    }
    for (int perSession : s->rcptsPerSession())
        QVERIFY(perSession <= 6); // at most one refused beyond the limit, then it is remembered
}

void TestPower::manyRejectionsUseFreshSessions()
{
    // The server hangs up after 8 rejections in a row; we stop at 5 and continue on a new connection.
    SmtpTestServer *s = server(22);
    s->resetCounters();
    QStringList emails;
    for (int i = 0; i < 30; ++i)
        emails << u"ghost%1@strict.test"_s.arg(i);
    const auto results = verifyAll(m_engine, emails);
    for (qsizetype i = 0; i < emails.size(); ++i)
        QVERIFY2(results[i] == u"invalid/mailbox_not_found"_s, qPrintable(emails[i] + u": "_s + results[i]));
    QCOMPARE(s->commandCount(u"DATA"_s), 0);
    for (int perSession : s->rcptsPerSession())
        QVERIFY(perSession <= 5 + 1); // 5 rejections, plus at most the catch-all probe
}

void TestPower::politenessFiguresFor200Addresses()
{
    SmtpTestServer *s = server(11);
    s->resetCounters();
    QStringList emails;
    for (int i = 0; i < 200; ++i)
        emails << (i % 4 == 0   ? u"alice@acme.test"_s
                   : i % 4 == 1 ? u"bob@acme.test"_s
                                : u"user%1@acme.test"_s.arg(i));
    QElapsedTimer t;
    t.start();
    const QStringList results = verifyAll(m_engine, emails);
    QCOMPARE(results.count(QString()), 0);
    qInfo("200 addresses at one domain: %d connections, peak %d at once, %d RCPTs, %lld ms",
          s->connectionCount(), s->peakConnections(), s->rcptCount(), qlonglong(t.elapsed()));
    QVERIFY(s->peakConnections() <= 2);
    QVERIFY(s->connectionCount() <= 25);
    QCOMPARE(s->dataCount(), 0);
}

void TestPower::resultsAreCachedAndQuickModeUsesThem()
{
    SmtpTestServer *s = server(11);
    QCOMPARE(core::toString(verify(m_engine, u"kim@acme.test"_s).status), u"valid"_s);
    s->resetCounters();
    // Again in power mode: from the cache, no RCPT.
    core::VerificationResult again = verify(m_engine, u"Kim@acme.test"_s);
    QCOMPARE(core::toString(again.status), u"valid"_s);
    QCOMPARE(again.email, u"Kim@acme.test"_s); // as given this time
    QCOMPARE(s->rcptCount(), 0);
    // Quick mode answers with the fresh power result.
    std::optional<core::VerificationResult> quick;
    QObject context;
    QVERIFY(m_engine.verify(u"kim@acme.test"_s, core::Mode::Quick, &context,
                            [&](const core::VerificationResult &r) { quick = r; }));
    QTRY_VERIFY(quick.has_value());
    QCOMPARE(core::toString(quick->mode), u"power"_s);
    QCOMPARE(core::toString(quick->status), u"valid"_s);
    QVERIFY(quick->smtp.has_value());
    // Unknown verdicts are not kept.
    QCOMPARE(core::toString(verify(m_engine, u"x@busy.test"_s).status), u"unknown"_s);
    quick.reset();
    QVERIFY(m_engine.verify(u"x@busy.test"_s, core::Mode::Quick, &context,
                            [&](const core::VerificationResult &r) { quick = r; }));
    QTRY_VERIFY(quick.has_value());
    QCOMPARE(core::toString(quick->mode), u"quick"_s);
    // The cache is in the database: a restarted engine still has it.
    Engine restarted;
    EngineConfig config = m_engine.config();
    QString error;
    QVERIFY2(restarted.start(config, &error), qPrintable(error));
    quick.reset();
    QVERIFY(restarted.verify(u"kim@acme.test"_s, core::Mode::Quick, &context,
                             [&](const core::VerificationResult &r) { quick = r; }));
    QTRY_VERIFY(quick.has_value());
    QCOMPARE(core::toString(quick->mode), u"power"_s);
    restarted.stop();
}

void TestPower::aWriteLockedDatabaseDoesNotHoldUpTheEngine()
{
    // Another writer holds SQLite's write lock (a bulk job's runner, another process). A power result's
    // cache write waits for it on the cache's own thread: the engine thread, and every SMTP session and
    // verification on it, goes on. (When the engine thread wrote, it slept in SQLite's busy handler, up to
    // the 5 s busy timeout.)
    if (m_engine.database().dialect() != storage::Dialect::SQLite)
        QSKIP("SQLite's write lock");
    server(11)->addMailbox(u"locked@acme.test"_s);
    QSqlDatabase db = m_engine.database().connection();
    QSqlQuery lock(db);
    QVERIFY2(lock.exec(u"BEGIN IMMEDIATE"_s), qPrintable(lock.lastError().text()));
    bool released = false;
    // A failed check below must not leave the lock held for the tests after this one.
    const auto unlock = qScopeGuard([&] {
        if (!released)
            QSqlQuery(db).exec(u"ROLLBACK"_s);
    });
    QCOMPARE(core::toString(verify(m_engine, u"locked@acme.test"_s).status), u"valid"_s);
    QTest::qWait(200); // the cache's write (due 50 ms after the result) now waits for the lock

    QObject context;
    std::optional<core::VerificationResult> quick;
    QVERIFY(m_engine.verify(u"someone@acme.test"_s, core::Mode::Quick, &context,
                            [&](const core::VerificationResult &r) { quick = r; }));
    QTRY_VERIFY_WITH_TIMEOUT(quick.has_value(), 4000); // well inside the 5 s the lock holds a waiter
    QCOMPARE(core::toString(quick->mode), u"quick"_s);
    // The unwritten result is served from memory meanwhile.
    quick.reset();
    QVERIFY(m_engine.verify(u"locked@acme.test"_s, core::Mode::Quick, &context,
                            [&](const core::VerificationResult &r) { quick = r; }));
    QTRY_VERIFY_WITH_TIMEOUT(quick.has_value(), 4000);
    QCOMPARE(core::toString(quick->mode), u"power"_s);
    QVERIFY(lock.exec(u"COMMIT"_s));
    released = true;

    // Written once the lock is free.
    auto stored = [&] {
        QSqlQuery q(db);
        return q.exec(u"SELECT status FROM verification_cache WHERE address = 'locked@acme.test'"_s) &&
               q.next() && q.value(0).toString() == u"valid"_s;
    };
    QTRY_VERIFY_WITH_TIMEOUT(stored(), 10'000);
}

void TestPower::resultsReachEachCallerOnceOnItsThread()
{
    // Results travel back to their callers' threads gathered (one event per thread for all that are ready):
    // each callback still runs once, on its caller's thread, and never for a caller that is gone.
    constexpr int Count = 300;
    QObject kept;
    QHash<QString, int> answered;
    auto *gone = new QObject;
    int answeredGone = 0;
    for (int i = 0; i < Count; ++i) {
        const QString email = u"burst%1@acme.test"_s.arg(i);
        QVERIFY(m_engine.verify(email, core::Mode::Quick, &kept,
                                [&answered, email](const core::VerificationResult &r) {
                                    QCOMPARE(r.email, email);
                                    ++answered[email];
                                }));
        QVERIFY(m_engine.verify(email, core::Mode::Quick, gone,
                                [&answeredGone](const core::VerificationResult &) { ++answeredGone; }));
    }
    delete gone;
    // Callers on another thread: their callbacks run there.
    QThread other;
    other.start();
    QObject elsewhere;
    elsewhere.moveToThread(&other);
    QAtomicInt onOther = 0, offOther = 0;
    for (int i = 0; i < Count; ++i)
        QVERIFY(m_engine.verify(
            u"other%1@acme.test"_s.arg(i), core::Mode::Quick, &elsewhere,
            [&](const core::VerificationResult &) {
                (QThread::currentThread() == &other ? onOther : offOther).fetchAndAddOrdered(1);
            }));
    QTRY_COMPARE_WITH_TIMEOUT(answered.size(), Count, 20'000);
    QTRY_COMPARE_WITH_TIMEOUT(onOther.loadAcquire(), Count, 20'000);
    other.quit();
    other.wait();
    for (auto it = answered.cbegin(); it != answered.cend(); ++it)
        QVERIFY2(it.value() == 1, qPrintable(it.key()));
    QCOMPARE(offOther.loadAcquire(), 0);
    QCOMPARE(answeredGone, 0);
}

void TestPower::internationalisedAddressDeclaresSmtpUtf8()
{
    SmtpTestServer *s = server(11);
    s->resetCounters();
    const core::VerificationResult r = verify(m_engine, u"josé@acme.test"_s);
    QCOMPARE(core::toString(r.status), u"valid"_s);
    const QStringList log = s->commandLog();
    const bool declared = std::any_of(log.begin(), log.end(), [](const QString &line) {
        return line.contains(u"MAIL FROM:"_s) && line.endsWith(u" SMTPUTF8"_s);
    });
    QVERIFY2(declared, qPrintable(log.join(u" | "_s)));
}

void TestPower::ipv6MailServer()
{
    SmtpTestServer v6;
    QVERIFY2(v6.listen(QHostAddress(u"::1"_s), m_port), qPrintable(v6.errorString()));
    v6.addMailbox(u"lee@v6.test"_s);
    m_dns.addMx(u"v6.test"_s, 10, u"mx.v6.test"_s);
    m_dns.addAAAA(u"mx.v6.test"_s, u"::1"_s);
    const core::VerificationResult r = verify(m_engine, u"lee@v6.test"_s);
    QCOMPARE(core::toString(r.status), u"valid"_s);
    QCOMPARE(v6.connectionCount(), 1);
}

void TestPower::realisticListUsesAHandfulOfConnections()
{
    // 50 addresses at one domain, 4 in 5 of them existing: a few connections, never more than 2 at once.
    SmtpTestServer *s = server(11);
    s->addMailboxes(u"bigco.test"_s, [] {
        QStringList people;
        for (int i = 0; i < 50; ++i)
            people << u"person%1"_s.arg(i);
        return people;
    }());
    m_dns.addMx(u"bigco.test"_s, 10, u"mx.bigco.test"_s);
    m_dns.addA(u"mx.bigco.test"_s, u"127.0.0.11"_s);
    s->resetCounters();
    QStringList emails;
    for (int i = 0; i < 50; ++i)
        emails << (i % 5 == 4 ? u"nobody%1@bigco.test"_s.arg(i) : u"person%1@bigco.test"_s.arg(i));
    const QStringList results = verifyAll(m_engine, emails);
    QCOMPARE(results.count(u"valid/accepted"_s), 40);
    QCOMPARE(results.count(u"invalid/mailbox_not_found"_s), 10);
    qInfo("50 addresses (80%% existing) at one domain: %d connections, peak %d at once, %d RCPTs",
          s->connectionCount(), s->peakConnections(), s->rcptCount());
    QVERIFY(s->connectionCount() <= 4);
    QVERIFY(s->peakConnections() <= 2);
}

void TestPower::connectionsToAllServersStayUnderTheCap()
{
    // Four mail servers, two connections allowed at each, but three at most in all (what the process's open
    // files allow): requests for a server without a place wait in line, and connections pooled at a server
    // with nothing more to do make room. Every address still gets its own answer.
    std::vector<std::unique_ptr<SmtpTestServer>> servers;
    int open = 0;
    int peak = 0;
    QStringList emails;
    QStringList expected;
    for (int i = 0; i < 4; ++i) {
        auto s = std::make_unique<SmtpTestServer>();
        const QString ip = u"127.0.0.%1"_s.arg(24 + i);
        QVERIFY2(s->listen(QHostAddress(ip), m_port), qPrintable(s->errorString()));
        s->setReplyDelay(20);
        const QString domain = u"capped%1.test"_s.arg(i);
        m_dns.addMx(domain, 10, u"mx."_s + domain);
        m_dns.addA(u"mx."_s + domain, ip);
        for (int j = 0; j < 8; ++j) {
            emails << u"user%1@%2"_s.arg(j).arg(domain);
            if (j % 4 == 3) {
                expected << u"invalid/mailbox_not_found"_s;
            } else {
                s->addMailbox(emails.last());
                expected << u"valid/accepted"_s;
            }
        }
        connect(s.get(), &SmtpTestServer::sessionStarted, this, [&] { peak = std::max(peak, ++open); });
        connect(s.get(), &SmtpTestServer::sessionEnded, this, [&] { --open; });
        servers.push_back(std::move(s));
    }
    QTemporaryDir dir;
    EngineConfig config = ownEngineConfig(dir.path());
    config.maxSessionsPerMx = 2;
    config.maxRcptsPerSession = 2; // a fresh connection every request or two: many openings
    config.maxSmtpSessions = 3;
    config.powerDeadlineMs = 10'000;
    config.greylistRetryMs = {};
    config.runJobs = false;
    Engine engine;
    QString error;
    QVERIFY2(engine.start(config, &error), qPrintable(error));
    QStringList answers(emails.size());
    int answered = 0;
    QObject context;
    for (qsizetype i = 0; i < emails.size(); ++i) {
        QVERIFY(engine.verify(
            emails.at(i), core::Mode::Power, &context,
            [&answers, &answered, i](const core::VerificationResult &r) {
                answers[i] = core::toString(r.status) + u'/' + core::toString(r.reason);
                ++answered;
            },
            core::Priority::Bulk));
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, int(emails.size()), 30'000);
    for (qsizetype i = 0; i < emails.size(); ++i)
        QVERIFY2(answers.at(i) == expected.at(i), qPrintable(emails.at(i) + u": "_s + answers.at(i)));
    int connections = 0;
    for (const auto &s : servers) {
        QVERIFY(s->connectionCount() > 0);
        connections += s->connectionCount();
    }
    qInfo("32 addresses at 4 servers, 3 connections at most: %d connections, at most %d at once", connections,
          peak);
    QVERIFY2(peak <= 3, qPrintable(QString::number(peak)));
    QCOMPARE(peak, 3); // the place is used, not left idle
    engine.stop();
    for (const auto &s : servers)
        QCOMPARE(s->dataCount(), 0);
}

QTEST_GUILESS_MAIN(TestPower)
void TestPower::bulkWaitsItsTurnWithoutLosingItsDeadline()
{
    // A slow server (100 ms a reply), one connection at a time, two recipients a connection, and a 1 s
    // deadline: twelve addresses take seconds to get through, longer than any one deadline.
    SmtpTestServer slow;
    QVERIFY2(slow.listen(QHostAddress(u"127.0.0.23"_s), m_port), qPrintable(slow.errorString()));
    slow.setReplyDelay(100);
    QStringList emails;
    for (int i = 0; i < 12; ++i) {
        emails << u"user%1@queue.test"_s.arg(i);
        slow.addMailbox(emails.last());
    }
    m_dns.addMx(u"queue.test"_s, 10, u"mx.queue.test"_s);
    m_dns.addA(u"mx.queue.test"_s, u"127.0.0.23"_s);
    QTemporaryDir dir;
    EngineConfig config = ownEngineConfig(dir.path());
    config.maxSessionsPerMx = 1;
    config.maxRcptsPerSession = 2;
    config.powerDeadlineMs = 1000;
    config.greylistRetryMs = {};
    config.runJobs = false;
    Engine engine;
    QString error;
    QVERIFY2(engine.start(config, &error), qPrintable(error));

    struct Answer
    {
        QString email;
        core::Status status;
        core::Reason reason;
    };
    QList<Answer> answers;
    QObject context;
    auto submit = [&](const QString &email, core::Priority priority) {
        QVERIFY(engine.verify(
            email, core::Mode::Power, &context,
            [&answers](const core::VerificationResult &r) {
                answers.append({r.email, r.status, r.reason});
            },
            priority));
    };

    // Bulk items queue for their turn; their deadline counts only the time they spend with the server, so
    // every one gets its real answer. An interactive check submitted after them goes ahead of the queue.
    for (const QString &email : std::as_const(emails))
        submit(email, core::Priority::Bulk);
    QTest::qWait(50);
    submit(u"user0@queue.test"_s.toUpper(), core::Priority::Interactive);
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 13, 30000);
    qsizetype interactiveAt = -1;
    for (qsizetype i = 0; i < answers.size(); ++i) {
        const Answer &a = answers.at(i);
        QVERIFY2(a.status == core::Status::Valid, qPrintable(a.email + u' ' + core::toString(a.reason)));
        if (a.email == u"USER0@QUEUE.TEST"_s)
            interactiveAt = i;
    }
    // At most the transaction already under way when it came (two requests) finishes before it.
    QVERIFY2(interactiveAt >= 0 && interactiveAt <= 2, qPrintable(QString::number(interactiveAt)));

    // The same twelve as interactive checks: the deadline is the caller's, wait included. The later ones
    // run out of time in the queue and say so (unknown, smtp_timeout) instead of keeping the caller.
    answers.clear();
    const QStringList again = [&] {
        QStringList out;
        for (int i = 0; i < 12; ++i)
            out << u"again%1@queue.test"_s.arg(i);
        return out;
    }();
    for (const QString &email : again) {
        slow.addMailbox(email);
        submit(email, core::Priority::Interactive);
    }
    QTRY_COMPARE_WITH_TIMEOUT(answers.size(), 12, 30000);
    int timedOut = 0;
    for (const Answer &a : std::as_const(answers)) {
        QVERIFY(a.status == core::Status::Valid || a.status == core::Status::Unknown);
        timedOut += a.reason == core::Reason::SmtpTimeout;
    }
    QVERIFY(timedOut > 0);
    engine.stop();
    QCOMPARE(slow.dataCount(), 0);
}

void TestPower::fullSessionsSayGoodbyeWithTheirLastAnswers()
{
    // 40 mailboxes that all exist: sessions end because their 20 recipients are used, not for errors.
    // The one that takes a session's last recipients sends QUIT behind them, in the same group.
    SmtpTestServer *s = server(11);
    QStringList emails;
    for (int i = 0; i < 40; ++i) {
        emails << u"person%1@many.test"_s.arg(i);
        s->addMailbox(emails.last());
    }
    m_dns.addMx(u"many.test"_s, 10, u"mx.many.test"_s);
    m_dns.addA(u"mx.many.test"_s, u"127.0.0.11"_s);
    s->resetCounters();
    const QStringList results = verifyAll(m_engine, emails);
    QCOMPARE(results.count(u"valid/accepted"_s), 40);
    QVERIFY2(s->pipelinedBehindCount(u"QUIT"_s) >= 1, qPrintable(s->commandLog().join(u" | "_s)));
    QCOMPARE(s->dataCount(), 0);
}

/// A result's JSON but for the time it took, which differs between any two answers.
static QJsonObject withoutTime(const core::VerificationResult &r)
{
    QJsonObject o = r.toJson();
    o.remove(core::field::ResponseMs);
    return o;
}

/// The same, empty when there is no result (which then compares unequal to any).
static QJsonObject withoutTime(const std::optional<core::VerificationResult> &r)
{
    return r ? withoutTime(*r) : QJsonObject{};
}

void TestPower::answersAtOnceAreTheEnginesAnswers()
{
    // Engine::verifyNow answers on the caller's thread what needs no waiting (the API's quick verifications
    // with warm DNS): each answer must be the one verify() gives through the engine thread.
    m_dns.addMx(u"now-mx.test"_s, 10, u"mx.acme.test"_s);
    m_dns.addA(u"now-implicit.test"_s, u"127.0.0.11"_s);
    m_dns.addNullMx(u"now-nullmx.test"_s);
    m_dns.addTxt(u"now-nomail.test"_s, u"v=spf1 -all"_s);
    m_dns.addMx(u"guerrillamail.com"_s, 10, u"mx.acme.test"_s);
    m_dns.addMx(u"gmail.com"_s, 10, u"mx.acme.test"_s);
    m_dns.setBehaviour(u"now-servfail.test"_s, DnsTestServer::Behaviour::ServFail);
    struct Case
    {
        QString email;
        QString status;
        QString reason;
    };
    const QList<Case> cases = {
        {u"pat@now-mx.test"_s, u"risky"_s, u"quick_check"_s},
        {u"info@now-mx.test"_s, u"risky"_s, u"quick_check"_s},
        {u"erin@now-implicit.test"_s, u"risky"_s, u"quick_check"_s},
        {u"x@now-nullmx.test"_s, u"invalid"_s, u"null_mx"_s},
        {u"x@now-nomail.test"_s, u"invalid"_s, u"no_mx_records"_s},
        {u"x@now-nx.test"_s, u"invalid"_s, u"domain_not_found"_s},
        {u"x@guerrillamail.com"_s, u"disposable"_s, u"disposable_domain"_s},
        {u"someone@gmail.com"_s, u"risky"_s, u"quick_check"_s},
        {u"someone@gmial.com"_s, u"invalid"_s, u"domain_not_found"_s},
    };
    QSet<QString> warm;
    for (const Case &c : cases) {
        // Cold DNS: nothing at once, the engine has to ask.
        const QString domain = c.email.section(u'@', 1);
        if (!warm.contains(domain))
            QVERIFY2(!m_engine.verifyNow(c.email, core::Mode::Quick), qPrintable(c.email));
        warm.insert(domain);
        const std::optional<core::VerificationResult> queued = verifyQueued(c.email, core::Mode::Quick);
        QVERIFY2(queued, qPrintable(c.email));
        QCOMPARE(core::toString(queued->status), c.status);
        QCOMPARE(core::toString(queued->reason), c.reason);
        // Warm: the same answer at once.
        const std::optional<core::VerificationResult> now = m_engine.verifyNow(c.email, core::Mode::Quick);
        QVERIFY2(now, qPrintable(c.email));
        QCOMPARE(withoutTime(*now), withoutTime(*queued));
    }
    const std::optional<core::VerificationResult> typo =
        m_engine.verifyNow(u"someone@gmial.com"_s, core::Mode::Quick);
    QVERIFY(typo);
    QCOMPARE(typo->didYouMean, u"someone@gmail.com"_s);
    const std::optional<core::VerificationResult> role =
        m_engine.verifyNow(u"info@now-mx.test"_s, core::Mode::Quick);
    QVERIFY(role && role->isRoleAccount);
    const std::optional<core::VerificationResult> free =
        m_engine.verifyNow(u"someone@gmail.com"_s, core::Mode::Quick);
    QVERIFY(free && free->isFreeEmail);

    // Bad syntax needs nothing at all.
    const std::optional<core::VerificationResult> bad =
        m_engine.verifyNow(u"x@@now-mx.test"_s, core::Mode::Quick);
    QVERIFY(bad);
    QCOMPARE(core::toString(bad->reason), u"invalid_syntax"_s);
    QCOMPARE(withoutTime(*bad), withoutTime(verifyQueued(u"x@@now-mx.test"_s, core::Mode::Quick)));

    // A DNS failure is not kept, so it is not answered at once: the next try may well succeed.
    const std::optional<core::VerificationResult> failed =
        verifyQueued(u"x@now-servfail.test"_s, core::Mode::Quick);
    QVERIFY(failed);
    QCOMPARE(core::toString(failed->reason), u"dns_error"_s);
    QVERIFY(!m_engine.verifyNow(u"x@now-servfail.test"_s, core::Mode::Quick));

    // Power mode: at once only when no mail server has to be asked.
    QVERIFY(!m_engine.verifyNow(u"pat@now-mx.test"_s, core::Mode::Power));
    for (const QString &email : {u"x@now-nullmx.test"_s, u"x@now-nx.test"_s, u"x@guerrillamail.com"_s}) {
        const std::optional<core::VerificationResult> now = m_engine.verifyNow(email, core::Mode::Power);
        QVERIFY2(now, qPrintable(email));
        QCOMPARE(core::toString(now->mode), u"power"_s);
        QCOMPARE(withoutTime(*now), withoutTime(verifyQueued(email, core::Mode::Power)));
    }
    // A fresh power verdict answers quick mode at once, as it does through the engine.
    QCOMPARE(core::toString(verify(m_engine, u"alice@acme.test"_s).status), u"valid"_s);
    const std::optional<core::VerificationResult> cached =
        m_engine.verifyNow(u"Alice@acme.test"_s, core::Mode::Quick);
    QVERIFY(cached);
    QCOMPARE(core::toString(cached->mode), u"power"_s);
    QCOMPARE(cached->email, u"Alice@acme.test"_s);
    QCOMPARE(withoutTime(*cached), withoutTime(verifyQueued(u"Alice@acme.test"_s, core::Mode::Quick)));

    // A batch (the API's quick verifications of one event-loop turn) reads the result cache once for all:
    // each answer is the one it gets alone. Read at the start: a row deleted meanwhile still answers until
    // the batch ends, which shows the answers came from that one read.
    const QStringList batch{u"Alice@acme.test"_s, u"pat@now-mx.test"_s, u"x@@now-mx.test"_s,
                            u"\"a\\\"b\"@now-mx.test"_s, u"ALICE@ACME.TEST"_s};
    QSqlQuery row(m_engine.database().connection());
    QTRY_VERIFY(row.exec(u"SELECT COUNT(*) FROM verification_cache WHERE address = 'alice@acme.test'"_s) &&
                row.next() && row.value(0).toInt() == 1);
    row.finish();
    QList<QJsonObject> alone;
    for (const QString &email : batch)
        alone.append(withoutTime(m_engine.verifyNow(email, core::Mode::Quick)));
    QCOMPARE(alone.first().value(u"mode"_s).toString(), u"power"_s);
    QCOMPARE(alone.at(3).value(u"reason"_s).toString(), u"quick_check"_s); // a quoted local part
    {
        const auto reading = m_engine.verifyNowBatch(batch);
        QVERIFY(row.exec(u"DELETE FROM verification_cache WHERE address = 'alice@acme.test'"_s));
        for (qsizetype i = 0; i < batch.size(); ++i)
            QCOMPARE(withoutTime(m_engine.verifyNow(batch.at(i), core::Mode::Quick)), alone.at(i));
    }
    const std::optional<core::VerificationResult> gone =
        m_engine.verifyNow(u"Alice@acme.test"_s, core::Mode::Quick);
    QVERIFY(gone);
    QCOMPARE(core::toString(gone->mode), u"quick"_s); // the batch over, the database is asked again

    // An engine that is not running answers nothing.
    Engine stopped;
    QVERIFY(!stopped.verifyNow(u"x@@now-mx.test"_s, core::Mode::Quick));
}

void TestPower::answersAtOnceFromManyThreads()
{
    // verifyNow reads the DNS and result caches on its callers' threads while the engine thread fills them:
    // four threads ask over and over while the engine resolves 300 new domains. Every answer given is right.
    constexpr int Domains = 300;
    for (int i = 0; i < Domains; i += 2)
        m_dns.addMx(u"many%1.test"_s.arg(i), 10, u"mx.acme.test"_s);
    const QString known = u"pat@now-mx.test"_s;
    const std::optional<core::VerificationResult> expected = verifyQueued(known, core::Mode::Quick);
    QVERIFY(expected);
    const QJsonObject expectedJson = withoutTime(*expected);
    std::atomic<bool> stop = false;
    std::atomic<int> right = 0, wrong = 0, newAnswered = 0;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back(QThread::create([&, t] {
            for (int i = t; !stop.load(); i = (i + 1) % Domains) {
                const std::optional<core::VerificationResult> now =
                    m_engine.verifyNow(known, core::Mode::Quick);
                (now && withoutTime(*now) == expectedJson ? right : wrong)++;
                if (const std::optional<core::VerificationResult> fresh =
                        m_engine.verifyNow(u"pat@many%1.test"_s.arg(i), core::Mode::Quick)) {
                    const core::Reason reason =
                        i % 2 ? core::Reason::DomainNotFound : core::Reason::QuickCheck;
                    (fresh->reason == reason ? newAnswered : wrong)++;
                }
            }
        }));
        threads.back()->start();
    }
    QHash<QString, core::VerificationResult> queued;
    QObject context;
    for (int i = 0; i < Domains; ++i) {
        const QString email = u"pat@many%1.test"_s.arg(i);
        QVERIFY(m_engine.verify(
            email, core::Mode::Quick, &context,
            [&queued, email](const core::VerificationResult &r) { queued.insert(email, r); }));
    }
    QTRY_COMPARE_WITH_TIMEOUT(queued.size(), Domains, 20'000);
    stop = true;
    for (const auto &thread : threads)
        QVERIFY(thread->wait(10'000));
    qInfo("%d right answers for the known domain, %d for the new ones while they were resolved", right.load(),
          newAnswered.load());
    QCOMPARE(wrong.load(), 0);
    QVERIFY(right.load() > 0);
    // Now every one of them is answered at once, as the engine answered.
    for (auto it = queued.cbegin(); it != queued.cend(); ++it) {
        const std::optional<core::VerificationResult> now = m_engine.verifyNow(it.key(), core::Mode::Quick);
        QVERIFY2(now, qPrintable(it.key()));
        QCOMPARE(withoutTime(*now), withoutTime(it.value()));
    }
}

void TestPower::prefetchedRoutesAreNotAskedAgain()
{
    // What `verify FILE` does with its first rows' domains while it stores the list: in power mode the MX
    // and the first MX host's addresses are asked at once, in quick mode the MX alone; verifications after
    // that find them cached and ask DNS nothing more.
    using Type = DnsTestServer::RecordType;
    m_dns.addMx(u"prefetch.test"_s, 10, u"mx.prefetch.test"_s);
    m_dns.addA(u"mx.prefetch.test"_s, u"127.0.0.11"_s);
    m_dns.addMx(u"prefetch-quick.test"_s, 10, u"mx.prefetch-quick.test"_s);
    m_dns.addA(u"mx.prefetch-quick.test"_s, u"127.0.0.11"_s);
    server(11)->addMailbox(u"pat@prefetch.test"_s);
    m_engine.prefetchMailRoutes({u"prefetch-quick.test"_s}, core::Mode::Quick);
    m_engine.prefetchMailRoutes({u"prefetch.test"_s, u"prefetch-nx.test"_s}, core::Mode::Power);
    QTRY_COMPARE(m_dns.queryCount(u"mx.prefetch.test"_s, Type::A), 1);
    QTRY_COMPARE(m_dns.queryCount(u"prefetch-nx.test"_s, Type::MX), 1);
    QCOMPARE(m_dns.queryCount(u"prefetch.test"_s, Type::MX), 1);
    QCOMPARE(m_dns.queryCount(u"prefetch-quick.test"_s, Type::MX), 1);

    const core::VerificationResult valid = verify(m_engine, u"pat@prefetch.test"_s);
    QCOMPARE(core::toString(valid.status), u"valid"_s);
    QCOMPARE(m_dns.queryCount(u"prefetch.test"_s, Type::MX), 1);
    QCOMPARE(m_dns.queryCount(u"mx.prefetch.test"_s, Type::A), 1);
    const std::optional<core::VerificationResult> quick =
        verifyQueued(u"lee@prefetch-quick.test"_s, core::Mode::Quick);
    QVERIFY(quick.has_value());
    QCOMPARE(core::toString(quick->status), u"risky"_s);
    QCOMPARE(m_dns.queryCount(u"prefetch-quick.test"_s, Type::MX), 1);
    QCOMPARE(m_dns.queryCount(u"mx.prefetch-quick.test"_s, Type::A), 0); // quick mode connects nowhere
    const core::VerificationResult missing = verify(m_engine, u"x@prefetch-nx.test"_s);
    QCOMPARE(core::toString(missing.reason), u"domain_not_found"_s);
}

#include "tst_power.moc"
