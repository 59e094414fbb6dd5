#include "jobfollower.h"

#include "engine.h"
#include "storage/settings.h"

#include <QTimer>

namespace mailcaff::ui {

JobFollower::JobFollower(Engine &engine, const char *settingKey, QObject *parent)
    : QObject(parent)
    , m_engine(engine)
    , m_settingKey(settingKey)
    , m_refresh(new QTimer(this))
{
    m_refresh->setSingleShot(true);
    m_refresh->setInterval(300);
    connect(m_refresh, &QTimer::timeout, this, &JobFollower::changed);
    if (jobs::JobRunner *runner = m_engine.jobRunner()) {
        connect(runner, &jobs::JobRunner::itemFinished, this, [this](const QString &jobId) {
            if (jobId == m_jobId && !m_refresh->isActive())
                m_refresh->start();
        });
    }
    const QString last =
        storage::Settings(m_engine.database()).value(storage::Setting<QString>{m_settingKey, {}});
    if (!last.isEmpty() && m_engine.jobs().summary(last))
        m_jobId = last;
}

void JobFollower::follow(const QString &jobId)
{
    m_jobId = jobId;
    storage::Settings(m_engine.database()).setValue(storage::Setting<QString>{m_settingKey, {}}, jobId);
    if (jobs::JobRunner *runner = m_engine.jobRunner())
        runner->wake();
    Q_EMIT changed();
}

} // namespace mailcaff::ui
