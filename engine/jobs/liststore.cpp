#include "liststore.h"

#include "core/csv.h"
#include "storage/database.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSet>
#include <QSqlQuery>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace Qt::StringLiterals;

namespace mailcaff::jobs {

namespace {

/// Cells of a row, stored joined by the unit separator (a cell holding one has it replaced by a space).
constexpr QChar Separator = u'\x1f';
constexpr char SeparatorByte = '\x1f'; ///< the same in the stored UTF-8

QString joinCells(const QStringList &cells)
{
    qsizetype length = cells.size();
    for (const QString &c : cells)
        length += c.size();
    QString joined;
    joined.reserve(length);
    for (qsizetype i = 0; i < cells.size(); ++i) {
        const QString &c = cells.at(i);
        if (i > 0)
            joined.append(Separator);
        if (c.contains(Separator))
            joined.append(QString(c).replace(Separator, u' '));
        else
            joined.append(c);
    }
    return joined;
}

} // namespace

ListStore::Created ListStore::create(const QString &name, const QStringList &header,
                                     const QList<QStringList> &rows, int addressColumn, core::Mode mode,
                                     const QString &sourceKey,
                                     const std::function<void(int percent)> &progress)
{
    qsizetype next = 0;
    const qsizetype total = std::max<qsizetype>(1, rows.size());
    return store(
        name, header,
        [&](QStringList *row) {
            if (next >= rows.size())
                return Read::End;
            *row = rows.at(next++);
            return Read::Row;
        },
        addressColumn, mode, sourceKey, QStringLiteral("column_%1"),
        [&](qsizetype stored) {
            if (progress)
                progress(int(stored * 100 / total));
        });
}

ListStore::RowSource ListStore::fromReader(core::csv::Reader &reader, bool skipHeader,
                                           std::atomic<int> *percent)
{
    return [&reader, percent, skip = skipHeader](QStringList *row) mutable {
        if (skip) {
            skip = false;
            if (!reader.next(row))
                return reader.error().isEmpty() ? Read::End : Read::Failed;
        }
        if (!reader.next(row))
            return reader.error().isEmpty() ? Read::End : Read::Failed;
        if (percent)
            percent->store(int(reader.position() * 100 / std::max<qint64>(1, reader.size())));
        return Read::Row;
    };
}

ListStore::Created ListStore::create(const QString &name, const QStringList &header, const RowSource &next,
                                     int addressColumn, core::Mode mode, const QString &sourceKey,
                                     const QString &extraColumnName)
{
    return store(name, header, next, addressColumn, mode, sourceKey, extraColumnName, {});
}

namespace {

/// Rows read ahead on a thread of their own while the ones before them are stored: reading, parsing and
/// preparing a row costs about as much as storing it, so the two overlap. At most `Depth` batches wait.
class ReadAhead
{
public:
    struct Batch
    {
        QList<JobStore::NewItem> items;
        QStringList cells; ///< each row's cells joined
    };
    /// What the rows held beyond their batches, known once they are all read.
    struct Totals
    {
        qsizetype width = 0;
        int withoutAddress = 0;
        int duplicates = 0;
    };

    ReadAhead(const ListStore::RowSource &next, int addressColumn, qsizetype headerWidth)
        : m_thread([this, &next, addressColumn, headerWidth] { read(next, addressColumn, headerWidth); })
    {
    }
    ~ReadAhead()
    {
        {
            const std::lock_guard lock(m_mutex);
            m_stopped = true; // a storer that gave up: the reader stops at its next batch
        }
        m_changed.notify_all();
        m_thread.join();
    }
    ReadAhead(const ReadAhead &) = delete;
    ReadAhead &operator=(const ReadAhead &) = delete;

    /// The next batch (empty at the end), or nullopt when the source failed.
    std::optional<Batch> take()
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait(lock, [this] { return !m_ready.empty() || m_end; });
        if (m_end && m_read == ListStore::Read::Failed)
            return std::nullopt; // nothing more is worth storing
        if (m_ready.empty())
            return Batch{};
        Batch b = std::move(m_ready.front());
        m_ready.pop_front();
        lock.unlock();
        m_changed.notify_all();
        return b;
    }
    /// Valid once take() has returned the end.
    Totals totals() const
    {
        const std::lock_guard lock(m_mutex);
        return m_totals;
    }

private:
    static constexpr qsizetype Rows = 5000;
    static constexpr std::size_t Depth = 4;

