#include "jobrunner.h"

#include "core/scoring.h"
#include "engine.h"

#include <QThread>
#include <QUuid>

using namespace Qt::StringLiterals;

namespace mailcaff::jobs {

namespace {

constexpr int LeaseSeconds = 300; // longer than the power-mode deadline
// Outcomes are written together: after this long, or this many, whichever comes first. A crash loses at
// most these (their items are leased again and verified again, never charged again: jobs are charged when
// they are created).
constexpr int FlushMs = 20;
constexpr int FlushItems = 500;
/// In power mode, items joining their domain's work in flight come on top of the concurrency, up to this
/// many times it in all: a mail server's sessions take a few dozen recipients a round trip, and a runner
/// that only has a handful of items per server leaves its connections idle.
constexpr int JoinersFactor = 4;
/// Items of the first lease when nothing is in flight: the work starts with them while the rest are leased
/// a turn of this thread's loop later. Leasing thousands in one go (a read and an update each) held the
/// start back; leasing every time in such chunks cost more than it gave where many jobs share the runner
/// (each lease reads ahead in every job): an API bulk run of 20 jobs took 2.3-2.4 s instead of 2.0.
constexpr int FirstLease = 250;

core::VerificationResult errorResult(const JobItem &item, core::Reason reason)
{
    core::VerificationResult r;
    r.email = item.input;
    r.mode = item.mode;
    r.status = core::Status::Error;
    r.qualityScore = 0;
    r.reason = reason;
    return r;
}

/// An item in flight, as the lease's `inFlight` set names it: duplicates in a job share it.
QString keyOf(const JobItem &item)
{
    return item.jobId + u'\n' + item.normalized;
}

ItemOutcome outcomeOf(const core::VerificationResult &r)
{
    return {core::toString(r.status), {}, r.toJsonBytes()};
}

} // namespace

JobRunner::JobRunner(Engine &engine, JobStore &store, int concurrency, QList<int> greylistDelaysMs,
                     int perDomain, QObject *parent)
    : QObject(parent)
    , m_engine(engine)
    , m_store(store)
    , m_concurrency(concurrency)
    , m_greylistDelaysMs(std::move(greylistDelaysMs))
{
    m_perDomain.max = perDomain;
    m_poll.setParent(this); // moves with the runner to its thread
    m_heartbeat.setParent(this);
    m_heartbeat.setInterval(HeartbeatMs);
    connect(&m_heartbeat, &QTimer::timeout, this, [this] {
        m_store.heartbeat(m_runnerId);
        // Another server sharing the database died: its items are back in the queue, for whoever is free.
        if (m_store.reapRunners(m_runnerId, RunnerTimeoutMs) > 0)
            fill();
    });
    m_flush.setParent(this);
    m_flush.setSingleShot(true);
    m_flush.setInterval(FlushMs);
    connect(&m_flush, &QTimer::timeout, this, &JobRunner::flush);
    m_handlers.insert(KindVerify, verifyHandler());
    // A safety net: work queued by another process (the command line) or deferred to a later time is found
    // within a second.
    m_poll.setInterval(1000);
    connect(&m_poll, &QTimer::timeout, this, [this] {
        // Work whose answer never came (it should not happen: the power deadline is 60 s) frees its slot when
        // its lease ends; the item itself is leased again then, and counts an attempt.
        for (auto it = m_started.begin(); it != m_started.end();) {
            if (it.value().hasExpired()) {
                const QString key = it.key();
                it = m_started.erase(it);
                forget(key);
            } else {
                ++it;
            }
        }
        fill();
    });
}

void JobRunner::setHandler(QLatin1StringView kind, Handler handler)
{
    if (QThread::currentThread() != thread()) {
        QMetaObject::invokeMethod(
            this, [this, kind, &handler] { m_handlers.insert(kind, std::move(handler)); },
            Qt::BlockingQueuedConnection);
        return;
    }
    m_handlers.insert(kind, std::move(handler));
}

JobRunner::Handler JobRunner::verifyHandler()
{
    Handler h;
    h.run = [this](const JobItem &item, QObject *context, std::function<void(const Answer &)> done) {
        // Answers known at once still come from the event loop, not from inside the caller's loop.
        const auto answerLater = [&](const core::VerificationResult &result) {
            QMetaObject::invokeMethod(
                context, [done, answer = Answer{outcomeOf(result), std::nullopt}] { done(answer); },
                Qt::QueuedConnection);
            return true;
        };
        // Nothing to verify at all: API.md's "error" status, for bulk items only.
        if (item.input.trimmed().isEmpty())
            return answerLater(errorResult(item, core::Reason::InvalidSyntax));
        // Most quick items are answered here, on the runner's thread, from the engine's caches. (Power
        // items mostly need a mail server: asking first would repeat the result cache's lookup for each.)
        if (const std::optional<core::VerificationResult> now =
                item.mode == core::Mode::Quick ? m_engine.verifyNow(item.input, item.mode) : std::nullopt)
            return answerLater(*now);
        const int deferrals = item.deferrals;
        return m_engine.verify(
            item.input, item.mode, context,
            [this, done, deferrals](const core::VerificationResult &result) {
                Answer answer{outcomeOf(result), std::nullopt};
                // Greylisting lets a sender through after minutes, not seconds: try the
                // address again after the rest of the list rather than call it unknown.
                if (result.mode == core::Mode::Power && result.reason == core::Reason::Greylisted &&
                    deferrals < m_greylistDelaysMs.size())
                    answer.retryAfterMs = m_greylistDelaysMs.at(deferrals);
                done(answer);
            },
            core::Priority::Bulk);
    };
    // Leased MaxAttempts times without an answer: each verification outlived its lease, or the process
    // died during it. An error (the address could not be processed), described as the timeout it was.
    h.abandoned = [](const JobItem &item) { return outcomeOf(errorResult(item, core::Reason::SmtpTimeout)); };
    return h;
}

void JobRunner::start()
{
    m_runnerId = QUuid::createUuid().toString(QUuid::WithoutBraces);
    m_store.setRunner(m_runnerId);
    m_store.reclaimLeases(m_onlyJob);
    m_store.registerRunner(m_runnerId);
    m_store.reapRunners(m_runnerId, RunnerTimeoutMs);
    m_running = true;
    m_poll.start();
    m_heartbeat.start();
    fill();
}

JobRunner::~JobRunner()
{
    stop();
    flush();
}

void JobRunner::stop()
{
    if (!m_running)
        return;
    m_running = false;
    m_poll.stop();
    m_heartbeat.stop();
    flush();
    m_store.unregisterRunner(m_runnerId);
}

void JobRunner::wake()
{
    QMetaObject::invokeMethod(this, &JobRunner::fill, Qt::QueuedConnection);
}

void JobRunner::forget(const QString &key)
{
    m_inFlight.remove(key);
    m_started.remove(key);
    // Counted per domain only when the lease counted it (power mode, with a limit).
    if (const auto counted = m_domainOf.find(key); counted != m_domainOf.end()) {
        if (auto it = m_perDomain.inFlight.find(*counted); it != m_perDomain.inFlight.end() && --*it <= 0)
            m_perDomain.inFlight.erase(it);
        m_domainOf.erase(counted);
    }
}

void JobRunner::finish(const JobItem &item, const QString &key, const Answer &answer)
{
    forget(key);
    if (answer.retryAfterMs) {
        m_store.defer(item, QDateTime::currentMSecsSinceEpoch() + *answer.retryAfterMs);
    } else {
        m_done.append({item, answer.outcome});
    }
    // Refill with the write, in batches, not after every item: each lease is a query over the queue, which
    // for a large list is not free. With nothing else in flight no answer can join the batch: written now,
    // the last answer of a job ends it at once, and an idle runner leases again without waiting.
    if (m_done.size() >= FlushItems || inFlight() == 0 ||
        (m_done.isEmpty() && inFlight() <= m_concurrency / 2))
        flush();
    else if (!m_flush.isActive())
        m_flush.start();
}

void JobRunner::flush()
{
    m_flush.stop();
    if (!m_done.isEmpty()) {
        const QList<std::pair<JobItem, ItemOutcome>> done = std::exchange(m_done, {});
        // If the database fails, the items stay leased: their leases run out and they are done again.
        if (const std::optional<QStringList> ended = m_store.completeAll(done)) {
            for (const QString &jobId : *ended)
                Q_EMIT jobFinished(jobId);
            for (const auto &d : done)
                Q_EMIT itemFinished(d.first.jobId);
        }
    }
    if (inFlight() < itemLimit())
        fill();
}

int JobRunner::itemLimit() const
{
    return m_perDomain.max > 0 ? JoinersFactor * m_concurrency : m_concurrency;
}

void JobRunner::fill()
{
    if (!m_running || m_filling)
        return;
    // A duplicate of an answered item whose answer waits to be written is not leased again meanwhile.
    QSet<QString> busy = m_inFlight;
    for (const auto &[item, outcome] : std::as_const(m_done))
        busy.insert(keyOf(item));
    // New work (an item of another kind or mode, or of a domain with nothing in flight) takes a place of
    // the concurrency; power items of a domain in flight join it, up to itemLimit() in all.
    DomainLimit limit = m_perDomain;
    if (limit.max > 0) {
        const int joined = int(m_domainOf.size());
        limit.newWork = std::max(0, m_concurrency - (inFlight() - joined) - int(m_perDomain.inFlight.size()));
    }
    m_filling = true;
    const bool first = inFlight() == 0;
    const int room = first ? std::min(itemLimit(), FirstLease) : itemLimit() - inFlight();
    const QList<JobItem> items = m_store.lease(
        room, LeaseSeconds, busy, QStringList(m_handlers.keyBegin(), m_handlers.keyEnd()), m_onlyJob, limit);
    m_filling = false;
    if (first && items.size() >= FirstLease) // there may be more: once these are on their way
        QMetaObject::invokeMethod(this, &JobRunner::fill, Qt::QueuedConnection);
    // Quick items are answered below from the caches: one read of the result cache for all of them. Power
    // items go to the engine thread, whose lookup of each in the result cache the same read spares.
    QStringList quick, power;
    for (const JobItem &item : items) {
        if (item.kind == KindVerify)
            (item.mode == core::Mode::Quick ? quick : power).append(item.input);
    }
    const auto cacheBatch = m_engine.verifyNowBatch(quick.size() > 1 ? quick : QStringList(),
                                                    power.size() > 1 ? power : QStringList());
    for (const JobItem &item : items) {
        const QString key = keyOf(item);
        const Handler &handler = m_handlers[item.kind];
        m_inFlight.insert(key);
        m_started.insert(key, QDeadlineTimer(std::chrono::seconds(LeaseSeconds)));
        if (m_perDomain.max > 0 && sharesDomainLimit(item)) {
            m_domainOf.insert(key, item.domain);
            ++m_perDomain.inFlight[item.domain];
        }
        auto done = [this, item, key](const Answer &answer) { finish(item, key, answer); };
        if (item.attempts > MaxAttempts) {
            const Answer answer{handler.abandoned(item), std::nullopt};
            QMetaObject::invokeMethod(
                this, [done, answer] { done(answer); }, Qt::QueuedConnection);
            continue;
        }
        if (!handler.run(item, this, done))
            forget(key); // the engine is stopping: the lease brings the item back next start
    }
}

} // namespace mailcaff::jobs
