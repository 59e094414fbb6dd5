// The window's lists at scale. Prints figures; asserts nothing.
//  1. Import: a generated CSV of N rows (default 1,000,000) read, parsed and stored as a list (the work the
//     Lists page does off the GUI thread): time per step and peak memory.
//  2. Responsiveness: the Lists page (offscreen) running a list of M rows (default 100,000) in quick mode
//     against a loopback DNS server, with an event-loop probe on the GUI thread every 5 ms: the longest and
//     99th-percentile gaps, and the throughput.
// Usage: QT_QPA_PLATFORM=offscreen bench_lists [import rows=1000000] [run rows=100000]
#include "dnstestserver.h"
#include "engine.h"
#include "listmodel.h"
#include "listspage.h"
#include "testengine.h"

#include "core/csv.h"

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QTableView>
#include <QtConcurrent>
#include <QTemporaryDir>
#include <QTest>
#include <QTextStream>
#include <QTimer>

#include <algorithm>

using namespace mailcaff;
using namespace Qt::StringLiterals;

namespace {

QTextStream out(stdout);

qint64 peakRssMb()
{
    QFile status(u"/proc/self/status"_s);
    if (!status.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : status.readAll().split('\n'))
        if (line.startsWith("VmHWM:"))
            return line.mid(6).trimmed().split(' ').first().toLongLong() / 1024;
    return -1;
}

} // namespace

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    const int importRows = argc > 1 ? QByteArray(argv[1]).toInt() : 1'000'000;
    const int runRows = argc > 2 ? QByteArray(argv[2]).toInt() : 100'000;
    QTemporaryDir dir;
    test::DnsTestServer dns;
    if (!dns.listen())
        return 1;
    constexpr int Domains = 200;
    test::addGeneratedDomains(dns, Domains);
    const EngineConfig config = test::loopbackEngineConfig(dir.filePath(u"data"_s), dns, 25);
    Engine engine;
    QString error;
    if (!engine.start(config, &error)) {
        out << error << Qt::endl;
        return 1;
    }

    // 1. Import.
    {
        const QString path = dir.filePath(u"big.csv"_s);
        test::writeGeneratedList(path, importRows, Domains);
        out << "import: " << importRows << " rows, " << QFileInfo(path).size() / (1024 * 1024) << " MiB file"
            << Qt::endl;
        QElapsedTimer t;
        t.start();
        // As the Lists page does it: the first rows for the dialog, then the file streamed into the database.
        const QList<QStringList> preview = core::csv::readFirstRecords(path, 1000, &error);
        const qint64 previewMs = t.restart();
        bool header = false;
        const int column = core::csv::guessAddressColumn(preview, &header);
        core::csv::Reader reader(path);
        if (!reader.open()) {
            out << reader.error() << Qt::endl;
            return 1;
        }
        const auto created =
            engine.listStore().create(u"big.csv"_s, preview.first(),
                                      jobs::ListStore::fromReader(reader, header), column, core::Mode::Quick);
        engine.jobs().setPaused(created.jobId, true); // only the import is measured here
        const qint64 storeMs = t.restart();
        // On a worker, as the Lists page does (the temporary strings are freed there too).
        const qint64 addresses =
            QtConcurrent::run([&] { return engine.listStore().addresses(created.jobId).size(); }).result();
        const qint64 loadMs = t.elapsed();
        out << "  preview (first 1,000 rows): " << previewMs
            << " ms; read, parsed and stored as a list: " << storeMs << " ms (" << created.rows
            << " rows); addresses loaded for the view: " << loadMs << " ms (" << addresses << ")" << Qt::endl;
        out << "  peak memory so far: " << peakRssMb() << " MiB" << Qt::endl;

        // The list in the window: shown, filtered by status, searched. Each step's longest GUI stall.
        {
            ui::ListsPage page(engine);
            page.resize(1100, 700);
            page.show();
            QElapsedTimer clock;
            clock.start();
            qint64 last = clock.elapsed();
            qint64 worst = 0;
            QTimer probe;
            QObject::connect(&probe, &QTimer::timeout, [&] {
                worst = std::max(worst, clock.elapsed() - last);
                last = clock.elapsed();
            });
            probe.start(5);
            auto step = [&](const char *what, const std::function<void()> &act,
                            const std::function<bool()> &done) {
                worst = 0;
                last = clock.elapsed();
                QElapsedTimer took;
                took.start();
                act();
                while (!done() && took.elapsed() < 120'000)
                    QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 20);
                QCoreApplication::processEvents();
                worst = std::max(worst, clock.elapsed() - last);
                out << "  " << what << ": " << took.elapsed() << " ms, longest GUI stall " << worst << " ms"
                    << Qt::endl;
            };
            step(
                "shown in the Lists page", [&] { page.showList(created.jobId); },
                [&] { return page.model()->rowCount() == created.rows; });
            // Filters on a million rows run on a worker: each step lasts until the view shows the result.
            const auto filtered = [&] { return !page.filter()->isBusy(); };
            step(
                "filtered to pending rows (all of this paused list)",
                [&] { page.statusFilterBox()->setCurrentIndex(page.statusFilterBox()->findData(-1)); },
                filtered);
            step(
                "searched for text",
                [&] {
                    page.searchEdit()->setText(u"user12"_s);
                    page.applyFilter();
                },
                filtered);
            out << "    rows shown: " << page.filter()->rowCount() << Qt::endl;
            step(
                "sorted by address, descending",
                [&] { page.table()->sortByColumn(ui::ListModel::Email, Qt::DescendingOrder); }, filtered);
            step(
                "filters cleared",
                [&] {
                    page.searchEdit()->clear();
                    page.statusFilterBox()->setCurrentIndex(0);
                    page.applyFilter();
                },
                filtered);
        }
        engine.jobs().cancel(created.jobId, nullptr);
        engine.jobs().remove(created.jobId);
    }

    // 2. Responsiveness while a list runs.
    {
        const QString path = dir.filePath(u"run.csv"_s);
        test::writeGeneratedList(path, runRows, Domains);
        ui::ListsPage page(engine);
        page.resize(1100, 700);
        page.show();
        QList<qint64> gaps;
        QElapsedTimer probeClock;
        probeClock.start();
        qint64 last = 0;
        QTimer probe;
        QObject::connect(&probe, &QTimer::timeout, [&] {
            const qint64 now = probeClock.elapsed();
            gaps.append(now - last);
            last = now;
        });
        QElapsedTimer t;
        t.start();
        bool done = false;
        QObject::connect(&page, &ui::ListsPage::refreshed, [&] {
            if (page.statusLabel()->text().contains(u"(done)"_s))
                done = true;
        });
        page.importFile(path, [](const QString &, const QList<QStringList> &rows, int *column, bool *header,
                                 bool *power) {
            *column = core::csv::guessAddressColumn(rows, header);
            *power = false;
            return true;
        });
        probe.start(5);
        last = probeClock.elapsed();
        while (!done && t.elapsed() < 600'000)
            QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
        probe.stop();
        const qint64 totalMs = t.elapsed();
        std::sort(gaps.begin(), gaps.end());
        const auto pct = [&](double p) {
            return gaps.isEmpty() ? 0 : gaps.at(qsizetype(p * (gaps.size() - 1)));
        };
        out << "run: " << runRows << " rows in quick mode through the Lists page: " << totalMs << " ms ("
            << qint64(runRows * 1000.0 / std::max<qint64>(1, totalMs)) << " rows/s)" << Qt::endl;
        out << "  GUI event loop gaps (probe every 5 ms): p50 " << pct(0.5) << " ms, p99 " << pct(0.99)
            << " ms, max " << (gaps.isEmpty() ? 0 : gaps.last()) << " ms over " << gaps.size() << " samples"
            << Qt::endl;
        out << "  model rows: " << page.model()->rowCount() << "; peak memory: " << peakRssMb() << " MiB"
            << Qt::endl;
    }
    engine.stop();
    return 0;
}
