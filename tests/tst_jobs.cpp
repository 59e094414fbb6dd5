// The job system below the API: fair leasing between jobs, deferral of greylisted items, items given up on
// after repeated lost leases, failed jobs, find jobs, and the webhook written with a job's end. Against a
// loopback DNS server and SMTP servers, with the real engine.
#include "core/csv.h"
#include "dnstestserver.h"
#include "engine.h"
#include "smtp/prober.h"
#include "smtptestserver.h"
#include "storage/database.h"
#include "testdatabase.h"
#include "testengine.h"
#include "verify/sharedlimiter.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMutex>
#include <QProcess>
#include <QScopeGuard>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestJobs : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void leaseSharesTheBatchBetweenJobs();
    void leaseGivesEachDomainItsShare();
    void deferredItemsWaitTheirTurn();
    void deadRunnersLeasesGoBackAndOnlyTheirs();
    void sharedMxLimitsHoldAcrossServers();
    void powerItemsJoinTheirDomainsWork();
    void inputsWithNulCharactersAreStored();
    void itemsAnsweredAtOnceAreTheEnginesAnswers();
    void lostLeasesEndInAnErrorAndAFailedJob();
    void jobsFailOnlyWhenNothingWorked();
    void greylistedItemsAreTriedAgainAfterTheRest();
    void findJobsAreStoredAndAnswered();
    void theLastAnswerEndsTheJobAtOnce();
    void listsExportAsGiven();
    void listsKeepTheirFile();
    void listsPauseResumeCancelAndDelete();
    void listsStreamFromTheirFile();
    void listRefusedMidwayStopsReading();

private:
    /// A started engine on a fresh data folder (or `dataDir`), pointed at the loopback servers.
    std::unique_ptr<Engine> startEngine(bool runJobs, QList<int> jobGreylistDelaysMs = {},
                                        const QString &dataDir = {},
                                        const std::function<void(EngineConfig &)> &adjust = {});
    static bool waitForStatus(Engine &engine, const QString &jobId, const QString &status, int timeoutMs);

    QList<std::shared_ptr<QTemporaryDir>> m_dirs;
    test::TestDatabases m_dbs;
    QHash<QString, QString> m_databases; // per data folder
    DnsTestServer m_dns;
    SmtpTestServer m_smtp;
    SmtpTestServer m_grey;
};

void TestJobs::initTestCase()
{
    QVERIFY(m_dns.listen());
    QVERIFY(m_smtp.listen(QHostAddress(u"127.0.0.41"_s)));
    QVERIFY(m_grey.listen(QHostAddress(u"127.0.0.42"_s), m_smtp.port()));
    m_smtp.addMailboxes(u"ok.test"_s, {u"ann"_s, u"bob"_s});
    m_dns.addMx(u"ok.test"_s, 10, u"mx.ok.test"_s);
    m_dns.addA(u"mx.ok.test"_s, u"127.0.0.41"_s);
    m_grey.addMailbox(u"alice@grey.test"_s);
    m_grey.setGreylisting(true, 1500); // a retry before 1.5 s is greylisted again
    m_dns.addMx(u"grey.test"_s, 10, u"mx.grey.test"_s);
    m_dns.addA(u"mx.grey.test"_s, u"127.0.0.42"_s);
    for (int d = 0; d < 5; ++d)
        m_dns.addMx(u"d%1.test"_s.arg(d), 10, u"mx.d%1.test"_s.arg(d));
}

std::unique_ptr<Engine> TestJobs::startEngine(bool runJobs, QList<int> jobGreylistDelaysMs,
                                              const QString &dataDir,
                                              const std::function<void(EngineConfig &)> &adjust)
{
    if (dataDir.isEmpty())
        m_dirs.append(std::make_shared<QTemporaryDir>());
    const QString folder = dataDir.isEmpty() ? m_dirs.last()->path() : dataDir;
    EngineConfig config = loopbackEngineConfig(folder, m_dns, m_smtp.port());
    if (!m_databases.contains(folder)) {
        QString error;
        m_databases.insert(folder, m_dbs.create(folder, u"jobs"_s, &error));
        if (m_databases.value(folder).isEmpty())
            qWarning() << error;
    }
    config.database = m_databases.value(folder);
    config.greylistRetryMs = {}; // a greylisted check answers at once: only the job may try again
    config.jobGreylistDelaysMs = std::move(jobGreylistDelaysMs);
    config.runJobs = runJobs;
    if (adjust)
        adjust(config);
    auto engine = std::make_unique<Engine>();
    QString error;
    if (!engine->start(config, &error)) {
        qWarning() << error;
        return nullptr;
    }
    return engine;
}

bool TestJobs::waitForStatus(Engine &engine, const QString &jobId, const QString &status, int timeoutMs)
{
    return QTest::qWaitFor(
        [&] {
            const auto s = engine.jobs().summary(jobId);
            return s && jobs::toString(s->status) == status;
        },
        timeoutMs);
}

