#include "database.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QMutexLocker>
#include <QRegularExpression>
#include <QSqlDriver>
#include <QSqlError>
#include <QSqlQuery>
#include <QSqlRecord>
#include <QThread>
#include <QUrl>
#include <QUrlQuery>
#include <QUuid>

#include <algorithm>
#include <atomic>
#include <map>

#ifdef Q_OS_LINUX
#include <dlfcn.h>
#endif

using namespace Qt::StringLiterals;

namespace mailcaff::storage {

namespace {

/// Each step takes the schema from version N-1 to N. Never edit a released step: add one.
const QList<QStringList> &migrations()
{
    static const QList<QStringList> steps = {
        // 1: API keys (only a SHA-256 hash and a short prefix are kept) and settings.
        {
            u"CREATE TABLE api_keys ("
            "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
            "  name TEXT NOT NULL,"
            "  prefix TEXT NOT NULL,"
            "  hash BLOB NOT NULL UNIQUE,"
            "  plan TEXT NOT NULL,"
            "  created_at TEXT NOT NULL,"
            "  revoked_at TEXT)"_s,
            u"CREATE INDEX api_keys_prefix ON api_keys(prefix)"_s,
            u"CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)"_s,
        },
        // 2: power-mode results, reused by both modes while fresh.
        {
            u"CREATE TABLE verification_cache ("
            "  address TEXT PRIMARY KEY,"
            "  status TEXT NOT NULL,"
            "  result TEXT NOT NULL,"
            "  verified_at INTEGER NOT NULL,"
            "  expires_at INTEGER NOT NULL)"_s,
            u"CREATE INDEX verification_cache_expiry ON verification_cache(expires_at)"_s,
        },
        // 3: the credit ledger: one row per charge (positive) or refund (negative); a reference (a job
        // item) is charged once. (The API's charges of one event-loop turn share a row per key and reason:
        // Credits::takeAll.)
        {
            u"CREATE TABLE credit_ledger ("
            "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
            "  key_id INTEGER NOT NULL REFERENCES api_keys(id),"
            "  month TEXT NOT NULL,"
            "  amount INTEGER NOT NULL,"
            "  reason TEXT NOT NULL,"
            "  reference TEXT UNIQUE,"
            "  created_at TEXT NOT NULL)"_s,
            u"CREATE INDEX credit_ledger_key_month ON credit_ledger(key_id, month)"_s,
        },
        // 4: bulk jobs and their items (leased to the runner, written back one by one).
        {
            u"CREATE TABLE jobs ("
            "  id TEXT PRIMARY KEY,"
            "  key_id INTEGER,"
            "  kind TEXT NOT NULL,"
            "  mode TEXT NOT NULL,"
            "  status TEXT NOT NULL,"
            "  total INTEGER NOT NULL,"
            "  created_at TEXT NOT NULL,"
            "  completed_at TEXT)"_s,
            u"CREATE TABLE job_items ("
            "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
            "  position INTEGER NOT NULL,"
            "  input TEXT NOT NULL,"
            "  normalized TEXT NOT NULL,"
            "  domain TEXT NOT NULL,"
            "  state TEXT NOT NULL DEFAULT 'queued',"
            "  lease_until INTEGER,"
            "  status TEXT,"
            "  result TEXT,"
            "  PRIMARY KEY (job_id, position))"_s,
            u"CREATE INDEX job_items_queue ON job_items(state, job_id, domain)"_s,
            u"CREATE INDEX job_items_normalized ON job_items(job_id, normalized)"_s,
        },
        // 5: monthly totals beside the ledger, kept in the same transactions, so reading a balance does not
        // sum a growing ledger on every request.
        {
            u"CREATE TABLE credit_usage ("
            "  key_id INTEGER NOT NULL,"
            "  month TEXT NOT NULL,"
            "  used INTEGER NOT NULL,"
            "  PRIMARY KEY (key_id, month))"_s,
            u"INSERT INTO credit_usage(key_id, month, used) SELECT key_id, month, SUM(amount) FROM "
            u"credit_ledger "
            "GROUP BY key_id, month"_s,
        },
        // 6: webhooks: one endpoint per API key (the secret is needed to sign, so it is stored, never
        // logged),
        // deliveries with their retry schedule (kept here so it survives restarts) and a log of attempts.
        {
            u"CREATE TABLE webhook_endpoints ("
            "  key_id INTEGER PRIMARY KEY,"
            "  url TEXT NOT NULL,"
            "  secret TEXT NOT NULL,"
            "  enabled INTEGER NOT NULL DEFAULT 1,"
            "  created_at INTEGER NOT NULL,"
            "  disabled_reason TEXT)"_s,
            u"CREATE TABLE webhook_deliveries ("
            "  id TEXT PRIMARY KEY,"
            "  key_id INTEGER NOT NULL,"
            "  event TEXT NOT NULL,"
            "  job_id TEXT,"
            "  payload TEXT NOT NULL,"
            "  attempts INTEGER NOT NULL DEFAULT 0,"
            "  next_attempt_at INTEGER NOT NULL,"
            "  state TEXT NOT NULL DEFAULT 'pending',"
            "  last_status INTEGER,"
            "  last_error TEXT,"
            "  last_duration_ms INTEGER,"
            "  created_at INTEGER NOT NULL,"
            "  delivered_at INTEGER)"_s,
            u"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at)"_s,
            u"CREATE INDEX webhook_deliveries_key ON webhook_deliveries(key_id, created_at)"_s,
            u"CREATE TABLE webhook_delivery_log ("
            "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
            "  delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,"
            "  attempted_at INTEGER NOT NULL,"
            "  status INTEGER,"
            "  duration_ms INTEGER,"
            "  error TEXT)"_s,
            u"CREATE INDEX webhook_delivery_log_delivery ON webhook_delivery_log(delivery_id)"_s,
        },
        // 7: a client's Idempotency-Key per bulk job: a retried submission finds its job instead of paying
        // twice.
        {
            u"ALTER TABLE jobs ADD COLUMN idempotency_key TEXT"_s,
            u"CREATE UNIQUE INDEX jobs_idempotency ON jobs(key_id, idempotency_key) WHERE idempotency_key IS NOT NULL"_s,
        },
        // 8: per item, how often it was leased without an answer (a poison item ends as an error instead of
        // looping forever), how often it was deferred (greylisting: tried again after the rest of the list)
        // and when it may run again (epoch milliseconds).
        {
            u"ALTER TABLE job_items ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0"_s,
            u"ALTER TABLE job_items ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0"_s,
            u"ALTER TABLE job_items ADD COLUMN not_before INTEGER"_s,
        },
        // 9: a key's plan per month once it has changed (the plan in force from that month on): past months
        // keep the credits they had, so carry-over is computed with the plan of each month.
        {
            u"CREATE TABLE plan_history ("
            "  key_id INTEGER NOT NULL,"
            "  month TEXT NOT NULL,"
            "  plan TEXT NOT NULL,"
            "  PRIMARY KEY (key_id, month))"_s,
        },
        // 10: the email finder: each domain's SMTP-verified address patterns (what to try first there), and
        // recent find results per person and domain.
        {
            u"CREATE TABLE domain_patterns ("
            "  domain TEXT NOT NULL,"
            "  pattern TEXT NOT NULL,"
            "  hits INTEGER NOT NULL,"
            "  updated_at INTEGER NOT NULL,"
            "  PRIMARY KEY (domain, pattern))"_s,
            u"CREATE TABLE find_cache ("
            "  key TEXT PRIMARY KEY,"
            "  result TEXT NOT NULL,"
            "  found INTEGER NOT NULL,"
            "  created_at INTEGER NOT NULL)"_s,
        },
        // 11: the window's lists: a verify job plus the imported file's header and rows (carried through to
        // the export), and when each item was done (epoch ms) so a view can read only what is new.
        {
            u"CREATE TABLE lists ("
            "  job_id TEXT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,"
            "  name TEXT NOT NULL,"
            "  header TEXT NOT NULL,"
            "  address_column INTEGER NOT NULL,"
            "  rows_without_address INTEGER NOT NULL,"
            "  source_key TEXT,"
            "  created_at INTEGER NOT NULL)"_s,
            u"CREATE INDEX lists_source ON lists(source_key)"_s,
            u"CREATE TABLE list_rows ("
            "  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
            "  position INTEGER NOT NULL,"
            "  cells TEXT NOT NULL,"
            "  PRIMARY KEY (job_id, position))"_s,
            u"ALTER TABLE job_items ADD COLUMN done_at INTEGER"_s,
            u"CREATE INDEX job_items_done ON job_items(job_id, done_at)"_s,
            // Leasing reads a job's queued items in (domain, position) order straight off this index: a
            // list of a million rows costs the same per lease as one of ten.
            u"CREATE INDEX job_items_lease ON job_items(job_id, state, domain, position)"_s,
            // It replaces the queue index of step 4: one index fewer to update for each stored item.
            u"DROP INDEX job_items_queue"_s,
        },
        // 12: an item's turn within its domain (0 for the domain's first item of the job, 1 for its second…).
        // Leasing deals the domains out one item at a time, so the work in flight spans many mail servers
        // instead of queueing at the few whose addresses come first.
        {
            u"ALTER TABLE job_items ADD COLUMN spread INTEGER NOT NULL DEFAULT 0"_s,
            // Work still queued in older jobs gets its turns too, or a big first domain would hold up
            // its job under the per-domain share.
            // (Joined on the primary key, not SQLite's rowid, so the step runs on PostgreSQL too.)
            u"UPDATE job_items SET spread = t.turn FROM (SELECT job_id AS j, position AS p, ROW_NUMBER() "
            u"OVER "
            "(PARTITION BY job_id, domain ORDER BY position) - 1 AS turn FROM job_items WHERE state != "
            "'done') "
            "AS t WHERE job_items.job_id = t.j AND job_items.position = t.p"_s,
            u"CREATE INDEX job_items_spread ON job_items(job_id, state, spread, domain, position)"_s,
            u"DROP INDEX job_items_lease"_s,
        },
        // 13: a counter that writers of keys, plans and settings move (Database::noteChange), so that
        // servers sharing a PostgreSQL database refresh their caches of those rows (SQLite's data_version
        // does this for a file, and the table stays unused there).
        {
            u"CREATE TABLE change_stamp (id INTEGER PRIMARY KEY, version INTEGER NOT NULL)"_s,
            u"INSERT INTO change_stamp(id, version) VALUES (1, 0)"_s,
        },
        // 14: PostgreSQL has no rowid, by which lists and deliveries made in one millisecond keep their
        // order: a numbered column there (storage::insertionOrder).
        {
            u"-- postgresql\nALTER TABLE lists ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY"_s,
            u"-- postgresql\nALTER TABLE webhook_deliveries ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY"_s,
        },
        // 15: the job runners at work on this database (several servers can share one), each item's lease
        // in its runner's name, so that the leases of a runner that died go back to the queue, and only
        // those (jobs::JobStore::reapRunners).
        {
            u"CREATE TABLE runners ("
            "  id TEXT PRIMARY KEY,"
            "  host TEXT NOT NULL,"
            "  host_key TEXT NOT NULL,"
            "  pid INTEGER NOT NULL,"
            "  started_at INTEGER NOT NULL,"
            "  heartbeat_at INTEGER NOT NULL)"_s,
            u"ALTER TABLE job_items ADD COLUMN leased_by TEXT"_s,
        },
        // 16: connections to mail servers, counted for all the servers sharing the database when they
        // share their per-MX limits (verify::SharedSessionLimiter): one row per connection slot held.
        {
            u"CREATE TABLE mx_slots ("
            "  address TEXT NOT NULL,"
            "  slot INTEGER NOT NULL,"
            "  holder TEXT NOT NULL,"
            "  until INTEGER NOT NULL,"
            "  PRIMARY KEY (address, slot))"_s,
        },
        // 17: a job's items and list rows keyed by the job's number instead of its 36-character id, which
        // every row and every index repeated (a million-row list carried 200 MB of ids); and a duplicate
        // marked by the position of the item it repeats (dup_of, under a small partial index) instead of an
        // index over every item's normalised form, which a list in random order filled in random order.
        {
            // A process of an earlier version still at work on this database would fail on every job from
            // here on: the step waits until none is (JobRunner::RunnerTimeoutMs without a heartbeat).
            u"-- refuse if\nSELECT 'another Mailcaff (' || host || ', process ' || pid || ') is working on "
            "this database: stop every Mailcaff that uses it, then start this version (it rebuilds the job "
            "tables); a process that was killed is forgotten after 20 s' FROM runners WHERE heartbeat_at > "
            "{now_ms} - 20000"_s,
            // PostgreSQL numbers jobs itself; SQLite's next number is the highest so far plus one, taken
            // under its single writer (JobStore::insertJob).
            u"-- postgresql\nALTER TABLE jobs ADD COLUMN seq BIGINT GENERATED BY DEFAULT AS IDENTITY"_s,
            u"-- sqlite\nALTER TABLE jobs ADD COLUMN seq INTEGER"_s,
            u"-- sqlite\nUPDATE jobs SET seq = t.n FROM (SELECT id AS i, ROW_NUMBER() OVER (ORDER BY "
            "created_at, id) AS n FROM jobs) AS t WHERE jobs.id = t.i"_s,
            u"CREATE UNIQUE INDEX jobs_seq ON jobs(seq)"_s,
            u"CREATE TABLE job_items_17 ("
            "  job INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,"
            "  position INTEGER NOT NULL,"
            "  input TEXT NOT NULL,"
            "  normalized TEXT NOT NULL,"
            "  domain TEXT NOT NULL,"
            "  state TEXT NOT NULL DEFAULT 'queued',"
            "  lease_until INTEGER,"
            "  status TEXT,"
            "  result TEXT,"
            "  attempts INTEGER NOT NULL DEFAULT 0,"
            "  deferrals INTEGER NOT NULL DEFAULT 0,"
            "  not_before INTEGER,"
            "  done_at INTEGER,"
            "  spread INTEGER NOT NULL DEFAULT 0,"
            "  leased_by TEXT,"
            "  dup_of INTEGER,"
            "  PRIMARY KEY (job, position))"_s,
            u"INSERT INTO job_items_17 (job, position, input, normalized, domain, state, lease_until, "
            u"status, "
            "result, attempts, deferrals, not_before, done_at, spread, leased_by, dup_of) SELECT j.seq, "
            "i.position, "
            "i.input, i.normalized, i.domain, i.state, i.lease_until, i.status, i.result, i.attempts, "
            "i.deferrals, "
            "i.not_before, i.done_at, i.spread, i.leased_by, NULLIF(MIN(i.position) OVER (PARTITION BY "
            "i.job_id, "
            "i.normalized), i.position) FROM job_items i JOIN jobs j ON j.id = i.job_id"_s,
            u"DROP TABLE job_items"_s,
            u"ALTER TABLE job_items_17 RENAME TO job_items"_s,
            u"CREATE INDEX job_items_spread ON job_items(job, state, spread, domain, position)"_s,
            u"CREATE INDEX job_items_done ON job_items(job, done_at)"_s,
            u"CREATE INDEX job_items_dups ON job_items(job, dup_of) WHERE dup_of IS NOT NULL"_s,
            // A job's counts per status (every progress tick, every status request) read from this index
            // alone: through the spread index, each done item was a row looked up at random (2 s a count
            // for a million-row list).
            u"CREATE INDEX job_items_status ON job_items(job, state, status)"_s,
            u"CREATE TABLE list_rows_17 ("
            "  job INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,"
            "  position INTEGER NOT NULL,"
            "  cells TEXT NOT NULL,"
            "  PRIMARY KEY (job, position))"_s,
            u"INSERT INTO list_rows_17 (job, position, cells) SELECT j.seq, r.position, r.cells FROM "
            u"list_rows r "
            "JOIN jobs j ON j.id = r.job_id"_s,
            u"DROP TABLE list_rows"_s,
            u"ALTER TABLE list_rows_17 RENAME TO list_rows"_s,
        },
        // 18: a job's done items per status, kept in the transactions that finish items: a progress tick
        // or a status request reads a handful of rows instead of an index entry per done item (half a
        // second, every tick, for a million-row list).
        {
            u"CREATE TABLE job_counts ("
            "  job INTEGER NOT NULL REFERENCES jobs(seq) ON DELETE CASCADE,"
            "  status TEXT NOT NULL,"
            "  n INTEGER NOT NULL,"
            "  PRIMARY KEY (job, status))"_s,
            u"INSERT INTO job_counts (job, status, n) SELECT job, status, COUNT(*) FROM job_items WHERE "
            u"state = "
            "'done' GROUP BY job, status"_s,
        },
        // 19: the index of items by state and status goes: since 18 only the question whether a job ended
        // failed read it, and job_counts answers that. Every item's lease and answer updated it twice
        // (a million-row quick list: verified 10% faster without it, stored a few percent faster).
        {
            u"DROP INDEX IF EXISTS job_items_status"_s,
        },
    };
    return steps;
}

/// A migration statement in `dialect`: the steps are written for SQLite; PostgreSQL's integers are 32-bit
/// unless asked for 64 (our times are epoch milliseconds), it has no AUTOINCREMENT and calls BLOB bytea.
/// A statement that begins with "-- postgresql" runs only there (empty: skipped on SQLite), one that begins
/// with "-- sqlite" only on SQLite. One that begins with "-- refuse if" is a query whose first row, if any,
/// stops the migration with its text as the reason; "{now_ms}" stands for the time in epoch milliseconds.
QString forDialect(Dialect dialect, QString sql)
{
    static const QString postgresOnly = u"-- postgresql\n"_s;
    static const QString sqliteOnly = u"-- sqlite\n"_s;
    if (sql.startsWith(postgresOnly))
        return dialect == Dialect::PostgreSQL ? sql.mid(postgresOnly.size()) : QString();
    if (sql.startsWith(sqliteOnly))
        return dialect == Dialect::SQLite ? sql.mid(sqliteOnly.size()) : QString();
    if (dialect == Dialect::SQLite)
        return sql;
    sql.replace(u"INTEGER PRIMARY KEY AUTOINCREMENT"_s,
                u"BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"_s);
    static const QRegularExpression integer(u"\\bINTEGER\\b"_s);
    static const QRegularExpression blob(u"\\bBLOB\\b"_s);
    sql.replace(integer, u"BIGINT"_s);
    sql.replace(blob, u"BYTEA"_s);
    return sql;
}

/// The advisory lock that beginWrite() takes on PostgreSQL (any constant; "mailcaff" in ASCII).
constexpr qint64 WriteLock = 0x6d61696c63616666;

QString isoNow()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
}

/// The server process behind a PostgreSQL connection (libpq's PQbackendPID), 0 when unknown. When the
/// server closes a connection (a restart, a failover, an idle connection cut), Qt's driver connects again
/// by itself, and the statements prepared on the old session are gone: a new process number tells.
/// libpq is asked through the handle the driver exposes, with the libpq the driver itself loaded (so that
/// building Mailcaff needs no libpq of its own). Elsewhere than on Linux: 0 (not detected).
int backendProcess(const QSqlDatabase &db)
{
#ifdef Q_OS_LINUX
    using Pid = int (*)(const void *);
    static const Pid pid = []() -> Pid {
        void *libpq = dlopen("libpq.so.5", RTLD_NOW | RTLD_NOLOAD);
        return libpq ? reinterpret_cast<Pid>(dlsym(libpq, "PQbackendPID")) : nullptr;
    }();
    if (!pid || !db.driver())
        return 0;
    const QVariant handle = db.driver()->handle();
    if (qstrcmp(handle.typeName(), "PGconn*") != 0 && qstrcmp(handle.typeName(), "pg_conn*") != 0)
        return 0;
    const void *connection = *static_cast<void *const *>(handle.constData());
    return connection ? pid(connection) : 0;
#else
    Q_UNUSED(db);
    return 0;
#endif
}

} // namespace

