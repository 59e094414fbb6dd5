#pragma once

#include <QMutex>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <memory>

class QThread;

namespace mailcaff::storage {

/// The SQLite database in the data dir. Qt SQL connections are per thread, so connection() opens (once per
/// thread) a named connection to the same file; WAL lets readers and the writer work side by side. Schema
/// migrations run stepwise in open(), each in its own transaction, recorded in `schema_version`.
class Database
{
    Q_DISABLE_COPY_MOVE(Database)
public:
    Database() = default;
    ~Database();

    /// Opens (creating if needed) the database file and migrates it to the current schema.
    bool open(const QString &path, QString *error);
    bool isOpen() const { return !m_path.isEmpty(); }
    QString path() const { return m_path; }

    /// This thread's connection, opened on first use. Invalid if open() was not called or failed.
    QSqlDatabase connection() const;
    /// `sql` prepared on this thread's connection, compiled once per thread and kept with the connection:
    /// for statements run on every request. Bind by position (bindValue(i, v): values stay bound between
    /// uses), exec, read, then finish() (a statement left reading holds on to its snapshot). Not for two
    /// uses of the same SQL at once on one thread: there is one statement per SQL text.
    QSqlQuery &prepared(const QString &sql) const;

    /// Whether what a cache read from the database may have changed since: a commit by any other connection
    /// (another thread, another process: SQLite's data_version), or a change this process noted. For caches
    /// of rows that rarely change and are read on every request (API keys, settings).
    struct ChangeStamp
    {
        qint64 dataVersion = -1;
        quint64 noted = 0;
        bool operator==(const ChangeStamp &) const = default;
    };
    ChangeStamp changeStamp() const;
    /// Writers of keys and settings call it: their own connection's commits do not move its data_version.
    void noteChange() const { ++m_noted; }
    quint64 notedChanges() const { return m_noted.load(); }

    int schemaVersion() const;
    static int latestSchemaVersion();

private:
    struct ThreadState;
    static ThreadState &threadState();
    QSqlDatabase openConnection(const QString &name, QString *error) const;
    bool migrate(QString *error);

    QString m_path;
    QString m_prefix;
    mutable std::atomic<quint64> m_noted{0};
    QThread *m_ownerThread = nullptr;
    /// The connection names opened for this database, shared with the threads that opened them: whoever
    /// comes first (the thread ending, or the Database) closes a connection, under the lock, exactly once.
    struct Registry
    {
        QMutex mutex;
        QStringList names;
    };
    std::shared_ptr<Registry> m_registry = std::make_shared<Registry>();
};

/// Runs `work` in a transaction on `db`: committed when it returns true, rolled back otherwise.
template<typename Work> bool inTransaction(QSqlDatabase db, Work &&work)
{
    if (!db.transaction())
        return false;
    if (!work()) {
        db.rollback();
        return false;
    }
    return db.commit();
}

/// Inserts `count` rows into `table` (in the caller's transaction), many rows per statement: a million rows
/// cost a few thousand statements instead of a million. `row(i)` gives row i's values, one per column.
/// `afterBatch(rowsDone)` runs after each statement (progress for a long import).
bool insertRows(QSqlDatabase db, const QString &table, const QStringList &columns, qsizetype count,
                const std::function<QVariantList(qsizetype)> &row,
                const std::function<void(qsizetype)> &afterBatch = {});

} // namespace mailcaff::storage
