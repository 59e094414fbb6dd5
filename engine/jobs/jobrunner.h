#pragma once

#include "jobstore.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>

namespace mailcaff {
class Engine;
}

namespace mailcaff::jobs {

/// Works through queued job items: leases a bounded number at a time (jobs in turn, the domains of a job in
/// turn, no more than a share per domain in power mode), hands each to the handler of its job's kind, and
/// writes the outcomes of what finished together in one transaction, within a few milliseconds. Lives on
/// the thread that created it. Verify items are handled here; other kinds (find) register a handler.
class JobRunner : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(JobRunner)
public:
    /// An item leased more often than this without an answer (its process died each time, or the answer
    /// never came) ends as an `error` instead of holding up its job forever.
    static constexpr int MaxAttempts = 3;

    /// What a handler reports for an item: its outcome, or that it should be tried again later (after the
    /// rest of the list) because the answer was provisional, e.g. greylisting.
    struct Answer
    {
        ItemOutcome outcome;
        std::optional<int> retryAfterMs; ///< set: defer instead of storing the outcome
    };
    struct Handler
    {
        /// Starts the work for `item`; `done` is called once on the runner's thread (never if the runner is
        /// gone). False when the work cannot start (the engine is stopping): the lease brings it back later.
        std::function<bool(const JobItem &item, QObject *context, std::function<void(const Answer &)> done)>
            run;
        /// The `error` outcome of an item given up on (MaxAttempts).
        std::function<ItemOutcome(const JobItem &item)> abandoned;
    };

    /// `greylistDelaysMs`: in power mode, a greylisted address is tried again after each of these delays
    /// (after the rest of the list) before its greylisted result is kept.
    /// `perDomain`: items of one domain in flight at once in power mode (0: no limit). Its mail servers take
    /// only so many at a time; more would wait in the prober's queue while their deadline runs.
    JobRunner(Engine &engine, JobStore &store, int concurrency = 64, QList<int> greylistDelaysMs = {},
              int perDomain = 0, QObject *parent = nullptr);
    ~JobRunner() override;

    void setHandler(QLatin1StringView kind, Handler handler);
    /// Works on this job only (set before start()).
    void setOnlyJob(const QString &jobId) { m_onlyJob = jobId; }

    /// How often a runner says it is alive, and how long a silent one has until the others call it dead
    /// and take its leases (at once, when its process on this machine is gone).
    static constexpr int HeartbeatMs = 5'000;
    static constexpr int RunnerTimeoutMs = 20'000;

    /// Registers this runner, reclaims the leases of runners that died (a crash, a killed server sharing
    /// the database), then starts working.
    void start();
    /// Stops leasing, writes what has finished and puts this runner's other leases back in the queue.
    void stop();
    QString runnerId() const { return m_runnerId; }
    /// New work was queued: look now rather than at the next poll.
    void wake();
    int inFlight() const { return int(m_inFlight.size()); }

Q_SIGNALS:
    void itemFinished(const QString &jobId);
    void jobFinished(const QString &jobId);

private:
    void fill();
    /// Items in flight at most: the concurrency, more with power items joining their domain's work.
    int itemLimit() const;
    void finish(const JobItem &item, const QString &key, const Answer &answer);
    /// Writes the finished outcomes waiting in m_done, then leases more.
    void flush();
    /// The in-flight item `key` is over (answered, abandoned, or never started).
    void forget(const QString &key);
    Handler verifyHandler();

    Engine &m_engine;
    JobStore &m_store;
    int m_concurrency;
    QList<int> m_greylistDelaysMs;
    QString m_onlyJob;
    QHash<QString, Handler> m_handlers;
    QSet<QString> m_inFlight;                 ///< "jobId\nnormalized"
    QHash<QString, QDeadlineTimer> m_started; ///< when each in-flight item must have answered
    QHash<QString, QString> m_domainOf;       ///< in-flight key -> its domain
    DomainLimit m_perDomain;
    QList<std::pair<JobItem, ItemOutcome>> m_done; ///< finished, not yet written
    QTimer m_poll;
    QTimer m_flush;
    QTimer m_heartbeat;
    QString m_runnerId;
    bool m_running = false;
    bool m_filling = false;
};

} // namespace mailcaff::jobs