void TestJobs::leaseSharesTheBatchBetweenJobs()
{
    const auto engine = startEngine(false);
    QVERIFY(engine);
    // A hundred addresses sorted by domain (20 at each of five).
    QStringList big;
    for (int i = 0; i < 100; ++i)
        big << u"u%1@d%2.test"_s.arg(i).arg(i / 20);
    const auto first = engine->jobs().createVerifyJob(nullptr, big, core::Mode::Power);
    const auto second = engine->jobs().createVerifyJob(
        nullptr, {u"a@ok.test"_s, u"b@ok.test"_s, u"c@ok.test"_s}, core::Mode::Quick);
    QCOMPARE(int(first.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(int(second.outcome), int(jobs::JobStore::Created::Ok));

    // The small job, created after the big one, is not stuck behind its hundred items.
    const QList<jobs::JobItem> batch = engine->jobs().lease(10, 300, {}, {jobs::KindVerify});
    QCOMPARE(batch.size(), 10);
    int ofSecond = 0;
    QStringList domainsOfFirst;
    for (const jobs::JobItem &item : batch) {
        QCOMPARE(item.attempts, 1);
        if (item.jobId == second.jobId)
            ++ofSecond;
        else
            domainsOfFirst << item.normalized.section(u'@', 1);
    }
    QCOMPARE(ofSecond, 3);
    // Within a power job the domains take turns (each domain's first item, then each one's second…): the
    // work in flight spans many mail servers instead of queueing at one.
    QCOMPARE(domainsOfFirst, (QStringList{u"d0.test"_s, u"d1.test"_s, u"d2.test"_s, u"d3.test"_s,
                                          u"d4.test"_s, u"d0.test"_s, u"d1.test"_s}));
    // Quick verification talks to no mail server: its items come in the list's order (their answers are
    // then written next to each other, not all over the table).
    const auto quick = engine->jobs().createVerifyJob(nullptr, big, core::Mode::Quick);
    QCOMPARE(int(quick.outcome), int(jobs::JobStore::Created::Ok));
    QList<int> positions;
    for (const jobs::JobItem &item : engine->jobs().lease(25, 300, {}, {jobs::KindVerify}, quick.jobId))
        positions << item.position;
    QCOMPARE(positions.size(), 25);
    for (int i = 0; i < 25; ++i)
        QCOMPARE(positions.at(i), i);
    // Kinds without a handler are not leased.
    QVERIFY(engine->jobs().lease(10, 300, {}, {jobs::KindFind}).isEmpty());
}

void TestJobs::leaseGivesEachDomainItsShare()
{
    const auto engine = startEngine(false);
    QVERIFY(engine);
    // One big domain and two small ones, in file order; a power job and a quick one alike.
    QStringList emails;
    for (int i = 0; i < 50; ++i)
        emails << u"u%1@big.test"_s.arg(i);
    emails << u"a@small1.test"_s << u"b@small1.test"_s << u"a@small2.test"_s;
    const auto power = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
    QCOMPARE(int(power.outcome), int(jobs::JobStore::Created::Ok));

    // big.test has 2 in flight already; its share is 5: 3 more, and the rest of the batch goes elsewhere.
    jobs::DomainLimit limit;
    limit.max = 5;
    limit.inFlight.insert(u"big.test"_s, 2);
    QList<jobs::JobItem> batch = engine->jobs().lease(20, 300, {}, {jobs::KindVerify}, power.jobId, limit);
    QMap<QString, int> perDomain;
    for (const jobs::JobItem &item : batch) {
        QCOMPARE(item.domain, item.normalized.section(u'@', 1));
        ++perDomain[item.domain];
    }
    QCOMPARE(perDomain.value(u"big.test"_s), 3);
    QCOMPARE(perDomain.value(u"small1.test"_s), 2);
    QCOMPARE(perDomain.value(u"small2.test"_s), 1);
    QCOMPARE(batch.size(), 6);
    // Its share taken, the big domain gets nothing more now; the items stay queued for later.
    limit.inFlight.insert(u"big.test"_s, 5);
    QVERIFY(engine->jobs().lease(20, 300, {}, {jobs::KindVerify}, power.jobId, limit).isEmpty());
    limit.inFlight.insert(u"big.test"_s, 4);
    QCOMPARE(engine->jobs().lease(20, 300, {}, {jobs::KindVerify}, power.jobId, limit).size(), 1);

    // Room for one more piece of new work: items joining a domain in flight (big.test) need none; the first
    // item of a domain with nothing in flight takes it, and that domain's next item then joins.
    const auto again = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
    QCOMPARE(int(again.outcome), int(jobs::JobStore::Created::Ok));
    limit.inFlight.insert(u"big.test"_s, 2);
    limit.newWork = 1;
    perDomain.clear();
    for (const jobs::JobItem &item :
         engine->jobs().lease(20, 300, {}, {jobs::KindVerify}, again.jobId, limit))
        ++perDomain[item.domain];
    QCOMPARE(perDomain, (QMap<QString, int>{{u"big.test"_s, 3}, {u"small1.test"_s, 2}}));
    // No room for new work: only what joins.
    limit.newWork = 0;
    limit.inFlight.insert(u"big.test"_s, 4);
    limit.inFlight.insert(u"small1.test"_s, 2);
    perDomain.clear();
    for (const jobs::JobItem &item :
         engine->jobs().lease(20, 300, {}, {jobs::KindVerify}, again.jobId, limit))
        ++perDomain[item.domain];
    QCOMPARE(perDomain, (QMap<QString, int>{{u"big.test"_s, 1}}));
    limit.newWork = -1;
    limit.inFlight.remove(u"small1.test"_s);

    // Find items group by the lead's domain (or none, for a company name): no share applies.
    QList<QJsonObject> leads;
    for (int i = 0; i < 30; ++i)
        leads.append(QJsonObject{{u"first_name"_s, u"Ann%1"_s.arg(i)},
                                 {u"last_name"_s, u"Lee"_s},
                                 {u"company_name"_s, u"Acme"_s}});
    const auto find = engine->jobs().createFindJob(nullptr, leads);
    QCOMPARE(int(find.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(engine->jobs().lease(30, 300, {}, {jobs::KindFind}, find.jobId, limit).size(), 30);

    // Quick mode only asks DNS (cached per domain): no share applies. Each item is new work.
    const auto quick = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Quick);
    QCOMPARE(int(quick.outcome), int(jobs::JobStore::Created::Ok));
    limit.newWork = 7;
    QCOMPARE(engine->jobs().lease(40, 300, {}, {jobs::KindVerify}, quick.jobId, limit).size(), 7);
    limit.newWork = -1;
    QCOMPARE(engine->jobs().lease(40, 300, {}, {jobs::KindVerify}, quick.jobId, limit).size(), 40);
}

void TestJobs::deadRunnersLeasesGoBackAndOnlyTheirs()
{
    // Servers sharing a database: each leases in its runner's name. A runner that stopped beating, or
    // whose process on this machine is gone, loses its leases to the queue; a live one keeps them.
    const auto engine = startEngine(false);
    QVERIFY(engine);
    jobs::JobStore &store = engine->jobs();
    QStringList emails;
    for (int i = 0; i < 12; ++i)
        emails.append(u"u%1@d%2.test"_s.arg(i).arg(i % 3));
    const auto created = store.createVerifyJob(nullptr, emails, core::Mode::Quick);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));

    QProcess exited; // a pid that was a process a moment ago and is no more
    exited.start(u"/bin/sleep"_s, {u"0.1"_s});
    QVERIFY(exited.waitForStarted());
    const qint64 deadPid = exited.processId();
    QVERIFY(exited.waitForFinished());
    auto leaseAs = [&](const QString &runner, int count) {
        store.setRunner(runner);
        QVERIFY(store.registerRunner(runner));
        QCOMPARE(store.lease(count, 300, {}, {jobs::KindVerify}, created.jobId).size(), count);
    };
    leaseAs(u"silent"_s, 3);
    leaseAs(u"alive"_s, 4);
    leaseAs(u"vanished"_s, 2);
    store.setRunner({});
    QSqlQuery q(engine->database().connection());
    QVERIFY(q.exec(u"UPDATE runners SET heartbeat_at = heartbeat_at - 60000 WHERE id = 'silent'"_s));
    q.prepare(u"UPDATE runners SET pid = ? WHERE id = 'vanished'"_s);
    q.addBindValue(deadPid);
    QVERIFY(q.exec());

    auto leasedBy = [&](const QString &runner) {
        QSqlQuery c(engine->database().connection());
        c.prepare(u"SELECT COUNT(*) FROM job_items WHERE job = "_s + jobs::JobNumberById +
                  u" AND state = 'leased' AND leased_by = ?"_s);
        c.addBindValue(created.jobId);
        c.addBindValue(runner);
        return c.exec() && c.next() ? c.value(0).toInt() : -1;
    };
    QCOMPARE(leasedBy(u"silent"_s), 3);
    // Silent for a minute: dead after 20 s. Gone from this machine: dead at once. Alive: kept.
    QCOMPARE(store.reapRunners(u"me"_s, jobs::JobRunner::RunnerTimeoutMs), 5);
    QCOMPARE(leasedBy(u"silent"_s), 0);
    QCOMPARE(leasedBy(u"vanished"_s), 0);
    QCOMPARE(leasedBy(u"alive"_s), 4);
    QVERIFY(q.exec(u"SELECT id FROM runners ORDER BY id"_s));
    QStringList runners;
    while (q.next())
        runners.append(q.value(0).toString());
    QCOMPARE(runners, QStringList{u"alive"_s});
    // The freed items are leased again (and count the attempt the dead runner made).
    const QList<jobs::JobItem> again = store.lease(20, 300, {}, {jobs::KindVerify}, created.jobId);
    QCOMPARE(again.size(), 12 - 4);
    QCOMPARE(
        std::count_if(again.cbegin(), again.cend(), [](const jobs::JobItem &i) { return i.attempts == 2; }),
        5);
    // A runner that stops hands its leases back at once; a heartbeat after being reaped registers again.
    QVERIFY(store.unregisterRunner(u"alive"_s));
    QCOMPARE(leasedBy(u"alive"_s), 0);
    QVERIFY(store.heartbeat(u"alive"_s));
    QVERIFY(q.exec(u"SELECT COUNT(*) FROM runners WHERE id = 'alive'"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), 1);
}

void TestJobs::sharedMxLimitsHoldAcrossServers()
{
    // Two servers on one database with --shared-mx-limits: 2 connections to a mail server means 2 for
    // both together. Each prober alone would open 2.
    SmtpTestServer mx;
    QVERIFY(mx.listen(QHostAddress(u"127.0.0.43"_s)));
    mx.setReplyDelay(20); // sessions last long enough to overlap
    QStringList mailboxes;
    for (int i = 0; i < 40; ++i)
        mailboxes.append(u"u%1"_s.arg(i));
    mx.addMailboxes(u"shared.test"_s, mailboxes);
    QString error;
    const QString at =
        m_dbs.create(m_dirs.emplaceBack(std::make_shared<QTemporaryDir>())->path(), u"slots"_s, &error);
    QVERIFY2(!at.isEmpty(), qPrintable(error));
    storage::Database dbA, dbB;
    QVERIFY2(dbA.open(at, &error), qPrintable(error));
    QVERIFY2(dbB.open(at, &error), qPrintable(error));
    auto limiterA = std::make_shared<verify::SharedSessionLimiter>(dbA);
    auto limiterB = std::make_shared<verify::SharedSessionLimiter>(dbB);
    auto proberFor = [&](std::shared_ptr<smtp::SessionLimiter> limiter) {
        smtp::ProberConfig config;
        config.session.port = mx.port();
        config.session.heloName = u"probe.mailcaff.test"_s;
        config.maxSessionsPerHost = 2;
        config.maxRcptsPerSession = 2; // many short connections: many grants asked for
        config.maxRcptsPerTransaction = 2;
        config.idleSessionMs = 50;
        config.limiter = std::move(limiter);
        config.limiterRetryMs = 20;
        return std::make_unique<smtp::Prober>(config);
    };
    auto a = proberFor(limiterA);
    auto b = proberFor(limiterB);
    int answered = 0, accepted = 0;
    for (int i = 0; i < 40; ++i) {
        smtp::Prober &p = i % 2 ? *b : *a;
        p.probe(u"mx.shared.test"_s, QHostAddress(u"127.0.0.43"_s), {u"u%1@shared.test"_s.arg(i)}, this,
                [&](const QList<smtp::RcptOutcome> &outcomes) {
                    ++answered;
                    accepted += outcomes.value(0).verdict == smtp::Verdict::Accepted;
                });
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 40, 30000);
    QCOMPARE(accepted, 40);
    QVERIFY(a->connectionsOpened() > 0 && b->connectionsOpened() > 0);
    QVERIFY2(mx.peakConnections() <= 2, qPrintable(QString::number(mx.peakConnections())));
    // Connections closed (idle): their slots are free again.
    QTRY_COMPARE_WITH_TIMEOUT(limiterA->held() + limiterB->held(), 0, 5000);
    QSqlQuery q(dbA.connection());
    QVERIFY(q.exec(u"SELECT COUNT(*) FROM mx_slots"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), 0);
    q.finish();

    // A slot whose holder stopped renewing it (a server that died) is taken over; a live one is not.
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    q.prepare(u"INSERT INTO mx_slots(address, slot, holder, until) VALUES ('192.0.2.1', 0, 'dead', ?), "
              "('192.0.2.1', 1, 'alive', ?)"_s);
    q.addBindValue(now - 1000);
    q.addBindValue(now + 60000);
    QVERIFY(q.exec());
    QCOMPARE(limiterA->acquire(u"192.0.2.1"_s, 2), u"0"_s);
    QCOMPARE(limiterB->acquire(u"192.0.2.1"_s, 2), QString()); // both taken now
    limiterA->release(u"192.0.2.1"_s, u"0"_s);
    QCOMPARE(limiterB->acquire(u"192.0.2.1"_s, 2), u"0"_s);
    limiterB->release(u"192.0.2.1"_s, u"0"_s);
}

void TestJobs::powerItemsJoinTheirDomainsWork()
{
    // Two items at once (--job-concurrency 2), but 40 addresses at one domain in power mode: the items
    // after the first join their domain's work in flight (up to 4 x 2 in all, and no more than the
    // domain's share), so the mail server's two sessions get full transactions instead of one or two
    // recipients each.
    SmtpTestServer mx;
    QVERIFY(mx.listen(QHostAddress(u"127.0.0.44"_s), m_smtp.port()));
    mx.setReplyDelay(30);
    m_dns.addMx(u"join.test"_s, 10, u"mx.join.test"_s);
    m_dns.addA(u"mx.join.test"_s, u"127.0.0.44"_s);
    QStringList emails;
    for (int i = 0; i < 40; ++i) {
        emails.append(u"u%1@join.test"_s.arg(i));
        if (i % 4 != 3)
            mx.addMailbox(emails.last());
    }
    // RCPTs per transaction, from each session's MAIL FROM on.
    QHash<int, int> current;
    int most = 0;
    connect(&mx, &SmtpTestServer::commandReceived, this, [&](int session, const QString &line) {
        if (line.startsWith(u"MAIL"_s, Qt::CaseInsensitive))
            current[session] = 0;
        else if (line.startsWith(u"RCPT"_s, Qt::CaseInsensitive))
            most = std::max(most, ++current[session]);
    });
    const auto engine = startEngine(true, {}, {}, [](EngineConfig &config) {
        config.jobConcurrency = 2;
        config.maxSessionsPerMx = 2;
        config.maxRcptsPerSession = 5; // the domain's share: 2 x 2 x 5 = 20
    });
    QVERIFY(engine);
    const auto created = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    engine->jobRunner()->wake();
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 30000));
    const QJsonArray results = engine->jobs().results(created.jobId);
    QCOMPARE(results.size(), 40);
    for (qsizetype i = 0; i < results.size(); ++i)
        QCOMPARE(results.at(i).toObject().value(u"status"_s).toString(),
                 i % 4 != 3 ? u"valid"_s : u"invalid"_s);
    qInfo("40 addresses, 2 items of new work at once: %d RCPTs at most in a transaction, %d transactions, "
          "%d connections",
          most, mx.commandCount(u"MAIL"_s), mx.connectionCount());
    // Two items in flight would give transactions of two recipients at most (three with the catch-all
    // probe); joined, they carry as many as the rejection limit lets a group hold.
    QVERIFY2(most >= 4, qPrintable(QString::number(most)));
    QVERIFY(mx.peakConnections() <= 2);
    QCOMPARE(mx.dataCount(), 0);
}

