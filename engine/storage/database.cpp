#include "database.h"

#include <QDir>
#include <QFileInfo>
#include <QMutexLocker>
#include <QSqlError>
#include <QSqlQuery>
#include <QThread>
#include <QUuid>

#include <atomic>

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
        // item) is charged once.
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
            u"UPDATE job_items SET spread = t.turn FROM (SELECT rowid AS id, ROW_NUMBER() OVER (PARTITION BY "
            "job_id, domain ORDER BY position) - 1 AS turn FROM job_items WHERE state != 'done') AS t "
            "WHERE job_items.rowid = t.id"_s,
            u"CREATE INDEX job_items_spread ON job_items(job_id, state, spread, domain, position)"_s,
            u"DROP INDEX job_items_lease"_s,
        },
    };
    return steps;
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
    ~ThreadState()
    {
        statements.clear();
        for (const auto &[weak, n] : std::as_const(owned)) {
            const std::shared_ptr<Registry> registry = weak.lock();
            if (!registry)
                continue; // the Database removed it already
            QMutexLocker lock(&registry->mutex);
            if (!registry->names.removeOne(n))
                continue;
            QSqlDatabase::database(n, false).close();
            QSqlDatabase::removeDatabase(n);
        }
    }
};

Database::ThreadState &Database::threadState()
{
    thread_local ThreadState state;
    return state;
}

Database::~Database()
{
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
    QSqlQuery &q = prepared(u"PRAGMA data_version"_s);
    if (q.exec() && q.next())
        stamp.dataVersion = q.value(0).toLongLong();
    q.finish();
    return stamp;
}

QSqlQuery &Database::prepared(const QString &sql) const
{
    const QSqlDatabase db = connection();
    ThreadState::Statement &s = threadState().statements[db.connectionName()][sql];
    if (!s.prepared) {
        // First use, or the last prepare failed: tried again (its error is the caller's to see).
        s.query = std::make_shared<QSqlQuery>(db);
        s.query->setForwardOnly(true);
        s.prepared = s.query->prepare(sql);
    }
    return *s.query;
}

int Database::latestSchemaVersion()
{
    return int(migrations().size());
}

QSqlDatabase Database::openConnection(const QString &name, QString *error) const
{
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_s, name);
    db.setDatabaseName(m_path);
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
    return db;
}

bool Database::open(const QString &path, QString *error)
{
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        if (error)
            *error = u"cannot create the folder %1"_s.arg(info.absolutePath());
        return false;
    }
    if (!QSqlDatabase::isDriverAvailable(u"QSQLITE"_s)) {
        if (error)
            *error = u"the Qt SQLite driver is not installed (Debian: libqt6sql6-sqlite)"_s;
        return false;
    }
    m_path = info.absoluteFilePath();
    m_ownerThread = QThread::currentThread();
    m_prefix = u"mailcaff-"_s + QUuid::createUuid().toString(QUuid::WithoutBraces) + u'-';
    QSqlDatabase db = connection();
    if (!db.isOpen()) {
        if (error)
            *error = u"cannot open %1: %2"_s.arg(m_path, db.lastError().text());
        m_path.clear();
        return false;
    }
    if (!migrate(error)) {
        m_path.clear();
        return false;
    }
    return true;
}

QSqlDatabase Database::connection() const
{
    if (m_path.isEmpty())
        return {};
    // A thread's own serial number, never reused (thread ids and QThread addresses can be).
    static std::atomic<quint64> nextThreadSerial{1};
    thread_local const quint64 threadSerial = nextThreadSerial++;
    const QString name = m_prefix + QString::number(threadSerial);
    if (QSqlDatabase::contains(name))
        return QSqlDatabase::database(name, true);
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

bool Database::migrate(QString *error)
{
    QSqlDatabase db = connection();
    QSqlQuery q(db);
    if (!q.exec(
            u"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"_s)) {
        if (error)
            *error = q.lastError().text();
        return false;
    }
    const int current = schemaVersion();
    const auto &steps = migrations();
    if (current > steps.size()) {
        if (error)
            *error = u"the database was written by a newer Mailcaff (schema %1, this version knows %2)"_s
                         .arg(current)
                         .arg(steps.size());
        return false;
    }
    for (int version = current + 1; version <= steps.size(); ++version) {
        // IMMEDIATE, then look again: another process may have applied this step while we waited.
        QString stepError;
        if (!QSqlQuery(db).exec(u"BEGIN IMMEDIATE"_s)) {
            if (error)
                *error = u"cannot lock the database to migrate it: %1"_s.arg(db.lastError().text());
            return false;
        }
        bool ok = true;
        if (schemaVersion() < version) {
            QSqlQuery step(db);
            for (const QString &sql : steps.at(version - 1)) {
                if (!step.exec(sql)) {
                    stepError = step.lastError().text();
                    ok = false;
                    break;
                }
            }
            if (ok) {
                step.prepare(
                    u"INSERT INTO schema_version(version, applied_at) VALUES (?, datetime('now'))"_s);
                step.addBindValue(version);
                ok = step.exec();
                if (!ok)
                    stepError = step.lastError().text();
            }
        }
        if (!ok || !QSqlQuery(db).exec(u"COMMIT"_s)) {
            QSqlQuery(db).exec(u"ROLLBACK"_s);
            if (error)
                *error = u"schema migration %1 failed: %2"_s.arg(version).arg(stepError);
            return false;
        }
    }
    return true;
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
    QSqlQuery full(db);
    if (count >= Batch && !full.prepare(statement(Batch)))
        return false;
    qsizetype i = 0;
    for (; i + Batch <= count; i += Batch) {
        int p = 0;
        for (qsizetype r = i; r < i + Batch; ++r)
            for (const QVariant &v : row(r))
                full.bindValue(p++, v);
        if (!full.exec())
            return false;
        if (afterBatch)
            afterBatch(i + Batch);
    }
    if (i == count)
        return true;
    QSqlQuery rest(db);
    if (!rest.prepare(statement(count - i)))
        return false;
    int p = 0;
    for (qsizetype r = i; r < count; ++r)
        for (const QVariant &v : row(r))
            rest.bindValue(p++, v);
    if (!rest.exec())
        return false;
    if (afterBatch)
        afterBatch(count);
    return true;
}

} // namespace mailcaff::storage
