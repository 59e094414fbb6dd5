#pragma once

#include <QObject>
#include <QString>

class QTimer;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// The list (a job) a page shows: remembered in a setting so it comes back after a restart, and watched so
/// the page refreshes as items finish (at most a few times a second, however fast they come).
class JobFollower : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(JobFollower)
public:
    /// Restores the job named by the setting `settingKey` if it still exists.
    JobFollower(Engine &engine, const char *settingKey, QObject *parent = nullptr);

    QString jobId() const { return m_jobId; }
    /// Shows this job from now on (and after a restart), and gets the runner to it.
    void follow(const QString &jobId);

Q_SIGNALS:
    void changed();

private:
    Engine &m_engine;
    const char *m_settingKey;
    QString m_jobId;
    QTimer *m_refresh;
};

} // namespace mailcaff::ui