/// What a thread holds: the connections it opened (pool threads come and go: a thread's connections are
/// closed when it ends, or each finished worker thread would leave an open SQLite handle behind), and its
/// prepared statements per connection name (names are never reused), freed before their connections.
/// Statements of another thread's connection that the Database removed are finalised by Qt SQL when the
/// connection closes, and only freed here later.
struct Database::ThreadState
{
    QList<QPair<std::weak_ptr<Registry>, QString>> owned;
    struct Statement
    {
        std::shared_ptr<QSqlQuery> query; // on the heap: the reference handed out outlives a rehash
        bool prepared = false;
    };
    QHash<QString, QHash<QString, Statement>> statements;
    QHash<QString, int> sessions; ///< PostgreSQL: the server process of each connection, when last seen
    ~ThreadState()
    {
        for (const auto &[weak, n] : std::as_const(owned)) {
            const std::shared_ptr<Registry> registry = weak.lock();
            if (!registry) {
                statements.remove(n); // the Database removed the connection (and its driver) already
                continue;
            }
            // The statements go under the lock too: a statement's destructor may talk to its driver
            // (PostgreSQL's deallocates itself on the server), which the Database must not remove meanwhile.
            QMutexLocker lock(&registry->mutex);
            statements.remove(n);
            if (!registry->names.removeOne(n))
                continue;
            QSqlDatabase::database(n, false).close();
            QSqlDatabase::removeDatabase(n);
        }
        statements.clear();
    }
};

