#include "engine.h"

#include "dns/resolver.h"
#include "find/finder.h"
#include "lists/lists.h"
#include "net/descriptors.h"
#include "smtp/prober.h"
#include "verify/resultcache.h"
#include "verify/sharedlimiter.h"
#include "verify/verifier.h"
#include "webhooks/webhookdispatcher.h"

#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QSqlQuery>
#include <QSslConfiguration>
#include <QStandardPaths>
#include <QSysInfo>
#include <QtConcurrent/QtConcurrentRun>

#include <ares.h>
#include <openssl/crypto.h>

#include <any>
#include <utility>
#include <vector>

using namespace Qt::StringLiterals;

namespace mailcaff {

/// Owns the engine thread's objects; created and destroyed on that thread.
class Engine::Worker : public QObject
{
public:
    Worker(const EngineConfig &config, std::shared_ptr<const lists::Lists> lists, storage::Database &db)
        : cache(db,
                verify::CachePolicy{config.cacheValidDays, config.cacheInvalidDays, config.cacheInvalidDays})
        , webhookStore(&db)
        , resolver(this)
        , prober(proberConfig(config, db), this)
        , verifier(&resolver, lists, &prober, powerConfig(config), this)
        , dispatcher(&webhookStore, &resolver,
                     net::TargetPolicy(config.allowPrivateTargets, config.allowedTargets),
                     config.webhookExtraCa, this)
        , domainFinder(&resolver, domainConfig(config), this)
        , finder(&resolver, &prober, &verifier, lists, &db, &domainFinder, finderConfig(config), this)
    {
        resolver.setTimeout(config.dnsTimeoutMs, config.dnsTries);
        verifier.setResultCache(&cache);
        cache.purgeExpired();
        if (!config.webhookRetryMs.isEmpty())
            dispatcher.setRetrySchedule(config.webhookRetryMs);
        // Deliveries left pending by a previous run go out again: their schedule is in the database.
        dispatcher.start();
    }
    verify::ResultCache cache;
    webhooks::WebhookStore webhookStore;
    dns::Resolver resolver;
    smtp::Prober prober;
    verify::Verifier verifier;
    webhooks::WebhookDispatcher dispatcher;
    domain::DomainFinder domainFinder;
    find::Finder finder;

private:
    static find::FinderConfig finderConfig(const EngineConfig &config)
    {
        find::FinderConfig f;
        f.gravatar = config.finderGravatar;
        f.scrape = config.finderScrape;
        f.bestGuess = config.finderBestGuess;
        if (!config.gravatarUrl.isEmpty())
            f.gravatarUrl = config.gravatarUrl;
        f.pages.httpPort = config.httpPort;
        f.pages.httpsPort = config.httpsPort;
        f.pages.maxBodyBytes = 256 * 1024;
        f.pages.maxRedirects = 3;
        f.pages.policy = net::TargetPolicy(config.allowPrivateTargets, config.allowedTargets);
        if (!config.webhookExtraCa.isEmpty())
            f.pages.caCertificates = QSslConfiguration::systemCaCertificates() + config.webhookExtraCa;
        f.greylistRetryMs = config.greylistRetryMs.mid(0, 1);
        f.deadlineMs = config.powerDeadlineMs;
        f.policy = net::TargetPolicy(config.allowPrivateTargets, config.allowedTargets);
        return f;
    }
    static domain::DomainFinderConfig domainConfig(const EngineConfig &config)
    {
        domain::DomainFinderConfig d;
        d.httpPort = config.httpPort;
        d.httpsPort = config.httpsPort;
        d.cacheSeconds = config.domainCacheHours * 3600;
        d.policy = net::TargetPolicy(config.allowPrivateTargets, config.allowedTargets);
        d.extraCa = config.webhookExtraCa;
        return d;
    }
    static smtp::ProberConfig proberConfig(const EngineConfig &config, const storage::Database &db)
    {
        smtp::ProberConfig p;
        if (config.sharedMxLimits)
            p.limiter = std::make_shared<verify::SharedSessionLimiter>(db);
        p.session.heloName = Engine::effectiveHeloName(config.heloName);
        p.session.mailFrom = config.mailFrom;
        p.session.port = config.smtpPort;
        p.session.connectTimeoutMs = config.smtpConnectTimeoutMs;
        p.session.bannerTimeoutMs = config.smtpCommandTimeoutMs;
        p.session.commandTimeoutMs = config.smtpCommandTimeoutMs;
        p.maxSessionsPerHost = config.maxSessionsPerMx;
        p.maxRcptsPerSession = config.maxRcptsPerSession;
        p.maxRcptsPerTransaction = config.maxRcptsPerSession;
        p.maxSessions = config.maxSmtpSessions;
        if (p.maxSessions <= 0) {
            const int descriptors = net::raiseDescriptorLimit();
            // What is left beside a few dozen for the database, DNS and the rest, at most a quarter.
            p.maxSessions = descriptors > 0 ? std::max(2, std::min(descriptors / 4, descriptors - 32)) : 256;
        }
        return p;
    }
    static verify::PowerConfig powerConfig(const EngineConfig &config)
    {
        verify::PowerConfig p;
        p.deadlineMs = config.powerDeadlineMs;
        p.greylistRetryMs = config.greylistRetryMs;
        p.targetPolicy = net::TargetPolicy(config.allowPrivateTargets, config.allowedTargets);
        return p;
    }
};

/// A caller's callback, kept on the caller's thread: the engine thread only posts results to it, so what
/// the callback owns (an HTTP reply, a window) is used and destroyed on its own thread. Whoever removes a
/// call from Engine::m_calls (a result, or stop()) is the only one who may post to it or hand it to the
/// outbox (Engine::Outbox), exactly once.
class Engine::PendingCall : public QObject
{
public:
    PendingCall(QObject *context, std::function<void(const std::any &)> done)
        : m_context(context)
        , m_done(std::move(done))
    {
    }
    void deliver(const std::any &result)
    {
        if (m_context)
            m_done(result);
        delete this;
    }
    void cancel() { delete this; }

private:
    QPointer<QObject> m_context;
    std::function<void(const std::any &)> m_done;
};

struct Engine::Outbox
{
    QMutex mutex;
    QHash<QThread *, std::vector<std::pair<PendingCall *, std::any>>> byThread;

