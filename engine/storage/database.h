#pragma once

#include <QMutex>
#include <QSqlDatabase>
#include <QSqlQuery>
#include <QString>
#include <QStringList>
#include <QWaitCondition>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

class QThread;

namespace mailcaff::storage {

/// The SQL dialects Mailcaff speaks. Everything else is written once, in the SQL both accept; what
/// differs lives in this file (see Database::dialect() and the free functions below).
enum class Dialect { SQLite, PostgreSQL };

/// Where the database is: a SQLite file (a path, or `sqlite:PATH`) or a PostgreSQL server
/// (`postgresql://[user[:password]@]host[:port]/dbname[?libpq options]`). Without a password in the URL,
/// libpq looks in PGPASSWORD and in the password file (PGPASSFILE, `?passfile=`, ~/.pgpass).
struct Location
{
    Dialect dialect = Dialect::SQLite;
    QString path; ///< SQLite: the absolute file path
    QString host;
    int port = 5432;
    QString user;
    QString password;
    QString name;
    QStringList options; ///< libpq keyword=value pairs from the URL's query (sslmode, passfile…)

    /// Parses a location; an empty result with `error` set if it is not one.
    static std::optional<Location> parse(const QString &text, QString *error);
    /// The location for messages and logs: never the password.
    QString display() const;
};

/// The database: SQLite in the data dir by default, or a PostgreSQL server that several Mailcaff
/// instances share. Qt SQL connections are per thread, so connection() opens (once per thread) a named
/// connection; SQLite's WAL lets readers and the writer work side by side. Schema migrations run stepwise in
/// open(), each in its own transaction, recorded in `schema_version`, the same steps on both dialects.
class Database
{
    Q_DISABLE_COPY_MOVE(Database)
public:
    Database() = default;
    ~Database();

    /// Opens (creating the file if needed) the database at `location` (see Location) and migrates it to the
    /// current schema (or to `schema`, an older one: tests of the upgrade from it).
    bool open(const QString &location, QString *error, int schema = -1);
    bool isOpen() const { return m_open; }
    /// The SQLite file's path; empty on PostgreSQL.
    QString path() const { return m_location.path; }
    /// Where the database is, for messages (never a password).
    QString display() const { return m_location.display(); }
    Dialect dialect() const { return m_location.dialect; }

    /// This thread's connection, opened on first use. Invalid if open() was not called or failed.
    QSqlDatabase connection() const;
    /// `sql` prepared on this thread's connection, compiled once per thread and kept with the connection:
    /// for statements run on every request. Bind by position (bindValue(i, v): values stay bound between
    /// uses), exec, read, then finish() (a statement left reading holds on to its snapshot). Not for two
    /// uses of the same SQL at once on one thread: there is one statement per SQL text.
    QSqlQuery &prepared(const QString &sql) const;
    /// storage::beginWrite() and QSqlDatabase::commit() on this thread's connection, SQLite's statements
    /// prepared once (parsing them each time cost a batch of API charges a fifth of its time).
    bool beginWrite() const;
    bool commit() const;

    /// Whether what a cache read from the database may have changed since: a commit by any other connection
    /// (another thread, another process: SQLite's data_version; on PostgreSQL, the `change_stamp` counter
    /// that noteChange() moves), or a change this process noted. For caches of rows that rarely change and
    /// are read on every request (API keys, settings).
    struct ChangeStamp
    {
        qint64 dataVersion = -1;
        quint64 noted = 0;
        bool operator==(const ChangeStamp &) const = default;
    };
    ChangeStamp changeStamp() const;
    /// Writers of keys and settings call it after their commit: their own connection's commits do not move
    /// its data_version, and on PostgreSQL the other instances learn of the change through the database.
    void noteChange() const;
    quint64 notedChanges() const { return m_noted.load(); }

    int schemaVersion() const;
    static int latestSchemaVersion();

private:
    struct ThreadState;
    static ThreadState &threadState();
    QSqlDatabase openConnection(const QString &name, QString *error) const;
    bool migrate(QString *error, int target);