    void read(const ListStore::RowSource &next, int addressColumn, qsizetype headerWidth)
    {
        // Duplicates are counted by a 64-bit hash of the normalised address (8 bytes a row, not the
        // address): a collision would only miscount the message, never merge two items (the runner
        // compares addresses).
        QSet<size_t> seen;
        Totals totals{headerWidth, 0, 0};
        ListStore::Read read = ListStore::Read::Row;
        QStringList row;
        while (read == ListStore::Read::Row) {
            Batch batch;
            batch.items.reserve(Rows);
            batch.cells.reserve(Rows);
            while (batch.items.size() < Rows && (read = next(&row)) == ListStore::Read::Row) {
                const QString address = row.value(addressColumn).trimmed();
                JobStore::NewItem item = JobStore::verifyItem(address);
                if (address.isEmpty()) {
                    ++totals.withoutAddress;
                } else {
                    const size_t h = qHash(item.normalized);
                    if (seen.contains(h))
                        ++totals.duplicates;
                    else
                        seen.insert(h);
                }
                totals.width = std::max(totals.width, row.size());
                batch.items.append(std::move(item));
                batch.cells.append(joinCells(row));
            }
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [this] { return m_ready.size() < Depth || m_stopped; });
            if (m_stopped)
                return;
            if (read != ListStore::Read::Failed && !batch.items.isEmpty())
                m_ready.push_back(std::move(batch));
            if (read != ListStore::Read::Row) {
                m_read = read;
                m_totals = totals;
                m_end = true;
            }
            lock.unlock();
            m_changed.notify_all();
        }
    }

    mutable std::mutex m_mutex;
    std::condition_variable m_changed;
    std::deque<Batch> m_ready;
    bool m_stopped = false;
    bool m_end = false;
    ListStore::Read m_read = ListStore::Read::Row;
    Totals m_totals;
    std::thread m_thread; // last: started once everything it uses exists
};

} // namespace

ListStore::Created ListStore::store(const QString &name, const QStringList &header, const RowSource &next,
                                    int addressColumn, core::Mode mode, const QString &sourceKey,
                                    const QString &extraColumnName,
                                    const std::function<void(qsizetype rowsStored)> &stored)
{
    Created out;
    ReadAhead ahead(next, addressColumn, header.size());
    const auto created = m_jobs.createStreamedJob(
        KindVerify, mode,
        [&](const QString &, qint64 jobKey, qsizetype position, QList<JobStore::NewItem> *batch) {
            std::optional<ReadAhead::Batch> rows = ahead.take();
            if (!rows)
                return false; // a file that could not be read to its end is not stored at all
            if (rows->items.isEmpty())
                return true;
            out.rows += int(rows->items.size());
            *batch = std::move(rows->items);
            const QStringList &cells = rows->cells;
            if (!storage::insertRows(m_db.connection(), u"list_rows"_s, {u"job"_s, u"position"_s, u"cells"_s},
                                     cells.size(), [&](qsizetype i) {
                                         return QVariantList{jobKey, int(position + i), cells.at(i)};
                                     }))
                return false;
            if (stored)
                stored(position + cells.size());
            return true;
        },
        [&](const QString &jobId) {
            const ReadAhead::Totals totals = ahead.totals();
            out.withoutAddress = totals.withoutAddress;
            out.duplicates = totals.duplicates;
            // The header, with a name for every column some row has beyond it.
            QStringList names = header;
            for (qsizetype c = names.size(); c < totals.width; ++c)
                names.append(extraColumnName.arg(c + 1));
            QSqlQuery list(m_db.connection());
            list.prepare(
                u"INSERT INTO lists(job_id, name, header, address_column, rows_without_address, source_key, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"_s);
            list.addBindValue(jobId);
            list.addBindValue(name);
            list.addBindValue(QString::fromUtf8(
                QJsonDocument(QJsonArray::fromStringList(names)).toJson(QJsonDocument::Compact)));
            list.addBindValue(addressColumn);
            list.addBindValue(out.withoutAddress);
            list.addBindValue(sourceKey.isEmpty() ? QVariant(QMetaType::fromType<QString>())
                                                  : QVariant(sourceKey));
            list.addBindValue(QDateTime::currentSecsSinceEpoch());
            return list.exec();
        });
    if (created.outcome == JobStore::Created::Ok)
        out.jobId = created.jobId;
    return out;
}

std::optional<QString> ListStore::findBySource(const QString &sourceKey) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT job_id FROM lists WHERE source_key = ? ORDER BY created_at DESC, "_s +
              storage::insertionOrder(m_db.dialect()) + u" DESC LIMIT 1"_s);
    q.addBindValue(sourceKey);
    if (!q.exec() || !q.next())
        return std::nullopt;
    return q.value(0).toString();
}

