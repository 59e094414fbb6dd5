#include "jobrunner.h"

#include "core/scoring.h"
#include "engine.h"

using namespace Qt::StringLiterals;

namespace mailcaff::jobs {

namespace {

constexpr int LeaseSeconds = 300; // longer than the power-mode deadline

} // namespace

JobRunner::JobRunner(Engine &engine, JobStore &store, int concurrency, QObject *parent)
    : QObject(parent)
    , m_engine(engine)
    , m_store(store)
    , m_concurrency(concurrency)
{
    // A safety net: work queued by another process (the command line) is found within a second.
    m_poll.setInterval(1000);
    connect(&m_poll, &QTimer::timeout, this, [this] {
        // A verification whose answer never came (it should not happen: the power deadline is 60 s) frees
        // its slot when its lease ends; the item itself is leased again then.
        for (auto it = m_started.begin(); it != m_started.end();) {
            if (it.value().hasExpired()) {
                m_inFlight.remove(it.key());
                it = m_started.erase(it);
            } else {
                ++it;
            }
        }
        fill();
    });
}

void JobRunner::start()
{
    m_store.reclaimLeases();
    m_running = true;
    m_poll.start();
    fill();
}

void JobRunner::stop()
{
    m_running = false;
    m_poll.stop();
}

void JobRunner::wake()
{
    QMetaObject::invokeMethod(this, &JobRunner::fill, Qt::QueuedConnection);
}

void JobRunner::fill()
{
    if (!m_running || m_filling)
        return;
    m_filling = true;
    const QList<JobItem> items = m_store.lease(m_concurrency - inFlight(), LeaseSeconds, m_inFlight);
    m_filling = false;
    for (const JobItem &item : items) {
        const QString key = item.jobId + u'\n' + item.normalized;
        m_inFlight.insert(key);
        m_started.insert(key, QDeadlineTimer(std::chrono::seconds(LeaseSeconds)));
        auto finish = [this, item, key](const core::VerificationResult &result) {
            m_inFlight.remove(key);
            m_started.remove(key);
            if (const auto finished = m_store.complete(item, result))
                Q_EMIT jobFinished(*finished);
            Q_EMIT itemFinished(item.jobId);
            // Refill in batches (at half capacity), not after every item: each lease is a query over the
            // queue, which for a large list is not free.
            if (inFlight() <= m_concurrency / 2)
                fill();
        };
        if (item.input.trimmed().isEmpty()) {
            // Nothing to verify at all: API.md's "error" status, for bulk items only. Answered from the
            // event loop, not from inside this loop, so every key of the batch is in flight first.
            core::VerificationResult r;
            r.email = item.input;
            r.mode = item.mode;
            r.status = core::Status::Error;
            r.qualityScore = 0;
            r.reason = core::Reason::InvalidSyntax;
            QMetaObject::invokeMethod(
                this, [finish, r] { finish(r); }, Qt::QueuedConnection);
            continue;
        }
        if (!m_engine.verify(item.input, item.mode, this, finish)) {
            m_inFlight.remove(key); // the engine is stopping: the lease brings the item back next start
            m_started.remove(key);
        }
    }
}

} // namespace mailcaff::jobs