void TestJobs::inputsWithNulCharactersAreStored()
{
    // U+0000 in a list or a request (JSON allows "\u0000"): PostgreSQL's text cannot hold it, so it is
    // dropped there; the job is stored either way, and its item answered.
    const auto engine = startEngine(true);
    QVERIFY(engine);
    const QString withNul = u"a"_s + QChar(0) + u"nn@ok.test"_s;
    const auto created =
        engine->jobs().createVerifyJob(nullptr, {withNul, u"bob@ok.test"_s}, core::Mode::Quick);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 20000));
    QCOMPARE(engine->jobs().results(created.jobId).size(), 2);
}

void TestJobs::itemsAnsweredAtOnceAreTheEnginesAnswers()
{
    // The runner answers what needs no waiting itself (quick items at a domain whose DNS answer is cached,
    // bad syntax). With every domain's answer cached first, each item is answered so; each stored result
    // is what the engine answers for the address on its own.
    const auto engine = startEngine(true);
    QVERIFY(engine);
    m_dns.addNullMx(u"nullmx-jobs.test"_s);
    m_dns.addMx(u"mailinator.com"_s, 10, u"mx.ok.test"_s);
    QObject context;
    for (const QString &warm : {u"w@d1.test"_s, u"w@nowhere-jobs.test"_s, u"w@nullmx-jobs.test"_s,
                                u"w@mailinator.com"_s, u"w@d2.test"_s, u"w@gmial.com"_s}) {
        bool answered = false;
        QVERIFY(engine->verify(warm, core::Mode::Quick, &context,
                               [&](const core::VerificationResult &) { answered = true; }));
        QTRY_VERIFY(answered);
        QVERIFY2(engine->verifyNow(warm, core::Mode::Quick), qPrintable(warm));
    }
    QStringList emails;
    for (int i = 0; i < 40; ++i)
        emails << u"p%1@%2"_s.arg(i).arg(
            QStringList{u"d1.test"_s, u"nowhere-jobs.test"_s, u"nullmx-jobs.test"_s, u"mailinator.com"_s}.at(
                i % 4));
    emails << u"info@d2.test"_s << u"bad@@d2.test"_s << u"someone@gmial.com"_s;
    const auto created = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Quick);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 20000));
    const QJsonArray results = engine->jobs().results(created.jobId);
    QCOMPARE(results.size(), emails.size());
    for (qsizetype i = 0; i < emails.size(); ++i) {
        std::optional<core::VerificationResult> alone;
        QVERIFY(engine->verify(emails.at(i), core::Mode::Quick, &context,
                               [&](const core::VerificationResult &r) { alone = r; }));
        QTRY_VERIFY(alone.has_value());
        QJsonObject expected = alone->toJson();
        QJsonObject stored = results.at(i).toObject();
        expected.remove(core::field::ResponseMs);
        stored.remove(core::field::ResponseMs);
        QCOMPARE(stored, expected);
    }
    QCOMPARE(results.at(0).toObject().value(u"reason"_s).toString(), u"quick_check"_s);
    QCOMPARE(results.at(1).toObject().value(u"reason"_s).toString(), u"domain_not_found"_s);
    QCOMPARE(results.at(2).toObject().value(u"reason"_s).toString(), u"null_mx"_s);
    QCOMPARE(results.at(3).toObject().value(u"reason"_s).toString(), u"disposable_domain"_s);
    QCOMPARE(results.at(41).toObject().value(u"reason"_s).toString(), u"invalid_syntax"_s);
}

