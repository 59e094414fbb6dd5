#pragma once

#include "accounts/credits.h"
#include "core/result.h"

#include <QDateTime>
#include <QHash>
#include <QJsonArray>
#include <QJsonObject>
#include <QSet>
#include <QString>
#include <QStringList>

#include <atomic>
#include <functional>
#include <optional>

class QSqlDatabase;

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::jobs {

/// A bulk job's state (API.md: processing, completed, failed; cancelled and paused, for the window's lists,
/// are ours). A job is `failed` when it
/// ended without a single item that could be processed (every item is an `error`).
enum class JobStatus { Processing, Completed, Failed, Cancelled, Paused };
QString toString(JobStatus status);

/// What a job's items are: addresses to verify, or leads to find an address for.
inline constexpr QLatin1StringView KindVerify{"verify"};
inline constexpr QLatin1StringView KindFind{"find"};
/// Company names to find the domain of (the window's domain lists).
inline constexpr QLatin1StringView KindDomain{"domain"};

/// Item statuses of find and domain jobs (verify items use core::Status's names; "error" is shared).
inline constexpr QLatin1StringView FindFound{"found"};
inline constexpr QLatin1StringView FindNotFound{"not_found"};

struct JobSummary
{
    QString id;
    qint64 keyId = 0; ///< 0: a list of the window's, no API key
    QString kind;     ///< KindVerify or KindFind
    core::Mode mode = core::Mode::Power;
    JobStatus status = JobStatus::Processing;
    int total = 0;
    int processed = 0;
    QHash<core::Status, int> counts; ///< verify items per status; `error` items of either kind
    int found = 0;                   ///< find items with an address, domain items with a domain
    int notFound = 0;                ///< find and domain items without one
    QDateTime createdAt;
    QDateTime completedAt;
};

/// One queued unit of work: an input position of a job. Duplicates in a job share one piece of work: the
/// first position is leased, the others are answered with it.
struct JobItem
{
    QString jobId;
    qint64 jobKey = 0; ///< the job's number (jobs.seq), which its items are keyed by
    QString kind;
    int position = 0;
    QString input;      ///< verify: the address as given; find: the lead as compact JSON
    QString normalized; ///< what duplicates share
    int first =
        -1; ///< the position of the item this one repeats (same `normalized`); -1: none, it is a first
    QString domain; ///< what leasing spreads the work over
    core::Mode mode = core::Mode::Power;
    int attempts =
        0; ///< leases of this item so far, this one included, since it last answered or was deferred
    int deferrals = 0; ///< times it was put back to be tried again later (greylisting)
};

/// SQL for a job's number (jobs.seq, which its items and list rows are keyed by) from its id, bound in its
/// place: "WHERE job = " + JobNumberById.
inline constexpr QLatin1StringView JobNumberById{"(SELECT seq FROM jobs WHERE id = ?)"};

/// Whether the item counts against its domain's share in flight (DomainLimit).
bool sharesDomainLimit(const JobItem &item);

/// Leasing's share per domain: no more than `max` items of a domain in flight (0: no limit). It applies to
/// power-mode verify items with a domain (sharesDomainLimit): find and domain-finder items group by other
/// things than a mail domain.
struct DomainLimit
{
    int max = 0;
    QHash<QString, int> inFlight; ///< items in flight per domain
    /// New work that may start (-1: no limit): every leased item takes one, except an item that joins its
    /// domain's work in flight (power mode, with `max` set): that one shares the domain's DNS answer and
    /// waits for its mail server's sessions, so the DNS load follows the domains, not the items.
    int newWork = -1;
};

/// A finished item as stored: its status name (core::Status's, or FindFound/FindNotFound) and its JSON.
struct ItemOutcome
{
    QString status;
    QJsonObject result;
    /// The same result as compact JSON text, when its maker has it at hand (a verification's
    /// toJsonBytes()): stored as is instead of serialising `result`.
    QByteArray json = {};
};

/// Bulk jobs in the database: created with all their items (and charged) in one transaction before the
/// API answers 202; items leased to the runner and written back one by one, so a crash loses nothing and
/// charges nothing twice: leases of a dead process go back to the queue when the next one starts.
class JobStore
{
public:
    JobStore(const storage::Database &db, accounts::Credits &credits)
        : m_db(db)
        , m_credits(credits)
    {
    }

    /// Called inside the transaction that ends a job (completed or failed), with the job's final summary:
    /// the webhook outbox. The announcement is stored with the job's end or neither is; false rolls back.
    using EndedHook = std::function<bool(const JobSummary &)>;
    void setEndedHook(EndedHook hook) { m_endedHook = std::move(hook); }

    enum class Created { Ok, Existing, InsufficientCredits, Failed };
    struct CreateResult
    {
        Created outcome = Created::Failed;
        QString jobId;
        accounts::Usage usage; ///< after charging (for the rate-limit headers and the 429 body)
    };
    /// One input position of a new job.
    struct NewItem
    {
        QString input;      ///< stored as given, returned with the result
        QString normalized; ///< duplicates (equal `normalized`) are worked once
        QString domain;     ///< items are leased grouped by it
    };
    /// Stores the job and all its items, and charges one credit per item, in one transaction. `key` null:
    /// not charged (the window's own lists). With an `idempotencyKey` already used by this key, nothing is
    /// created or charged: the earlier job is returned (Created::Existing).
    /// `within`, when given, runs in the same transaction once the job and its items are written (a list
    /// stores its file's rows there); false rolls everything back.
    CreateResult createJob(const accounts::ApiKeyInfo *key, QLatin1StringView kind,
                           const QList<NewItem> &items, core::Mode mode, const QString &idempotencyKey = {},
                           const std::function<bool(const QString &jobId)> &within = {},
                           const std::function<void(qsizetype itemsStored)> &progress = {});
    /// Fills `batch` with the items from `position` on (storing what goes with them, in the same
    /// transaction) and leaves it empty at the end; false rolls everything back.
    /// `jobKey` is the job's number, which its rows in other tables (list_rows) are keyed by.
    using NextBatch =
        std::function<bool(const QString &jobId, qint64 jobKey, qsizetype position, QList<NewItem> *batch)>;
    /// A job whose items arrive batch by batch, never all in memory (a list read from its file as it is
    /// stored), in one transaction; not charged (the window's and the command line's lists). `within` runs
    /// once every item is stored.
    CreateResult createStreamedJob(QLatin1StringView kind, core::Mode mode, const NextBatch &next,
                                   const std::function<bool(const QString &jobId)> &within = {});
    CreateResult createVerifyJob(const accounts::ApiKeyInfo *key, const QStringList &emails, core::Mode mode,
                                 const QString &idempotencyKey = {});
    /// Leads are objects with string fields first_name, last_name and domain (or company_name), as the API
    /// validated them; each is stored as given.
    CreateResult createFindJob(const accounts::ApiKeyInfo *key, const QList<QJsonObject> &leads,
                               const QString &idempotencyKey = {});
    /// Company names (duplicates, by their normalised form, found once).
    CreateResult createDomainJob(const accounts::ApiKeyInfo *key, const QStringList &companyNames);
    /// The new-item form of an address or of a lead (what duplicates share, the domain to group by).
    static NewItem verifyItem(const QString &email);
    static NewItem findItem(const QJsonObject &lead);

    /// In the caller's transaction, after a new job's items are stored: a duplicate whose hash matched a
    /// different normalised form (a collision) is made a first item of its own again, so that only equal
    /// ones ever share their work. `job` is the job's number (jobs.seq).
    static bool confirmDuplicates(QSqlDatabase db, qint64 job);

    /// The job if it exists and belongs to `keyId` (nullopt: any owner).
    std::optional<JobSummary> summary(const QString &id, std::optional<qint64> keyId = std::nullopt) const;
    /// summary() and results() read in one transaction, so they agree.
    std::optional<std::pair<JobSummary, QJsonArray>>
    snapshot(const QString &id, std::optional<qint64> keyId = std::nullopt) const;
    /// Finished items in input order. Verify: the verify response with the email as given at its position;
    /// find: the lead's fields as given followed by the find response's; domain: the find-domain response
    /// with the company name as given at its position.
    QJsonArray results(const QString &id) const;
    /// Cancels a processing or paused job; the credits of items not yet done are refunded to `key` (none
    /// for the window's lists: null). False if not cancellable.
    bool cancel(const QString &id, const accounts::ApiKeyInfo *key);
    /// Pauses a processing job (nothing more is leased; what is in flight finishes) or resumes a paused one.
    bool setPaused(const QString &id, bool paused);
    /// Deletes a job that is not processing, with its items (and a list's rows). False otherwise.
    bool remove(const QString &id);

    /// Up to `max` items of jobs of the given kinds that are due (queued, or leased with an expired lease,
    /// and not deferred to later), skipping work already in flight (`inFlight`: "jobId\nnormalized"). Jobs
    /// share the batch in turn (a small job is not stuck behind a big one); within a job the domains take
    /// turns, so the work in flight spans many mail servers (quick verification, which talks to no mail
    /// server, goes in the list's order instead). Each is leased for `leaseSeconds`, its attempts
    /// counted. `onlyJob`: this job's items and no other's (a command-line run must not take a server's
    /// work). `perDomain`: in power-mode jobs, no domain gets more than `max` items in flight, counting those
    /// in `perDomain.inFlight` (0: no limit).
    QList<JobItem> lease(int max, int leaseSeconds, const QSet<QString> &inFlight, const QStringList &kinds,
                         const QString &onlyJob = {}, const DomainLimit &perDomain = {});
    /// Stores the outcome for the item and its duplicates; returns the job id when that ended the job.
    std::optional<QString> complete(const JobItem &item, const ItemOutcome &outcome);
    std::optional<QString> complete(const JobItem &item, const core::VerificationResult &result);
    /// The same for several items in one transaction (the runner writes what finished together): the jobs
    /// that this ended, or nullopt when the database failed (nothing is stored then).
    std::optional<QStringList> completeAll(const QList<std::pair<JobItem, ItemOutcome>> &done);
    /// Puts the item and its duplicates back in the queue, not to be leased before `notBeforeMs` (epoch ms).
    bool defer(const JobItem &item, qint64 notBeforeMs);
    /// Puts back in the queue the leases that no runner owns (taken by earlier versions, or by lease() with
    /// no runner set). Returns how many.
    int reclaimLeases(const QString &onlyJob = {});

    /// Runners: each process that works on jobs registers one (servers sharing a database each have
    /// theirs). lease() marks items with this store's runner; the runner's heartbeat says it is alive; a
    /// runner whose heartbeat stopped for `timeoutMs`, or whose process on this machine is gone, is dead,
    /// and whoever notices puts its leases back in the queue (reapRunners).
    bool registerRunner(const QString &runnerId);
    /// Updates the runner's heartbeat (registering it again if it was reaped meanwhile).
    bool heartbeat(const QString &runnerId);
    /// Puts the leases of dead runners back in the queue and forgets the runners. Returns how many items.
    int reapRunners(const QString &self, qint64 timeoutMs);
    /// A runner that stops: its leases go back in the queue at once and it is forgotten.
    bool unregisterRunner(const QString &runnerId);
    /// The runner lease() leases for (empty: none; its leases are reclaimed at the next start).
    void setRunner(const QString &runnerId) { m_runnerId = runnerId; }
    /// What identifies this machine's processes for a liveness check: the boot and the pid namespace
    /// (Linux; empty elsewhere, where only the heartbeat tells).
    static QString hostKey();
    /// Deletes jobs finished more than `days` ago. Returns how many.
    int purgeFinishedBefore(int days);

private:
    /// In the caller's transaction: ends the job (completed, or failed when nothing in it could be processed)
    /// if no item is left, and calls the ended hook. True when this ended it; nullopt when the database
    /// failed.
    std::optional<bool> finishIfDone(const QString &jobId);
    /// Stores a new job `id` inside a transaction: the count of items stored, or nullopt to roll back (with
    /// `result` saying why when it is not a failure).
    using StoreJob =
        std::function<std::optional<qsizetype>(QSqlDatabase &db, const QString &id, CreateResult &result)>;
    /// A job created durably (synchronous commit): `store`, then `within`, an empty job ended, the commit.
    /// `exclusive`: under storage::beginWrite() (an idempotency key checked, credits charged); otherwise a
    /// plain transaction.
    CreateResult createInTransaction(const StoreJob &store,
                                     const std::function<bool(const QString &jobId)> &within,
                                     bool exclusive = true);
    /// What storing a job's items carries from one batch to the next.
    struct Insertion
    {
        qint64 job = 0;             ///< the job's number (jobs.seq), which its items are keyed by
        QHash<QString, int> turns;  ///< the job's items per domain so far (an item's turn within its domain)
        QHash<quint64, int> firsts; ///< per hash of a normalised form, the position of its first item
        size_t seed = 0;            ///< of those hashes
        /// Quick verification: each item's turn is its position. It contacts no mail server, so its domains
        /// need not take turns, and its answers are then written where the rows lie, not all over the table.
        bool inOrder = false;
    };
    /// In the caller's transaction: the job's row; its number, or nullopt when the database failed.
    static std::optional<qint64> insertJob(QSqlDatabase &db, const QString &id,
                                           const accounts::ApiKeyInfo *key, QLatin1StringView kind,
                                           core::Mode mode, qsizetype total, const QString &idempotencyKey);
    /// In the caller's transaction: the job's items from `firstPosition` on, each duplicate marked with the
    /// position of the item it repeats (found by hash: confirmDuplicates() then checks them).
    static bool insertItems(QSqlDatabase &db, Insertion &insertion, qsizetype firstPosition,
                            const QList<NewItem> &items, const std::function<void(qsizetype)> &progress);

    const storage::Database &m_db;
    accounts::Credits &m_credits;
    EndedHook m_endedHook;
    QString m_runnerId;
    /// Leases that ran out (a lost answer, a process that died) are looked for first at most this often;
    /// in between, only when the queue cannot fill a lease. Finding none reads every leased row of the job
    /// (a millisecond with 4,000 in flight), and a lease runs out only minutes after it was taken.
    static constexpr int ExpiredCheckMs = 5'000;
    std::atomic<qint64> m_nextExpiredCheck{0}; ///< on QDeadlineTimer's clock (ms); 0: the first lease looks
};

} // namespace mailcaff::jobs
