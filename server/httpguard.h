#pragma once

#include "httpresponse.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QSslConfiguration>
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
    /// Connections at once. At the cap, a newcomer takes the place of the connection that has waited
    /// longest on its client (idle, or trickling its request); only when every connection is being
    /// answered does it get 503. The server lowers it to half the descriptors the process may open.
    int maxConnections = 1024;
    int lingerMs = 2'000; ///< after an error answer, how long unread input is drained before closing
    qint64 maxDrainBytes = 4 * 1024 * 1024; ///< and how much of it at most
    /// A handler that has not answered by then has lost its request (the power-mode deadline is 60 s).
    int responseTimeoutMs = 120'000;
    /// A client address whose requests failed authentication this often within the window gets 429 for
    /// the rest of the window, without its keys being looked at (guessing keys, or a script with an old
    /// key in a loop); the first refusal is logged, once per window.
    int authFailureLimit = 100;
    int authFailureWindowMs = 60'000;
};

/// Watches one connection ahead of QtHttpServer's parser: it sees every byte first (its readyRead slot is
/// connected before the server's), frames requests itself (headers, Content-Length, chunked bodies) and
/// answers 400/408/413/431/501/505 on its own, so a hostile or slow client cannot grow memory or hold a
/// connection forever. It rejects everything Qt 6.4's parser would reject, because Qt then only calls
/// socket->disconnect(), leaving an open socket nobody answers or deletes. It writes our responses, keeps
/// "Connection: close" promises, and owns the socket's end: every timeout aborts and deletes it.
///
/// Pipelining is not supported (Qt 6.4 merges requests that arrive in one read): a request that arrives in
/// the same read as the previous one gets 400; one that arrives while an answer is pending closes the
/// connection after that answer, unanswered, which RFC 9112 section 9.3.2 tells clients to retry.
class ConnectionGuard : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConnectionGuard)
public:
    ConnectionGuard(QTcpSocket *socket, const HttpLimits &limits);

    static ConnectionGuard *of(QTcpSocket *socket);

    /// Writes the response to the request waiting for one.
    void send(const HttpResponse &response);
    /// Answers with `response` and closes, whatever the client asked.
    void reject(const HttpResponse &response);
    /// Nothing of ours is pending: no request being handled, no response still going out; the connection
    /// waits for its client (idle, or a request still coming). Such a connection may be closed to make
    /// room for a new one.
    bool waitsOnClient() const;
    /// When its client last sent a byte or was last answered (ms since the epoch of QDeadlineTimer's
    /// clock; for ordering only).
    qint64 lastProgress() const { return m_lastProgress; }
    /// Closes at once, without an answer: room is needed for a new connection.
    void evict() { terminate(); }

private:
    enum class Phase { Head, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailer };

    void onReadyRead();
    bool consume(const char *data, qint64 size);
    bool headComplete();
    bool validHeaderLine(const QByteArray &line) const;
    void requestComplete();
    /// Stops QtHttpServer from reading this socket again; what arrives afterwards is drained, up to a cap.
    void stopParsing();
    void closeGracefully();
    void terminate();
    void armTimers();

    QTcpSocket *m_socket;
    HttpLimits m_limits;
    Phase m_phase = Phase::Head;
    QByteArray m_line;      ///< header block (Head) or current chunk-size/trailer line
    qint64 m_remaining = 0; ///< body or chunk bytes still expected
    qint64 m_bodyBytes = 0;
    qint64 m_drained = 0;
    bool m_inRequest = false;
    bool m_awaitingResponse = false; ///< a complete request has not been answered yet
    bool m_closeAfterResponse = false;
    bool m_headRequest = false;
    bool m_closing = false;
    bool m_parsingStopped = false;
    qint64 m_lastProgress = 0;
    QTimer m_requestTimer;
    QTimer m_idleTimer;
    QTimer m_responseTimer;
};

/// The QTcpServer bound to the HTTP server: caps concurrent connections and puts a ConnectionGuard on each.
/// With a TLS configuration every connection is a QSslSocket in server mode (HTTPS); the guard and the
/// HTTP parser see only decrypted bytes, and a failed handshake closes the connection.
class GuardedTcpServer : public QTcpServer
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GuardedTcpServer)
public:
    explicit GuardedTcpServer(const HttpLimits &limits, QObject *parent = nullptr);
    int activeConnections() const { return m_active; }
    void setTls(const QSslConfiguration &configuration) { m_tls = configuration; }
    bool isTls() const { return !m_tls.isNull(); }

protected:
    void incomingConnection(qintptr handle) override;

private:
    HttpLimits m_limits;
    QSslConfiguration m_tls;
    /// Closes the connection that has waited longest on its client; false when every one is being served.
    bool evictOne();

    int m_active = 0;
    int m_refusing = 0;                ///< over-the-cap connections still being told 503
    QList<ConnectionGuard *> m_guards; ///< counted in m_active
};

} // namespace mailcaff::server