void TestJobs::deferredItemsWaitTheirTurn()
{
    const auto engine = startEngine(false);
    QVERIFY(engine);
    const auto created =
        engine->jobs().createVerifyJob(nullptr, {u"x@ok.test"_s, u"X@ok.test "_s}, core::Mode::Power);
    QList<jobs::JobItem> items = engine->jobs().lease(10, 300, {}, {jobs::KindVerify});
    QCOMPARE(items.size(), 1); // the duplicate is worked with it
    QVERIFY(engine->jobs().defer(items.first(), QDateTime::currentMSecsSinceEpoch() + 60'000));
    QVERIFY(engine->jobs().lease(10, 300, {}, {jobs::KindVerify}).isEmpty());
    QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), u"processing"_s);
    QVERIFY(engine->jobs().defer(items.first(), QDateTime::currentMSecsSinceEpoch() - 1));
    items = engine->jobs().lease(10, 300, {}, {jobs::KindVerify});
    QCOMPARE(items.size(), 1);
    QCOMPARE(items.first().deferrals, 2);
    QCOMPARE(items.first().attempts, 1); // a deferral is an answer: the lost-lease count starts again
}

void TestJobs::lostLeasesEndInAnErrorAndAFailedJob()
{
    QString dataDir;
    QString jobId;
    qint64 keyId = 0;
    {
        const auto engine = startEngine(false);
        QVERIFY(engine);
        dataDir = engine->config().dataDir;
        const auto key = engine->apiKeys().create(u"hooked"_s, accounts::Plan::Free);
        QVERIFY(key);
        keyId = key->info.id;
        QVERIFY(engine->webhooks().setEndpoint(keyId, u"https://hooks.invalid/end"_s).ok());
        const auto created =
            engine->jobs().createVerifyJob(&key->info, {u"poison@ok.test"_s}, core::Mode::Quick);
        jobId = created.jobId;
        // Three leases that never answered (each ran out: a process that died during the item).
        for (int attempt = 1; attempt <= jobs::JobRunner::MaxAttempts; ++attempt) {
            const auto items = engine->jobs().lease(10, -1, {}, {jobs::KindVerify});
            QCOMPARE(items.size(), 1);
            QCOMPARE(items.first().attempts, attempt);
        }
    }
    // The next start gives up on it: an error, and a job with nothing processed has failed.
    const auto engine = startEngine(true, {}, dataDir);
    QVERIFY(engine);
    QVERIFY(waitForStatus(*engine, jobId, u"failed"_s, 10000));
    const QJsonArray results = engine->jobs().results(jobId);
    QCOMPARE(results.size(), 1);
    QCOMPARE(results.first().toObject().value(u"status"_s).toString(), u"error"_s);
    QCOMPARE(results.first().toObject().value(u"email"_s).toString(), u"poison@ok.test"_s);
    const auto deliveries = engine->webhooks().deliveries(keyId, 10);
    QCOMPARE(deliveries.size(), 1);
    QCOMPARE(deliveries.first().event, u"bulk_job.failed"_s);
    const QJsonObject payload = QJsonDocument::fromJson(deliveries.first().payload).object();
    QCOMPARE(payload.value(u"status"_s).toString(), u"failed"_s);
    QCOMPARE(payload.value(u"job_type"_s).toString(), u"verify"_s);
    QCOMPARE(payload.value(u"total"_s).toInt(), 1);
}

