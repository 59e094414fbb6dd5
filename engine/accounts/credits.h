#pragma once

#include "apikeys.h"

#include <QDateTime>
#include <QString>

#include <functional>
#include <optional>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::accounts {

/// A key's credits for the current calendar month (UTC), as API.md states them.
struct Usage
{
    Plan plan = Plan::Free;
    int planCredits = 0;  ///< the plan's monthly credits
    int carriedOver = 0;  ///< unused credits of last month (at most one month of the plan), spent first
    int monthlyLimit = 0; ///< planCredits + carriedOver (what 429 bodies and X-RateLimit-Limit report)
    int monthlyUsed = 0;
    int remaining = 0;
    QDateTime resetsAt; ///< the first instant of next month, UTC
};

/// Monthly credits per API key, kept as a ledger: one row per charge or refund, so usage is a sum and a
/// charge with a reference (a bulk job's item) is taken at most once. Carry-over: last month's unused plan
/// credits (carried credits are spent first and expire with their month), up to one month of the plan.
/// Taking is atomic across threads and processes (BEGIN IMMEDIATE on SQLite).
class Credits
{
public:
    using Clock = std::function<QDateTime()>;
    /// `clock` returns the current UTC time; tests inject one to cross month boundaries.
    explicit Credits(const storage::Database &db, Clock clock = {});

    std::optional<Usage> usage(const ApiKeyInfo &key) const;

    struct Result
    {
        bool ok = false;     ///< taken
        bool failed = false; ///< the database failed (not a lack of credits)
        Usage usage;         ///< after the attempt
    };
    /// Takes `amount` credits, all or nothing. A `reference` already charged is not charged again (ok).
    Result take(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference = {});
    struct Charge
    {
        ApiKeyInfo key;
        int amount = 1;
        QString reason;
    };
    /// Several takes in one transaction, each answered as take() would, in order (a charge sees the ones
    /// before it). All fail together when the database does. The API server charges the requests of one
    /// turn of its event loop this way: one commit for all instead of one each, and one ledger row per key
    /// and reason for the batch (its amount the sum).
    QList<Result> takeAll(const QList<Charge> &charges);
    /// The same inside a transaction the caller opened with storage::beginWrite() on this thread's connection
    /// (to charge in the same transaction that stores what is charged for); nothing is committed here.
    Result takeLocked(const ApiKeyInfo &key, int amount, const QString &reason,
                      const QString &reference = {});
    /// Gives back credits taken this month (e.g. a cancelled job's unprocessed items).
    /// With `chargeReference` (e.g. "job:<id>"), the refund goes to the month of that charge and is capped
    /// at its amount.
    bool refund(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference = {},
                const QString &chargeReference = {});
    /// The same inside a transaction the caller opened with storage::beginWrite() on this thread's
    /// connection; a failed refund leaves the caller's transaction as it was.
    bool refundLocked(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference = {},
                      const QString &chargeReference = {});

    /// Moves an active key to another plan from the current month on (upgrades and downgrades alike take
    /// effect at once: this month's limit is the new plan's, plus the carry). Earlier months keep their
    /// plan. False when no active key has this id or the database failed.
    bool changePlan(const ApiKeyInfo &key, Plan plan);

    QDateTime now() const;
    static QString monthOf(const QDateTime &utc);
    static QDateTime startOfNextMonth(const QDateTime &utc);

private:
    std::optional<Usage> compute(const ApiKeyInfo &key) const;
    std::optional<Usage> compute(const ApiKeyInfo &key, const QDateTime &current) const;
    /// One ledger row and the month's total, in the caller's transaction.
    bool record(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                const QString &month);
    /// The two halves of record(): the ledger row, and the month's total (added once for many rows).
    bool recordLedger(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                      const QString &month);
    bool addUsage(const ApiKeyInfo &key, int amount, const QString &month);

    const storage::Database &m_db;
    Clock m_clock;
};

} // namespace mailcaff::accounts
