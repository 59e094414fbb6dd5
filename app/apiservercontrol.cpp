#include "apiservercontrol.h"

#include "apiserver.h"

using namespace Qt::StringLiterals;

namespace mailcaff::app {

ApiServerControl::ApiServerControl(Engine &engine, QObject *parent)
    : ui::ServerControl(parent)
    , m_engine(engine)
{
}

ApiServerControl::~ApiServerControl() = default;

std::unique_ptr<server::ApiServer> ApiServerControl::listen(const Where &where, QString *error) const
{
    auto api = std::make_unique<server::ApiServer>(m_engine);
    api->setAccessLog(m_accessLog);
    if (!api->listen(where.address, where.port, error,
                     where.tls.isNull() ? QSslConfiguration() : where.tls.serverConfiguration()))
        return nullptr;
    return api;
}

bool ApiServerControl::start(const QHostAddress &address, quint16 port, const net::TlsIdentity &tls,
                             QString *error)
{
    const Where wanted{address, port, tls};
    QString problem;
    if (!error)
        error = &problem;
    // A new place first, so a failure leaves the running server alone; the same port needs the old one gone.
    auto api = listen(wanted, error);
    if (!api && m_server) {
        m_server.reset();
        api = listen(wanted, error);
        if (!api) {
            QString again;
            m_server = listen(m_where, &again);
            setLastError(*error);
            emit stateChanged();
            return false;
        }
    }
    if (!api) {
        setLastError(*error);
        emit stateChanged();
        return false;
    }
    m_server = std::move(api);
    m_where = wanted;
    setLastError({});
    emit stateChanged();
    return true;
}

void ApiServerControl::stop()
{
    if (!m_server)
        return;
    m_server.reset();
    emit stateChanged();
}

bool ApiServerControl::isListening() const
{
    return m_server && m_server->isListening();
}

QUrl ApiServerControl::url() const
{
    return isListening() ? m_server->url() : QUrl();
}

} // namespace mailcaff::app
