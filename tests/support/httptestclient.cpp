#include "httptestclient.h"

#include <QEventLoop>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QSslConfiguration>
#include <QTest>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

QByteArray RawResponse::header(const QByteArray &name) const
{
    for (const auto &[n, v] : headers) {
        if (n == name.toLower())
            return v;
    }
    return {};
}

QJsonObject RawResponse::json() const
{
    return QJsonDocument::fromJson(body).object();
}

QList<RawResponse> parseResponses(const QByteArray &stream, qsizetype *consumed)
{
    QList<RawResponse> out;
    qsizetype pos = 0;
    while (true) {
        const qsizetype end = stream.indexOf("\r\n\r\n", pos);
        if (end < 0)
            break;
        const QList<QByteArray> lines = stream.mid(pos, end - pos).split('\n');
        RawResponse r;
        const QList<QByteArray> statusLine = lines.first().trimmed().split(' ');
        r.status = statusLine.value(1).toInt();
        qsizetype length = 0;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray line = lines[i].trimmed();
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            r.headers.append({name, value});
            if (name == "content-length")
                length = value.toLongLong();
        }
        if (r.status == 100) { // interim response, no body
            pos = end + 4;
            continue;
        }
        if (stream.size() < end + 4 + length)
            break;
        r.body = stream.mid(end + 4, length);
        pos = end + 4 + length;
        out.append(r);
    }
    if (consumed)
        *consumed = pos;
    return out;
}

RawClient::RawClient(quint16 port, QObject *parent)
    : QObject(parent)
{
    connect(&m_socket, &QTcpSocket::readyRead, this, [this] { m_received += m_socket.readAll(); });
    connect(&m_socket, &QTcpSocket::disconnected, this, [this] { m_closed = true; });
    connect(&m_socket, &QTcpSocket::errorOccurred, this, [this] {
        if (m_socket.state() != QAbstractSocket::ConnectedState)
            m_closed = true;
    });
    m_socket.connectToHost(u"127.0.0.1"_s, port);
}

bool RawClient::waitConnected()
{
    if (!QTest::qWaitFor([this] { return m_socket.state() == QAbstractSocket::ConnectedState || m_closed; },
                         5000))
        return false;
    return m_socket.state() == QAbstractSocket::ConnectedState;
}

QByteArray ApiClient::Response::header(const QByteArray &name) const
{
    for (const auto &[n, v] : headers) {
        if (n.toLower() == name.toLower())
            return v;
    }
    return {};
}

ApiClient::Response ApiClient::request(const QByteArray &method, const QString &path, const QByteArray &body,
                                       const QByteArray &apiKey, int timeoutMs)
{
    QUrl url = m_base;
    url.setPath(path);
    QNetworkRequest req(url);
    req.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
    if (!apiKey.isEmpty())
        req.setRawHeader("Authorization", "Bearer " + apiKey);
    if (!m_ca.isEmpty()) {
        QSslConfiguration tls = QSslConfiguration::defaultConfiguration();
        tls.setCaCertificates(m_ca);
        req.setSslConfiguration(tls);
    }
    QNetworkReply *reply = m_nam.sendCustomRequest(req, method, body);
    QEventLoop loop;
    QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
    QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
    if (!reply->isFinished())
        loop.exec();
    Response r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    m_peer = reply->sslConfiguration().peerCertificate();
    r.body = reply->readAll();
    r.json = QJsonDocument::fromJson(r.body).object();
    for (const auto &pair : reply->rawHeaderPairs())
        r.headers.append(pair);
    reply->deleteLater();
    return r;
}

ApiClient::Response ApiClient::post(const QString &path, const QJsonObject &body, const QByteArray &apiKey)
{
    return request("POST", path, QJsonDocument(body).toJson(QJsonDocument::Compact), apiKey);
}

ApiClient::Response ApiClient::get(const QString &path, const QByteArray &apiKey)
{
    return request("GET", path, {}, apiKey);
}

} // namespace mailcaff::test
