#pragma once

#include "accounts/apikeys.h"
#include "accounts/credits.h"
#include "core/requestlog.h"
#include "core/result.h"
#include "domain/domainfinder.h"
#include "find/finder.h"
#include "jobs/jobrunner.h"
#include "jobs/jobstore.h"
#include "jobs/liststore.h"
#include "net/targetpolicy.h"
#include "storage/database.h"
#include "webhooks/webhookstore.h"

#include <QFuture>
#include <QMutex>
#include <QObject>
#include <QReadWriteLock>
#include <QScopeGuard>
#include <QSet>
#include <QSslCertificate>
#include <QThread>
#include <QTimer>

#include <deque>
#include <functional>
#include <memory>

namespace mailcaff::lists {
class Lists;
}

namespace mailcaff {

/// What the engine is started with: the command line's and the settings' values, command line first.
struct EngineConfig
{
    QString dataDir;
    /// Where the database is (storage::Location): empty for SQLite in the data dir.
    QString database;
    /// maxSessionsPerMx counts the connections of every server sharing the database, not this one's.
    bool sharedMxLimits = false;
    QString dnsServers; ///< "IP[:PORT],…"; empty: the system's resolvers
    int dnsTimeoutMs = 2000;
    int dnsTries = 2;
    QString heloName; ///< empty: the machine's host name when fully qualified, else "mailcaff.invalid"
    QString mailFrom; ///< empty: the null sender <>
    quint16 smtpPort = 25;
    int powerDeadlineMs = 60'000;
    int smtpConnectTimeoutMs = 8'000;
    int smtpCommandTimeoutMs = 15'000;
    QList<int> greylistRetryMs{5'000, 15'000, 30'000};
    int maxSessionsPerMx = 2;
    int maxRcptsPerSession = 20;
    /// SMTP connections open at once to all servers together; 0: a quarter of the open files this process
    /// may have (each connection is one; the HTTP server takes up to half, the database and DNS the rest).
    int maxSmtpSessions = 0;
    bool runJobs = true; ///< false for one-shot command-line verbs: they must not take a server's work
    QString onlyJob;     ///< with runJobs: this job only (`mailcaff verify FILE`)
    /// Job items verified at once. The prober keeps each MX host polite; the runner gives one domain no more
    /// than its servers take; bulk items queue behind interactive ones and their deadline waits meanwhile.
    /// Power items of a domain already in flight join it on top of this (up to four times it in all): they
    /// share its DNS answer and wait for its mail server's sessions.
    int jobConcurrency = 1000;
    int jobRetentionDays = 30; ///< finished jobs are deleted after this
    /// Bulk power jobs: a greylisted address is tried again after each delay, after the rest of the list.
    QList<int> jobGreylistDelaysMs{5 * 60'000, 15 * 60'000};
    int cacheValidDays = 30;  ///< power results kept: valid
    int cacheInvalidDays = 7; ///< invalid and risky; unknown never
    bool allowPrivateTargets = false;
    /// Networks allowed although private (`--allow-target`), when private targets are not all allowed.
    QList<QPair<QHostAddress, int>> allowedTargets;
    QList<QSslCertificate>
        webhookExtraCa;        ///< certificates trusted for webhook receivers besides the system's
    QList<int> webhookRetryMs; ///< empty: the default schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h)
    quint16 httpPort = 80;     ///< the domain finder's website checks (tests use loopback servers)
    quint16 httpsPort = 443;
    int domainCacheHours = 7 * 24; ///< domain finder answers are kept this long
    bool finderGravatar = true;    ///< the email finder may ask Gravatar (privacy: a setting)
    bool finderScrape = true;      ///< and read the domain's contact pages
    bool finderBestGuess = true;   ///< and answer a low-confidence guess on catch-all domains
    QString gravatarUrl;           ///< empty: https://gravatar.com/avatar/ (tests use a loopback server)
};

/// The engine as the window, the API and the command line see it. The DNS resolver and the verifier live
/// on the engine's own thread with its own event loop; verify() may be called from any thread and answers
/// on the thread of `context`. Storage (database, API keys) is usable from any thread: Qt SQL connections
/// are per thread.
class Engine : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Engine)
public:
    explicit Engine(QObject *parent = nullptr);
    ~Engine() override;

