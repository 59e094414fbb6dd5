// Monthly credits: plans, carry-over (spent first, capped at one month of the plan), month boundaries with
// an injected clock, all-or-nothing takes, references charged once, and atomic takes under contention.
#include "accounts/credits.h"
#include "storage/database.h"
#include "testdatabase.h"

#include <QSqlQuery>
#include <QtConcurrent>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>

using namespace mailcaff;
using namespace mailcaff::accounts;
using namespace Qt::StringLiterals;

class TestCredits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();
    void plans_data();
    void plans();
    void allOrNothing();
    void referenceChargedOnce();
    void refundGivesBack();
    void carryOver();
    void carryIsSpentFirstAndExpires();
    void monthWithNoUse();
    void lastSecondOfAMonth();
    void leapYear();
    void concurrentTakesAreAtomic();
    void takeAllAnswersEachInOrder();
    void planChangesKeepPastMonths();
    void upgradeTakesEffectAtOnce();

private:
    ApiKeyInfo key(Plan plan, const QDateTime &created);
    Credits credits()
    {
        return Credits(*m_db, [this] { return m_now; });
    }

    std::unique_ptr<QTemporaryDir> m_dir;
    std::unique_ptr<test::TestDatabases> m_dbs;
    std::unique_ptr<storage::Database> m_db;
    QDateTime m_now;
};

static QDateTime utc(int y, int m, int d, int h = 12, int min = 0, int s = 0)
{
    return QDateTime(QDate(y, m, d), QTime(h, min, s), Qt::UTC);
}

void TestCredits::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    m_dbs = std::make_unique<test::TestDatabases>();
    m_db = std::make_unique<storage::Database>();
    QString error;
    const QString at = m_dbs->create(m_dir->path(), u"c"_s, &error);
    QVERIFY2(m_db->open(at, &error), qPrintable(error));
    m_now = utc(2026, 3, 15);
}

void TestCredits::cleanup()
{
    m_db.reset();
    m_dbs.reset();
    m_dir.reset();
}

ApiKeyInfo TestCredits::key(Plan plan, const QDateTime &created)
{
    ApiKeys keys(*m_db);
    auto k = keys.create(u"k"_s, plan);
    if (!k)
        return {};
    ApiKeyInfo info = k->info;
    info.createdAt = created;
    return info;
}

void TestCredits::plans_data()
{
    QTest::addColumn<int>("plan");
    QTest::addColumn<int>("credits");
    QTest::addRow("free") << int(Plan::Free) << 600;
    QTest::addRow("starter") << int(Plan::Starter) << 10000;
    QTest::addRow("growth") << int(Plan::Growth) << 50000;
    QTest::addRow("scale") << int(Plan::Scale) << 250000;
}

void TestCredits::plans()
{
    QFETCH(int, plan);
    QFETCH(int, credits);
    const ApiKeyInfo k = key(Plan(plan), m_now);
    const auto u = this->credits().usage(k);
    QVERIFY(u);
    QCOMPARE(u->monthlyLimit, credits);
    QCOMPARE(u->remaining, credits);
    QCOMPARE(u->carriedOver, 0);
    QCOMPARE(u->resetsAt, utc(2026, 4, 1, 0));
}

void TestCredits::allOrNothing()
{
    const ApiKeyInfo k = key(Plan::Free, m_now);
    Credits c = credits();
    QVERIFY(c.take(k, 590, u"bulk"_s).ok);
    const auto refused = c.take(k, 11, u"bulk"_s);
    QVERIFY(!refused.ok);
    QVERIFY(!refused.failed);
    QCOMPARE(refused.usage.monthlyUsed, 590); // nothing of the 11 was taken
    QVERIFY(c.take(k, 10, u"bulk"_s).ok);
    QCOMPARE(c.usage(k)->remaining, 0);
    QVERIFY(!c.take(k, 1, u"verify"_s).ok);
}

void TestCredits::referenceChargedOnce()
{
    const ApiKeyInfo k = key(Plan::Free, m_now);
    Credits c = credits();
    QVERIFY(c.take(k, 1, u"job item"_s, u"job-1/item-7"_s).ok);
    QVERIFY(c.take(k, 1, u"job item"_s, u"job-1/item-7"_s).ok); // a resumed job asks again
    QCOMPARE(c.usage(k)->monthlyUsed, 1);
}

void TestCredits::refundGivesBack()
{
    const ApiKeyInfo k = key(Plan::Free, m_now);
    Credits c = credits();
    QVERIFY(c.take(k, 100, u"bulk"_s).ok);
    QVERIFY(c.refund(k, 40, u"cancelled"_s));
    QCOMPARE(c.usage(k)->monthlyUsed, 60);
}

