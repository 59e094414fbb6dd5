// Several servers on one PostgreSQL database (README, "Running several servers"): two real headless
// processes share the bulk jobs submitted to one of them; one is killed (SIGKILL) in the middle; the other
// finishes: every item answered once, credits charged once, one webhook per job. Needs the PostgreSQL test
// server (tests/postgresql/setup, which installers/quickstart test runs).
#include "dnstestserver.h"
#include "headlessserver.h"
#include "httpsreceiver.h"
#include "httptestclient.h"
#include "storage/database.h"
#include "testdatabase.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

namespace {
const auto HookHost = u"hooks.test"_s;
constexpr int Jobs = 2; // the API takes up to 500 addresses a job: 1,000 items in two
constexpr int PerJob = 500;
} // namespace

class TestAppCluster : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void twoServersShareTheWorkAndSurviveOneDying();
    void migrateMovesADataFolderOntoTheServer();
    void lastCreditsGoOnceAcrossServers();

private:
    /// Items done per runner, and how many are still leased by `runner`.
    QHash<QString, int> doneByRunner();
    int leasedBy(const QString &runner);
    QString runnerOf(qint64 pid);

    DnsTestServer m_dns;
    HttpsReceiver m_hooks{{HookHost}};
    QTemporaryDir m_dir;
    TestDatabases m_dbs;
    QString m_location;
    storage::Database m_db; ///< the test's own view of the shared database
};

void TestAppCluster::initTestCase()
{
    QVERIFY(m_dns.listen());
    // 1,000 domains, each answered after 100 ms (a distant DNS server), so that the work takes several
    // seconds: the second server joins at its next poll (within a second) and dies in the middle of it.
    for (int i = 0; i < Jobs * PerJob; ++i) {
        m_dns.addMx(u"c%1.test"_s.arg(i), 10, u"mx.c%1.test"_s.arg(i));
        m_dns.addA(u"mx.c%1.test"_s.arg(i), u"127.0.0.1"_s);
    }
    m_dns.setDefaultDelay(100);
    m_dns.addA(HookHost, u"127.0.0.1"_s);
    QVERIFY2(m_hooks.listen(), qPrintable(m_hooks.errorString()));
    QString error;
    m_location = m_dbs.createPostgres(u"cluster"_s, &error);
    QVERIFY2(!m_location.isEmpty(), qPrintable(error));
    QVERIFY2(m_db.open(m_location, &error), qPrintable(error));
}

QHash<QString, int> TestAppCluster::doneByRunner()
{
    QHash<QString, int> out;
    QSqlQuery q(m_db.connection());
    if (q.exec(u"SELECT leased_by, COUNT(*) FROM job_items WHERE state = 'done' GROUP BY leased_by"_s))
        while (q.next())
            out.insert(q.value(0).toString(), q.value(1).toInt());
    return out;
}

int TestAppCluster::leasedBy(const QString &runner)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT COUNT(*) FROM job_items WHERE state = 'leased' AND leased_by = ?"_s);
    q.addBindValue(runner);
    return q.exec() && q.next() ? q.value(0).toInt() : -1;
}

QString TestAppCluster::runnerOf(qint64 pid)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT id FROM runners WHERE pid = ?"_s);
    q.addBindValue(pid);
    return q.exec() && q.next() ? q.value(0).toString() : QString();
}