    /// Opens the database in the data dir, loads the lists, starts the engine thread.
    bool start(const EngineConfig &config, QString *error);
    /// Opens only the database, at `database` or else in the data dir (command-line verbs such as
    /// `keys create` need nothing else).
    bool openStorage(const QString &dataDir, const QString &database, QString *error);
    /// After a start() without runJobs: works on the job `jobId` alone (a `verify FILE` run), which can
    /// then be stored after the engine started. Does nothing when a runner runs already.
    void workOn(const QString &jobId);
    /// Between start() and stop().
    bool isRunning() const { return m_thread.isRunning(); }
    void stop();

    const EngineConfig &config() const { return m_config; }
    const storage::Database &database() const { return m_db; }
    accounts::ApiKeys &apiKeys() { return m_keys; }
    accounts::Credits &credits() { return m_credits; }
    jobs::JobStore &jobs() { return m_jobs; }
    /// The API requests answered lately (the window's server log).
    core::RequestLog &requestLog() { return m_requestLog; }
    /// The window's lists (verify jobs with their file's rows).
    jobs::ListStore &listStore() { return m_listStore; }
    /// Webhook endpoints and deliveries (this thread's view; delivery runs on the engine thread).
    webhooks::WebhookStore &webhooks() { return m_webhooks; }
    /// Null until start() (and without runJobs); lives on a thread of its own: call wake() and setHandler()
    /// (both thread-safe) and connect to its signals (queued).
    jobs::JobRunner *jobRunner() const { return m_runner; }
    std::shared_ptr<const lists::Lists> lists() const { return m_lists; }
    /// Where DNS answers may lead our connections (--allow-private-targets).
    net::TargetPolicy targetPolicy() const { return net::TargetPolicy(m_config.allowPrivateTargets); }

    /// The EHLO name actually used (EngineConfig::heloName, or the default it describes).
    static QString effectiveHeloName(const QString &configured);
    /// Thread-safe. `done` runs on `context`'s thread (which must run an event loop), and is only ever used
    /// and destroyed there: not called if `context` is destroyed first, destroyed uncalled if the engine
    /// stops first. False, with `done` destroyed at once, when the engine is not running.
    bool verify(const QString &email, core::Mode mode, QObject *context,
                std::function<void(const core::VerificationResult &)> done,
                core::Priority priority = core::Priority::Interactive);
    /// Thread-safe, on the calling thread: the answer verify() would give, when it needs no waiting (bad
    /// syntax, a fresh power result, or a domain whose DNS answer is cached, in quick mode); else nothing,
    /// and verify() is the way. Spares a quick verification the two trips through the engine thread.
    std::optional<core::VerificationResult> verifyNow(const QString &email, core::Mode mode) const;
    /// Thread-safe: verifyNow() of each of `emails` is about to come from this thread (a batch of API
    /// requests): the result cache is read for all of them in one query rather than one each. The returned
    /// guard ends the batch; verifyNow() must come before it goes. `forVerify`: addresses about to go to
    /// verify() instead (power items of a bulk job), read in the same query so that the engine thread need
    /// not ask the database about each again.
    [[nodiscard]] QScopeGuard<void (*)()> verifyNowBatch(const QStringList &emails,
                                                         const QStringList &forVerify = {}) const;
    /// Thread-safe: asks DNS now for the mail routes of `asciiDomains` (and, for power mode, the first
    /// MX host's addresses), so that verifications of them find the answers cached or on their way. For a
    /// list about to be stored: its first rows' domains are resolved while the rest is written.
    void prefetchMailRoutes(const QStringList &asciiDomains, core::Mode mode);
    /// A person's address (API.md's find), with the same threading rules as verify().
    bool find(const find::FindRequest &request, QObject *context,
              std::function<void(const find::FindResult &)> done);
    /// The company's mail domain (API.md's find-domain), with the same threading rules as verify().
    bool findDomain(const QString &companyName, QObject *context,
                    std::function<void(const domain::DomainResult &)> done);