Database::ThreadState &Database::threadState()
{
    thread_local ThreadState state;
    return state;
}

Database::~Database()
{
    stopCheckpointer();
    // Connections of other threads cannot be used from here (Qt SQL's rule), only removed.
    ThreadState &mine = threadState();
    QMutexLocker lock(&m_registry->mutex);
    for (const QString &name : std::as_const(m_registry->names)) {
        mine.statements.remove(name);
        QSqlDatabase::removeDatabase(name);
    }
    m_registry->names.clear();
}

Database::ChangeStamp Database::changeStamp() const
{
    ChangeStamp stamp;
    stamp.noted = m_noted.load();
    QSqlQuery &q =
        prepared(dialect() == Dialect::SQLite ? u"PRAGMA data_version"_s
                                              : u"SELECT version FROM change_stamp WHERE id = 1"_s);
    if (q.exec() && q.next())
        stamp.dataVersion = q.value(0).toLongLong();
    q.finish();
    return stamp;
}

void Database::noteChange() const
{
    ++m_noted;
    if (dialect() == Dialect::PostgreSQL) {
        QSqlQuery &q = prepared(u"UPDATE change_stamp SET version = version + 1 WHERE id = 1"_s);
        q.exec();
        q.finish();
    }
}

QSqlQuery &Database::prepared(const QString &sql) const
{
    const QSqlDatabase db = connection();
    ThreadState::Statement &s = threadState().statements[db.connectionName()][sql];
    if (!s.prepared) {
        // First use, or the last prepare failed: tried again (its error is the caller's to see).
        s.query = std::make_shared<QSqlQuery>(db);
        readForward(*s.query, db);
        s.prepared = s.query->prepare(sql);
    }
    return *s.query;
}