void TestCredits::carryOver()
{
    // Starter: 10,000. January uses 4,000: February carries 6,000, limit 16,000.
    const ApiKeyInfo k = key(Plan::Starter, utc(2026, 1, 5));
    m_now = utc(2026, 1, 20);
    QVERIFY(credits().take(k, 4000, u"bulk"_s).ok);
    m_now = utc(2026, 2, 2);
    auto u = credits().usage(k);
    QCOMPARE(u->carriedOver, 6000);
    QCOMPARE(u->monthlyLimit, 16000);
    QCOMPARE(u->monthlyUsed, 0);
    QCOMPARE(u->remaining, 16000);
}

void TestCredits::carryIsSpentFirstAndExpires()
{
    // February has 6,000 carried + 10,000: it uses 7,000 (6,000 carried + 1,000 of the plan), so March
    // carries 9,000, not the 9,000 + unused carry.
    const ApiKeyInfo k = key(Plan::Starter, utc(2026, 1, 5));
    m_now = utc(2026, 1, 20);
    QVERIFY(credits().take(k, 4000, u"bulk"_s).ok);
    m_now = utc(2026, 2, 10);
    QVERIFY(credits().take(k, 7000, u"bulk"_s).ok);
    m_now = utc(2026, 3, 1, 0, 0, 1);
    auto u = credits().usage(k);
    QCOMPARE(u->carriedOver, 9000);
    // A month that spends less than its carry passes on the whole plan, never more (cap: 1× plan).
    m_now = utc(2026, 3, 5);
    QVERIFY(credits().take(k, 100, u"verify"_s).ok);
    m_now = utc(2026, 4, 5);
    QCOMPARE(credits().usage(k)->carriedOver, 10000);
    QCOMPARE(credits().usage(k)->monthlyLimit, 20000);
}

void TestCredits::monthWithNoUse()
{
    const ApiKeyInfo k = key(Plan::Free, utc(2025, 11, 3));
    m_now = utc(2026, 2, 14); // November, December, January unused
    const auto u = credits().usage(k);
    QCOMPARE(u->carriedOver, 600);
    QCOMPARE(u->monthlyLimit, 1200);
}

void TestCredits::lastSecondOfAMonth()
{
    const ApiKeyInfo k = key(Plan::Free, utc(2026, 5, 1));
    m_now = utc(2026, 5, 31, 23, 59, 59);
    QVERIFY(credits().take(k, 600, u"bulk"_s).ok);
    QVERIFY(!credits().take(k, 1, u"verify"_s).ok);
    QCOMPARE(credits().usage(k)->resetsAt, utc(2026, 6, 1, 0));
    m_now = utc(2026, 6, 1, 0, 0, 0); // the next second: a new month, nothing carried
    const auto u = credits().usage(k);
    QCOMPARE(u->monthlyUsed, 0);
    QCOMPARE(u->carriedOver, 0);
    QVERIFY(credits().take(k, 1, u"verify"_s).ok);
}

void TestCredits::leapYear()
{
    const ApiKeyInfo k = key(Plan::Free, utc(2028, 2, 1));
    m_now = utc(2028, 2, 29, 23, 59, 59);
    QVERIFY(credits().take(k, 100, u"verify"_s).ok);
    QCOMPARE(credits().usage(k)->resetsAt, utc(2028, 3, 1, 0));
    m_now = utc(2028, 3, 1, 0, 0, 0);
    QCOMPARE(credits().usage(k)->carriedOver, 500);
    QCOMPARE(Credits::monthOf(utc(2028, 2, 29)), u"2028-02"_s);
}

void TestCredits::concurrentTakesAreAtomic()
{
    // 200 takers on 10 remaining credits, from a pool of threads (each its own SQLite connection).
    const ApiKeyInfo k = key(Plan::Free, m_now);
    QVERIFY(credits().take(k, 590, u"bulk"_s).ok);
    std::atomic<int> ok{0};
    std::atomic<int> refused{0};
    std::atomic<int> failed{0};
    QList<int> takers(200);
    QThreadPool pool;
    pool.setMaxThreadCount(8);
    QtConcurrent::blockingMap(&pool, takers, [&](int) {
        Credits c(*m_db, [this] { return m_now; });
        const auto r = c.take(k, 1, u"verify"_s);
        (r.failed ? failed : r.ok ? ok : refused)++;
    });
    QCOMPARE(ok.load(), 10);
    QCOMPARE(refused.load(), 190);
    QCOMPARE(failed.load(), 0);
    QCOMPARE(credits().usage(k)->monthlyUsed, 600);
}