QList<ListInfo> ListStore::all() const
{
    QList<ListInfo> out;
    QSqlQuery q(m_db.connection());
    // The window's lists; command-line runs keep theirs to themselves.
    if (!q.exec(u"SELECT job_id FROM lists WHERE source_key IS NULL ORDER BY created_at DESC, "_s +
                storage::insertionOrder(m_db.dialect()) + u" DESC"_s))
        return out;
    QStringList ids;
    while (q.next())
        ids.append(q.value(0).toString());
    q.finish();
    for (const QString &id : std::as_const(ids))
        if (auto i = info(id))
            out.append(*i);
    return out;
}

std::optional<ListInfo> ListStore::info(const QString &jobId) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(
        u"SELECT name, header, address_column, rows_without_address, created_at FROM lists WHERE job_id = ?"_s);
    q.addBindValue(jobId);
    if (!q.exec() || !q.next())
        return std::nullopt;
    ListInfo i;
    i.jobId = jobId;
    i.name = q.value(0).toString();
    for (const QJsonValue &v : QJsonDocument::fromJson(q.value(1).toByteArray()).array())
        i.header.append(v.toString());
    i.addressColumn = q.value(2).toInt();
    i.rowsWithoutAddress = q.value(3).toInt();
    i.createdAt = QDateTime::fromSecsSinceEpoch(q.value(4).toLongLong());
    q.finish();
    const auto summary = m_jobs.summary(jobId);
    if (!summary)
        return std::nullopt;
    i.summary = *summary;
    return i;
}

QStringList ListStore::addresses(const QString &jobId) const
{
    QStringList out;
    QSqlQuery q(m_db.connection());
    storage::readForward(q, m_db.connection());
    q.prepare(u"SELECT input FROM job_items WHERE job = "_s + JobNumberById + u" ORDER BY position"_s);
    q.addBindValue(jobId);
    if (q.exec())
        while (q.next())
            out.append(q.value(0).toString());
    return out;
}

QList<ListRow> ListStore::doneSince(const QString &jobId, qint64 afterMs, qint64 *latest) const
{
    QList<ListRow> out;
    QSqlQuery q(m_db.connection());
    storage::readForward(q, m_db.connection());
    // The few fields a view shows, read by the database's JSON functions rather than parsing each result
    // here.
    QStringList fields;
    for (const char *f :
         {"quality_score", "reason", "is_role_account", "is_free_email", "is_disposable", "is_catch_all"})
        fields << storage::jsonField(m_db.dialect(), u"result"_s, QString::fromLatin1(f));
    q.prepare(u"SELECT position, status, done_at, "_s + fields.join(u", "_s) +
              u" FROM job_items WHERE job = "_s + JobNumberById +
              u" AND state = 'done' AND done_at > ? ORDER BY done_at"_s);
    q.addBindValue(jobId);
    q.addBindValue(afterMs);
    if (!q.exec())
        return out;
    static const QHash<QString, qint8> reasons = [] {
        QHash<QString, qint8> h;
        for (int r = 0; r <= int(core::Reason::QuickCheck); ++r)
            h.insert(core::toString(core::Reason(r)), qint8(r));
        return h;
    }();
    while (q.next()) {
        ListRow row;
        row.position = q.value(0).toInt();
        if (const auto status = core::statusFromString(q.value(1).toString()))
            row.status = qint8(*status);
        if (latest)
            *latest = std::max(*latest, q.value(2).toLongLong());
        row.score = q.value(3).isNull() ? qint8(-1) : qint8(q.value(3).toInt());
        row.reason = reasons.value(q.value(4).toString(), -1);
        row.flags = (q.value(5).toBool() ? ListRow::Role : 0) | (q.value(6).toBool() ? ListRow::Free : 0) |
                    (q.value(7).toBool() ? ListRow::Disposable : 0) |
                    (q.value(8).toBool() ? ListRow::CatchAll : 0);
        out.append(row);
    }
    return out;
}

QList<QStringList> ListStore::originalRows(const QString &jobId) const
{
    QList<QStringList> out;
    QSqlQuery q(m_db.connection());
    storage::readForward(q, m_db.connection());
    q.prepare(u"SELECT cells FROM list_rows WHERE job = "_s + JobNumberById + u" ORDER BY position"_s);
    q.addBindValue(jobId);
    if (q.exec())
        while (q.next())
            out.append(q.value(0).toString().split(Separator));
    return out;
}

