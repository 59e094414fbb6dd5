// The window stays responsive while a big list runs: a list of 100,000 rows (MAILCAFF_RESPONSIVENESS_ROWS)
// runs in quick mode through the Lists page, offscreen, against a loopback DNS server, while a probe on the
// GUI thread measures how long the event loop goes without turning. The figures are printed; the test
// fails only on a real freeze (a gap of a second or more), not on timing noise of a shared machine.
#include "dnstestserver.h"
#include "engine.h"
#include "listmodel.h"
#include "listspage.h"
#include "testengine.h"

#include "core/csv.h"

#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QLabel>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace mailcaff;
using namespace Qt::StringLiterals;

class TestUiResponsiveness : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void bigListKeepsTheWindowResponsive();
};

void TestUiResponsiveness::bigListKeepsTheWindowResponsive()
{
    const int rows = qEnvironmentVariableIsSet("MAILCAFF_RESPONSIVENESS_ROWS")
                         ? qEnvironmentVariableIntValue("MAILCAFF_RESPONSIVENESS_ROWS")
                         : 100'000;
    test::DnsTestServer dns;
    QVERIFY(dns.listen());
    test::addGeneratedDomains(dns, 200);
    QTemporaryDir dir;
    const QString path = dir.filePath(u"list.csv"_s);
    QVERIFY(test::writeGeneratedList(path, rows, 200));
    const EngineConfig config = test::loopbackEngineConfig(dir.filePath(u"data"_s), dns, 25);
    Engine engine;
    QString error;
    QVERIFY2(engine.start(config, &error), qPrintable(error));

    ui::ListsPage page(engine);
    page.resize(1100, 700);
    page.show();
    QList<qint64> gaps;
    QElapsedTimer clock;
    clock.start();
    qint64 last = clock.elapsed();
    QTimer probe;
    connect(&probe, &QTimer::timeout, this, [&] {
        const qint64 now = clock.elapsed();
        gaps.append(now - last);
        last = now;
    });
    // A real event loop (QTest::qWaitFor naps between looks, which the probe would count as gaps).
    QEventLoop loop;
    bool done = false;
    connect(&page, &ui::ListsPage::refreshed, this, [&] {
        done = done || page.statusLabel()->text().contains(u"(done)"_s);
        if (done)
            loop.quit();
    });
    probe.start(5);
    QElapsedTimer total;
    total.start();
    qsizetype previewRows = 0;
    page.importFile(path, [&previewRows](const QString &, const QList<QStringList> &preview, int *column,
                                         bool *header, bool *power) {
        previewRows = preview.size();
        *column = core::csv::guessAddressColumn(preview, header);
        *power = false;
        return true;
    });
    QTimer::singleShot(600'000, &loop, &QEventLoop::quit);
    loop.exec();
    QVERIFY(done);
    probe.stop();
    // The choice was made on the file's first rows; every row was read as the list was stored.
    QCOMPARE(previewRows, 1000);
    QCOMPARE(page.model()->rowCount(), rows);
    QCOMPARE(page.model()->statusCounts().last(), 0); // nothing pending
    std::sort(gaps.begin(), gaps.end());
    const qint64 worst = gaps.last();
    qInfo(
        "%d rows in quick mode in %lld ms (%lld rows/s); GUI event loop gaps: p50 %lld ms, p99 %lld ms, max "
        "%lld ms over %lld samples",
        rows, total.elapsed(), rows * 1000 / std::max<qint64>(1, total.elapsed()), gaps.at(gaps.size() / 2),
        gaps.at(qsizetype((gaps.size() - 1) * 0.99)), worst, qint64(gaps.size()));
    QVERIFY2(worst < 1000, qPrintable(u"the window froze for %1 ms"_s.arg(worst)));
    engine.stop();
}

QTEST_MAIN(TestUiResponsiveness)
#include "tst_ui_responsiveness.moc"
