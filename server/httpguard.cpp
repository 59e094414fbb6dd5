#include "httpguard.h"

#include <QDeadlineTimer>

#include <QSslSocket>
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

bool isToken(QByteArrayView s)
{
    return !s.isEmpty() && std::all_of(s.begin(), s.end(), isTokenChar);
}

bool isDigits(QByteArrayView s, qsizetype maxLength)
{
    return !s.isEmpty() && s.size() <= maxLength &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isHexDigits(QByteArrayView s)
{
    return !s.isEmpty() && s.size() <= 15 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

/// Field values: visible ASCII, obs-text, space and HTAB; no other control character (RFC 9110 5.5).
bool isFieldValue(QByteArrayView s)
{
    return std::all_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c == '\t' || (c >= 0x20 && c != 0x7f);
    });
}

/// Methods we route or answer with 405; anything else is not implemented (and Qt's parser may refuse it).
bool isKnownMethod(QByteArrayView m)
{
    for (const char *known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
        if (m == QByteArrayView(known))
            return true;
    }
    return false;
}

const QString TooLarge = u"Request body too large: the limit is 1 MiB"_s;

} // namespace

ConnectionGuard::ConnectionGuard(QTcpSocket *socket, const HttpLimits &limits)
    : QObject(socket)
    , m_socket(socket)
    , m_limits(limits)
{
    setObjectName(u"mailcaff-connection-guard"_s);
    for (QTimer *t : {&m_requestTimer, &m_idleTimer, &m_responseTimer})
        t->setSingleShot(true);
    connect(&m_requestTimer, &QTimer::timeout, this, [this] {
        reject(HttpResponse::error(408, u"Request timeout: the request was not completed in time"_s));
    });
    connect(&m_idleTimer, &QTimer::timeout, this, &ConnectionGuard::terminate);
    connect(&m_responseTimer, &QTimer::timeout, this, &ConnectionGuard::terminate);
    connect(m_socket, &QIODevice::readyRead, this, &ConnectionGuard::onReadyRead);
    // QtHttpServer deletes a socket on disconnect, but not once its parser has given up on it.
    connect(m_socket, &QAbstractSocket::disconnected, m_socket, &QObject::deleteLater);
    m_idleTimer.start(m_limits.idleTimeoutMs);
    m_lastProgress = QDeadlineTimer::current().deadline();
}

bool ConnectionGuard::waitsOnClient() const
{
    if (m_awaitingResponse || m_socket->bytesToWrite() > 0)
        return false;
    const auto *tls = qobject_cast<const QSslSocket *>(m_socket);
    return !tls || tls->encryptedBytesToWrite() == 0;
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
        return;
    }
    m_requestTimer.stop();
    if (m_awaitingResponse) {
        m_idleTimer.stop();
        if (!m_responseTimer.isActive())
            m_responseTimer.start(m_limits.responseTimeoutMs);
    } else {
        m_responseTimer.stop();
        m_idleTimer.start(m_limits.idleTimeoutMs);
    }
}

void ConnectionGuard::onReadyRead()
{
    if (m_closing || m_parsingStopped)
        return;
    m_lastProgress = QDeadlineTimer::current().deadline();
    // QtHttpServer's parser reads everything at each readyRead after us, so what is available now is new.
    const QByteArray fresh = m_socket->peek(m_socket->bytesAvailable());
    const bool onlyLineBreaks =
        std::all_of(fresh.begin(), fresh.end(), [](char c) { return c == '\r' || c == '\n'; });
    if (m_awaitingResponse && !onlyLineBreaks) {
        // The next request while this one is being answered: answer this one, then close (see the class doc).
        stopParsing();
        m_closeAfterResponse = true;
        return;
    }
    if (consume(fresh.constData(), fresh.size()))
        armTimers();
}