bool Database::beginWrite() const
{
    if (dialect() != Dialect::SQLite)
        return storage::beginWrite(connection());
    QSqlQuery &begin = prepared(u"BEGIN IMMEDIATE"_s);
    const bool begun = begin.exec();
    begin.finish();
    return begun;
}

bool Database::commit() const
{
    if (dialect() != Dialect::SQLite)
        return connection().commit();
    QSqlQuery &commit = prepared(u"COMMIT"_s);
    const bool committed = commit.exec();
    commit.finish();
    return committed;
}

int Database::latestSchemaVersion()
{
    return int(migrations().size());
}

QSqlDatabase Database::openConnection(const QString &name, QString *error) const
{
    if (m_location.dialect == Dialect::PostgreSQL) {
        QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, name);
        db.setHostName(m_location.host);
        db.setPort(m_location.port);
        db.setDatabaseName(m_location.name);
        if (!m_location.user.isEmpty())
            db.setUserName(m_location.user);
        if (!m_location.password.isEmpty())
            db.setPassword(m_location.password);
        QStringList options = m_location.options;
        if (!std::any_of(options.cbegin(), options.cend(),
                         [](const QString &o) { return o.startsWith("connect_timeout="_L1); }))
            options << u"connect_timeout=10"_s;
        options << u"application_name=mailcaff"_s;
        db.setConnectOptions(options.join(u';'));
        if (!db.open()) {
            if (error)
                *error = db.lastError().databaseText().trimmed();
            return db;
        }
        // Not "relation already exists, skipping" on stderr each start.
        QSqlQuery(db).exec(u"SET client_min_messages = warning"_s);
        return db;
    }
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
    db.setDatabaseName(m_location.path);
    // Wait for a concurrent writer instead of failing at once.
    db.setConnectOptions(u"QSQLITE_BUSY_TIMEOUT=5000"_s);
    if (!db.open()) {
        if (error)
            *error = db.lastError().text();
        return db;
    }
    QSqlQuery q(db);
    q.exec(u"PRAGMA journal_mode=WAL"_s);
    q.exec(u"PRAGMA synchronous=NORMAL"_s);
    q.exec(u"PRAGMA foreign_keys=ON"_s);
    // 32 MiB of page cache per connection (SQLite's default is 2 MiB): a list of a million rows updates
    // five indexes, and with a small cache each insert reads its index pages back from disk.
    q.exec(u"PRAGMA cache_size=-32768"_s);
    // Checkpoints are the checkpointer thread's (startCheckpointer). A commit checkpoints only as a last
    // resort, when the log passes 16,384 pages (64 MiB: a writer that never pauses keeps the checkpointer
    // out), and a log file that grew past 64 MiB (a long import) is cut back to that when started over.
    q.exec(u"PRAGMA wal_autocheckpoint=16384"_s);
    q.exec(u"PRAGMA journal_size_limit=67108864"_s);
    return db;
}