void TestJobs::jobsFailOnlyWhenNothingWorked()
{
    // A job ends "failed" when every item ended in an error, "completed" when at least one did not (an
    // empty list too), whatever the order the answers came in and however many statements they took.
    const auto engine = startEngine(false);
    QVERIFY(engine);
    auto answerAll = [&](const QString &jobId, const QStringList &statuses) {
        const QList<jobs::JobItem> items = engine->jobs().lease(100, 300, {}, {jobs::KindVerify}, jobId);
        if (items.size() != statuses.size())
            return false;
        for (qsizetype i = 0; i < items.size(); ++i) {
            const jobs::ItemOutcome outcome{statuses.at(i), QJsonObject{{u"status"_s, statuses.at(i)}}};
            // One statement each: the last one ends the job, having seen the others' counts.
            const auto ended = engine->jobs().completeAll({{items.at(i), outcome}});
            if (!ended || ended->isEmpty() != (i + 1 < items.size()))
                return false;
        }
        return true;
    };
    const QStringList emails{u"a@ok.test"_s, u"b@ok.test"_s, u"c@ok.test"_s};
    const struct
    {
        QStringList statuses;
        const char *ends;
    } cases[] = {
        {{u"error"_s, u"error"_s, u"error"_s}, "failed"},
        {{u"error"_s, u"error"_s, u"invalid"_s}, "completed"},
        {{u"valid"_s, u"error"_s, u"error"_s}, "completed"},
        {{u"unknown"_s, u"risky"_s, u"valid"_s}, "completed"},
    };
    for (const auto &c : cases) {
        const auto created = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
        QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
        QVERIFY(answerAll(created.jobId, c.statuses));
        QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), QString::fromLatin1(c.ends));
    }
    const auto empty = engine->jobs().createVerifyJob(nullptr, {}, core::Mode::Quick);
    QCOMPARE(int(empty.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(jobs::toString(engine->jobs().summary(empty.jobId)->status), u"completed"_s);
}

void TestJobs::greylistedItemsAreTriedAgainAfterTheRest()
{
    const QStringList emails{u"alice@grey.test"_s, u"ann@ok.test"_s, u"nobody@ok.test"_s};
    {
        // Without a second try, a greylisting server leaves the address unknown.
        m_grey.resetGreylist();
        const auto engine = startEngine(true, {});
        QVERIFY(engine);
        const auto created = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
        QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 15000));
        const QJsonObject alice = engine->jobs().results(created.jobId).first().toObject();
        QCOMPARE(alice.value(u"status"_s).toString(), u"unknown"_s);
        QCOMPARE(alice.value(u"reason"_s).toString(), u"greylisted"_s);
    }
    m_grey.resetGreylist();
    const auto engine = startEngine(true, {2000});
    QVERIFY(engine);
    const auto created = engine->jobs().createVerifyJob(nullptr, emails, core::Mode::Power);
    // The rest of the list is answered while the greylisted address waits for its second try.
    QVERIFY(QTest::qWaitFor(
        [&] {
            const auto s = engine->jobs().summary(created.jobId);
            return s && s->processed == 2;
        },
        10000));
    QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), u"processing"_s);
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 15000));
    const QJsonArray results = engine->jobs().results(created.jobId);
    QCOMPARE(results.size(), 3);
    // Tried again with the same sender and the same random address: the server lets both through, the
    // random address is rejected, the mailbox accepted. Valid, not catch-all.
    const QJsonObject alice = results.at(0).toObject();
    QCOMPARE(alice.value(u"status"_s).toString(), u"valid"_s);
    QCOMPARE(alice.value(u"reason"_s).toString(), u"accepted"_s);
    QCOMPARE(alice.value(u"is_catch_all"_s).toBool(true), false);
    QCOMPARE(results.at(1).toObject().value(u"status"_s).toString(), u"valid"_s);
    QCOMPARE(results.at(2).toObject().value(u"status"_s).toString(), u"invalid"_s);
}

