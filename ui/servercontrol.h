#pragma once

#include "net/tlsidentity.h"

#include <QHostAddress>
#include <QObject>
#include <QUrl>

namespace mailcaff::ui {

/// The window's handle on the API server running in the same process (the app implements it; the ui never
/// sees the server itself). Start, stop and move it; its state changes are signalled.
class ServerControl : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ServerControl)
public:
    using QObject::QObject;
    ~ServerControl() override = default;

    /// (Re)starts the server on address:port, over HTTPS when `tls` is set. When that fails, a server that
    /// was running goes on where it was, and `error` says why; false.
    virtual bool start(const QHostAddress &address, quint16 port, const net::TlsIdentity &tls,
                       QString *error) = 0;
    virtual void stop() = 0;
    virtual bool isListening() const = 0;
    /// e.g. https://127.0.0.1:8080/api/v1 while listening, empty otherwise.
    virtual QUrl url() const = 0;
    /// Why the last start failed (empty after a successful one).
    QString lastError() const { return m_lastError; }

Q_SIGNALS:
    void stateChanged();

protected:
    void setLastError(const QString &error) { m_lastError = error; }

private:
    QString m_lastError;
};

} // namespace mailcaff::ui