bool ConnectionGuard::consume(const char *data, qint64 size)
{
    qint64 i = 0;
    while (i < size) {
        if (m_awaitingResponse) {
            if (data[i] == '\r' || data[i] == '\n') { // stray line breaks after a body, tolerated
                ++i;
                continue;
            }
            reject(HttpResponse::error(
                400, u"Pipelined requests are not supported: send the next request after the "
                     "response"_s));
            return false;
        }
        switch (m_phase) {
        case Phase::Head: {
            const char c = data[i++];
            // Empty lines before a request are tolerated (RFC 9112 2.2) and do not start one.
            if (m_line.isEmpty() && (c == '\r' || c == '\n'))
                continue;
            m_inRequest = true;
            m_line.append(c);
            if (m_line.size() > m_limits.maxHeaderBytes) {
                reject(HttpResponse::error(431, u"Request headers too large"_s));
                return false;
            }
            if (c == '\n') {
                if (m_line.size() < 2 || m_line.at(m_line.size() - 2) != '\r') {
                    reject(HttpResponse::error(400, u"Malformed request: lines must end with CRLF"_s));
                    return false;
                }
                if (m_line.endsWith("\r\n\r\n") && !headComplete())
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
            if (!m_line.endsWith("\r\n")) {
                reject(HttpResponse::error(400, u"Malformed chunked body"_s));
                return false;
            }
            const QByteArray line = m_line.chopped(2);
            m_line.clear();
            if (m_phase == Phase::Trailer) {
                if (line.isEmpty())
                    requestComplete();
                else if (!validHeaderLine(line)) {
                    reject(HttpResponse::error(400, u"Malformed chunked body trailer"_s));
                    return false;
                }
                break;
            }
            const qsizetype semicolon = line.indexOf(';');
            const QByteArray sizeText = semicolon < 0 ? line : line.left(semicolon);
            if (!isHexDigits(sizeText) || !isFieldValue(line)) {
                reject(HttpResponse::error(400, u"Malformed chunked body"_s));
                return false;
            }
            const qint64 chunk = sizeText.toLongLong(nullptr, 16);
            m_bodyBytes += chunk;
            if (m_bodyBytes > m_limits.maxBodyBytes) {
                reject(HttpResponse::error(413, TooLarge));
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
                m_remaining = 2;
            }
            break;
        }
        case Phase::ChunkDataEnd: {
            // Exactly CRLF after each chunk's data.
            const char expected = m_remaining == 2 ? '\r' : '\n';
            if (data[i++] != expected) {
                reject(HttpResponse::error(400, u"Malformed chunked body"_s));
                return false;
            }
            if (--m_remaining == 0)
                m_phase = Phase::ChunkSize;
            break;
        }
        }
    }
    return true;
}

bool ConnectionGuard::validHeaderLine(const QByteArray &line) const
{
    // No obs-fold, a token name right before the colon (RFC 9112 5.1), a clean value.
    const qsizetype colon = line.indexOf(':');
    return colon > 0 && isToken(QByteArrayView(line).first(colon)) &&
           isFieldValue(QByteArrayView(line).sliced(colon + 1));
}

bool ConnectionGuard::headComplete()
{
    QList<QByteArray> lines = m_line.chopped(4).split('\n');
    m_line.clear();
    for (QByteArray &line : lines)
        line.chop(line.endsWith('\r') ? 1 : 0);

    const QList<QByteArray> parts = lines.first().split(' ');
    if (parts.size() != 3 || !isToken(parts[0])) {
        reject(HttpResponse::error(400, u"Malformed HTTP request line"_s));
        return false;
    }
    const QByteArray &method = parts[0];
    const QByteArray &target = parts[1];
    const QByteArray &version = parts[2];
    if (!version.startsWith("HTTP/")) {
        reject(HttpResponse::error(400, u"Malformed HTTP request line"_s));
        return false;
    }
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        reject(HttpResponse::error(505, u"HTTP version not supported: use HTTP/1.1"_s));
        return false;
    }
    const bool targetOk = target.startsWith('/') && std::all_of(target.begin(), target.end(), [](char ch) {
                              const auto c = static_cast<unsigned char>(ch);
                              return c > 0x20 && c < 0x7f;
                          });
    if (!targetOk) {
        reject(HttpResponse::error(400, u"Malformed request target"_s));
        return false;
    }
    if (!isKnownMethod(method)) {
        reject(HttpResponse::error(501, u"Method not implemented: %1"_s.arg(QString::fromLatin1(method))));
        return false;
    }

    bool close = version == "HTTP/1.0";
    qint64 contentLength = -1;
    bool chunked = false;
    bool expectContinue = false;
    for (qsizetype n = 1; n < lines.size(); ++n) {
        const QByteArray &line = lines[n];
        if (!validHeaderLine(line)) {
            reject(HttpResponse::error(400, u"Malformed HTTP header line"_s));
            return false;
        }
        const qsizetype colon = line.indexOf(':');
        const QByteArray name = line.left(colon).toLower();
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name == "content-length") {
            const qint64 length = isDigits(value, 18) ? value.toLongLong() : -1;
            if (length < 0 || (contentLength >= 0 && contentLength != length)) {
                reject(HttpResponse::error(400, u"Invalid Content-Length header"_s));
                return false;
            }
            contentLength = length;
        } else if (name == "transfer-encoding") {
            if (value.toLower() != "chunked" || chunked) {
                reject(
                    HttpResponse::error(501, u"Unsupported Transfer-Encoding: only chunked is accepted"_s));
                return false;
            }
            chunked = true;
        } else if (name == "upgrade") {
            // Qt 6.4 would hand the connection to its WebSocket code; we speak plain HTTP/1.1 only.
            reject(HttpResponse::error(400, u"Protocol upgrades are not supported"_s));
            return false;
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
        reject(HttpResponse::error(413, TooLarge));
        return false;
    }
    m_closeAfterResponse = close;
    m_headRequest = method == "HEAD";
    m_bodyBytes = 0;
    // RFC 9110 10.1.1: only HTTP/1.1 clients may be sent 100 Continue.
    if (expectContinue && version == "HTTP/1.1" && (chunked || contentLength > 0))
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
    m_awaitingResponse = true;
}