bool Database::open(const QString &location, QString *error, int schema)
{
    stopCheckpointer(); // it reads the location this changes
    const std::optional<Location> parsed = Location::parse(location, error);
    if (!parsed)
        return false;
    if (parsed->dialect == Dialect::SQLite) {
        const QFileInfo info(parsed->path);
        if (!QDir().mkpath(info.absolutePath())) {
            if (error)
                *error = u"cannot create the folder %1"_s.arg(info.absolutePath());
            return false;
        }
    }
    const QString driver = parsed->dialect == Dialect::SQLite ? u"QSQLITE"_s : u"QPSQL"_s;
    if (!QSqlDatabase::isDriverAvailable(driver)) {
        if (error)
            *error = parsed->dialect == Dialect::SQLite
                         ? u"the Qt SQLite driver is not installed (Debian: libqt6sql6-sqlite)"_s
                         : u"the Qt PostgreSQL driver is not installed (Debian: libqt6sql6-psql)"_s;
        return false;
    }
    m_location = *parsed;
    m_ownerThread = QThread::currentThread();
    m_prefix = u"mailcaff-"_s + QUuid::createUuid().toString(QUuid::WithoutBraces) + u'-';
    QSqlDatabase db = connection();
    if (!db.isOpen()) {
        if (error)
            *error = u"cannot open %1: %2"_s.arg(
                m_location.display(),
                (dialect() == Dialect::PostgreSQL ? db.lastError().databaseText() : db.lastError().text())
                    .trimmed());
        m_prefix.clear();
        return false;
    }
    if (!migrate(error, schema < 0 ? latestSchemaVersion() : std::min(schema, latestSchemaVersion()))) {
        m_prefix.clear();
        return false;
    }
    m_open = true;
    if (dialect() == Dialect::SQLite)
        startCheckpointer();
    return true;
}

void Database::startCheckpointer()
{
    stopCheckpointer();
    m_checkpointer = std::make_unique<Checkpointer>();
    m_checkpointer->thread = std::thread([this, c = m_checkpointer.get()] {
        QMutexLocker lock(&c->mutex);
        while (!c->stop) {
            c->wake.wait(&c->mutex, CheckpointMs);
            if (c->stop)
                break;
            lock.unlock();
            // PASSIVE: copies what no reader still needs, and waits for nobody. Its row: busy, frames in
            // the log, frames copied.
            QSqlQuery q(connection());
            const bool longLog = q.exec(u"PRAGMA wal_checkpoint(PASSIVE)"_s) && q.next() &&
                                 q.value(1).toLongLong() > LogFramesBeforeRestart;
            q.finish();
            // Under a steady stream of commits the log is never all copied at one moment, and only then
            // does the next writer start it over. Past its limit, RESTART copies the little PASSIVE left
            // and holds new writers back until the readers are done with the log: the next commit starts
            // it over.
            if (longLog)
                q.exec(u"PRAGMA wal_checkpoint(RESTART)"_s);
            q.finish();
            lock.relock();
        }
    });
}

void Database::stopCheckpointer()
{
    if (!m_checkpointer)
        return;
    {
        QMutexLocker lock(&m_checkpointer->mutex);
        m_checkpointer->stop = true;
        m_checkpointer->wake.wakeAll();
    }
    // Its connection goes as the thread ends (ThreadState), before the others are removed below.
    m_checkpointer->thread.join();
    m_checkpointer.reset();
}

QSqlDatabase Database::connection() const
{
    if (m_prefix.isEmpty())
        return {};
    // A thread's own serial number, never reused (thread ids and QThread addresses can be).
    static std::atomic<quint64> nextThreadSerial{1};
    thread_local const quint64 threadSerial = nextThreadSerial++;
    const QString name = m_prefix + QString::number(threadSerial);
    if (QSqlDatabase::contains(name)) {
        QSqlDatabase db = QSqlDatabase::database(name, true);
        if (dialect() == Dialect::PostgreSQL) {
            // A new session since the last look: the statements prepared on the old one went with it (Qt
            // warns as it lets them go), and its settings too.
            ThreadState &state = threadState();
            int &known = state.sessions[name];
            if (const int now = backendProcess(db); now != known) {
                if (known != 0) {
                    state.statements.remove(name);
                    QSqlQuery(db).exec(u"SET client_min_messages = warning"_s);
                }
                known = now;
            }
        }
        return db;
    }
    {
        QMutexLocker lock(&m_registry->mutex);
        m_registry->names.append(name);
    }
    if (QThread::currentThread() != m_ownerThread)
        threadState().owned.append({m_registry, name});
    QString error;
    return openConnection(name, &error);
}

int Database::schemaVersion() const
{
    QSqlQuery q(connection());
    if (!q.exec(u"SELECT MAX(version) FROM schema_version"_s) || !q.next())
        return 0;
    return q.value(0).toInt();
}