void TestJobs::findJobsAreStoredAndAnswered()
{
    const auto engine = startEngine(true);
    QVERIFY(engine);
    const auto key = engine->apiKeys().create(u"finder"_s, accounts::Plan::Free);
    QVERIFY(key);
    // The job system's part of finding: storage, duplicates, dispatch by kind, results with their leads.
    // The finder itself answers through this handler (here a fixed rule, to test the job system alone).
    int calls = 0;
    jobs::JobRunner::Handler finder;
    finder.run = [&calls](const jobs::JobItem &item, QObject *context,
                          std::function<void(const jobs::JobRunner::Answer &)> done) {
        ++calls;
        const QJsonObject lead = QJsonDocument::fromJson(item.input.toUtf8()).object();
        const bool found = lead.value(u"last_name"_s).toString().compare(u"doe"_s, Qt::CaseInsensitive) == 0;
        QJsonObject r{{u"found"_s, found},
                      {u"email"_s, found ? QJsonValue(u"john.doe@"_s + lead.value(u"domain"_s).toString())
                                         : QJsonValue(QJsonValue::Null)}};
        QMetaObject::invokeMethod(
            context,
            [done, r, found] {
                done({{found ? QString(jobs::FindFound) : QString(jobs::FindNotFound), r}, std::nullopt});
            },
            Qt::QueuedConnection);
        return true;
    };
    finder.abandoned = [](const jobs::JobItem &) { return jobs::ItemOutcome{u"error"_s, {}}; };
    engine->jobRunner()->setHandler(jobs::KindFind, finder);

    const QList<QJsonObject> leads{
        {{u"first_name"_s, u"John"_s}, {u"last_name"_s, u"Doe"_s}, {u"domain"_s, u"ok.test"_s}},
        {{u"first_name"_s, u"Jane"_s}, {u"last_name"_s, u"Roe"_s}, {u"domain"_s, u"ok.test"_s}},
        {{u"first_name"_s, u" john"_s}, {u"last_name"_s, u"DOE "_s}, {u"domain"_s, u"OK.test"_s}},
    };
    const auto created = engine->jobs().createFindJob(&key->info, leads);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(created.usage.monthlyUsed, 3); // one credit per lead, duplicates included
    engine->jobRunner()->wake();
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 10000));
    QCOMPARE(calls, 2); // the duplicate lead was found once

    const auto summary = engine->jobs().summary(created.jobId);
    QCOMPARE(summary->kind, u"find"_s);
    QCOMPARE(summary->found, 2);
    QCOMPARE(summary->notFound, 1);
    const QJsonArray results = engine->jobs().results(created.jobId);
    QCOMPARE(results.size(), 3);
    for (int i = 0; i < 3; ++i) {
        const QJsonObject r = results.at(i).toObject();
        QCOMPARE(r.value(u"first_name"_s).toString(),
                 leads.at(i).value(u"first_name"_s).toString()); // as given
        QCOMPARE(r.value(u"domain"_s).toString(), leads.at(i).value(u"domain"_s).toString());
        QCOMPARE(r.value(u"found"_s).toBool(), i != 1);
    }
    QVERIFY(results.at(1).toObject().value(u"email"_s).isNull());

    const QJsonObject payload = Engine::jobEndedPayload(*summary);
    QCOMPARE(payload.value(u"event"_s).toString(), u"bulk_job.completed"_s);
    QCOMPARE(payload.value(u"job_type"_s).toString(), u"find"_s);
    QCOMPARE(payload.value(u"summary"_s).toObject(), (QJsonObject{{u"found"_s, 2}, {u"not_found"_s, 1}}));
}

void TestJobs::theLastAnswerEndsTheJobAtOnce()
{
    const auto engine = startEngine(true);
    QVERIFY(engine);
    const auto key = engine->apiKeys().create(u"finder"_s, accounts::Plan::Free);
    QVERIFY(key);
    // Answers are written in batches, a batch when it is full or a moment after its first answer. The last
    // answer of a job has nothing to wait for: the job ends while it is being given, not a moment later.
    jobs::JobRunner *runner = engine->jobRunner();
    std::vector<std::function<void()>> answers; // on the runner's thread, as the handler gets them
    QMutex lock;
    jobs::JobRunner::Handler finder;
    finder.run = [&](const jobs::JobItem &, QObject *,
                     std::function<void(const jobs::JobRunner::Answer &)> done) {
        QMutexLocker locked(&lock);
        answers.push_back([done] {
            done({{QString(jobs::FindNotFound), QJsonObject{{u"found"_s, false}}}, std::nullopt});
        });
        return true;
    };
    finder.abandoned = [](const jobs::JobItem &) { return jobs::ItemOutcome{u"error"_s, {}}; };
    runner->setHandler(jobs::KindFind, finder);
    bool finishedDuringAnswer = false;
    QString finished;
    const QMetaObject::Connection watching = connect(
        runner, &jobs::JobRunner::jobFinished, runner, [&](const QString &jobId) { finished = jobId; },
        Qt::DirectConnection);
    const auto unwatch = qScopeGuard([&] { disconnect(watching); }); // before `finished` goes

    const QList<QJsonObject> leads{
        {{u"first_name"_s, u"Ann"_s}, {u"last_name"_s, u"Lee"_s}, {u"domain"_s, u"ok.test"_s}},
        {{u"first_name"_s, u"Bo"_s}, {u"last_name"_s, u"Ray"_s}, {u"domain"_s, u"ok.test"_s}},
    };
    const auto created = engine->jobs().createFindJob(&key->info, leads);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    runner->wake();
    QVERIFY(QTest::qWaitFor(
        [&] {
            QMutexLocker locked(&lock);
            return answers.size() == 2;
        },
        10000));
    // The first answer waits for company; the second, the job's last, is written with it.
    auto answer = [&](std::size_t i, bool *endedMeanwhile) {
        bool ran = false;
        QMetaObject::invokeMethod(
            runner,
            [&] {
                answers.at(i)();
                if (endedMeanwhile)
                    *endedMeanwhile = finished == created.jobId;
                ran = true;
            },
            Qt::BlockingQueuedConnection);
        return ran;
    };
    QVERIFY(answer(0, nullptr));
    QVERIFY(answer(1, &finishedDuringAnswer));
    QVERIFY(finishedDuringAnswer);
    QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), u"completed"_s);
}

void TestJobs::listsExportAsGiven()
{
    const auto engine = startEngine(true);
    QVERIFY(engine);
    // Written as UTF-8 straight from the stored text: non-ASCII cells, quotes and delimiters, a ragged row,
    // formulas neutralised, a result that needs QJsonDocument to read (an escaped quote in the address).
    const QStringList header{u"Name"_s, u"E-mail"_s, u"Note"_s};
    const QList<QStringList> rows{{u"Zoë Ünal"_s, u"zoë@ok.test"_s, u"Straße, \"quoted\" ✓"_s},
                                  {u"Ragged"_s, u"ragged@ok.test"_s},
                                  {u"=cmd"_s, u"x@ok.test"_s, u"-1"_s},
                                  {u"Quote"_s, u"\"q\"@ok.test"_s, u"a"_s + QChar(0x1f) + u"b"_s}};
    const auto created = engine->listStore().create(u"export.csv"_s, header, rows, 1, core::Mode::Quick, {});
    QVERIFY(!created.jobId.isEmpty());
    engine->jobRunner()->wake();
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 10000));
    QTemporaryDir dir;
    const QString path = dir.filePath(u"out.csv"_s);
    QString error;
    QCOMPARE(engine->listStore().exportCsv(created.jobId, path, {}, &error), 4);
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray bytes = file.readAll();
    const QList<QStringList> records = core::csv::parse(QString::fromUtf8(bytes), u',');
    QCOMPARE(records.size(), 5);
    QCOMPARE(records.at(0), header + jobs::ListStore::resultColumns());
    const QJsonArray results = engine->jobs().results(created.jobId);
    const QStringList resultColumns = jobs::ListStore::resultColumns();
    for (int r = 0; r < 4; ++r) {
        const QStringList &record = records.at(r + 1);
        QCOMPARE(record.size(), header.size() + resultColumns.size());
        // Each result column as the stored result has it.
        const QJsonObject result = results.at(r).toObject();
        QCOMPARE(record.at(header.size() + 1), result.value(u"status"_s).toString());
        QCOMPARE(record.at(header.size() + 2), QString::number(result.value(u"quality_score"_s).toInt()));
        QCOMPARE(record.at(header.size() + 3), result.value(u"reason"_s).toString());
    }
    QCOMPARE(records.at(1).mid(0, 4),
             (QStringList{u"Zoë Ünal"_s, u"zoë@ok.test"_s, u"Straße, \"quoted\" ✓"_s, u"zoë@ok.test"_s}));
    QCOMPARE(records.at(2).mid(0, 4),
             (QStringList{u"Ragged"_s, u"ragged@ok.test"_s, QString(), u"ragged@ok.test"_s}));
    QCOMPARE(records.at(3).mid(0, 3), (QStringList{u"'=cmd"_s, u"x@ok.test"_s, u"'-1"_s}));
    QCOMPARE(records.at(4).mid(0, 4),
             (QStringList{u"Quote"_s, u"\"q\"@ok.test"_s, u"a b"_s, u"\"q\"@ok.test"_s}));
    // Deliverable only and chosen columns.
    jobs::ListStore::ExportOptions narrow;
    narrow.columns = {u"status"_s, u"email"_s};
    narrow.originalColumns = false;
    QCOMPARE(engine->listStore().exportCsv(created.jobId, path, narrow, &error), 4);
    QVERIFY(file.seek(0));
    file.close();
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QList<QStringList> narrowRecords = core::csv::parse(QString::fromUtf8(file.readAll()), u',');
    QCOMPARE(narrowRecords.at(0), (QStringList{u"email"_s, u"status"_s})); // in the export's own order
    QCOMPARE(narrowRecords.at(1),
             (QStringList{u"zoë@ok.test"_s, results.at(0).toObject().value(u"status"_s).toString()}));
}

