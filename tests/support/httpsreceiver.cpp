#include "httpsreceiver.h"

#include "testcertificate.h"

#include <QNetworkProxy>
#include <QPointer>
#include <QSslConfiguration>
#include <QSslServer>
#include <QSslSocket>
#include <QTimer>

#include <memory>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

namespace {

// Requests larger than this are a bug in the client under test, not something to buffer.
constexpr qsizetype MaxRequest = 1024 * 1024;

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 410:
        return "Gone";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

} // namespace

QByteArray HttpsReceiver::Request::header(const QByteArray &name) const
{
    for (const auto &[key, value] : headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

HttpsReceiver::HttpsReceiver(const QStringList &dnsNames, QObject *parent)
    : QObject(parent)
    , m_dnsNames(dnsNames)
{
}

HttpsReceiver::~HttpsReceiver() = default;

bool HttpsReceiver::listen(const QHostAddress &address, quint16 port)
{
    if (!QSslSocket::supportsSsl()) {
        m_error = u"no TLS backend"_s;
        return false;
    }
    if (m_certificate.isNull() && !makeSelfSignedIdentity(m_dnsNames, &m_certificate, &m_key)) {
        m_error = u"cannot make a certificate"_s;
        return false;
    }
    delete m_server;
    m_server = new QSslServer(this);
    m_server->setProxy(QNetworkProxy::NoProxy);
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.setLocalCertificate(m_certificate);
    config.setPrivateKey(m_key);
    config.setPeerVerifyMode(QSslSocket::VerifyNone);
    m_server->setSslConfiguration(config);
    // QSslServer queues a connection once its handshake is done.
    connect(m_server, &QTcpServer::pendingConnectionAvailable, this, &HttpsReceiver::acceptConnections);
    if (!m_server->listen(address, port)) {
        m_error = m_server->errorString();
        return false;
    }
    return true;
}

quint16 HttpsReceiver::port() const
{
    return m_server ? m_server->serverPort() : 0;
}

QHostAddress HttpsReceiver::address() const
{
    return m_server ? m_server->serverAddress() : QHostAddress();
}

void HttpsReceiver::acceptConnections()
{
    while (m_server->hasPendingConnections()) {
        auto *socket = qobject_cast<QSslSocket *>(m_server->nextPendingConnection());
        if (!socket)
            continue;
        socket->setParent(this);
        connect(socket, &QSslSocket::disconnected, socket, &QObject::deleteLater);
        connect(socket, &QSslSocket::readyRead, this, [this, socket] { readRequest(socket); });
        if (socket->bytesAvailable() > 0)
            readRequest(socket);
    }
}

void HttpsReceiver::readRequest(QSslSocket *socket)
{
    QByteArray buffer = socket->property("buffer").toByteArray() + socket->readAll();
    if (buffer.size() > MaxRequest) {
        socket->abort();
        return;
    }
    socket->setProperty("buffer", buffer);
    const qsizetype end = buffer.indexOf("\r\n\r\n");
    if (end < 0)
        return;
    Request request;
    const QList<QByteArray> lines = buffer.left(end).split('\n');
    const QList<QByteArray> requestLine = lines.constFirst().trimmed().split(' ');
    request.method = requestLine.value(0);
    request.path = requestLine.value(1);
    qsizetype length = 0;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const qsizetype colon = lines.at(i).indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray key = lines.at(i).left(colon).trimmed();
        const QByteArray value = lines.at(i).mid(colon + 1).trimmed();
        request.headers.append({key, value});
        if (key.compare("content-length", Qt::CaseInsensitive) == 0)
            length = value.toLongLong();
    }
    if (buffer.size() - (end + 4) < length)
        return; // the body is still coming
    request.body = buffer.mid(end + 4, length);
    socket->setProperty("buffer", QByteArray());
    disconnect(socket, &QSslSocket::readyRead, this, nullptr);
    m_requests.append(request);
    const Response response = m_script.isEmpty() ? m_default : m_script.takeFirst();
    Q_EMIT requestReceived();
    if (response.hang)
        return;
    if (response.delayMs > 0) {
        QTimer::singleShot(response.delayMs, socket, [this, socket, response] { answer(socket, response); });
        return;
    }
    answer(socket, response);
}

void HttpsReceiver::answer(QSslSocket *socket, const Response &response)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(response.status) + ' ' + reasonPhrase(response.status) +
                     "\r\nContent-Length: " + QByteArray::number(response.body.size()) +
                     "\r\nConnection: close\r\n";
    for (const auto &[key, value] : response.headers)
        out += key + ": " + value + "\r\n";
    out += "\r\n" + response.body;
    socket->write(out);
    socket->disconnectFromHost();
}

} // namespace mailcaff::test