bool Database::migrate(QString *error, int target)
{
    QSqlDatabase db = connection();
    auto fail = [&](const QString &message) {
        db.rollback();
        if (error)
            *error = message;
        return false;
    };
    // Under the write lock: on PostgreSQL two servers starting at once would race to create the table.
    if (!storage::beginWrite(db))
        return fail(u"cannot lock the database to migrate it: %1"_s.arg(db.lastError().text()));
    QSqlQuery q(db);
    if (!q.exec(forDialect(
            dialect(),
            u"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"_s)))
        return fail(u"cannot create the schema in %1: %2%3"_s.arg(
            m_location.display(), q.lastError().databaseText().trimmed(),
            dialect() == Dialect::PostgreSQL
                ? u" (the user needs CREATE on the database's public schema: make it the database's owner)"_s
                : QString()));
    q.finish();
    if (!db.commit())
        return fail(db.lastError().text());
    const int current = schemaVersion();
    const auto &steps = migrations();
    if (current > steps.size()) {
        if (error)
            *error = u"the database was written by a newer Mailcaff (schema %1, this version knows %2)"_s
                         .arg(current)
                         .arg(steps.size());
        return false;
    }
    for (int version = current + 1; version <= target; ++version) {
        // Locked, then look again: another process may have applied this step while we waited.
        if (!storage::beginWrite(db))
            return fail(u"cannot lock the database to migrate it: %1"_s.arg(db.lastError().text()));
        QString stepError;
        bool ok = true;
        if (schemaVersion() < version) {
            QSqlQuery step(db);
            static const QString refuseIf = u"-- refuse if\n"_s;
            for (const QString &sql : steps.at(version - 1)) {
                QString statement = forDialect(dialect(), sql);
                statement.replace(u"{now_ms}"_s, nowMs(dialect()));
                if (!statement.isEmpty() && !step.exec(statement)) {
                    stepError = step.lastError().text();
                    ok = false;
                    break;
                }
                // A precondition: a row it returns says why the step cannot run now.
                if (statement.startsWith(refuseIf) && step.next()) {
                    stepError = step.value(0).toString();
                    ok = false;
                    break;
                }
                step.finish();
            }
            if (ok) {
                step.prepare(u"INSERT INTO schema_version(version, applied_at) VALUES (?, ?)"_s);
                step.addBindValue(version);
                step.addBindValue(isoNow());
                ok = step.exec();
                if (!ok)
                    stepError = step.lastError().text();
            }
        }
        if (!ok || !db.commit())
            return fail(u"schema migration %1 failed: %2"_s.arg(version).arg(stepError));
    }
    return true;
}

Dialect dialectOf(const QSqlDatabase &db)
{
    return db.driverName() == "QPSQL"_L1 ? Dialect::PostgreSQL : Dialect::SQLite;
}

bool beginWrite(QSqlDatabase db)
{
    if (dialectOf(db) == Dialect::SQLite)
        return QSqlQuery(db).exec(u"BEGIN IMMEDIATE"_s);
    if (!db.transaction())
        return false;
    // Waits as SQLite's busy timeout does, then fails, rather than hanging on a stuck writer.
    QSqlQuery lock(db);
    if (lock.exec(u"SET LOCAL lock_timeout = '10s'"_s) &&
        lock.exec(u"SELECT pg_advisory_xact_lock(%1)"_s.arg(WriteLock)))
        return true;
    db.rollback();
    return false;
}

bool beginRead(QSqlDatabase db)
{
    return QSqlQuery(db).exec(dialectOf(db) == Dialect::SQLite ? u"BEGIN"_s
                                                               : u"BEGIN ISOLATION LEVEL REPEATABLE READ"_s);
}

QString jsonField(Dialect dialect, const QString &column, const QString &field)
{
    if (dialect == Dialect::SQLite)
        return u"json_extract(%1, '$.%2')"_s.arg(column, field);
    return u"(%1::jsonb ->> '%2')"_s.arg(column, field);
}

QString nowMs(Dialect dialect)
{
    return dialect == Dialect::SQLite ? u"CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"_s
                                      : u"CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"_s;
}

QString insertionOrder(Dialect dialect)
{
    return dialect == Dialect::SQLite ? u"rowid"_s : u"seq"_s;
}

void readForward(QSqlQuery &query, const QSqlDatabase &db)
{
    if (dialectOf(db) == Dialect::SQLite)
        query.setForwardOnly(true);
}

std::optional<Location> Location::parse(const QString &text, QString *error)
{
    auto bad = [&](const QString &why) -> std::optional<Location> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    Location l;
    if (text.startsWith("postgresql://"_L1) || text.startsWith("postgres://"_L1)) {
        l.dialect = Dialect::PostgreSQL;
        const QUrl url(text, QUrl::StrictMode);
        // The URL itself may hold a password: the messages name the problem, never the text (QUrl's own
        // message quotes it).
        if (!url.isValid())
            return bad(u"the PostgreSQL URL is not valid (check the port, and percent-encode characters such "
                       u"as / ? # @ : in the user name and password)"_s);
        l.host = url.host();
        if (l.host.isEmpty())
            return bad(
                u"the PostgreSQL URL names no host: postgresql://[user[:password]@]host[:port]/dbname"_s);
        l.port = url.port(5432);
        l.user = url.userName(QUrl::FullyDecoded);
        l.password = url.password(QUrl::FullyDecoded);
        l.name = url.path(QUrl::FullyDecoded).mid(1);
        if (l.name.isEmpty() || l.name.contains(u'/'))
            return bad(
                u"the PostgreSQL URL names no database: postgresql://[user[:password]@]host[:port]/dbname"_s);
        static const QRegularExpression keyword(u"^[a-z_]+$"_s);
        for (const auto &[key, value] : QUrlQuery(url).queryItems(QUrl::FullyDecoded)) {
            if (!keyword.match(key).hasMatch() || value.contains(u';'))
                return bad(u"the PostgreSQL URL's option '%1' is not a libpq connection option"_s.arg(key));
            if (key == "password"_L1)
                l.password = value;
            else
                l.options << key + u"='"_s +
                                 QString(value).replace(u'\\', u"\\\\"_s).replace(u'\'', u"\\'"_s) + u'\'';
        }
        return l;
    }
    if (text.contains("://"_L1) && !text.startsWith("sqlite:"_L1))
        return bad(u"unknown database '%1': give a SQLite file (PATH or sqlite:PATH) or postgresql://…"_s.arg(
            text.left(text.indexOf("://"_L1) + 3)));
    QString path = text.startsWith("sqlite:"_L1) ? text.mid(7) : text;
    if (path.startsWith("//"_L1))
        path = path.mid(2); // sqlite:///abs/path
    if (path.isEmpty())
        return bad(u"no SQLite file given (sqlite:PATH)"_s);
    l.path = QFileInfo(path).absoluteFilePath();
    return l;
}

QString Location::display() const
{
    if (dialect == Dialect::SQLite)
        return path;
    return u"postgresql://%1%2:%3/%4"_s.arg(user.isEmpty() ? QString() : user + u'@', host)
        .arg(port)
        .arg(name);
}