void TestJobs::listsKeepTheirFile()
{
    const auto engine = startEngine(true);
    QVERIFY(engine);
    const QStringList header{u"Name"_s, u"E-mail"_s, u"Note"_s};
    const QList<QStringList> rows{{u"Ann"_s, u"ann@ok.test"_s, u"=1+1"_s},
                                  {u"Nobody"_s, QString(), u"no address"_s},
                                  {u"Ann again"_s, u" ANN@ok.test"_s, u"a"_s + QChar(0x1f) + u"b"_s},
                                  {u"Bad"_s, u"bad@@x"_s, QString()}};
    QList<int> percents;
    const auto created = engine->listStore().create(u"leads.csv"_s, header, rows, 1, core::Mode::Quick, {},
                                                    [&](int p) { percents.append(p); });
    QVERIFY(!percents.isEmpty());
    QCOMPARE(percents.last(), 100);
    QVERIFY(std::is_sorted(percents.cbegin(), percents.cend()));
    QVERIFY(!created.jobId.isEmpty());
    QCOMPARE(created.rows, 4);
    QCOMPARE(created.withoutAddress, 1);
    QCOMPARE(created.duplicates, 1);
    engine->jobRunner()->wake();
    QVERIFY(waitForStatus(*engine, created.jobId, u"completed"_s, 10000));

    const auto info = engine->listStore().info(created.jobId);
    QVERIFY(info);
    QCOMPARE(info->name, u"leads.csv"_s);
    QCOMPARE(info->header, header);
    QCOMPARE(info->addressColumn, 1);
    QCOMPARE(info->rowsWithoutAddress, 1);
    QCOMPARE(info->summary.total, 4);
    QCOMPARE(engine->listStore().all().first().jobId, created.jobId);
    QCOMPARE(engine->listStore().addresses(created.jobId),
             (QStringList{u"ann@ok.test"_s, QString(), u"ANN@ok.test"_s, u"bad@@x"_s}));
    QList<QStringList> stored = rows;
    stored[2][2] = u"a b"_s; // the separator inside a cell became a space
    stored[3][2] = QString();
    QCOMPARE(engine->listStore().originalRows(created.jobId), stored);

    qint64 latest = 0;
    const QList<jobs::ListRow> done = engine->listStore().doneSince(created.jobId, 0, &latest);
    QCOMPARE(done.size(), 4);
    QVERIFY(latest > 0);
    QHash<int, jobs::ListRow> byPosition;
    for (const jobs::ListRow &r : done)
        byPosition.insert(r.position, r);
    QCOMPARE(byPosition.value(0).status, qint8(core::Status::Risky));
    QVERIFY(byPosition.value(0).score >= 50);
    QCOMPARE(byPosition.value(1).status, qint8(core::Status::Error));
    QCOMPARE(byPosition.value(2).status,
             qint8(core::Status::Risky)); // the duplicate, answered with the first
    QCOMPARE(byPosition.value(3).reason, qint8(core::Reason::InvalidSyntax));
    QVERIFY(engine->listStore().doneSince(created.jobId, latest, nullptr).isEmpty()); // nothing newer
    QCOMPARE(engine->listStore().result(created.jobId, 0).value(u"email"_s).toString(), u"ann@ok.test"_s);
}

void TestJobs::listsPauseResumeCancelAndDelete()
{
    const auto engine = startEngine(false);
    QVERIFY(engine);
    const auto created = engine->listStore().create(
        u"l"_s, {u"email"_s}, {{u"a@ok.test"_s}, {u"b@ok.test"_s}, {u"c@ok.test"_s}}, 0, core::Mode::Quick);
    QVERIFY(engine->jobs().setPaused(created.jobId, true));
    QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), u"paused"_s);
    QVERIFY(engine->jobs().lease(10, 300, {}, {jobs::KindVerify}).isEmpty()); // nothing leased while paused
    QVERIFY(engine->jobs().setPaused(created.jobId, false));
    QCOMPARE(engine->jobs().lease(1, 300, {}, {jobs::KindVerify}).size(), 1);
    QVERIFY(engine->jobs().cancel(created.jobId, nullptr));
    QCOMPARE(jobs::toString(engine->jobs().summary(created.jobId)->status), u"cancelled"_s);
    QVERIFY(engine->jobs().remove(created.jobId));
    QVERIFY(!engine->jobs().summary(created.jobId));
    QVERIFY(!engine->listStore().info(created.jobId));
    QVERIFY(engine->listStore().originalRows(created.jobId).isEmpty()); // its rows went with it
}

