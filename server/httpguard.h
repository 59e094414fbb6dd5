#pragma once

#include "httpresponse.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QTcpServer>
#include <QTimer>

class QTcpSocket;

namespace mailcaff::server {

/// Limits Qt 6.4's QtHttpServer does not have (ARCHITECTURE.md, "known traps").
struct HttpLimits
{
    int maxHeaderBytes = 16 * 1024;
    qint64 maxBodyBytes = 1024 * 1024; ///< API.md: bodies over 1 MiB get 413
    int requestTimeoutMs = 15'000;     ///< from a request's first byte to its last
    int idleTimeoutMs = 60'000;        ///< a kept-alive connection with nothing to do
    int maxConnections = 256;
    int lingerMs = 2'000; ///< after an error answer, how long unread input is drained before closing
};

/// Watches one connection ahead of QtHttpServer's parser: it sees every byte first (its readyRead slot is
/// connected before the server's), frames requests itself (headers, Content-Length, chunked bodies) and
/// answers 400/408/413/431/505 on its own, so a hostile or slow client cannot grow memory or hold a
/// connection forever. It also writes our responses, keeping "Connection: close" promises.
class ConnectionGuard : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectionGuard)
public:
    ConnectionGuard(QTcpSocket *socket, const HttpLimits &limits);

    static ConnectionGuard *of(QTcpSocket *socket);

    /// Writes a response for the oldest request waiting for one.
    void send(const HttpResponse &response);
    /// Answers with `response` and closes, whatever the client asked.
    void reject(const HttpResponse &response);

private:
    enum class Phase { Head, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailer };

    void onReadyRead();
    bool consume(const char *data, qint64 size);
    bool headComplete();
    void requestComplete();
    void closeGracefully();
    void armTimers();

    QTcpSocket *m_socket;
    HttpLimits m_limits;
    Phase m_phase = Phase::Head;
    QByteArray m_line;      ///< header block (Head) or current chunk-size/trailer line
    qint64 m_remaining = 0; ///< body or chunk bytes still expected
    qint64 m_bodyBytes = 0;
    bool m_inRequest = false;
    int m_pending = 0;        ///< complete requests not yet answered
    QList<bool> m_closeAfter; ///< per pending request: close the connection after answering it
    bool m_currentClose = false;
    bool m_closing = false;
    QTimer m_requestTimer;
    QTimer m_idleTimer;
};

/// The QTcpServer bound to the HTTP server: caps concurrent connections and puts a ConnectionGuard on each.
class GuardedTcpServer : public QTcpServer
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GuardedTcpServer)
public:
    explicit GuardedTcpServer(const HttpLimits &limits, QObject *parent = nullptr);
    int activeConnections() const { return m_active; }

protected:
    void incomingConnection(qintptr handle) override;

private:
    HttpLimits m_limits;
    int m_active = 0;
};

} // namespace mailcaff::server