void TestCredits::takeAllAnswersEachInOrder()
{
    // Two keys in one transaction: each charge sees the ones before it, as if taken one by one.
    const ApiKeyInfo a = key(Plan::Free, m_now);
    const ApiKeyInfo b = key(Plan::Free, m_now);
    Credits c = credits();
    QVERIFY(c.take(a, 597, u"bulk"_s).ok); // 3 left
    QList<Credits::Charge> charges;
    for (int i = 0; i < 5; ++i) {
        charges.append({a, 1, u"verify"_s});
        charges.append({b, 2, u"find"_s});
    }
    charges.append({a, 5, u"bulk"_s}); // more than is left: refused, nothing taken
    const QList<Credits::Result> r = c.takeAll(charges);
    QCOMPARE(r.size(), charges.size());
    int takenA = 0;
    for (qsizetype i = 0; i < r.size(); ++i) {
        QVERIFY(!r.at(i).failed);
        if (charges.at(i).key.id == a.id) {
            QCOMPARE(r.at(i).ok, takenA < 3 && charges.at(i).amount == 1);
            takenA += r.at(i).ok;
            QCOMPARE(r.at(i).usage.monthlyUsed, 597 + takenA);
            QCOMPARE(r.at(i).usage.remaining, 3 - takenA);
        } else {
            QVERIFY(r.at(i).ok);
            QCOMPARE(r.at(i).usage.monthlyUsed, int(i / 2 + 1) * 2);
        }
    }
    QCOMPARE(takenA, 3);
    QCOMPARE(c.usage(a)->monthlyUsed, 600);
    QCOMPARE(c.usage(b)->monthlyUsed, 10);
    // The batch's ledger: one row per key and reason, its amount what was taken (refusals leave none).
    QSqlQuery ledger(m_db->connection());
    QVERIFY(ledger.exec(
        u"SELECT key_id, reason, amount FROM credit_ledger WHERE reason != 'bulk' ORDER BY id"_s));
    QList<std::tuple<qint64, QString, int>> rows;
    while (ledger.next())
        rows.append({ledger.value(0).toLongLong(), ledger.value(1).toString(), ledger.value(2).toInt()});
    QCOMPARE(rows, (QList<std::tuple<qint64, QString, int>>{{a.id, u"verify"_s, 3}, {b.id, u"find"_s, 10}}));
    QVERIFY(c.takeAll({}).isEmpty());
}

void TestCredits::planChangesKeepPastMonths()
{
    // Starter from January, 4,000 used. Down to free in February: the carry is what January's plan left
    // (6,000), capped at one month of the new plan (600).
    const ApiKeyInfo k = key(Plan::Starter, utc(2026, 1, 5));
    m_now = utc(2026, 1, 20);
    QVERIFY(credits().take(k, 4000, u"bulk"_s).ok);
    m_now = utc(2026, 2, 10);
    QVERIFY(credits().changePlan(k, Plan::Free));
    auto u = credits().usage(k); // `k` still says starter: the database knows better
    QCOMPARE(toString(u->plan), u"free"_s);
    QCOMPARE(u->planCredits, 600);
    QCOMPARE(u->carriedOver, 600);
    QCOMPARE(u->monthlyLimit, 1200);
    // Up to growth in March: February (free, nothing used) carries its 600; January still counted as starter.
    m_now = utc(2026, 3, 3);
    QVERIFY(credits().changePlan(k, Plan::Growth));
    u = credits().usage(k);
    QCOMPARE(u->planCredits, 50000);
    QCOMPARE(u->carriedOver, 600);
    // April: March's whole growth plan unused carries over, capped at one growth month.
    m_now = utc(2026, 4, 1, 0, 0, 0);
    u = credits().usage(k);
    QCOMPARE(toString(u->plan), u"growth"_s);
    QCOMPARE(u->carriedOver, 50000);
    QCOMPARE(u->monthlyLimit, 100000);
}

void TestCredits::upgradeTakesEffectAtOnce()
{
    const ApiKeyInfo k = key(Plan::Free, utc(2026, 3, 1));
    QVERIFY(credits().take(k, 600, u"bulk"_s).ok);
    QVERIFY(!credits().take(k, 1, u"verify"_s).ok);
    QVERIFY(credits().changePlan(k, Plan::Starter));
    const auto taken = credits().take(k, 1000, u"bulk"_s);
    QVERIFY(taken.ok);
    QCOMPARE(taken.usage.monthlyLimit, 10000);
    QCOMPARE(taken.usage.monthlyUsed, 1600);
    // A revoked key's plan does not change.
    ApiKeys keys(*m_db);
    QVERIFY(keys.revoke(k.id));
    QVERIFY(!credits().changePlan(k, Plan::Scale));
}

QTEST_GUILESS_MAIN(TestCredits)
#include "tst_credits.moc"