void TestJobs::listsStreamFromTheirFile()
{
    // A file read row by row into a list, in batches (45,000 rows: three batches): the same list as from
    // rows in memory, ragged rows naming their extra columns, and a read that fails halfway stores nothing.
    const auto engine = startEngine(false);
    QVERIFY(engine);
    QTemporaryDir dir;
    const QString path = dir.filePath(u"big.csv"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("email;name\r\n");
    for (int i = 0; i < 45000; ++i)
        f.write(QByteArray("user") + QByteArray::number(i % 40000) + "@d" + QByteArray::number(i % 5) +
                ".test;\"Name " + QByteArray::number(i) + "\"" + (i == 4321 ? ";extra;more" : "") + "\r\n");
    f.write(";nobody\r\n");
    f.close();
    const QList<QStringList> preview = core::csv::readFirstRecords(path, 10, nullptr);
    bool header = false;
    QCOMPARE(core::csv::guessAddressColumn(preview, &header), 0);
    QVERIFY(header);
    core::csv::Reader reader(path);
    QVERIFY(reader.open());
    std::atomic<int> percent = 0;
    const auto created = engine->listStore().create(u"big.csv"_s, preview.first(),
                                                    jobs::ListStore::fromReader(reader, true, &percent), 0,
                                                    core::Mode::Quick, {}, u"Column %1"_s);
    QVERIFY(!created.jobId.isEmpty());
    QCOMPARE(percent.load(), 100);
    QCOMPARE(created.rows, 45001);
    QCOMPARE(created.withoutAddress, 1);
    QCOMPARE(created.duplicates, 5000); // user0..user4999 come twice (i and i + 40000, same domain)
    const auto info = engine->listStore().info(created.jobId);
    QVERIFY(info);
    QCOMPARE(info->header, (QStringList{u"email"_s, u"name"_s, u"Column 3"_s, u"Column 4"_s}));
    QCOMPARE(info->summary.total, 45001);
    const QStringList addresses = engine->listStore().addresses(created.jobId);
    QCOMPARE(addresses.size(), 45001);
    QCOMPARE(addresses.at(4321), u"user4321@d1.test"_s);
    const QList<QStringList> rows = engine->listStore().originalRows(created.jobId);
    QCOMPARE(rows.at(4321), (QStringList{u"user4321@d1.test"_s, u"Name 4321"_s, u"extra"_s, u"more"_s}));
    QCOMPARE(rows.last(), (QStringList{QString(), u"nobody"_s}));
    // On SQLite the import's transaction kept its statement journals in memory and waited for the disk
    // (temp_store MEMORY, synchronous FULL): both as before once it is over.
    if (engine->database().dialect() == storage::Dialect::SQLite) {
        QSqlQuery pragma(engine->database().connection());
        QVERIFY(pragma.exec(u"SELECT (SELECT temp_store FROM pragma_temp_store), "
                            "(SELECT synchronous FROM pragma_synchronous)"_s));
        QVERIFY(pragma.next());
        QCOMPARE(pragma.value(0).toInt(), 0); // DEFAULT
        QCOMPARE(pragma.value(1).toInt(), 1); // NORMAL
    }

    // A source failing after 30,000 rows (a file that cannot be read to its end): no job, no rows.
    const int jobsBefore = int(engine->listStore().all().size());
    int served = 0;
    const auto failed = engine->listStore().create(
        u"broken.csv"_s, {u"email"_s},
        [&](QStringList *row) {
            if (served == 30000)
                return jobs::ListStore::Read::Failed;
            *row = QStringList{u"x%1@d0.test"_s.arg(served++)};
            return jobs::ListStore::Read::Row;
        },
        0, core::Mode::Quick);
    QVERIFY(failed.jobId.isEmpty());
    QCOMPARE(int(engine->listStore().all().size()), jobsBefore);
    QSqlQuery count(engine->database().connection());
    QVERIFY(count.exec(u"SELECT (SELECT COUNT(*) FROM job_items), (SELECT COUNT(*) FROM list_rows)"_s));
    QVERIFY(count.next());
    QCOMPARE(count.value(0).toInt(), 45001);
    QCOMPARE(count.value(1).toInt(), 45001);
}

void TestJobs::listRefusedMidwayStopsReading()
{
    // Rows are read on a thread of their own, ahead of the ones being stored. A database refusing a batch
    // halfway (a trigger here) stores nothing, and the reading stops there too: from a source that never
    // ends, create() returns, having read at most a few batches beyond the refused one.
    const auto engine = startEngine(false);
    QVERIFY(engine);
    const bool sqlite = engine->database().dialect() == storage::Dialect::SQLite;
    QSqlQuery trigger(engine->database().connection());
    if (sqlite) {
        QVERIFY(
            trigger.exec(u"CREATE TRIGGER refuse_rows BEFORE INSERT ON list_rows WHEN NEW.position >= 12000 "
                         "BEGIN SELECT RAISE(ABORT, 'refused'); END"_s));
    } else {
        QVERIFY2(trigger.exec(
                     u"CREATE FUNCTION refuse_rows() RETURNS trigger AS $$ BEGIN IF NEW.position >= "
                     "12000 THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"_s),
                 qPrintable(trigger.lastError().text()));
        QVERIFY(trigger.exec(u"CREATE TRIGGER refuse_rows BEFORE INSERT ON list_rows FOR EACH ROW EXECUTE "
                             "FUNCTION refuse_rows()"_s));
    }
    std::atomic<int> served = 0;
    const auto refused = engine->listStore().create(
        u"endless.csv"_s, {u"email"_s},
        [&](QStringList *row) {
            *row = QStringList{u"x%1@d0.test"_s.arg(served++)};
            return jobs::ListStore::Read::Row;
        },
        0, core::Mode::Quick);
    QVERIFY(refused.jobId.isEmpty());
    QVERIFY2(served.load() < 60000, qPrintable(QString::number(served.load())));
    QSqlQuery count(engine->database().connection());
    QVERIFY(count.exec(u"SELECT (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM job_items), "
                       "(SELECT COUNT(*) FROM list_rows)"_s));
    QVERIFY(count.next());
    QCOMPARE(count.value(0).toInt(), 0);
    QCOMPARE(count.value(1).toInt(), 0);
    QCOMPARE(count.value(2).toInt(), 0);

    // Once the database takes rows again, the same source is stored up to where it ends.
    QVERIFY(
        trigger.exec(sqlite ? u"DROP TRIGGER refuse_rows"_s : u"DROP TRIGGER refuse_rows ON list_rows"_s));
    int left = 20001;
    const auto stored = engine->listStore().create(
        u"finite.csv"_s, {u"email"_s},
        [&](QStringList *row) {
            if (left == 0)
                return jobs::ListStore::Read::End;
            *row = QStringList{u"y%1@d1.test"_s.arg(left--)};
            return jobs::ListStore::Read::Row;
        },
        0, core::Mode::Quick);
    QVERIFY(!stored.jobId.isEmpty());
    QCOMPARE(stored.rows, 20001);
    QCOMPARE(engine->listStore().addresses(stored.jobId).size(), 20001);
}

QTEST_GUILESS_MAIN(TestJobs)
#include "tst_jobs.moc"