namespace {

/// SQLite's C calls that insertRows() needs, from the library Qt's SQLite driver loaded (asked with
/// RTLD_NOLOAD, as libpq is above: building Mailcaff needs no SQLite headers or library of its own).
struct SqliteCalls
{
    using Destructor = void (*)(void *);
    int (*prepare)(void *, const char *, int, void **, const char **) = nullptr;
    int (*bindNull)(void *, int) = nullptr;
    int (*bindInt64)(void *, int, qint64) = nullptr;
    int (*bindDouble)(void *, int, double) = nullptr;
    int (*bindText16)(void *, int, const void *, int, Destructor) = nullptr;
    int (*bindBlob)(void *, int, const void *, int, Destructor) = nullptr;
    int (*step)(void *) = nullptr;
    int (*reset)(void *) = nullptr;
    int (*finalize)(void *) = nullptr;
    const char *(*errmsg)(void *) = nullptr;
    int (*changes)(void *) = nullptr;
    const unsigned char *(*columnText)(void *, int) = nullptr;
    int (*columnBytes)(void *, int) = nullptr;

    static constexpr int Ok = 0;     // SQLITE_OK
    static constexpr int Row = 100;  // SQLITE_ROW
    static constexpr int Done = 101; // SQLITE_DONE

    /// Null where the library or one of its calls is not found.
    static const SqliteCalls *get()
    {
#ifdef Q_OS_LINUX
        static const std::optional<SqliteCalls> calls = []() -> std::optional<SqliteCalls> {
            void *lib = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_NOLOAD);
            if (!lib)
                return std::nullopt;
            SqliteCalls c;
            bool all = true;
            auto find = [&](auto &call, const char *name) {
                call = reinterpret_cast<std::remove_reference_t<decltype(call)>>(dlsym(lib, name));
                all = all && call;
            };
            find(c.prepare, "sqlite3_prepare_v2");
            find(c.bindNull, "sqlite3_bind_null");
            find(c.bindInt64, "sqlite3_bind_int64");
            find(c.bindDouble, "sqlite3_bind_double");
            find(c.bindText16, "sqlite3_bind_text16");
            find(c.bindBlob, "sqlite3_bind_blob");
            find(c.step, "sqlite3_step");
            find(c.reset, "sqlite3_reset");
            find(c.finalize, "sqlite3_finalize");
            find(c.errmsg, "sqlite3_errmsg");
            find(c.changes, "sqlite3_changes");
            find(c.columnText, "sqlite3_column_text");
            find(c.columnBytes, "sqlite3_column_bytes");
            return all ? std::optional(c) : std::nullopt;
        }();
        return calls ? &*calls : nullptr;
#else
        return nullptr;
#endif
    }
};

/// RepeatedStatement's statement run through SQLite's own calls, on the connection (and in the transaction)
/// the QSqlDatabase holds: Qt's QSqlResult::bindValue() makes a placeholder name and a hash lookup for
/// every value bound, about a tenth of a million-row import. Values are bound as Qt's SQLite driver binds
/// them; a value of a type bound otherwise than below sends that run through Qt instead.
class DirectStatement
{
    Q_DISABLE_COPY_MOVE(DirectStatement)
public:
    DirectStatement(const QSqlDatabase &db, const QString &sql)
        : m_sql(sql.toUtf8())
    {
        if (dialectOf(db) != Dialect::SQLite || !db.driver())
            return;
        const QVariant handle = db.driver()->handle();
        if (qstrcmp(handle.typeName(), "sqlite3*") != 0)
            return;
        m_connection = *static_cast<void *const *>(handle.constData());
        m_calls = m_connection ? SqliteCalls::get() : nullptr;
    }
    ~DirectStatement()
    {
        if (m_statement)
            m_calls->finalize(m_statement);
    }

    /// Runs the statement with `values`: true or false as it went, nullopt when Qt has to run it.
    std::optional<bool> exec(const QVariantList &values)
    {
        const std::optional<bool> bound = query(values);
        if (!bound.value_or(false))
            return bound;
        if (m_calls->step(m_statement) != SqliteCalls::Done)
            return fail(m_statement);
        m_calls->reset(m_statement);
        return true;
    }
    /// Rows the last statement run on the connection changed.
    qint64 changes() const { return m_calls->changes(m_connection); }

    /// Binds `values` to a query whose rows then come from step(): true, false when it failed, nullopt
    /// when Qt has to run it.
    std::optional<bool> query(const QVariantList &values)
    {
        if (!m_calls || !std::all_of(values.cbegin(), values.cend(), bindable))
            return std::nullopt;
        if (!m_statement && m_calls->prepare(m_connection, m_sql.constData(), int(m_sql.size()), &m_statement,
                                             nullptr) != SqliteCalls::Ok)
            return fail(nullptr);
        for (int i = 0; i < values.size(); ++i) {
            if (bind(m_statement, i + 1, values.at(i)) != SqliteCalls::Ok)
                return fail(m_statement);
        }
        return true;
    }
    /// The query's next row: true, false at its end, nullopt when it failed.
    std::optional<bool> step()
    {
        const int result = m_calls->step(m_statement);
        if (result == SqliteCalls::Row)
            return true;
        if (result != SqliteCalls::Done)
            return fail(m_statement) ? std::optional(false) : std::nullopt;
        m_calls->reset(m_statement);
        return false;
    }
    /// Column `column` of the current row as UTF-8 text (SQLite writes numbers out), empty for NULL.
    QByteArrayView text(int column) const
    {
        const unsigned char *text = m_calls->columnText(m_statement, column); // before its size
        return text ? QByteArrayView(reinterpret_cast<const char *>(text),
                                     m_calls->columnBytes(m_statement, column))
                    : QByteArrayView();
    }

private:
    /// Null, or a type bound below (what Qt's driver binds as text, such as dates, goes through Qt).
    static bool bindable(const QVariant &v)
    {
        switch (v.typeId()) {
        case QMetaType::UnknownType:
        case QMetaType::QString:
        case QMetaType::QByteArray:
        case QMetaType::Int:
        case QMetaType::Bool:
        case QMetaType::UInt:
        case QMetaType::LongLong:
        case QMetaType::Double:
            return true;
        default:
            return v.isNull();
        }
    }
    int bind(void *statement, int index, const QVariant &v) const
    {
        // As Qt's driver: a null variant, a null string and a null byte array are SQL NULL; strings and
        // bytes are kept alive by `values` until the statement has run (SQLITE_STATIC).
        const int type = v.typeId();
        if (v.isNull() ||
            (type == QMetaType::QString && static_cast<const QString *>(v.constData())->isNull()) ||
            (type == QMetaType::QByteArray && static_cast<const QByteArray *>(v.constData())->isNull()))
            return m_calls->bindNull(statement, index);
        switch (type) {
        case QMetaType::QString: {
            const auto *text = static_cast<const QString *>(v.constData());
            return m_calls->bindText16(statement, index, text->utf16(), int(text->size() * sizeof(QChar)),
                                       nullptr);
        }
        case QMetaType::QByteArray: {
            const auto *bytes = static_cast<const QByteArray *>(v.constData());
            return m_calls->bindBlob(statement, index, bytes->constData(), int(bytes->size()), nullptr);
        }
        case QMetaType::Double:
            return m_calls->bindDouble(statement, index, v.toDouble());
        default: // the integers and bool
            return m_calls->bindInt64(statement, index, v.toLongLong());
        }
    }
    bool fail(void *statement)
    {
        qWarning("database: statement failed: %s", m_calls->errmsg(m_connection));
        if (statement)
            m_calls->reset(statement);
        return false;
    }

