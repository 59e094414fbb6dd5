#include "copy.h"

#include "database.h"

#include <QScopeGuard>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>

using namespace Qt::StringLiterals;

namespace mailcaff::storage {

namespace {

/// The tables copied, parents before children (foreign keys hold at every insert). Not copied:
/// schema_version (each database has its own), change_stamp and runners (what is running now).
const QStringList &tables()
{
    static const QStringList t = {
        u"api_keys"_s,
        u"settings"_s,
        u"plan_history"_s,
        u"credit_ledger"_s,
        u"credit_usage"_s,
        u"verification_cache"_s,
        u"jobs"_s,
        u"job_items"_s,
        u"job_counts"_s,
        u"lists"_s,
        u"list_rows"_s,
        u"webhook_endpoints"_s,
        u"webhook_deliveries"_s,
        u"webhook_delivery_log"_s,
        u"domain_patterns"_s,
        u"find_cache"_s,
    };
    return t;
}

/// Columns that number rows by themselves on PostgreSQL: after rows came with their numbers, the
/// sequence must start past them, or the next insert would take a number already used.
const QList<std::pair<QString, QString>> &identityColumns()
{
    static const QList<std::pair<QString, QString>> c = {
        {u"api_keys"_s, u"id"_s}, {u"credit_ledger"_s, u"id"_s},       {u"webhook_delivery_log"_s, u"id"_s},
        {u"lists"_s, u"seq"_s},   {u"webhook_deliveries"_s, u"seq"_s}, {u"jobs"_s, u"seq"_s},
    };
    return c;
}

enum class Kind { Other, Text, Bytes };

/// The declared kind of each column of `table` in `db`, by name.
QHash<QString, Kind> columnKinds(QSqlDatabase db, const QString &table)
{
    QHash<QString, Kind> kinds;
    QSqlQuery q(db);
    if (dialectOf(db) == Dialect::PostgreSQL) {
        q.prepare(u"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
                  "current_schema() AND table_name = ?"_s);
        q.addBindValue(table);
    } else {
        q.prepare(u"SELECT name, type FROM pragma_table_info(?)"_s);
        q.addBindValue(table);
    }
    if (!q.exec())
        return kinds;
    while (q.next()) {
        const QString type = q.value(1).toString().toLower();
        kinds.insert(q.value(0).toString(), type == "text"_L1                         ? Kind::Text
                                            : type == "blob"_L1 || type == "bytea"_L1 ? Kind::Bytes
                                                                                      : Kind::Other);
    }
    return kinds;
}

} // namespace

bool copyDatabase(const Database &from, const Database &to,
                  const std::function<void(const QString &table, qint64 rows)> &progress, QString *error)
{
    auto fail = [&](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    if (from.schemaVersion() != to.schemaVersion())
        return fail(u"the databases are at different schema versions (%1 and %2)"_s.arg(from.schemaVersion())
                        .arg(to.schemaVersion()));
    QSqlDatabase source = from.connection();
    QSqlDatabase target = to.connection();
    // One moment of the source for every table (servers may still be writing to it), read as a stream.
    if (!beginRead(source))
        return fail(u"cannot read %1: %2"_s.arg(from.display(), source.lastError().text()));
    const auto endRead = qScopeGuard([&] { source.commit(); });
    for (const QString &table : tables()) {
        QSqlQuery count(target);
        if (!count.exec(u"SELECT COUNT(*) FROM "_s + table) || !count.next())
            return fail(u"cannot read %1 in %2: %3"_s.arg(table, to.display(), count.lastError().text()));
        if (const qint64 n = count.value(0).toLongLong(); n > 0)
            return fail(u"%1 already holds data (%2 rows in %3): migrate into a new, empty database"_s
                            .arg(to.display())
                            .arg(n)
                            .arg(table));
    }
    // Within one transaction: a failure half-way leaves the target as empty as it was.
    const bool copied = inWriteTransaction(target, [&] {
        for (const QString &table : tables()) {
            const QHash<QString, Kind> targetKinds = columnKinds(target, table);
            // Rows in the order they were made where that order is kept (lists, deliveries: PostgreSQL
            // numbers them as they arrive), otherwise as they come.
            const bool ordered = table == "lists"_L1 || table == "webhook_deliveries"_L1;
            QSqlQuery read(source);
            read.setForwardOnly(true); // nothing else runs on this connection meanwhile (see readForward)
            if (!read.exec(
                    u"SELECT * FROM "_s + table +
                    (ordered ? u" ORDER BY created_at, "_s + insertionOrder(from.dialect()) : QString()))) {
                if (error)
                    *error =
                        u"cannot read %1 in %2: %3"_s.arg(table, from.display(), read.lastError().text());
                return false;
            }
            // The columns both have (a PostgreSQL-only numbering column is filled by the target itself).
            const QSqlRecord record = read.record();
            QStringList columns;
            QList<int> fields;
            QList<Kind> kinds;
            for (int f = 0; f < record.count(); ++f) {
                const QString name = record.fieldName(f);
                if (!targetKinds.contains(name) ||
                    ((table == "lists"_L1 || table == "webhook_deliveries"_L1) && name == "seq"_L1))
                    continue;
                columns.append(name);
                fields.append(f);
                kinds.append(targetKinds.value(name));
            }
            const int leaseState = int(columns.indexOf(u"state"_s));
            qint64 rows = 0;
            QList<QVariantList> chunk;
            bool written = true;
            auto write = [&] {
                if (!chunk.isEmpty() && written)
                    written = insertRows(target, table, columns, chunk.size(),
                                         [&](qsizetype i) { return chunk.at(i); });
                rows += chunk.size();
                chunk.clear();
                return written;
            };
            while (read.next()) {
                QVariantList row;
                row.reserve(columns.size());
                for (qsizetype c = 0; c < columns.size(); ++c) {
                    QVariant v = read.value(fields.at(c));
                    // SQLite keeps what it was given: text bound as bytes stays bytes, which PostgreSQL would
                    // take for bytea.
                    if (!v.isNull() && kinds.at(c) == Kind::Text &&
                        v.metaType().id() == QMetaType::QByteArray)
                        v = QString::fromUtf8(v.toByteArray());
                    else if (!v.isNull() && kinds.at(c) == Kind::Bytes &&
                             v.metaType().id() == QMetaType::QString)
                        v = v.toString().toUtf8();
                    row.append(v);
                }
                // A lease belongs to a runner of the old database: the item waits in the queue again.
                if (table == "job_items"_L1 && leaseState >= 0 &&
                    row.at(leaseState).toString() == "leased"_L1) {
                    row[leaseState] = u"queued"_s;
                    if (const qsizetype i = columns.indexOf(u"lease_until"_s); i >= 0)
                        row[i] = QVariant(); // NULL
                    if (const qsizetype i = columns.indexOf(u"leased_by"_s); i >= 0)
                        row[i] = QVariant();
                }
                chunk.append(row);
                if (chunk.size() >= 2000 && !write())
                    break;
            }
            if (read.lastError().isValid()) {
                if (error)
                    *error =
                        u"cannot read %1 in %2: %3"_s.arg(table, from.display(), read.lastError().text());
                return false;
            }
            if (!write()) {
                if (error)
                    *error = u"cannot write %1 in %2"_s.arg(table, to.display());
                return false;
            }
            if (progress)
                progress(table, rows);
        }
        if (to.dialect() == Dialect::PostgreSQL) {
            for (const auto &[table, column] : identityColumns()) {
                QSqlQuery next(target);
                if (!next.exec(u"SELECT setval(pg_get_serial_sequence('%1', '%2'), COALESCE(MAX(%2), 0) + 1, "
                               "false) FROM %1"_s.arg(table, column))) {
                    if (error)
                        *error = u"cannot renumber %1: %2"_s.arg(table, next.lastError().text());
                    return false;
                }
            }
        }
        return true;
    });
    if (!copied && error && error->isEmpty())
        *error = u"the copy into %1 failed: %2"_s.arg(to.display(), target.lastError().text());
    if (copied)
        to.noteChange();
    return copied;
}

} // namespace mailcaff::storage
