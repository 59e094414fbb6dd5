// core::Deadlines: many single-shot deadlines on one Qt timer, with QTimer's start/stop/remainingTime.
#include "core/deadlines.h"

#include <QElapsedTimer>
#include <QRandomGenerator>
#include <QTest>

#include <memory>
#include <vector>

using namespace mailcaff::core;

class TestDeadlines : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void firesInOrderOfDueTimeNotOfStart();
    void stopAndRestart();
    void remainingTimeLikeQTimer();
    void callbackMayDestroyItsDeadlineAndStartAnother();
    void thousandsFireOnceEachInOrder();
    void destroyedDeadlinesLeaveTheQueue();
};

void TestDeadlines::firesInOrderOfDueTimeNotOfStart()
{
    Deadlines queue;
    QList<int> fired;
    Deadline a(queue, [&] { fired << 60; });
    Deadline b(queue, [&] { fired << 20; });
    Deadline c(queue, [&] { fired << 40; });
    a.start(60);
    b.start(20);
    c.start(40);
    QCOMPARE(queue.size(), std::size_t(3));
    QTRY_COMPARE_WITH_TIMEOUT(fired.size(), 3, 5000);
    QCOMPARE(fired, (QList<int>{20, 40, 60}));
    QVERIFY(!a.isActive() && !b.isActive() && !c.isActive());
    QCOMPARE(queue.size(), std::size_t(0));
}

void TestDeadlines::stopAndRestart()
{
    Deadlines queue;
    int early = 0;
    int late = 0;
    Deadline stopped(queue, [&] { ++early; });
    Deadline moved(queue, [&] { ++late; });
    Deadline marker(queue, [] {});
    stopped.start(10);
    stopped.stop();
    QVERIFY(!stopped.isActive());
    moved.start(10);
    moved.start(300); // restarted: the first time is gone
    marker.start(100);
    QTRY_VERIFY_WITH_TIMEOUT(!marker.isActive(), 5000);
    QCOMPARE(early, 0);
    QCOMPARE(late, 0); // due at 300 ms, not 10 ms
    QVERIFY(moved.isActive());
    QTRY_COMPARE_WITH_TIMEOUT(late, 1, 5000);
    QCOMPARE(early, 0);
    // Stopping twice, or a deadline never started, is harmless.
    stopped.stop();
    Deadline idle(queue, [] {});
    idle.stop();
    QCOMPARE(queue.size(), std::size_t(0));
}

void TestDeadlines::remainingTimeLikeQTimer()
{
    Deadlines queue;
    Deadline d(queue, [] {});
    QCOMPARE(d.remainingTime(), -1);
    d.start(60'000);
    QVERIFY(d.isActive());
    QVERIFY2(d.remainingTime() > 0 && d.remainingTime() <= 60'000,
             qPrintable(QString::number(d.remainingTime())));
    d.start(0);
    QCOMPARE(d.remainingTime(), 0); // due: overdue counts as 0, as with QTimer
    QTRY_VERIFY_WITH_TIMEOUT(!d.isActive(), 5000);
    QCOMPARE(d.remainingTime(), -1);
    d.start(-5); // a negative time is "now"
    QTRY_VERIFY_WITH_TIMEOUT(!d.isActive(), 5000);
}

void TestDeadlines::callbackMayDestroyItsDeadlineAndStartAnother()
{
    Deadlines queue;
    bool secondFired = false;
    auto second = std::make_unique<Deadline>(queue, [&] { secondFired = true; });
    std::unique_ptr<Deadline> first;
    // Due at the same time: the first one's callback destroys itself and restarts the second later.
    first = std::make_unique<Deadline>(queue, [&] {
        first.reset();
        second->start(500);
    });
    first->start(10);
    second->start(10);
    QTRY_VERIFY_WITH_TIMEOUT(!first, 5000);
    QVERIFY(second->isActive());
    QTRY_VERIFY_WITH_TIMEOUT(secondFired, 5000);
    QCOMPARE(queue.size(), std::size_t(0));
}

void TestDeadlines::thousandsFireOnceEachInOrder()
{
    Deadlines queue;
    constexpr int Count = 10'000;
    std::vector<std::unique_ptr<Deadline>> all;
    std::vector<qint64> due(Count); // since `clock` started, in milliseconds
    QList<int> fired;
    QRandomGenerator random(7);
    QElapsedTimer clock;
    clock.start();
    for (int i = 0; i < Count; ++i) {
        const int in = random.bounded(200);
        all.push_back(std::make_unique<Deadline>(queue, [&fired, i] { fired << i; }));
        due[std::size_t(i)] = clock.elapsed() + in;
        all.back()->start(in);
    }
    // A third of them stopped: they never fire.
    for (int i = 0; i < Count; i += 3)
        all[std::size_t(i)]->stop();
    const int expected = Count - (Count + 2) / 3;
    QCOMPARE(queue.size(), std::size_t(expected));
    QTRY_COMPARE_WITH_TIMEOUT(fired.size(), expected, 10'000);
    QSet<int> seen;
    for (qsizetype k = 0; k < fired.size(); ++k) {
        const int i = fired.at(k);
        QVERIFY2(i % 3 != 0, "a stopped deadline fired");
        QVERIFY2(!seen.contains(i), "a deadline fired twice");
        seen.insert(i);
        if (k > 0) // in order of their due times (give or take the millisecond the clocks round to)
            QVERIFY(due[std::size_t(fired.at(k - 1))] <= due[std::size_t(i)] + 2);
    }
}

void TestDeadlines::destroyedDeadlinesLeaveTheQueue()
{
    bool fired = false;
    auto queue = std::make_unique<Deadlines>();
    {
        Deadline gone(*queue, [&] { fired = true; });
        gone.start(10);
        QCOMPARE(queue->size(), std::size_t(1));
    }
    QCOMPARE(queue->size(), std::size_t(0));
    QTest::qWait(50);
    QVERIFY(!fired);
    // A deadline that outlives its queue is no longer running, and goes quietly (the sanitizer build
    // would catch a touch of the queue).
    Deadline orphan(*queue, [&] { fired = true; });
    orphan.start(1000);
    QVERIFY(orphan.isActive());
    queue.reset();
    QVERIFY(!orphan.isActive());
    QCOMPARE(orphan.remainingTime(), -1);
    orphan.stop();
    QVERIFY(!fired);
}

QTEST_GUILESS_MAIN(TestDeadlines)
#include "tst_deadlines.moc"
