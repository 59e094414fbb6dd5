#pragma once

#include "servercontrol.h"

#include <memory>

namespace mailcaff {
class Engine;
}
namespace mailcaff::server {
class ApiServer;
}

namespace mailcaff::app {

/// The window's API server: one ApiServer at a time, replaced to move it (QtHttpServer cannot unbind).
/// Requests in flight on a server that goes are dropped with their connections; the jobs they made live on.
class ApiServerControl : public ui::ServerControl
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApiServerControl)
public:
    explicit ApiServerControl(Engine &engine, QObject *parent = nullptr);
    ~ApiServerControl() override;

    bool start(const QHostAddress &address, quint16 port, const net::TlsIdentity &tls,
               QString *error) override;
    void stop() override;
    bool isListening() const override;
    QUrl url() const override;

    /// Log one line per request to stderr (headless servers).
    void setAccessLog(bool enabled) { m_accessLog = enabled; }

private:
    struct Where
    {
        QHostAddress address;
        quint16 port = 0;
        net::TlsIdentity tls;
    };
    std::unique_ptr<server::ApiServer> listen(const Where &where, QString *error) const;

    Engine &m_engine;
    std::unique_ptr<server::ApiServer> m_server;
    Where m_where; ///< of the running server
    bool m_accessLog = false;
};

} // namespace mailcaff::app
