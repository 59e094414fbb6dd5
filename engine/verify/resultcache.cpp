#include "resultcache.h"

#include "storage/database.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QJsonDocument>
#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace mailcaff::verify {

namespace {

QString cacheKey(const QString &asciiAddress)
{
    return asciiAddress.toLower();
}

/// `texts` as a JSON array (QJsonArray would cost as much as the query it is for).
QString jsonArray(const QStringList &texts)
{
    QByteArray out = "[";
    for (const QString &text : texts) {
        if (out.size() > 1)
            out += ',';
        core::appendJsonString(out, text);
    }
    out += ']';
    return QString::fromUtf8(out);
}

/// This thread's batch (beginBatch): by cache key, the stored result's JSON, or nothing when there is none.
struct ThreadBatch
{
    const ResultCache *cache = nullptr;
    QHash<QString, std::optional<QByteArray>> rows;
};
thread_local ThreadBatch t_batch;

} // namespace

ResultCache::ResultCache(const storage::Database &db, const CachePolicy &policy)
    : m_db(db)
    , m_policy(policy)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(WriteDelayMs);
    QObject::connect(&m_timer, &QTimer::timeout, [this] { flush(); });
    m_writerThread.setObjectName(u"mailcaff-cache"_s);
    m_writer = new QObject;
    m_writer->moveToThread(&m_writerThread);
    QObject::connect(&m_writerThread, &QThread::finished, m_writer, &QObject::deleteLater);
    m_writerThread.start();
}

ResultCache::~ResultCache()
{
    m_timer.stop();
    // The writer finishes what it was given (in order), then what is still waiting is written here.
    QMetaObject::invokeMethod(
        m_writer, [] {}, Qt::BlockingQueuedConnection);
    m_writerThread.quit();
    m_writerThread.wait();
    QMutexLocker lock(&m_mutex);
    write(m_db, m_pending);
}

std::optional<core::VerificationResult> ResultCache::find(const QString &asciiAddress) const
{
    const QString key = cacheKey(asciiAddress);
    std::optional<core::VerificationResult> waiting;
    {
        QMutexLocker lock(&m_mutex);
        if (const auto it = m_pending.constFind(key); it != m_pending.constEnd())
            waiting = it->result;
        else if (m_writing && m_writing->contains(key))
            waiting = m_writing->constFind(key)->result;
        else if (const auto absent = m_absent.constFind(key); absent != m_absent.constEnd()) {
            const bool fresh = *absent > QDeadlineTimer::current().deadline();
            m_absent.erase(absent);
            if (fresh)
                return std::nullopt;
        }
    }
    // A row leaves memory only once it is written: from here on, the database has it.
    if (waiting) // through JSON, as from the database: the same answer whether written yet or not
        return core::VerificationResult::fromJson(waiting->toJson());
    if (t_batch.cache == this) {
        if (const auto it = t_batch.rows.constFind(key); it != t_batch.rows.constEnd()) {
            if (!*it)
                return std::nullopt;
            return core::VerificationResult::fromJson(QJsonDocument::fromJson(**it).object());
        }
    }
    QSqlQuery &q =
        m_db.prepared(u"SELECT result FROM verification_cache WHERE address = ? AND expires_at > ?"_s);
    q.bindValue(0, key);
    q.bindValue(1, QDateTime::currentSecsSinceEpoch());
    if (!q.exec() || !q.next())
        return std::nullopt;
    const QByteArray json = q.value(0).toByteArray();
    q.finish();
    return core::VerificationResult::fromJson(QJsonDocument::fromJson(json).object());
}

