#pragma once

#include "jobstore.h"

#include "core/csv.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QSet>
#include <QString>
#include <QStringList>

#include <atomic>
#include <optional>

namespace mailcaff::jobs {

/// A list of the window's: a verify job plus what the file held.
struct ListInfo
{
    QString jobId;
    QString name;
    QStringList header; ///< the file's column names ("Column 1" … when it had none)
    int addressColumn = 0;
    int rowsWithoutAddress = 0;
    QDateTime createdAt;
    JobSummary summary;
};

/// One row of a list as a view needs it: compact, so a million of them fit in memory.
struct ListRow
{
    enum Flag : quint8 { Role = 1, Free = 2, Disposable = 4, CatchAll = 8 };
    int position = 0;
    qint8 status = -1; ///< a core::Status, -1 while not done
    qint8 score = -1;
    qint8 reason = -1; ///< a core::Reason
    quint8 flags = 0;
};

/// The window's lists (kind verify, no API key): created with the file's header and every row in one
/// transaction (so the export can carry the other columns through), read back for views and exports.
/// Usable from any thread (per-thread connections), which lets a large import run off the GUI thread.
class ListStore
{
public:
    ListStore(JobStore &jobs, const storage::Database &db)
        : m_jobs(jobs)
        , m_db(db)
    {
    }

    struct Created
    {
        QString jobId; ///< empty when the database refused it
        int rows = 0;
        int withoutAddress = 0; ///< rows whose address cell is empty (kept, ending as `error`)
        int duplicates = 0;     ///< rows repeating an earlier address (verified once)
    };
    /// `sourceKey` names where the list came from (a command-line run's file and output), so a run started
    /// again finds its list (findBySource) and goes on with it.
    /// `progress(percent)` follows a long import (it runs on the calling thread, once a batch is stored).
    Created create(const QString &name, const QStringList &header, const QList<QStringList> &rows,
                   int addressColumn, core::Mode mode, const QString &sourceKey = {},
                   const std::function<void(int percent)> &progress = {});
    /// The next row of a file, its end, or a read error (nothing is stored then).
    enum class Read { Row, End, Failed };
    using RowSource = std::function<Read(QStringList *row)>;
    /// The rows of an opened reader, its first one skipped when `skipHeader`; `percent` (optional) follows
    /// how much of the file has been read.
    static RowSource fromReader(core::csv::Reader &reader, bool skipHeader,
                                std::atomic<int> *percent = nullptr);
    /// The same from rows read one by one (a file streamed from disk, never held whole), in one transaction.
    /// `next` runs on a thread of its own, reading ahead while earlier rows are stored (at most 20,000 rows
    /// ahead): it must not use objects of the calling thread's. Columns some row has beyond `header` are
    /// named `extraColumnName` with the column's number (from 1).
    Created create(const QString &name, const QStringList &header, const RowSource &next, int addressColumn,
                   core::Mode mode, const QString &sourceKey = {},
                   const QString &extraColumnName = QStringLiteral("column_%1"));
    /// The newest list made from `sourceKey`, if any.
    std::optional<QString> findBySource(const QString &sourceKey) const;

    QList<ListInfo> all() const;
    std::optional<ListInfo> info(const QString &jobId) const;
    /// Each row's address as given, in file order.
    QStringList addresses(const QString &jobId) const;
    /// Rows finished after `afterMs` (epoch ms, exclusive); `latest` gets the newest time seen.
    QList<ListRow> doneSince(const QString &jobId, qint64 afterMs, qint64 *latest) const;
    /// The file's rows as imported, in order.
    QList<QStringList> originalRows(const QString &jobId) const;
    /// The whole result of one row (the verify response), empty while not done.
    QJsonObject result(const QString &jobId, int position) const;

    struct ExportOptions
    {
        bool deliverableOnly = false;       ///< only `valid` rows
        std::optional<QSet<int>> positions; ///< only these rows (a view's filter)
        bool byteOrderMark = true;          ///< UTF-8 with a BOM, for Excel
        bool originalColumns = true;        ///< the file's own columns first
        QStringList columns; ///< the result columns wanted, in resultColumns() order; empty: all
    };
    /// Writes the list as CSV: the file's own columns, then the result's (email, status, quality_score,
    /// reason, flags, mx_host, smtp_provider, did_you_mean), formulas neutralised. Returns the rows written,
    /// or -1 with `error` set. Works on any thread (a large list is exported off the GUI thread).
    int exportCsv(const QString &jobId, const QString &path, const ExportOptions &options,
                  QString *error) const;
    /// The result columns of an export, in order.
    static QStringList resultColumns();

private:
    Created store(const QString &name, const QStringList &header, const RowSource &next, int addressColumn,
                  core::Mode mode, const QString &sourceKey, const QString &extraColumnName,
                  const std::function<void(qsizetype rowsStored)> &stored);

    JobStore &m_jobs;
    const storage::Database &m_db;
};

} // namespace mailcaff::jobs