void ConnectionGuard::send(const HttpResponse &response)
{
    if (m_closing || !m_awaitingResponse)
        return;
    m_awaitingResponse = false;
    m_lastProgress = QDeadlineTimer::current().deadline();
    m_socket->write(response.serialize(m_closeAfterResponse, !m_headRequest));
    if (m_closeAfterResponse)
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

void ConnectionGuard::stopParsing()
{
    if (m_parsingStopped)
        return;
    m_parsingStopped = true;
    // Disconnects QtHttpServer's readyRead handler (and ours); the drain below replaces both.
    disconnect(m_socket, &QIODevice::readyRead, nullptr, nullptr);
    if (m_socket->isTransactionStarted())
        m_socket->commitTransaction(); // or skip() would keep the bytes
    auto drain = [this] {
        m_drained += m_socket->skip(m_socket->bytesAvailable());
        if (m_drained > m_limits.maxDrainBytes)
            terminate();
    };
    connect(m_socket, &QIODevice::readyRead, this, drain);
    drain();
}

void ConnectionGuard::closeGracefully()
{
    m_closing = true;
    m_requestTimer.stop();
    m_idleTimer.stop();
    m_responseTimer.stop();
    // Drain what the client still sends, so the kernel does not answer it with a reset that would destroy
    // our response before it is read; shut our side once the response is out; give up after the linger.
    stopParsing();
    auto *tls = qobject_cast<QSslSocket *>(m_socket);
    auto shutdownWhenWritten = [this, tls] {
        // Over TLS the plaintext leaves the buffer before its records reach the kernel: wait for both.
        if (m_socket->bytesToWrite() == 0 && (!tls || tls->encryptedBytesToWrite() == 0) &&
            m_socket->state() == QAbstractSocket::ConnectedState)
            ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
    };
    connect(m_socket, &QIODevice::bytesWritten, this, shutdownWhenWritten);
    if (tls)
        connect(tls, &QSslSocket::encryptedBytesWritten, this, shutdownWhenWritten);
    m_socket->flush();
    shutdownWhenWritten();
    QTimer::singleShot(m_limits.lingerMs, this, &ConnectionGuard::terminate);
}

void ConnectionGuard::terminate()
{
    m_closing = true;
    m_requestTimer.stop();
    m_idleTimer.stop();
    m_responseTimer.stop();
    m_socket->abort();
    m_socket->deleteLater();
}

GuardedTcpServer::GuardedTcpServer(const HttpLimits &limits, QObject *parent)
    : QTcpServer(parent)
    , m_limits(limits)
{
}

void GuardedTcpServer::incomingConnection(qintptr handle)
{
    QTcpSocket *socket = nullptr;
    if (isTls()) {
        auto *tls = new QSslSocket;
        tls->setSslConfiguration(m_tls);
        // A client that does not speak TLS (plain HTTP to an HTTPS port) or fails the handshake is dropped.
        connect(tls, &QAbstractSocket::errorOccurred, tls, [tls](QAbstractSocket::SocketError) {
            if (!tls->isEncrypted()) {
                tls->abort();
                tls->deleteLater();
            }
        });
        socket = tls;
    } else {
        socket = new QTcpSocket;
    }
    if (!socket->setSocketDescriptor(handle)) {
        delete socket;
        return;
    }
    if (auto *tls = qobject_cast<QSslSocket *>(socket))
        tls->startServerEncryption();
    if (m_active >= m_limits.maxConnections && !evictOne()) {
        // Every connection is being answered. Tell a few why; under a flood just close, so refused
        // connections cannot pile up either.
        if (m_refusing >= 64) {
            socket->abort();
            delete socket;
            return;
        }
        ++m_refusing;
        socket->setParent(this);
        HttpLimits brief = m_limits;
        brief.lingerMs = 200;
        auto *guard = new ConnectionGuard(socket, brief);
        connect(guard, &QObject::destroyed, this, [this] { --m_refusing; });
        guard->reject(
            HttpResponse::error(503, u"Too many connections, retry later"_s).withHeader("Retry-After", "1"));
        return;
    }
    ++m_active;
    socket->setParent(this); // gone with the server, whatever QtHttpServer does
    auto *guard = new ConnectionGuard(socket, m_limits);
    m_guards.append(guard);
    // Counted through the guard: QtHttpServer may call socket->disconnect(), which would cut our link.
    connect(guard, &QObject::destroyed, this, [this, guard] {
        if (m_guards.removeOne(guard))
            --m_active;
    });
    addPendingConnection(socket);
}

bool GuardedTcpServer::evictOne()
{
    // Idle and slow clients hold connections without cost to themselves (slowloris): the one silent the
    // longest makes way, so a client that sends its request now is served now.
    ConnectionGuard *oldest = nullptr;
    for (ConnectionGuard *g : std::as_const(m_guards)) {
        if (g->waitsOnClient() && (!oldest || g->lastProgress() < oldest->lastProgress()))
            oldest = g;
    }
    if (!oldest)
        return false;
    m_guards.removeOne(oldest); // its slot is free now; the socket goes at the next turn of the loop
    --m_active;
    oldest->evict();
    return true;
}

} // namespace mailcaff::server
