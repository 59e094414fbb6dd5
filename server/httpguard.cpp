#include "httpguard.h"

#include <QTcpSocket>

#include <sys/socket.h>

using namespace Qt::StringLiterals;

namespace mailcaff::server {

namespace {

bool isTokenChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           QByteArrayView("!#$%&'*+-.^_`|~").contains(c);
}

} // namespace

ConnectionGuard::ConnectionGuard(QTcpSocket *socket, const HttpLimits &limits)
    : QObject(socket)
    , m_socket(socket)
    , m_limits(limits)
{
    setObjectName(u"mailcaff-connection-guard"_s);
    m_requestTimer.setSingleShot(true);
    m_idleTimer.setSingleShot(true);
    connect(&m_requestTimer, &QTimer::timeout, this, [this] {
        reject(HttpResponse::error(408, u"Request timeout: the request was not completed in time"_s));
    });
    connect(&m_idleTimer, &QTimer::timeout, this, [this] { m_socket->abort(); });
    connect(m_socket, &QIODevice::readyRead, this, &ConnectionGuard::onReadyRead);
    m_idleTimer.start(m_limits.idleTimeoutMs);
}

ConnectionGuard *ConnectionGuard::of(QTcpSocket *socket)
{
    return socket ? socket->findChild<ConnectionGuard *>(u"mailcaff-connection-guard"_s,
                                                         Qt::FindDirectChildrenOnly)
                  : nullptr;
}

void ConnectionGuard::armTimers()
{
    if (m_closing)
        return;
    if (m_inRequest) {
        m_idleTimer.stop();
        if (!m_requestTimer.isActive())
            m_requestTimer.start(m_limits.requestTimeoutMs);
    } else {
        m_requestTimer.stop();
        // While an answer is being computed the connection is not idle; the handler's own deadline applies.
        if (m_pending == 0)
            m_idleTimer.start(m_limits.idleTimeoutMs);
        else
            m_idleTimer.stop();
    }
}

void ConnectionGuard::onReadyRead()
{
    if (m_closing)
        return;
    // The server's parser reads everything at each readyRead, so what is available now is new.
    const QByteArray fresh = m_socket->peek(m_socket->bytesAvailable());
    if (!consume(fresh.constData(), fresh.size()))
        return;
    armTimers();
}

bool ConnectionGuard::consume(const char *data, qint64 size)
{
    qint64 i = 0;
    while (i < size) {
        if (!m_inRequest) {
            m_inRequest = true;
            m_currentClose = false;
        }
        switch (m_phase) {
        case Phase::Head: {
            // Bytes up to the blank line; tolerate leading empty lines between requests (RFC 9112 2.2).
            const char c = data[i++];
            if (m_line.isEmpty() && (c == '\r' || c == '\n'))
                continue;
            m_line.append(c);
            if (m_line.size() > m_limits.maxHeaderBytes) {
                reject(HttpResponse::error(431, u"Request headers too large"_s));
                return false;
            }
            if (m_line.endsWith("\r\n\r\n") || m_line.endsWith("\n\n")) {
                if (!headComplete())
                    return false;
            }
            break;
        }
        case Phase::Body: {
            const qint64 n = qMin(m_remaining, size - i);
            i += n;
            m_remaining -= n;
            if (m_remaining == 0)
                requestComplete();
            break;
        }
        case Phase::ChunkSize:
        case Phase::Trailer: {
            const char c = data[i++];
            m_line.append(c);
            if (m_line.size() > 1024) {
                reject(HttpResponse::error(400, u"Malformed chunked body"_s));
                return false;
            }
            if (c != '\n')
                break;
            const QByteArray line = m_line.trimmed();
            m_line.clear();
            if (m_phase == Phase::Trailer) {
                if (line.isEmpty())
                    requestComplete();
                break;
            }
            bool ok = false;
            const qint64 chunk = line.split(';').first().trimmed().toLongLong(&ok, 16);
            if (!ok || chunk < 0) {
                reject(HttpResponse::error(400, u"Malformed chunked body"_s));
                return false;
            }
            m_bodyBytes += chunk;
            if (m_bodyBytes > m_limits.maxBodyBytes) {
                reject(HttpResponse::error(413, u"Request body too large: the limit is 1 MiB"_s));
                return false;
            }
            m_remaining = chunk;
            m_phase = chunk == 0 ? Phase::Trailer : Phase::ChunkData;
            break;
        }
        case Phase::ChunkData: {
            const qint64 n = qMin(m_remaining, size - i);
            i += n;
            m_remaining -= n;
            if (m_remaining == 0) {
                m_phase = Phase::ChunkDataEnd;
                m_remaining = 2; // CRLF after the data
            }
            break;
        }
        case Phase::ChunkDataEnd: {
            const qint64 n = qMin(m_remaining, size - i);
            i += n;
            m_remaining -= n;
            if (m_remaining == 0)
                m_phase = Phase::ChunkSize;
            break;
        }
        }
    }
    return true;
}

