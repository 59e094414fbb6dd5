#pragma once

#include <QJsonArray>
#include <QList>
#include <QObject>
#include <QRegularExpression>
#include <QString>
#include <QStringList>

#include "core/csv.h"

#include <functional>

class QTableWidgetItem;
class QThreadPool;
class QWidget;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// The window's own worker threads for reading, storing, loading and filtering lists. Not Qt's global pool:
/// Qt's raster painter hands large fills to that pool and waits for them, so a long job there freezes the
/// window's painting until it ends.
QThreadPool *workers();

/// A table cell the user can select and copy but not edit.
QTableWidgetItem *readOnlyCell(const QString &text);

/// A CSV, TSV, semicolon CSV or text file as rows of cells (encoding and delimiter detected).
struct ImportedTable
{
    QList<QStringList> rows; ///< every row (or the first ones), a header row included
    QString error;           ///< why the file could not be read
    bool complete = true;    ///< false: only the first `maxRows` rows were read
};

/// Reads the file (all of it, or its first `maxRows` rows: a preview) on a worker thread (a large file must
/// not freeze the window) and hands the table to `done` on `context`'s thread.
void readTableAsync(QObject *context, const QString &path, std::function<void(const ImportedTable &)> done,
                    qsizetype maxRows = -1);
ImportedTable readTable(const QString &path, qsizetype maxRows = -1);

using core::csv::findColumn;

/// Writes rows as CSV, UTF-8 with a BOM (Excel reads it right), cells neutralised against formulas, through
/// a temporary file (the old file stays intact if anything fails).
bool writeCsv(const QString &path, const QList<QStringList> &rows, QString *error);

/// A job's results as CSV: a header of `fields`, then each result's values for them (true/false, numbers,
/// empty for null). Returns the message for the user; `ok` tells whether it was written.
QString exportResults(const QJsonArray &results, const QStringList &fields, const QString &path, bool *ok);

/// File dialogs that start in the folder last used (remembered in the settings, across restarts).
QString openFileName(QWidget *parent, Engine &engine, const QString &caption, const QString &filter);
QString saveFileName(QWidget *parent, Engine &engine, const QString &caption, const QString &suggestedName,
                     const QString &filter);

} // namespace mailcaff::ui
