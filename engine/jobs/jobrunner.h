#pragma once

#include "jobstore.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

namespace mailcaff {
class Engine;
}

namespace mailcaff::jobs {

/// Works through queued job items: leases a bounded number at a time (grouped by domain), verifies them
/// through the engine, writes each result as it finishes. Lives on the thread that created it.
class JobRunner : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(JobRunner)
public:
    JobRunner(Engine &engine, JobStore &store, int concurrency = 64, QObject *parent = nullptr);

    /// Reclaims leases left by a previous run (a crash), then starts working.
    void start();
    void stop();
    /// New work was queued: look now rather than at the next poll.
    void wake();
    int inFlight() const { return int(m_inFlight.size()); }

Q_SIGNALS:
    void itemFinished(const QString &jobId);
    void jobFinished(const QString &jobId);

private:
    void fill();

    Engine &m_engine;
    JobStore &m_store;
    int m_concurrency;
    QSet<QString> m_inFlight;                 ///< "jobId\nnormalized"
    QHash<QString, QDeadlineTimer> m_started; ///< when each in-flight verification must have answered
    QTimer m_poll;
    bool m_running = false;
    bool m_filling = false;
};

} // namespace mailcaff::jobs
