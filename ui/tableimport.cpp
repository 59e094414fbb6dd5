#include "tableimport.h"

#include "core/csv.h"
#include "engine.h"
#include "storage/settings.h"

#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFutureWatcher>
#include <QJsonObject>
#include <QSaveFile>
#include <QTableWidgetItem>
#include <QtConcurrent>
#include <QThread>
#include <QThreadPool>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

QThreadPool *workers()
{
    static QThreadPool *pool = [] {
        auto *p =
            new QThreadPool; // never deleted: it outlives every window, its threads end with the process
        p->setMaxThreadCount(std::max(2, QThread::idealThreadCount()));
        p->setObjectName(u"mailcaff-ui-workers"_s);
        return p;
    }();
    return pool;
}

QTableWidgetItem *readOnlyCell(const QString &text)
{
    auto *item = new QTableWidgetItem(text);
    item->setFlags(item->flags() & ~Qt::ItemIsEditable);
    return item;
}

ImportedTable readTable(const QString &path, qsizetype maxRows)
{
    ImportedTable out;
    if (maxRows < 0)
        out.rows = core::csv::readFile(path, &out.error);
    else
        out.rows = core::csv::readFirstRecords(path, maxRows, &out.error, &out.complete);
    return out;
}

void readTableAsync(QObject *context, const QString &path, std::function<void(const ImportedTable &)> done,
                    qsizetype maxRows)
{
    auto *watcher = new QFutureWatcher<ImportedTable>(context);
    QObject::connect(watcher, &QFutureWatcher<ImportedTable>::finished, context,
                     [watcher, done = std::move(done)] {
                         const ImportedTable table = watcher->result();
                         watcher->deleteLater();
                         done(table);
                     });
    watcher->setFuture(QtConcurrent::run(workers(), readTable, path, maxRows));
}

bool writeCsv(const QString &path, const QList<QStringList> &rows, QString *error)
{
    QString text;
    for (const QStringList &row : rows)
        text += core::csv::record(row);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write("\xEF\xBB\xBF" + text.toUtf8()) < 0 ||
        !file.commit()) {
        if (error)
            *error = file.errorString();
        return false;
    }
    return true;
}

QString exportResults(const QJsonArray &results, const QStringList &fields, const QString &path, bool *ok)
{
    QList<QStringList> rows{fields};
    for (const QJsonValue &v : results) {
        const QJsonObject r = v.toObject();
        QStringList row;
        for (const QString &f : fields) {
            const QJsonValue value = r.value(f);
            row.append(value.isBool() ? (value.toBool() ? QStringLiteral("true") : QStringLiteral("false"))
                       : value.isDouble() ? QString::number(value.toDouble())
                                          : value.toString());
        }
        rows.append(row);
    }
    QString error;
    *ok = writeCsv(path, rows, &error);
    return *ok ? QObject::tr("Exported %1 rows to %2.").arg(results.size()).arg(path)
               : QObject::tr("Could not write %1: %2").arg(path, error);
}

namespace {

const storage::Setting<QString> LastFolder{"ui/last_folder", QString()};

QString folderFor(Engine &engine)
{
    const QString folder = storage::Settings(engine.database()).value(LastFolder);
    return folder.isEmpty() || !QDir(folder).exists() ? QDir::homePath() : folder;
}

QString remember(Engine &engine, const QString &path)
{
    if (!path.isEmpty())
        storage::Settings(engine.database()).setValue(LastFolder, QFileInfo(path).absolutePath());
    return path;
}

} // namespace

QString openFileName(QWidget *parent, Engine &engine, const QString &caption, const QString &filter)
{
    return remember(engine, QFileDialog::getOpenFileName(parent, caption, folderFor(engine), filter));
}

QString saveFileName(QWidget *parent, Engine &engine, const QString &caption, const QString &suggestedName,
                     const QString &filter)
{
    return remember(engine, QFileDialog::getSaveFileName(
                                parent, caption, QDir(folderFor(engine)).filePath(suggestedName), filter));
}

} // namespace mailcaff::ui