    /// Queues a `webhook.test` event to the key's webhook (the window's "send test event"): the delivery id,
    /// or empty when the key has no enabled webhook.
    QString sendTestWebhook(qint64 keyId);

    /// The webhook body of API.md for a job that ended (bulk_job.completed or bulk_job.failed).
    static QJsonObject jobEndedPayload(const jobs::JobSummary &job);

    /// The platform's default data folder (QStandardPaths::AppDataLocation).
    static QString defaultDataDir();
    /// The libraries doing the work, with the versions in use at run time (the About dialog): Qt, c-ares,
    /// OpenSSL, SQLite (the SQLite one only once the database is open).
    QList<QPair<QString, QString>> libraryVersions() const;

private:
    class Worker;
    class PendingCall;
    struct Outbox;
    EngineConfig m_config;
    storage::Database m_db;
    accounts::ApiKeys m_keys{m_db};
    accounts::Credits m_credits{m_db};
    jobs::JobStore m_jobs{m_db, m_credits};
    jobs::ListStore m_listStore{m_jobs, m_db};
    core::RequestLog m_requestLog;
    QTimer
        m_purge; ///< finished jobs past their retention go, every few hours for a server that runs for months
    jobs::JobRunner *m_runner = nullptr;
    webhooks::WebhookStore m_webhooks{&m_db};
    /// Runs `start` on the engine thread and hands its result to `done` on `context`'s thread.
    template<typename Result>
    bool call(QObject *context, std::function<void(const Result &)> done,
              std::function<void(Worker *, std::function<void(const Result &)>)> start);
    bool announceJobEnd(const jobs::JobSummary &job);
    jobs::JobRunner::Handler domainJobHandler();
    jobs::JobRunner::Handler findJobHandler();
    void kickWebhooks();
    std::shared_ptr<const lists::Lists> m_lists;
    /// The lists, read on a thread of the pool from openStorage() on (about 120,000 entries: a noticeable
    /// part of a start), while the caller does its own work (a `verify FILE` stores the file meanwhile).
    QFuture<std::shared_ptr<const lists::Lists>> m_listsLoading;
    QString m_listsLoadingDir;
    QThread m_thread;
    QThread m_jobsThread; ///< the job runner's
    Worker *m_worker = nullptr;
    /// Held for reading while verifyNow() uses the worker on a caller's thread, for writing to set m_worker.
    mutable QReadWriteLock m_workerLock;
    QMutex m_callsMutex;
    QSet<PendingCall *> m_calls; ///< callbacks waiting for the engine thread, owned by their own threads
    /// Results on their way to the callers' threads, gathered per thread: one event carries all those that
    /// arrive before it runs (a slice of quick verifications answers hundreds at once). Shared with the
    /// events in flight, which may outlive the engine.
    std::shared_ptr<Outbox> m_outbox;
    /// Calls waiting to start on the engine thread (guarded by m_callsMutex). They start in slices of a
    /// millisecond or two, each slice one event: a bulk job hands over hundreds at once, and the SMTP
    /// sessions' replies must not wait behind all of them.
    std::deque<std::function<void(Worker *)>> m_waiting;
    bool m_sliceQueued = false; ///< a slice event is on its way to the engine thread
    void startWaitingCalls();
    /// Queues `job` for the engine thread's next slice (m_callsMutex held, `worker` the current one).
    void scheduleLocked(Worker *worker, std::function<void(Worker *)> job);
    void startRunner();
};

} // namespace mailcaff