bool ConnectionGuard::headComplete()
{
    const QList<QByteArray> lines = m_line.split('\n');
    m_line.clear();
    const QByteArray requestLine = lines.first().trimmed();
    const QList<QByteArray> parts = requestLine.split(' ');
    if (parts.size() != 3 || parts[0].isEmpty() ||
        !std::all_of(parts[0].begin(), parts[0].end(), isTokenChar) || !parts[1].startsWith('/')) {
        reject(HttpResponse::error(400, u"Malformed HTTP request line"_s));
        return false;
    }
    const QByteArray version = parts[2];
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        reject(HttpResponse::error(505, u"HTTP version not supported: use HTTP/1.1"_s));
        return false;
    }
    bool close = version == "HTTP/1.0";
    qint64 contentLength = -1;
    bool chunked = false;
    bool expectContinue = false;
    for (qsizetype n = 1; n < lines.size(); ++n) {
        const QByteArray line = lines[n].trimmed();
        if (line.isEmpty())
            continue;
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0) {
            reject(HttpResponse::error(400, u"Malformed HTTP header line"_s));
            return false;
        }
        const QByteArray name = line.left(colon).trimmed().toLower();
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name == "content-length") {
            bool ok = false;
            const qint64 length = value.toLongLong(&ok);
            if (!ok || length < 0 || (contentLength >= 0 && contentLength != length)) {
                reject(HttpResponse::error(400, u"Invalid Content-Length header"_s));
                return false;
            }
            contentLength = length;
        } else if (name == "transfer-encoding") {
            if (value.toLower() != "chunked") {
                reject(
                    HttpResponse::error(501, u"Unsupported Transfer-Encoding: only chunked is accepted"_s));
                return false;
            }
            chunked = true;
        } else if (name == "connection") {
            const QByteArray v = value.toLower();
            if (v.contains("close"))
                close = true;
            else if (v.contains("keep-alive"))
                close = false;
        } else if (name == "expect") {
            expectContinue = value.toLower() == "100-continue";
        }
    }
    if (chunked && contentLength >= 0) {
        // RFC 9112 6.3: both framings at once is a request-smuggling pattern.
        reject(HttpResponse::error(400, u"Both Content-Length and Transfer-Encoding given"_s));
        return false;
    }
    if (contentLength > m_limits.maxBodyBytes) {
        reject(HttpResponse::error(413, u"Request body too large: the limit is 1 MiB"_s));
        return false;
    }
    m_currentClose = close;
    m_bodyBytes = 0;
    if (expectContinue && (chunked || contentLength > 0))
        m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    if (chunked) {
        m_phase = Phase::ChunkSize;
    } else if (contentLength > 0) {
        m_phase = Phase::Body;
        m_remaining = contentLength;
    } else {
        requestComplete();
    }
    return true;
}

void ConnectionGuard::requestComplete()
{
    m_phase = Phase::Head;
    m_line.clear();
    m_inRequest = false;
    ++m_pending;
    m_closeAfter.append(m_currentClose);
}

void ConnectionGuard::send(const HttpResponse &response)
{
    if (m_closing)
        return;
    const bool close = m_closeAfter.isEmpty() ? false : m_closeAfter.takeFirst();
    if (m_pending > 0)
        --m_pending;
    m_socket->write(response.serialize(close));
    if (close)
        closeGracefully();
    else
        armTimers();
}

void ConnectionGuard::reject(const HttpResponse &response)
{
    if (m_closing)
        return;
    m_socket->write(response.serialize(true));
    closeGracefully();
}

void ConnectionGuard::closeGracefully()
{
    m_closing = true;
    m_requestTimer.stop();
    m_idleTimer.stop();
    // Stop the HTTP server's parser from seeing anything more, then drain what the client still sends so
    // the kernel does not answer it with a reset that would destroy our response before it is read.
    disconnect(m_socket, &QIODevice::readyRead, nullptr, nullptr);
    connect(m_socket, &QIODevice::readyRead, this, [this] { m_socket->skip(m_socket->bytesAvailable()); });
    m_socket->skip(m_socket->bytesAvailable());
    auto shutdownWhenWritten = [this] {
        if (m_socket->bytesToWrite() == 0 && m_socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
    };
    connect(m_socket, &QIODevice::bytesWritten, this, shutdownWhenWritten);
    m_socket->flush();
    shutdownWhenWritten();
    QTimer::singleShot(m_limits.lingerMs, this, [this] { m_socket->abort(); });
}

GuardedTcpServer::GuardedTcpServer(const HttpLimits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
}

void GuardedTcpServer::incomingConnection(qintptr handle)
{
    auto *socket = new QTcpSocket;
    if (!socket->setSocketDescriptor(handle)) {
        delete socket;
        return;
    }
    if (m_active >= m_limits.maxConnections) {
        socket->setParent(this);
        auto *guard = new ConnectionGuard(socket, m_limits);
        guard->reject(
            HttpResponse::error(503, u"Too many connections, retry later"_s).withHeader("Retry-After", "1"));
        connect(socket, &QAbstractSocket::disconnected, socket, &QObject::deleteLater);
        return;
    }
    ++m_active;
    connect(socket, &QObject::destroyed, this, [this] { --m_active; });
    new ConnectionGuard(socket, m_limits);
    addPendingConnection(socket);
}

} // namespace mailcaff::server