QJsonObject ListStore::result(const QString &jobId, int position) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT result FROM job_items WHERE job = "_s + JobNumberById +
              u" AND position = ? AND state = 'done'"_s);
    q.addBindValue(jobId);
    q.addBindValue(position);
    if (!q.exec() || !q.next())
        return {};
    return QJsonDocument::fromJson(q.value(0).toByteArray()).object();
}

QStringList ListStore::resultColumns()
{
    return {u"email"_s,           u"status"_s,        u"quality_score"_s, u"reason"_s,
            u"is_role_account"_s, u"is_free_email"_s, u"is_disposable"_s, u"is_catch_all"_s,
            u"mx_host"_s,         u"smtp_provider"_s, u"did_you_mean"_s};
}

int ListStore::exportCsv(const QString &jobId, const QString &path, const ExportOptions &options,
                         QString *error) const
{
    const auto list = info(jobId);
    if (!list) {
        if (error)
            *error = u"no such list"_s;
        return -1;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error)
            *error = file.errorString();
        return -1;
    }
    if (options.byteOrderMark)
        file.write("\xEF\xBB\xBF");
    QStringList columns;
    for (const QString &c : resultColumns())
        if (options.columns.isEmpty() || options.columns.contains(c))
            columns.append(c);
    file.write(
        core::csv::record((options.originalColumns ? list->header : QStringList()) + columns).toUtf8());
    // Read and written as UTF-8 throughout: the stored text goes to the file without a UTF-16 copy.
    storage::Utf8Rows q(
        m_db.connection(),
        u"SELECT r.position, r.cells, i.input, i.status, i.result FROM list_rows r JOIN job_items i "
        "ON i.job = r.job AND i.position = r.position WHERE r.job = "_s +
            JobNumberById + u" ORDER BY r.position"_s,
        {jobId});
    if (!q.ok()) {
        if (error)
            *error = u"the list could not be read"_s;
        return -1;
    }
    QStringList fromResult = columns; // what the stored result gives; the address is the row's own
    fromResult.removeAll(u"email"_s);
    const qsizetype emailAt = columns.indexOf(u"email"_s);
    int written = 0;
    QByteArray chunk;
    QList<QByteArrayView> cells;
    QByteArray email;          // the address, when trimming it takes more than ASCII spaces
    QList<QByteArray> decoded; // the result's members, when reading them takes QJsonDocument
    while (q.next()) {
        const int position = q.text(0).toInt();
        if (options.positions && !options.positions->contains(position))
            continue;
        if (options.deliverableOnly && q.text(3) != "valid")
            continue;
        cells.clear();
        if (options.originalColumns) {
            const QByteArrayView joined = q.text(1);
            for (qsizetype from = 0;;) {
                const qsizetype at = joined.indexOf(SeparatorByte, from);
                cells.append(joined.sliced(from, (at < 0 ? joined.size() : at) - from));
                if (at < 0)
                    break;
                from = at + 1;
            }
            cells.resize(list->header.size()); // a ragged row: its missing cells are empty
        }
        std::optional<QList<QByteArrayView>> values = core::jsonMemberViews(q.text(4), fromResult);
        if (!values) {
            decoded.clear();
            for (const QString &text : core::jsonMemberTexts(QString::fromUtf8(q.text(4)), fromResult))
                decoded.append(text.toUtf8());
            values = QList<QByteArrayView>(decoded.cbegin(), decoded.cend());
        }
        const QByteArrayView input = q.text(2);
        QByteArrayView address = input.trimmed();
        if (!input.isEmpty() && (uchar(input.front()) >= 0x80 || uchar(input.back()) >= 0x80)) {
            email = QString::fromUtf8(input).trimmed().toUtf8(); // Unicode spaces too, as the list shows it
            address = email;
        }
        cells.append(values->mid(0, emailAt < 0 ? values->size() : emailAt));
        if (emailAt >= 0) {
            cells.append(address);
            cells.append(values->mid(emailAt));
        }
        core::csv::appendRecord(chunk, cells);
        ++written;
        if (chunk.size() > 1 << 20) {
            file.write(chunk);
            chunk.clear();
        }
    }
    if (!q.ok()) {
        if (error)
            *error = u"the list could not be read to its end"_s;
        return -1;
    }
    file.write(chunk);
    if (!file.commit()) {
        if (error)
            *error = file.errorString();
        return -1;
    }
    return written;
}

} // namespace mailcaff::jobs
