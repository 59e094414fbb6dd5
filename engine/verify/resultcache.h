#pragma once

#include "core/result.h"

#include <QHash>
#include <QMutex>
#include <QThread>
#include <QTimer>

#include <memory>
#include <optional>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::verify {

/// How long power-mode verdicts stay fresh. Unknown results are never kept: they say nothing lasting.
struct CachePolicy
{
    int validDays = 30;
    int invalidDays = 7;
    int riskyDays = 7; ///< catch-all, accept-all gateways, full mailboxes: situations that change
};

/// Power-mode results kept in the database, keyed by the address in its ASCII form (case-folded: mailbox
/// names are case-insensitive at every provider that matters, RFC 5321 2.4 notwithstanding). Read by
/// both modes: quick mode answers with a fresh power result when there is one. Writes are gathered for a
/// few milliseconds and written together, in one transaction, by a thread of the cache's own: the thread
/// that uses the cache (the engine thread, where every millisecond holds up the SMTP sessions) never waits
/// for the database's write lock, which a bulk job's writes hold often. Reads see a result at once, written
/// or not. Used on the thread that created it, except find(), which is thread-safe; what is waiting is
/// written at the latest when it is destroyed.
class ResultCache
{
    Q_DISABLE_COPY_MOVE(ResultCache)
public:
    ResultCache(const storage::Database &db, const CachePolicy &policy);
    ~ResultCache();

    std::optional<core::VerificationResult> find(const QString &asciiAddress) const;
    /// Many find() calls about to come from this thread (the API's quick verifications of one event-loop
    /// turn): `asciiAddresses` are read in one query, and find() on this thread answers them from what it
    /// read until endBatch(), instead of a query each. Thread-safe, as find() is.
    /// `forOtherThreads`: read in the same query for the verifications about to leave for the engine
    /// thread; those it does not find are remembered there as absent for a few seconds (AbsentMemoMs), so
    /// that find() of each, once, answers "none" without the database. (A row another process writes
    /// meanwhile is missed: that address is verified again, as it would have been a moment earlier.)
    void beginBatch(const QStringList &asciiAddresses, const QStringList &forOtherThreads = {}) const;
    /// Ends this thread's batch, whichever cache began it.
    static void endBatch();
    /// Keeps `result` if its status is worth keeping (written within `WriteDelayMs`).
    void store(const QString &asciiAddress, const core::VerificationResult &result);
    /// Hands what is waiting to the writing thread now.
    void flush();
    /// Removes expired rows; returns how many.
    int purgeExpired();

    static constexpr int WriteDelayMs = 50;
    static constexpr qint64 AbsentMemoMs = 10'000;
    static constexpr qsizetype MaxAbsent = 50'000;

private:
    struct Row
    {
        core::VerificationResult result; ///< made JSON by the writer, off the engine thread
        qint64 verifiedAt = 0;
        qint64 expiresAt = 0;
    };
    using Rows = QHash<QString, Row>; ///< by cache key
    /// One transaction for `rows`, on the calling thread; false on a database error (the rows are dropped
    /// then: a cache may forget).
    static bool write(const storage::Database &db, const Rows &rows);

    const storage::Database &m_db;
    CachePolicy m_policy;
    mutable QMutex m_mutex; ///< m_pending, m_writing and m_absent, which find() reads from any thread
    Rows m_pending;         ///< not yet handed to the writer
    /// Cache keys a batch found absent (beginBatch's forOtherThreads), until their deadline (ms since the
    /// monotonic clock's epoch) or their find(). Bounded by MaxAbsent.
    mutable QHash<QString, qint64> m_absent;
    /// The batch handed to the writer and not yet confirmed written (one at a time), or null.
    std::shared_ptr<const Rows> m_writing;
    QTimer m_timer;
    QThread m_writerThread;
    QObject *m_writer = nullptr; ///< lives on m_writerThread; deleted when it ends
    QObject m_home;              ///< on the cache's thread: the writer's confirmations arrive here
};

} // namespace mailcaff::verify
