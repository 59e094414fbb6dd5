#pragma once

#include "core/result.h"

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
/// both modes: quick mode answers with a fresh power result when there is one.
class ResultCache
{
public:
    ResultCache(const storage::Database &db, const CachePolicy &policy)
        : m_db(db)
        , m_policy(policy)
    {
    }

    std::optional<core::VerificationResult> find(const QString &asciiAddress) const;
    /// Keeps `result` if its status is worth keeping; false only on a database error.
    bool store(const QString &asciiAddress, const core::VerificationResult &result);
    /// Removes expired rows; returns how many.
    int purgeExpired();

private:
    const storage::Database &m_db;
    CachePolicy m_policy;
};

} // namespace mailcaff::verify
