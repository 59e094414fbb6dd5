#include "httptestserver.h"

#include <memory>

#include <QTcpServer>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

namespace {

QByteArray reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    default:
        return "Status";
    }
}

} // namespace

void streamFiller(QTcpSocket *socket, qint64 bytes, qint64 *counter, std::function<void()> done)
{
    auto left = std::make_shared<qint64>(bytes);
    auto topUp = [socket, left, counter, done = std::move(done)] {
        static const QByteArray piece(64 * 1024, 'x');
        if (*left == 0)
            return; // finished already
        while (*left > 0 && socket->bytesToWrite() < 4 * piece.size()) {
            const qint64 n = std::min<qint64>(*left, piece.size());
            socket->write(piece.constData(), n);
            *left -= n;
            *counter += n;
        }
        if (*left == 0)
            done();
    };
    QObject::connect(socket, &QTcpSocket::bytesWritten, socket, topUp);
    topUp();
}

HttpTestServer::HttpTestServer(QObject *parent)
    : QObject(parent)
    , m_server(new QTcpServer(this))
{
    connect(m_server, &QTcpServer::newConnection, this, [this] {
        while (QTcpSocket *socket = m_server->nextPendingConnection()) {
            connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            connect(socket, &QTcpSocket::readyRead, this, [this, socket] { serve(socket); });
        }
    });
}

HttpTestServer::~HttpTestServer() = default;

bool HttpTestServer::listen(const QHostAddress &address, quint16 port)
{
    return m_server->listen(address, port);
}

quint16 HttpTestServer::port() const
{
    return m_server->serverPort();
}

QHostAddress HttpTestServer::address() const
{
    return m_server->serverAddress();
}

void HttpTestServer::addPage(const QString &host, const QString &path, int status, const QString &body)
{
    Page page;
    page.status = status;
    page.headers.append(qMakePair(QByteArray("Content-Type"), QByteArray("text/html; charset=utf-8")));
    page.body = body.toUtf8();
    setPage(host, path, page);
}

void HttpTestServer::addRedirect(const QString &host, const QString &path, const QString &location,
                                 int status)
{
    Page page;
    page.status = status;
    page.headers.append(qMakePair(QByteArray("Location"), location.toUtf8()));
    setPage(host, path, page);
}

void HttpTestServer::setPage(const QString &host, const QString &path, const Page &page)
{
    m_pages.insert(host.toLower() + u' ' + path, page);
}

void HttpTestServer::setHeadStatus(const QString &host, int status)
{
    m_headStatus.insert(host.toLower(), status);
}

void HttpTestServer::serve(QTcpSocket *socket)
{
    QByteArray buffer = socket->property("buffer").toByteArray() + socket->readAll();
    socket->setProperty("buffer", buffer);
    auto badRequest = [socket] {
        socket->write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        socket->disconnectFromHost();
    };
    // Binary bytes (a TLS ClientHello) or an endless header: not HTTP.
    if (!buffer.isEmpty() && (uchar(buffer.at(0)) < 0x20 || uchar(buffer.at(0)) > 0x7e))
        return badRequest();
    const qsizetype end = buffer.indexOf("\r\n\r\n");
    if (end < 0) {
        if (buffer.size() > 64 * 1024)
            badRequest();
        return;
    }
    const QList<QByteArray> first = buffer.left(buffer.indexOf("\r\n")).split(' ');
    if (first.size() != 3 || !first.at(2).startsWith("HTTP/1."))
        return badRequest();
    const QByteArray method = first.at(0);
    const QString path = QString::fromLatin1(first.at(1));
    QString host;
    for (const QByteArray &line : buffer.left(end).split('\n')) {
        if (line.toLower().startsWith("host:")) {
            host = QString::fromLatin1(line.mid(5).trimmed()).toLower();
            host = host.section(u':', 0, 0);
        }
    }
    m_requestLines.append(method + ' ' + host.toLatin1() + first.at(1));
    m_counts[host] += 1;
    const auto it = m_pages.constFind(host + u' ' + path);
    Page page;
    if (it == m_pages.constEnd()) {
        page.status = 404;
        page.body = "<title>Not found</title>";
    } else {
        page = *it;
    }
    if (page.stall)
        return;
    int status = page.status;
    if (method == "HEAD" && m_headStatus.contains(host))
        status = m_headStatus.value(host);
    QByteArray out = "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason(status) + "\r\n";
    for (const auto &[name, value] : std::as_const(page.headers))
        out += name + ": " + value + "\r\n";
    const qint64 length = page.streamBytes > 0 ? page.streamBytes : page.body.size();
    out += "Content-Length: " + QByteArray::number(length) + "\r\nConnection: close\r\n\r\n";
    socket->disconnect(this); // one request per connection: nothing more is read
    if (method != "HEAD" && page.streamBytes > 0) {
        // Topped up as the client reads: never more than a few pieces queued in the socket.
        socket->write(out);
        streamFiller(socket, page.streamBytes, &m_streamed, [socket] { socket->disconnectFromHost(); });
        return;
    }
    if (method != "HEAD")
        out += page.body;
    socket->write(out);
    socket->disconnectFromHost();
}

} // namespace mailcaff::test
