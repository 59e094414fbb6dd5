// Nothing lost, nothing charged twice: a real headless server, killed with SIGKILL at a random moment
// while a bulk job is being submitted and worked on, then started again on the same data folder, over and
// over. At the end the database passes SQLite's integrity check, every job accepted has every item
// answered once, every job was charged once for exactly its items, the monthly totals match the ledger,
// and every submission retried with its Idempotency-Key became exactly one job.
//
// 10 rounds in the test suite; MAILCAFF_DURABILITY_ROUNDS=200 build/tests/tst_app_durability for the long
// run.
#include "dnstestserver.h"
#include "headlessserver.h"
#include "httptestclient.h"
#include "storage/database.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

namespace {
constexpr int Domains = 40;
constexpr int ItemsPerJob = 120;
} // namespace

class TestDurability : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void killedAtRandomLosesNothing();

private:
    /// Submits a job (quick mode, Idempotency-Key `idempotency`) without waiting for the answer.
    QNetworkReply *submit(const QUrl &base, const QByteArray &key, const QString &idempotency, int round);

    DnsTestServer m_dns;
    QNetworkAccessManager m_nam;
};

void TestDurability::initTestCase()
{
    QVERIFY(m_dns.listen());
    for (int d = 0; d < Domains; ++d)
        m_dns.addMx(u"d%1.test"_s.arg(d), 10, u"mx.d%1.test"_s.arg(d));
    m_dns.setDefaultDelay(30); // so that a kill lands while items are in flight
}

QNetworkReply *TestDurability::submit(const QUrl &base, const QByteArray &key, const QString &idempotency,
                                      int round)
{
    QJsonArray emails;
    for (int i = 0; i < ItemsPerJob; ++i)
        emails.append(u"r%1.u%2@d%3.test"_s.arg(round).arg(i).arg(i % Domains));
    QUrl url = base;
    url.setPath(u"/api/v1/verify/bulk"_s);
    QNetworkRequest request(url);
    request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
    request.setRawHeader("Authorization", "Bearer " + key);
    request.setRawHeader("Idempotency-Key", idempotency.toUtf8());
    return m_nam.post(request,
                      QJsonDocument(QJsonObject{{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}}).toJson());
}

void TestDurability::killedAtRandomLosesNothing()
{
    const int rounds = qEnvironmentVariableIsSet("MAILCAFF_DURABILITY_ROUNDS")
                           ? qEnvironmentVariableIntValue("MAILCAFF_DURABILITY_ROUNDS")
                           : 10;
    const QString binary = QStringLiteral(MAILCAFF_BINARY);
    QTemporaryDir data;
    const QStringList options{u"--dns-server"_s, m_dns.serverString(), u"--job-concurrency"_s, u"50"_s};
    HeadlessServer server;
    server.setDataDir(data.path());
    QString error;
    QRandomGenerator random(20261127);
    QElapsedTimer clock;
    clock.start();
    int killedWhileSubmitting = 0;
    for (int round = 0; round < rounds; ++round) {
        QVERIFY2(server.start(binary, options, &error), qPrintable(error));
        const QString idempotency = u"round-%1"_s.arg(round);
        QNetworkReply *reply = submit(server.base(), server.key(), idempotency, round);
        // Anywhere from before the job is stored (a third of the rounds: the first milliseconds) to well into
        // its work (about 100 ms).
        QTest::qWait(int(round % 3 == 0 ? random.bounded(0, 6) : random.bounded(0, 250)));
        const bool answered = reply->isFinished() && reply->error() == QNetworkReply::NoError;
        server.kill();
        reply->abort();
        reply->deleteLater();
        if (!answered)
            ++killedWhileSubmitting;
    }
    // Once more, to the end: the client retries every submission whose answer it did not see (all of them:
    // the same Idempotency-Key must not make a second job, or charge twice).
    QVERIFY2(server.start(binary, options, &error), qPrintable(error));
    ApiClient api(server.base());
    QStringList jobIds;
    for (int round = 0; round < rounds; ++round) {
        QNetworkReply *reply = submit(server.base(), server.key(), u"round-%1"_s.arg(round), round);
        QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 30000);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        const QByteArray body = reply->readAll();
        QVERIFY2(status == 202 || status == 200, body.constData());
        jobIds.append(QJsonDocument::fromJson(body).object().value(u"job_id"_s).toString());
        QVERIFY2(!jobIds.last().isEmpty(), body.constData());
        reply->deleteLater();
    }
    for (const QString &id : std::as_const(jobIds))
        QTRY_COMPARE_WITH_TIMEOUT(
            api.get(u"/api/v1/verify/bulk/"_s + id, server.key()).json.value(u"status"_s).toString(),
            u"completed"_s, 60000);
    server.stop();
    qInfo("%d rounds (%d killed before the submission was answered) in %lld ms", rounds,
          killedWhileSubmitting, clock.elapsed());

    storage::Database db;
    QVERIFY2(db.open(QDir(data.path()).filePath(u"mailcaff.sqlite"_s), &error), qPrintable(error));
    QSqlQuery q(db.connection());
    QVERIFY(q.exec(u"PRAGMA integrity_check"_s) && q.next());
    QCOMPARE(q.value(0).toString(), u"ok"_s);
    // One job per submission, whatever number of times it was sent.
    QVERIFY(q.exec(u"SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM jobs"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), rounds);
    QCOMPARE(q.value(1).toInt(), rounds);
    QCOMPARE(QSet<QString>(jobIds.cbegin(), jobIds.cend()).size(), rounds);
    // Every item answered, none left behind or twice.
    QVERIFY(
        q.exec(
            u"SELECT COUNT(*) FROM job_items WHERE state != 'done' OR status IS NULL OR result IS NULL"_s) &&
        q.next());
    QCOMPARE(q.value(0).toInt(), 0);
    QVERIFY(q.exec(u"SELECT COUNT(*), COUNT(DISTINCT job || ' ' || position) FROM job_items"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), rounds * ItemsPerJob);
    QCOMPARE(q.value(1).toInt(), rounds * ItemsPerJob);
    // Each job charged once, for its items; the monthly totals are the ledger's sums.
    QVERIFY(q.exec(u"SELECT j.id, j.total, COUNT(l.id), COALESCE(SUM(l.amount), 0) FROM jobs j LEFT JOIN "
                   "credit_ledger l ON l.reference = 'job:' || j.id GROUP BY j.id"_s));
    int jobs = 0;
    while (q.next()) {
        ++jobs;
        QCOMPARE(q.value(2).toInt(), 1);
        QCOMPARE(q.value(3).toInt(), q.value(1).toInt());
        QCOMPARE(q.value(1).toInt(), ItemsPerJob);
    }
    QCOMPARE(jobs, rounds);
    QVERIFY(q.exec(u"SELECT COUNT(*) FROM credit_usage u WHERE used != (SELECT COALESCE(SUM(amount), 0) FROM "
                   "credit_ledger l WHERE l.key_id = u.key_id AND l.month = u.month)"_s) &&
            q.next());
    QCOMPARE(q.value(0).toInt(), 0);
    QVERIFY(q.exec(u"SELECT COALESCE(SUM(amount), 0) FROM credit_ledger"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), rounds * ItemsPerJob);
}

QTEST_GUILESS_MAIN(TestDurability)
#include "tst_app_durability.moc"
