#pragma once

#include "accounts/credits.h"
#include "core/result.h"

#include <QDateTime>
#include <QHash>
#include <QJsonArray>
#include <QSet>
#include <QString>
#include <QStringList>

#include <optional>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::jobs {

/// A bulk job's state (API.md: processing, completed, failed; cancelled is ours).
enum class JobStatus { Processing, Completed, Failed, Cancelled };
QString toString(JobStatus status);

struct JobSummary
{
    QString id;
    qint64 keyId = 0; ///< 0: a list of the window's, no API key
    QString kind;     ///< "verify" (and "find" with the finder)
    core::Mode mode = core::Mode::Power;
    JobStatus status = JobStatus::Processing;
    int total = 0;
    int processed = 0;
    QHash<core::Status, int> counts;
    QDateTime createdAt;
    QDateTime completedAt;
};

/// One queued unit of work: an input position of a job. Duplicates of an address in a job share one
/// verification: the first position is leased, the others are answered with it.
struct JobItem
{
    QString jobId;
    int position = 0;
    QString input;
    QString normalized;
    core::Mode mode = core::Mode::Power;
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

    enum class Created { Ok, Existing, InsufficientCredits, Failed };
    struct CreateResult
    {
        Created outcome = Created::Failed;
        QString jobId;
        accounts::Usage usage; ///< after charging (for the rate-limit headers and the 429 body)
    };
    /// `key` null: not charged (the window's own lists). With an `idempotencyKey` already used by this key,
    /// nothing is created or charged: the earlier job is returned (Created::Existing).
    CreateResult createVerifyJob(const accounts::ApiKeyInfo *key, const QStringList &emails, core::Mode mode,
                                 const QString &idempotencyKey = {});

    /// The job if it exists and belongs to `keyId` (nullopt: any owner).
    std::optional<JobSummary> summary(const QString &id, std::optional<qint64> keyId = std::nullopt) const;
    /// summary() and results() read in one transaction, so they agree.
    std::optional<std::pair<JobSummary, QJsonArray>>
    snapshot(const QString &id, std::optional<qint64> keyId = std::nullopt) const;
    /// Finished items in input order, each the verify response JSON with the email as given at its position.
    QJsonArray results(const QString &id) const;
    /// Cancels a processing job; the credits of items not yet done are refunded. False if not cancellable.
    bool cancel(const QString &id, const accounts::ApiKeyInfo &key);

    /// Up to `max` queued items, grouped by domain (so SMTP sessions are reused), skipping addresses already
    /// in flight; each leased for `leaseSeconds`.
    QList<JobItem> lease(int max, int leaseSeconds, const QSet<QString> &inFlight);
    /// Stores the result for the item and its duplicates; returns the job id when that finished the job.
    std::optional<QString> complete(const JobItem &item, const core::VerificationResult &result);
    /// Puts leased items back in the queue (at start: this process holds no lease yet). Returns how many.
    int reclaimLeases();
    /// Jobs of the last `days` that ended (completed or failed) for a key with an enabled webhook but have
    /// no delivery yet: a crash between a job's last result and its announcement left them out.
    QStringList unannouncedJobs(int days) const;
    /// Deletes jobs finished more than `days` ago. Returns how many.
    int purgeFinishedBefore(int days);

private:
    const storage::Database &m_db;
    accounts::Credits &m_credits;
};

} // namespace mailcaff::jobs