    const QByteArray m_sql;
    const SqliteCalls *m_calls = nullptr;
    void *m_connection = nullptr;
    void *m_statement = nullptr;
};

} // namespace

struct RepeatedStatement::Private
{
    Private(QSqlDatabase db, const QString &statement)
        : direct(db, statement)
        , sql(statement)
        , query(db)
    {
    }
    DirectStatement direct;
    const QString sql;
    QSqlQuery query;
    bool preparedInQt = false;
};

struct Utf8Rows::Private
{
    Private(QSqlDatabase db, const QString &statement)
        : direct(db, statement)
        , query(db)
    {
    }
    DirectStatement direct;
    QSqlQuery query;
    bool viaQt = false;
    bool ok = false;
    QList<QByteArray> row; ///< through Qt: the current row
};

Utf8Rows::Utf8Rows(QSqlDatabase db, const QString &sql, const QVariantList &values)
    : d(std::make_unique<Private>(db, sql))
{
    if (const std::optional<bool> started = d->direct.query(values)) {
        d->ok = *started;
        return;
    }
    d->viaQt = true;
    readForward(d->query, db);
    if (!d->query.prepare(sql))
        return;
    for (int i = 0; i < values.size(); ++i)
        d->query.bindValue(i, values.at(i));
    d->ok = d->query.exec();
}

Utf8Rows::~Utf8Rows() = default;

bool Utf8Rows::ok() const
{
    return d->ok;
}

bool Utf8Rows::next()
{
    if (!d->ok)
        return false;
    if (!d->viaQt) {
        const std::optional<bool> row = d->direct.step();
        d->ok = row.has_value();
        return row.value_or(false);
    }
    if (!d->query.next()) {
        d->ok = d->query.lastError().type() == QSqlError::NoError;
        return false;
    }
    const int columns = d->query.record().count();
    d->row.resize(columns);
    for (int i = 0; i < columns; ++i)
        d->row[i] = d->query.value(i).toString().toUtf8();
    return true;
}

QByteArrayView Utf8Rows::text(int column) const
{
    return d->viaQt ? QByteArrayView(d->row.at(column)) : d->direct.text(column);
}

RepeatedStatement::RepeatedStatement(QSqlDatabase db, const QString &sql)
    : d(std::make_unique<Private>(db, sql))
{
}

RepeatedStatement::~RepeatedStatement() = default;

std::optional<qint64> RepeatedStatement::exec(const QVariantList &values)
{
    if (const std::optional<bool> done = d->direct.exec(values))
        return *done ? std::optional(d->direct.changes()) : std::nullopt;
    if (!d->preparedInQt) {
        if (!d->query.prepare(d->sql))
            return std::nullopt;
        d->preparedInQt = true;
    }
    for (int i = 0; i < values.size(); ++i)
        d->query.bindValue(i, values.at(i));
    if (!d->query.exec())
        return std::nullopt;
    return d->query.numRowsAffected();
}

bool insertRows(QSqlDatabase db, const QString &table, const QStringList &columns, qsizetype count,
                const std::function<QVariantList(qsizetype)> &row,
                const std::function<void(qsizetype)> &afterBatch)
{
    // SQLite takes up to 32,766 parameters a statement (3.32+); 200 rows of a few columns stay far below.
    constexpr qsizetype Batch = 200;
    QString one = u"("_s;
    for (qsizetype c = 0; c < columns.size(); ++c)
        one += c ? u",?"_s : u"?"_s;
    one += u')';
    const QString head = u"INSERT INTO "_s + table + u'(' + columns.join(u',') + u") VALUES "_s;
    auto statement = [&](qsizetype rows) {
        QString sql = head;
        sql.reserve(head.size() + rows * (one.size() + 1));
        for (qsizetype r = 0; r < rows; ++r) {
            if (r > 0)
                sql += u',';
            sql += one;
        }
        return sql;
    };
    // PostgreSQL's text cannot hold U+0000 (SQLite's can): a list or request that carries one is stored
    // without it rather than refused whole.
    const bool noNul = dialectOf(db) == Dialect::PostgreSQL;
    auto value = [noNul](const QVariant &v) {
        if (noNul && v.metaType().id() == QMetaType::QString && v.toString().contains(QChar(0)))
            return QVariant(v.toString().remove(QChar(0)));
        return v;
    };
    std::map<qsizetype, std::unique_ptr<RepeatedStatement>> statements; // by rows a statement
    QVariantList values;
    for (qsizetype i = 0; i < count; i += Batch) {
        const qsizetype rows = std::min(Batch, count - i);
        values.clear();
        values.reserve(rows * columns.size());
        for (qsizetype r = i; r < i + rows; ++r)
            for (const QVariant &v : row(r))
                values.append(value(v));
        std::unique_ptr<RepeatedStatement> &insert = statements[rows];
        if (!insert)
            insert = std::make_unique<RepeatedStatement>(db, statement(rows));
        if (!insert->exec(values))
            return false;
        if (afterBatch)
            afterBatch(i + rows);
    }
    return true;
}

} // namespace mailcaff::storage
