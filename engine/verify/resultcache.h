#pragma once

#include "core/result.h"

#include <QHash>
#include <QTimer>

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
/// both modes: quick mode answers with a fresh power result when there is one. Writes are gathered and
/// written together a few milliseconds later (one transaction instead of one per result: on the engine
/// thread, where every millisecond holds up the SMTP sessions); reads see them at once. Used on the thread
/// that created it; what is waiting is written at the latest when it is destroyed.
class ResultCache
{
    Q_DISABLE_COPY_MOVE(ResultCache)
public:
    ResultCache(const storage::Database &db, const CachePolicy &policy);
    ~ResultCache();

    std::optional<core::VerificationResult> find(const QString &asciiAddress) const;
    /// Keeps `result` if its status is worth keeping (written within `WriteDelayMs`).
    void store(const QString &asciiAddress, const core::VerificationResult &result);
    /// Writes what is waiting now; false on a database error (it is dropped then: a cache may forget).
    bool flush();
    /// Removes expired rows; returns how many.
    int purgeExpired();

    static constexpr int WriteDelayMs = 50;

private:
    struct Row
    {
        QString status;
        QByteArray json;
        qint64 verifiedAt = 0;
        qint64 expiresAt = 0;
    };
    const storage::Database &m_db;
    CachePolicy m_policy;
    QHash<QString, Row> m_pending; ///< by cache key, not yet written
    QTimer m_timer;
};

} // namespace mailcaff::verify
