#include "engine.h"

#include "dns/resolver.h"
#include "lists/lists.h"
#include "verify/verifier.h"

#include <QDir>
#include <QPointer>
#include <QStandardPaths>

using namespace Qt::StringLiterals;

namespace mailcaff {

/// Owns the engine thread's objects; created and destroyed on that thread.
class Engine::Worker : public QObject
{
public:
    Worker(const EngineConfig &config, std::shared_ptr<const lists::Lists> lists)
        : resolver(this)
        , verifier(&resolver, std::move(lists), this)
    {
        resolver.setTimeout(config.dnsTimeoutMs, config.dnsTries);
    }
    dns::Resolver resolver;
    verify::Verifier verifier;
};

Engine::Engine(QObject *parent)
    : QObject(parent)
{
    m_thread.setObjectName(u"mailcaff-engine"_s);
}

Engine::~Engine()
{
    stop();
}

QString Engine::defaultDataDir()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation);
}

bool Engine::openStorage(const QString &dataDir, QString *error)
{
    m_config.dataDir = dataDir.isEmpty() ? defaultDataDir() : dataDir;
    if (!QDir().mkpath(m_config.dataDir)) {
        if (error)
            *error = u"cannot create the data folder %1"_s.arg(m_config.dataDir);
        return false;
    }
    return m_db.open(QDir(m_config.dataDir).filePath(u"mailcaff.sqlite"_s), error);
}

bool Engine::start(const EngineConfig &config, QString *error)
{
    if (!m_db.isOpen() && !openStorage(config.dataDir, error))
        return false;
    const QString dataDir = m_config.dataDir;
    m_config = config;
    m_config.dataDir = dataDir;
    m_lists = lists::Lists::load(QDir(m_config.dataDir).filePath(u"lists"_s));

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
            m_worker = new Worker(m_config, m_lists);
            ok = m_worker->resolver.setServers(m_config.dnsServers, &workerError);
            anchor.moveToThread(this->thread());
        },
        Qt::BlockingQueuedConnection);
    if (!ok) {
        if (error)
            *error = workerError;
        stop();
        return false;
    }
    return true;
}

void Engine::stop()
{
    if (!m_thread.isRunning()) {
        delete m_worker;
        m_worker = nullptr;
        return;
    }
    if (m_worker) {
        Worker *worker = m_worker;
        m_worker = nullptr;
        QMetaObject::invokeMethod(
            worker, [worker] { delete worker; }, Qt::BlockingQueuedConnection);
    }
    m_thread.quit();
    m_thread.wait();
}

bool Engine::supports(core::Mode mode)
{
    return verify::Verifier::supports(mode);
}

void Engine::verify(const QString &email, core::Mode mode, QObject *context,
                    std::function<void(const core::VerificationResult &)> done)
{
    if (!m_worker)
        return;
    QPointer<QObject> target(context);
    Worker *worker = m_worker;
    QMetaObject::invokeMethod(worker, [worker, email, mode, target, done = std::move(done)]() mutable {
        if (!target)
            return;
        worker->verifier.verify(email, mode, target.data(),
                                [target, done = std::move(done)](const core::VerificationResult &r) {
                                    if (!target)
                                        return;
                                    // Back to the caller's thread.
                                    QMetaObject::invokeMethod(target.data(), [done, r] { done(r); });
                                });
    });
}

} // namespace mailcaff