    Location m_location;
    bool m_open = false;
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
    /// SQLite: WAL checkpoints run on a thread of their own, every CheckpointMs, and not in commits.
    /// SQLite's automatic checkpoint copies pages back and syncs the file inside whichever commit crosses
    /// its threshold: on the API's thread that made the slowest 1% of quick verifications (p99 7.5 ms
    /// under `bench_api_load 50 10`; 5.1-5.8 ms with the checkpoints here, the log under 18 MB).
    struct Checkpointer
    {
        QMutex mutex;
        QWaitCondition wake;
        bool stop = false;
        std::thread thread;
    };
    std::unique_ptr<Checkpointer> m_checkpointer;
    static constexpr int CheckpointMs = 250;
    static constexpr int LogFramesBeforeRestart = 1000; ///< about 4 MB of log
    void startCheckpointer();
    void stopCheckpointer();
};

Dialect dialectOf(const QSqlDatabase &db);

/// Begins a transaction that will write after reading, and must not interleave with another such
/// transaction (a balance checked then charged, items found then leased), in this process or another
/// sharing the database: SQLite's BEGIN IMMEDIATE; on PostgreSQL, BEGIN plus a transaction-scoped advisory
/// lock that every writer of this kind takes. End it with db.commit() or db.rollback().
bool beginWrite(QSqlDatabase db);

/// Begins a transaction whose reads all see one moment (PostgreSQL's REPEATABLE READ; any SQLite
/// transaction does). End it with db.commit().
bool beginRead(QSqlDatabase db);

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

/// The same in a beginWrite() transaction.
template<typename Work> bool inWriteTransaction(QSqlDatabase db, Work &&work)
{
    if (!beginWrite(db))
        return false;
    if (!work()) {
        db.rollback();
        return false;
    }
    return db.commit();
}

/// A field of the JSON text in `column`, as SQL: a number as a number, a boolean as 1/0 on SQLite and as
/// 'true'/'false' text on PostgreSQL (QVariant::toBool() reads both).
QString jsonField(Dialect dialect, const QString &column, const QString &field);

/// The database server's clock, in epoch milliseconds, as SQL: for times that servers on different
/// machines compare (heartbeats, slots), so that their clocks' differences do not count.
QString nowMs(Dialect dialect);

/// The column that orders the rows of `lists` and `webhook_deliveries` by insertion: SQLite's rowid;
/// PostgreSQL has none, and numbers them in `seq` (schema step 14).
QString insertionOrder(Dialect dialect);

/// Sets forward-only reading where the driver keeps it safe: on SQLite (rows are read as they are
/// needed). Not on PostgreSQL, where a forward-only result must be read to its end before the connection
/// runs anything else.
void readForward(QSqlQuery &query, const QSqlDatabase &db);

/// Inserts `count` rows into `table` (in the caller's transaction), many rows per statement: a million rows
/// cost a few thousand statements instead of a million. `row(i)` gives row i's values, one per column.
/// `afterBatch(rowsDone)` runs after each statement (progress for a long import). On SQLite the values are
/// bound through SQLite's own calls (Qt's binding cost a tenth of a million-row import), stored as Qt would
/// store them; a statement holding a value Qt binds as text (a date, say) goes through Qt.
bool insertRows(QSqlDatabase db, const QString &table, const QStringList &columns, qsizetype count,
                const std::function<QVariantList(qsizetype)> &row,
                const std::function<void(qsizetype)> &afterBatch = {});

/// A query's rows read as UTF-8 text, forward only: on SQLite through its own calls (no UTF-16 copy and no
/// QVariant for each value: most of an export's reading), elsewhere through QSqlQuery.
class Utf8Rows
{
    Q_DISABLE_COPY_MOVE(Utf8Rows)
public:
    /// Runs `sql` with `values`, one per placeholder, in order.
    Utf8Rows(QSqlDatabase db, const QString &sql, const QVariantList &values);
    ~Utf8Rows();
    /// False when the query could not run, or failed while its rows were read.
    bool ok() const;
    /// Moves to the next row: false at the end, or on a failure (ok() then says so).
    bool next();
    /// Column `column` of the current row as UTF-8 (a number as its text, NULL as empty), valid until the
    /// next call to next().
    QByteArrayView text(int column) const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

/// One statement run many times in the caller's transaction (an UPDATE for each of a batch's items): on
/// SQLite its values are bound through SQLite's own calls, as insertRows() binds them (Qt's binding names a
/// placeholder and looks it up for every value); elsewhere, or for a value Qt binds as text, through Qt.
class RepeatedStatement
{
    Q_DISABLE_COPY_MOVE(RepeatedStatement)
public:
    RepeatedStatement(QSqlDatabase db, const QString &sql);
    ~RepeatedStatement();
    /// Runs the statement with `values` (one per placeholder, in order): the rows it changed, or nullopt
    /// when it failed.
    std::optional<qint64> exec(const QVariantList &values);

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace mailcaff::storage