void TestAppCluster::twoServersShareTheWorkAndSurviveOneDying()
{
    const QString pem = m_dir.filePath(u"hooks-ca.pem"_s);
    {
        QFile f(pem);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(m_hooks.certificate().toPem());
    }
    // Each server takes 10 items at a time, so that both get some of the work.
    const QStringList options{u"--dns-server"_s,
                              m_dns.serverString(),
                              u"--allow-private-targets"_s,
                              u"--job-concurrency"_s,
                              u"10"_s,
                              u"--webhook-ca"_s,
                              pem,
                              u"--shared-mx-limits"_s};
    HeadlessServer a, b;
    a.setDatabase(m_location);
    b.setDatabase(m_location);
    QString error;
    QVERIFY2(a.start(QStringLiteral(MAILCAFF_BINARY), options, &error), qPrintable(error));
    QVERIFY2(b.start(QStringLiteral(MAILCAFF_BINARY), options, &error), qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(!runnerOf(a.pid()).isEmpty() && !runnerOf(b.pid()).isEmpty(), 10000);
    const QString runnerA = runnerOf(a.pid());
    const QString runnerB = runnerOf(b.pid());

    ApiClient api(a.base());
    const QByteArray key = a.key();
    const QString hookUrl = u"https://%1:%2/hook"_s.arg(HookHost).arg(m_hooks.port());
    auto r = api.request("PUT", u"/api/v1/webhook"_s,
                         QJsonDocument(QJsonObject{{u"url"_s, hookUrl}}).toJson(), key);
    QVERIFY2(r.status == 200 || r.status == 201, r.body.constData());

    QStringList jobIds;
    for (int j = 0; j < Jobs; ++j) {
        QJsonArray emails;
        for (int i = 0; i < PerJob; ++i)
            emails.append(u"user%1@c%2.test"_s.arg(i).arg(j * PerJob + i));
        r = api.post(u"/api/v1/verify/bulk"_s, QJsonObject{{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}},
                     key);
        QCOMPARE(r.status, 202);
        jobIds.append(r.json.value(u"job_id"_s).toString());
    }

    // B works on A's jobs; once it has answered some, it dies in the middle of its leases.
    QTRY_VERIFY_WITH_TIMEOUT(doneByRunner().value(runnerB) >= 30, 60000);
    b.kill();
    QElapsedTimer recovery;
    recovery.start();
    const int orphaned = leasedBy(runnerB);
    // A notices (B's process is gone from this machine) and puts B's leases back in the queue.
    QTRY_COMPARE_WITH_TIMEOUT(leasedBy(runnerB), 0, 60000);
    qInfo("B killed with %d items leased; back in the queue after %lld ms", orphaned, recovery.elapsed());

    for (const QString &id : std::as_const(jobIds))
        QTRY_COMPARE_WITH_TIMEOUT(
            api.get(u"/api/v1/verify/bulk/"_s + id, key).json.value(u"status"_s).toString(), u"completed"_s,
            120000);
    qInfo("all done %lld ms after B died", recovery.elapsed());

    // Exactly 1,000 results, one per address, none an error; both servers did some of them.
    QSet<QString> answered;
    QString status;
    for (const QString &id : std::as_const(jobIds)) {
        const auto job = api.get(u"/api/v1/verify/bulk/"_s + id, key).json;
        QCOMPARE(job.value(u"total"_s).toInt(), PerJob);
        QCOMPARE(job.value(u"processed"_s).toInt(), PerJob);
        const QJsonArray results = job.value(u"results"_s).toArray();
        QCOMPARE(results.size(), PerJob);
        for (const QJsonValue &v : results) {
            const QJsonObject o = v.toObject();
            answered.insert(o.value(u"email"_s).toString());
            if (status.isEmpty())
                status = o.value(u"status"_s).toString();
            QCOMPARE(o.value(u"status"_s).toString(), status); // every domain is alike
        }
    }
    QCOMPARE(answered.size(), Jobs * PerJob);
    QVERIFY(status != "error"_L1 && !status.isEmpty());
    const QHash<QString, int> split = doneByRunner();
    qInfo("items done by A: %d, by B: %d", split.value(runnerA), split.value(runnerB));
    QVERIFY(split.value(runnerA) > 0);
    QVERIFY(split.value(runnerB) > 0);
    QCOMPARE(split.value(runnerA) + split.value(runnerB), Jobs * PerJob);

    // Charged once: 1,000 credits, taken when the jobs were accepted, nothing for the items done again.
    const auto account = api.get(u"/api/v1/account"_s, key).json;
    QCOMPARE(account.value(u"monthly_used"_s).toInt(), Jobs * PerJob);

    // One webhook per job, though both servers watched the deliveries until B died.
    QTRY_COMPARE_WITH_TIMEOUT(m_hooks.requestCount(), Jobs, 30000);
    QTest::qWait(2500); // a second delivery would be due by now
    QCOMPARE(m_hooks.requestCount(), Jobs);
    QSet<QString> hooked;
    for (const HttpsReceiver::Request &request : m_hooks.requests()) {
        const QJsonObject body = QJsonDocument::fromJson(request.body).object();
        QCOMPARE(body.value(u"event"_s).toString(), u"bulk_job.completed"_s);
        hooked.insert(body.value(u"job_id"_s).toString());
    }
    QCOMPARE(hooked, QSet<QString>(jobIds.cbegin(), jobIds.cend()));
}

void TestAppCluster::migrateMovesADataFolderOntoTheServer()
{
    // A team outgrowing one machine: the key its CRM uses, created on a single SQLite server, keeps working
    // against the shared database after `mailcaff db migrate`.
    const QString binary = QStringLiteral(MAILCAFF_BINARY);
    const QString folder = m_dir.filePath(u"single"_s);
    auto run = [&](const QStringList &args, QByteArray *output = nullptr) {
        QProcess p;
        p.start(binary, args);
        p.waitForFinished(60000);
        if (output)
            *output = p.readAllStandardOutput() + p.readAllStandardError();
        return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    };
    QByteArray output;
    QCOMPARE(run({u"keys"_s, u"create"_s, u"--name"_s, u"CRM"_s, u"--plan"_s, u"growth"_s, u"--data-dir"_s,
                  folder},
                 &output),
             0);
    const QByteArray key = output.trimmed().split('\n').last();
    QString error;
    const QString shared = m_dbs.createPostgres(u"migrated"_s, &error);
    QVERIFY2(!shared.isEmpty(), qPrintable(error));
    QCOMPARE(run({u"db"_s, u"migrate"_s, u"--data-dir"_s, folder, u"--to"_s, shared}, &output), 0);
    QVERIFY2(output.contains("api_keys: 1"), output.constData());
    // Again: refused, the shared database already has the data.
    QCOMPARE(run({u"db"_s, u"migrate"_s, u"--data-dir"_s, folder, u"--to"_s, shared}, &output), 1);
    QVERIFY2(output.contains("already holds data"), output.constData());

    HeadlessServer server;
    server.setDatabase(shared);
    QVERIFY2(server.start(binary, {u"--dns-server"_s, m_dns.serverString()}, &error), qPrintable(error));
    ApiClient api(server.base());
    const auto account = api.get(u"/api/v1/account"_s, key);
    QCOMPARE(account.status, 200);
    QCOMPARE(account.json.value(u"plan"_s).toString(), u"growth"_s);
}

void TestAppCluster::lastCreditsGoOnceAcrossServers()
{
    // One key, 10 credits left, 40 verifications at once through two servers: exactly 10 are answered.
    const QString binary = QStringLiteral(MAILCAFF_BINARY);
    QString error;
    const QString shared = m_dbs.createPostgres(u"credits"_s, &error);
    QVERIFY2(!shared.isEmpty(), qPrintable(error));
    QProcess keys;
    keys.start(binary, {u"keys"_s, u"create"_s, u"--name"_s, u"hammer"_s, u"--plan"_s, u"free"_s,
                        u"--database"_s, shared, u"--data-dir"_s, m_dir.filePath(u"hammer"_s)});
    QVERIFY(keys.waitForFinished(60000));
    QCOMPARE(keys.exitCode(), 0);
    const QByteArray key = keys.readAllStandardOutput().trimmed().split('\n').last();
    const QStringList options{u"--dns-server"_s, m_dns.serverString()};
    HeadlessServer a, b;
    a.setDatabase(shared);
    b.setDatabase(shared);
    QVERIFY2(a.start(binary, options, &error), qPrintable(error));
    QVERIFY2(b.start(binary, options, &error), qPrintable(error));
    // 590 of the free plan's 600 credits go to two bulk jobs.
    ApiClient api(a.base());
    for (int size : {500, 90}) {
        QJsonArray emails;
        for (int i = 0; i < size; ++i)
            emails.append(u"spent%1@c%1.test"_s.arg(i));
        QCOMPARE(api.post(u"/api/v1/verify/bulk"_s,
                          QJsonObject{{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}}, key)
                     .status,
                 202);
    }
    QCOMPARE(api.get(u"/api/v1/account"_s, key).json.value(u"remaining"_s).toInt(), 10);

    QNetworkAccessManager nam;
    QList<QNetworkReply *> replies;
    for (int i = 0; i < 40; ++i) {
        QUrl url = (i % 2 ? b : a).base();
        url.setPath(u"/api/v1/verify"_s);
        QNetworkRequest request(url);
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        request.setRawHeader("Authorization", "Bearer " + key);
        replies.append(nam.post(request, QJsonDocument(QJsonObject{{u"email"_s, u"last%1@c%1.test"_s.arg(i)},
                                                                   {u"mode"_s, u"quick"_s}})
                                             .toJson()));
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(replies.cbegin(), replies.cend(), [](const QNetworkReply *r) { return r->isFinished(); }),
        60000);
    QMap<int, int> statuses;
    for (QNetworkReply *r : std::as_const(replies)) {
        ++statuses[r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt()];
        r->deleteLater();
    }
    QCOMPARE(statuses.value(200), 10);
    QCOMPARE(statuses.value(429), 30);
    QCOMPARE(statuses.size(), 2);
    const auto account = api.get(u"/api/v1/account"_s, key).json;
    QCOMPARE(account.value(u"monthly_used"_s).toInt(), 600);
    QCOMPARE(account.value(u"remaining"_s).toInt(), 0);
}

QTEST_GUILESS_MAIN(TestAppCluster)
#include "tst_app_cluster.moc"