    /// On `thread`: delivers every result gathered for it.
    static void drain(const std::shared_ptr<Outbox> &outbox, QThread *thread)
    {
        std::vector<std::pair<PendingCall *, std::any>> results;
        {
            QMutexLocker lock(&outbox->mutex);
            results = std::move(outbox->byThread[thread]);
            outbox->byThread.remove(thread);
        }
        for (const auto &[call, result] : results)
            call->deliver(result);
    }
};

Engine::Engine(QObject *parent)
    : QObject(parent)
    , m_outbox(std::make_shared<Outbox>())
{
    m_thread.setObjectName(u"mailcaff-engine"_s);
    m_jobsThread.setObjectName(u"mailcaff-jobs"_s);
    m_jobs.setEndedHook([this](const jobs::JobSummary &job) { return announceJobEnd(job); });
    m_purge.setInterval(std::chrono::hours(6));
    connect(&m_purge, &QTimer::timeout, this,
            [this] { m_jobs.purgeFinishedBefore(m_config.jobRetentionDays); });
}

Engine::~Engine()
{
    stop();
    if (m_listsLoading.isValid())
        m_listsLoading.waitForFinished(); // opened but never started (the `keys` verb): nothing outlives us
}

QString Engine::defaultDataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

bool Engine::openStorage(const QString &dataDir, const QString &database, QString *error)
{
    m_config.database = database;
    m_config.dataDir = dataDir.isEmpty() ? defaultDataDir() : dataDir;
    if (!QDir().mkpath(m_config.dataDir)) {
        if (error)
            *error = u"cannot create the data folder %1"_s.arg(m_config.dataDir);
        return false;
    }
    if (!m_listsLoading.isValid()) {
        m_listsLoadingDir = QDir(m_config.dataDir).filePath(u"lists"_s);
        m_listsLoading = QtConcurrent::run([dir = m_listsLoadingDir] { return lists::Lists::load(dir); });
    }
    return m_db.open(database.isEmpty() ? QDir(m_config.dataDir).filePath(u"mailcaff.sqlite"_s) : database,
                     error);
}

bool Engine::start(const EngineConfig &config, QString *error)
{
    if (!m_db.isOpen() && !openStorage(config.dataDir, config.database, error))
        return false;
    const QString dataDir = m_config.dataDir;
    const QString database = m_config.database;
    m_config = config;
    m_config.dataDir = dataDir;
    m_config.database = database;
    const QString listDir = QDir(m_config.dataDir).filePath(u"lists"_s);
    m_lists = m_listsLoading.isValid() && m_listsLoadingDir == listDir ? m_listsLoading.result()
                                                                       : lists::Lists::load(listDir);
    m_listsLoading = {}; // a read for another folder (the data folder changed since) ends on its own

    // Check the DNS server list here, where the error can still reach the user, before the thread starts.
    {
        dns::Resolver probe;
        if (!probe.setServers(m_config.dnsServers, error))
            return false;
    }

    m_thread.start();
    // The worker and its resolver are created on the engine thread, so their sockets and timers belong there.
    bool ok = true;
    QString workerError;
    QObject anchor;
    anchor.moveToThread(&m_thread);
    QMetaObject::invokeMethod(
        &anchor,
        [&] {
            auto *worker = new Worker(m_config, m_lists, m_db);
            ok = worker->resolver.setServers(m_config.dnsServers, &workerError);
            // The worker lock first, as in stop(): a verifyNow() in progress then holds up neither mutex's
            // other users.
            QWriteLocker workerLock(&m_workerLock);
            QMutexLocker callsLock(&m_callsMutex);
            m_worker = worker;
            anchor.moveToThread(this->thread());
        },
        Qt::BlockingQueuedConnection);
    if (!ok) {
        if (error)
            *error = workerError;
        stop();
        return false;
    }
    if (m_config.runJobs)
        startRunner();
    return true;
}

void Engine::workOn(const QString &jobId)
{
    if (m_runner || !m_thread.isRunning())
        return;
    m_config.runJobs = true;
    m_config.onlyJob = jobId;
    startRunner();
}

void Engine::startRunner()
{
    // Bulk jobs: what a crash left leased goes back to the queue, old finished jobs go.
    if (m_config.onlyJob.isEmpty()) { // housekeeping is a server's business
        m_jobs.purgeFinishedBefore(m_config.jobRetentionDays);
        m_purge.start();
    }
    // The runner has a thread of its own: its database writes (a transaction per finished item) never
    // hold up the window or the API.
    // Per domain in power mode: what its mail server's sessions take at once, twice over (one round in
    // the sessions, one waiting).
    const int perDomain =
        2 * std::max(1, m_config.maxSessionsPerMx) * std::max(1, m_config.maxRcptsPerSession);
    m_runner =
        new jobs::JobRunner(*this, m_jobs, m_config.jobConcurrency, m_config.jobGreylistDelaysMs, perDomain);
    connect(m_runner, &jobs::JobRunner::jobFinished, this, &Engine::kickWebhooks, Qt::DirectConnection);
    m_runner->setHandler(jobs::KindDomain, domainJobHandler());
    m_runner->setHandler(jobs::KindFind, findJobHandler());
    m_runner->setOnlyJob(m_config.onlyJob);
    m_jobsThread.start();
    m_runner->moveToThread(&m_jobsThread);
    QMetaObject::invokeMethod(m_runner, &jobs::JobRunner::start, Qt::QueuedConnection);
}

void Engine::stop()
{
    m_purge.stop();
    if (m_runner) {
        jobs::JobRunner *runner = std::exchange(m_runner, nullptr);
        QMetaObject::invokeMethod(
            runner,
            [runner] {
                runner->stop();
                delete runner;
            },
            Qt::BlockingQueuedConnection);
        m_jobsThread.quit();
        m_jobsThread.wait();
    }
    Worker *worker = nullptr;
    {
        // From here on verify() posts nothing more to the worker.
        // verifyNow() calls in progress end before the worker can go (waited for before taking the calls'
        // mutex, which results on their way back need meanwhile).
        QWriteLocker workerLock(&m_workerLock);
        QMutexLocker lock(&m_callsMutex);
        worker = std::exchange(m_worker, nullptr);
        // Calls that have not started never will: their callbacks are cancelled below.
        m_waiting.clear();
        m_sliceQueued = false;
    }
    if (m_thread.isRunning()) {
        // Queued after every call already started, which still find a live worker.
        if (worker)
            QMetaObject::invokeMethod(
                worker, [worker] { delete worker; }, Qt::BlockingQueuedConnection);
        m_thread.quit();
        m_thread.wait();
    } else {
        delete worker;
    }
    // No result can come any more: let the waiting callbacks go, each on its own thread.
    QMutexLocker lock(&m_callsMutex);
    for (PendingCall *call : std::as_const(m_calls))
        QMetaObject::invokeMethod(call, [call] { call->cancel(); });
    m_calls.clear();
}

QJsonObject Engine::jobEndedPayload(const jobs::JobSummary &job)
{
    const QString event =
        job.status == jobs::JobStatus::Completed ? u"bulk_job.completed"_s : u"bulk_job.failed"_s;
    QJsonObject summary;
    if (job.kind == jobs::KindFind || job.kind == jobs::KindDomain) {
        summary = {{u"found"_s, job.found}, {u"not_found"_s, job.notFound}};
    } else {
        auto count = [&](core::Status status) { return job.counts.value(status); };
        summary = {{u"valid"_s, count(core::Status::Valid)},
                   {u"invalid"_s, count(core::Status::Invalid)},
                   {u"risky"_s, count(core::Status::Risky)},
                   {u"disposable"_s, count(core::Status::Disposable)},
                   {u"unknown"_s, count(core::Status::Unknown)}};
    }
    return {{u"event"_s, event},       {u"job_id"_s, job.id},
            {u"job_type"_s, job.kind}, {u"status"_s, jobs::toString(job.status)},
            {u"total"_s, job.total},   {u"summary"_s, summary}};
}

jobs::JobRunner::Handler Engine::domainJobHandler()
{
    jobs::JobRunner::Handler h;
    h.run = [this](const jobs::JobItem &item, QObject *context,
                   std::function<void(const jobs::JobRunner::Answer &)> done) {
        return findDomain(item.input, context, [done](const domain::DomainResult &r) {
            done({{domain::toString(r.status), r.toJson()}, std::nullopt});
        });
    };
    h.abandoned = [](const jobs::JobItem &item) {
        domain::DomainResult r;
        r.companyName = item.input;
        r.status = domain::DomainResult::Status::Error;
        return jobs::ItemOutcome{domain::toString(r.status), r.toJson()};
    };
    return h;
}

jobs::JobRunner::Handler Engine::findJobHandler()
{
    jobs::JobRunner::Handler h;
    h.run = [this](const jobs::JobItem &item, QObject *context,
                   std::function<void(const jobs::JobRunner::Answer &)> done) {
        const QJsonObject lead = QJsonDocument::fromJson(item.input.toUtf8()).object();
        const find::FindRequest request{
            lead.value("first_name"_L1).toString(), lead.value("last_name"_L1).toString(),
            lead.value("domain"_L1).toString(), lead.value("company_name"_L1).toString()};
        const bool fromCompany = request.domain.isEmpty();
        return find(request, context, [done, fromCompany](const find::FindResult &r) {
            QJsonObject json = r.toJson(true);
            if (fromCompany)
                json.insert(u"domain"_s,
                            r.domain.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(r.domain));
            done({{r.found ? QString(jobs::FindFound) : QString(jobs::FindNotFound), json}, std::nullopt});
        });
    };
    h.abandoned = [](const jobs::JobItem &) {
        return jobs::ItemOutcome{core::toString(core::Status::Error), find::FindResult().toJson(true)};
    };
    return h;
}

bool Engine::announceJobEnd(const jobs::JobSummary &job)
{
    // Called in the transaction that ends the job: the delivery row is written with the job's end (an
    // outbox), so no crash can separate them. Delivered from the engine thread.
    if (job.keyId == 0)
        return true; // the window's own list: nobody to tell
    const QJsonObject payload = jobEndedPayload(job);
    if (!m_webhooks.enqueue(job.keyId, payload.value("event"_L1).toString(), job.id, payload).isEmpty())
        return true;
    return m_webhooks.lastError().isEmpty(); // no enabled endpoint is fine; a failed write is not
}

QString Engine::sendTestWebhook(qint64 keyId)
{
    const QString id = m_webhooks.enqueue(
        keyId, u"webhook.test"_s, QString(),
        {{u"event"_s, u"webhook.test"_s},
         {u"message"_s,
          u"A test event from Mailcaff: your endpoint is reachable and can check the signature."_s},
         {u"sent_at"_s, QDateTime::currentDateTimeUtc().toString(Qt::ISODate)}});
    if (!id.isEmpty())
        kickWebhooks();
    return id;
}

void Engine::kickWebhooks()
{
    QMutexLocker lock(&m_callsMutex);
    if (Worker *worker = m_worker)
        QMetaObject::invokeMethod(worker, [worker] { worker->dispatcher.kick(); });
}

QString Engine::effectiveHeloName(const QString &configured)
{
    if (!configured.isEmpty())
        return configured;
    // Never someone else's name: the machine's own when it is fully qualified, else a reserved one.
    const QString host = QSysInfo::machineHostName();
    return host.contains(u'.') ? host : u"mailcaff.invalid"_s;
}

template<typename Result>
bool Engine::call(QObject *context, std::function<void(const Result &)> done,
                  std::function<void(Worker *, std::function<void(const Result &)>)> start)
{
    if (!context)
        return false;
    QMutexLocker lock(&m_callsMutex);
    Worker *worker = m_worker;
    if (!worker)
        return false;
    auto *call = new PendingCall(context, [done = std::move(done)](const std::any &result) {
        done(std::any_cast<const Result &>(result));
    });
    call->moveToThread(context->thread());
    m_calls.insert(call);
    scheduleLocked(worker, [this, call, start = std::move(start)](Worker *w) {
        start(w, [this, call](const Result &result) {
            {
                QMutexLocker resultLock(&m_callsMutex);
                if (!m_calls.remove(call))
                    return;
            }
            // The first result for its thread posts the event that delivers the others with it.
            QThread *thread = call->thread();
            bool first = false;
            {
                QMutexLocker outboxLock(&m_outbox->mutex);
                auto &results = m_outbox->byThread[thread];
                first = results.empty();
                results.emplace_back(call, std::any(result));
            }
            if (first)
                QMetaObject::invokeMethod(call,
                                          [outbox = m_outbox, thread] { Outbox::drain(outbox, thread); });
        });
    });
    return true;
}

void Engine::scheduleLocked(Worker *worker, std::function<void(Worker *)> job)
{
    m_waiting.push_back(std::move(job));
    if (!std::exchange(m_sliceQueued, true))
        QMetaObject::invokeMethod(
            worker, [this] { startWaitingCalls(); }, Qt::QueuedConnection);
}

void Engine::prefetchMailRoutes(const QStringList &asciiDomains, core::Mode mode)
{
    QMutexLocker lock(&m_callsMutex);
    Worker *worker = m_worker;
    if (!worker || asciiDomains.isEmpty())
        return;
    scheduleLocked(worker, [asciiDomains, power = mode == core::Mode::Power](Worker *w) {
        // Answers go to the resolver's cache; the lookups of the verifications that come meanwhile join
        // these on the wire.
        dns::Resolver *resolver = &w->resolver;
        for (const QString &domain : asciiDomains) {
            resolver->lookupMailRoute(domain, w, [resolver, w, power](const dns::MailRoute &route) {
                if (power && route.kind == dns::MailRoute::Kind::Mx && !route.mx.isEmpty())
                    resolver->lookupAddresses(route.mx.first().host, w, [](const dns::AddressAnswer &) {});
            });
        }
    });
}

void Engine::startWaitingCalls()
{
    // About a millisecond of calls, then the sockets' events have their turn (the next slice is posted
    // behind them). Calls still waiting when the engine stops never start; stop() cancels their callbacks.
    constexpr qint64 SliceNs = 1'000'000;
    QElapsedTimer slice;
    slice.start();
    for (;;) {
        std::function<void(Worker *)> next;
        Worker *worker = nullptr;
        {
            QMutexLocker lock(&m_callsMutex);
            worker = m_worker;
            if (!worker || m_waiting.empty()) {
                m_waiting.clear();
                m_sliceQueued = false;
                return;
            }
            if (slice.nsecsElapsed() > SliceNs) {
                QMetaObject::invokeMethod(
                    worker, [this] { startWaitingCalls(); }, Qt::QueuedConnection);
                return;
            }
            next = std::move(m_waiting.front());
            m_waiting.pop_front();
        }
        next(worker);
    }
}

bool Engine::verify(const QString &email, core::Mode mode, QObject *context,
                    std::function<void(const core::VerificationResult &)> done, core::Priority priority)
{
    return call<core::VerificationResult>(
        context, std::move(done),
        [email, mode, priority](Worker *worker, std::function<void(const core::VerificationResult &)> reply) {
            worker->verifier.verify(email, mode, worker, std::move(reply), priority);
        });
}

std::optional<core::VerificationResult> Engine::verifyNow(const QString &email, core::Mode mode) const
{
    QReadLocker lock(&m_workerLock);
    return m_worker ? m_worker->verifier.verifyNow(email, mode) : std::nullopt;
}

QScopeGuard<void (*)()> Engine::verifyNowBatch(const QStringList &emails, const QStringList &forVerify) const
{
    {
        QReadLocker lock(&m_workerLock);
        if (m_worker && (!emails.isEmpty() || !forVerify.isEmpty()))
            m_worker->verifier.beginVerifyNowBatch(emails, forVerify);
    }
    // Ended whatever happens to the worker meanwhile: the batch is the calling thread's.
    return QScopeGuard<void (*)()>(&verify::ResultCache::endBatch);
}

bool Engine::find(const find::FindRequest &request, QObject *context,
                  std::function<void(const find::FindResult &)> done)
{
    return call<find::FindResult>(
        context, std::move(done),
        [request](Worker *worker, std::function<void(const find::FindResult &)> reply) {
            worker->finder.find(request, worker, std::move(reply));
        });
}

bool Engine::findDomain(const QString &companyName, QObject *context,
                        std::function<void(const domain::DomainResult &)> done)
{
    return call<domain::DomainResult>(
        context, std::move(done),
        [companyName](Worker *worker, std::function<void(const domain::DomainResult &)> reply) {
            worker->domainFinder.find(companyName, worker, std::move(reply));
        });
}

QList<QPair<QString, QString>> Engine::libraryVersions() const
{
    QList<QPair<QString, QString>> out{
        {u"Qt"_s, QString::fromLatin1(qVersion())},
        {u"c-ares"_s, QString::fromLatin1(ares_version(nullptr))},
        {u"OpenSSL"_s, QString::fromLatin1(OpenSSL_version(OPENSSL_VERSION)).remove(u"OpenSSL "_s)},
    };
    if (!m_db.isOpen())
        return out;
    QSqlQuery q(m_db.connection());
    if (m_db.dialect() == storage::Dialect::SQLite) {
        if (q.exec(u"SELECT sqlite_version()"_s) && q.next())
            out.append({u"SQLite"_s, q.value(0).toString()});
    } else if (q.exec(u"SHOW server_version"_s) && q.next()) {
        out.append({u"PostgreSQL"_s, q.value(0).toString()});
    }
    return out;
}

} // namespace mailcaff