void ResultCache::beginBatch(const QStringList &asciiAddresses, const QStringList &forOtherThreads) const
{
    t_batch.cache = this;
    t_batch.rows.clear();
    QStringList keys;
    keys.reserve(asciiAddresses.size() + forOtherThreads.size());
    QSet<QString> others; // keys of forOtherThreads to ask about
    {
        // Rows still in memory are left out: find() reads them there, or (once written meanwhile) from
        // the database, never "absent" from a read that came before their write.
        QMutexLocker lock(&m_mutex);
        const auto wanted = [&](const QString &key) {
            return !t_batch.rows.contains(key) && !others.contains(key) && !m_pending.contains(key) &&
                   !(m_writing && m_writing->contains(key));
        };
        for (const QString &address : asciiAddresses) {
            if (QString key = cacheKey(address); wanted(key)) {
                t_batch.rows.insert(key, std::nullopt);
                keys.append(std::move(key));
            }
        }
        for (const QString &address : forOtherThreads) {
            if (QString key = cacheKey(address); wanted(key)) {
                others.insert(key);
                keys.append(std::move(key));
            }
        }
    }
    if (keys.isEmpty())
        return;
    // One statement, one query: the addresses as one JSON array (a list of parameters would cost a bind
    // each).
    const bool sqlite = m_db.dialect() == storage::Dialect::SQLite;
    QSqlQuery &q = m_db.prepared(
        u"SELECT address, result FROM verification_cache WHERE address IN (SELECT %1) AND expires_at > ?"_s
            .arg(sqlite ? u"value FROM json_each(?)"_s : u"json_array_elements_text(CAST(? AS json))"_s));
    q.bindValue(0, jsonArray(keys));
    q.bindValue(1, QDateTime::currentSecsSinceEpoch());
    if (!q.exec()) {
        t_batch.rows.clear(); // not known then: find() asks the database about each address itself
        return;
    }
    while (q.next()) {
        QString key = q.value(0).toString();
        if (others.remove(key))
            continue; // there: find() on the engine thread reads it
        t_batch.rows.insert(std::move(key), q.value(1).toByteArray());
    }
    q.finish();
    if (others.isEmpty())
        return;
    const qint64 now = QDeadlineTimer::current().deadline();
    QMutexLocker lock(&m_mutex);
    if (m_absent.size() + others.size() > MaxAbsent) // those whose verification never asked
        m_absent.removeIf([now](const auto &entry) { return entry.value() <= now; });
    if (m_absent.size() + others.size() > MaxAbsent)
        return; // remembering is an optimisation: find() asks the database
    for (const QString &key : std::as_const(others)) {
        // Written since the read (a verification that just ended): not absent any more.
        if (!m_pending.contains(key) && !(m_writing && m_writing->contains(key)))
            m_absent.insert(key, now + AbsentMemoMs);
    }
}

void ResultCache::endBatch()
{
    t_batch.cache = nullptr;
    t_batch.rows.clear();
}

void ResultCache::store(const QString &asciiAddress, const core::VerificationResult &result)
{
    int days = 0;
    switch (result.status) {
    case core::Status::Valid:
        days = m_policy.validDays;
        break;
    case core::Status::Invalid:
        days = m_policy.invalidDays;
        break;
    case core::Status::Risky:
        days = m_policy.riskyDays;
        break;
    default:
        return; // unknown, disposable, error: not worth keeping
    }
    if (result.mode != core::Mode::Power || days <= 0)
        return;
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    QMutexLocker lock(&m_mutex);
    const QString key = cacheKey(asciiAddress);
    m_absent.remove(key);
    m_pending.insert(key, Row{result, now, now + qint64(days) * 86400});
    if (!m_timer.isActive())
        m_timer.start();
}

void ResultCache::flush()
{
    m_timer.stop();
    // One batch at a time: while the writer waits for the write lock (up to its 5 s), what comes meanwhile
    // gathers here and goes as one batch when it is done, instead of a queue of batches.
    QMutexLocker lock(&m_mutex);
    if (m_pending.isEmpty() || m_writing)
        return;
    m_writing = std::make_shared<const Rows>(std::exchange(m_pending, {}));
    // The destructor waits for the writer, so the database and m_home outlive whatever it runs.
    QMetaObject::invokeMethod(m_writer, [this, rows = m_writing] {
        write(m_db, *rows);
        // Confirmed on the cache's thread: until then, find() reads the rows from memory.
        QMetaObject::invokeMethod(
            &m_home,
            [this] {
                {
                    QMutexLocker writingLock(&m_mutex);
                    m_writing.reset();
                }
                flush();
            },
            Qt::QueuedConnection);
    });
}

bool ResultCache::write(const storage::Database &database, const Rows &rows)
{
    if (rows.isEmpty())
        return true;
    QSqlDatabase db = database.connection();
    return storage::inTransaction(db, [&] {
        QSqlQuery q(db);
        q.prepare(u"INSERT INTO verification_cache(address, status, result, verified_at, expires_at) VALUES "
                  "(?, ?, ?, ?, ?) ON CONFLICT(address) DO UPDATE SET status = excluded.status, result = "
                  "excluded.result, verified_at = excluded.verified_at, expires_at = excluded.expires_at"_s);
        // In address order: two servers writing the same addresses take their row locks in the same order
        // (PostgreSQL), never each waiting for the other.
        QStringList addresses = rows.keys();
        addresses.sort();
        for (const QString &address : std::as_const(addresses)) {
            const auto it = rows.constFind(address);
            q.bindValue(0, it.key());
            q.bindValue(1, core::toString(it->result.status));
            // Text, not bytes: the column is TEXT on PostgreSQL too. Written directly (as the API's
            // answers and the jobs' results are): through QJsonObject it cost as much as the insert.
            q.bindValue(2, QString::fromUtf8(it->result.toJsonBytes()));
            q.bindValue(3, it->verifiedAt);
            q.bindValue(4, it->expiresAt);
            if (!q.exec())
                return false;
        }
        return true;
    });
}

int ResultCache::purgeExpired()
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM verification_cache WHERE expires_at <= ?"_s);
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    return q.exec() ? q.numRowsAffected() : 0;
}

} // namespace mailcaff::verify
