#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QList>
#include <QNetworkAccessManager>
#include <QObject>
#include <QPair>
#include <QSslCertificate>
#include <QTcpSocket>
#include <QUrl>

namespace mailcaff::test {

/// One HTTP response as bytes arrived: for checking the server's framing exactly.
struct RawResponse
{
    int status = 0;
    QList<QPair<QByteArray, QByteArray>> headers; ///< names lowercased
    QByteArray body;
    QByteArray header(const QByteArray &name) const;
    QJsonObject json() const;
};

/// Splits a byte stream into complete responses (Content-Length framing). Stops at the first incomplete one.
QList<RawResponse> parseResponses(const QByteArray &stream, qsizetype *consumed = nullptr);

/// A raw TCP client for the API server: sends exactly the bytes a test wants (slow, broken, pipelined …).
/// Everything is asynchronous; tests wait with QTRY_*.
class RawClient : public QObject
{
    Q_OBJECT
public:
    explicit RawClient(quint16 port, QObject *parent = nullptr);
    bool waitConnected();
    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    QList<RawResponse> responses() const { return parseResponses(m_received); }
    QByteArray received() const { return m_received; }
    bool isClosed() const { return m_closed; }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    QByteArray m_received;
    bool m_closed = false;
};

/// A JSON client over QNetworkAccessManager, as a script would call the API.
class ApiClient
{
public:
    explicit ApiClient(const QUrl &base)
        : m_base(base)
    {
    }
    struct Response
    {
        int status = 0;
        QJsonObject json;
        QByteArray body;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray header(const QByteArray &name) const;
    };
    /// Sends and waits (spinning the event loop) up to `timeoutMs`.
    Response request(const QByteArray &method, const QString &path, const QByteArray &body = {},
                     const QByteArray &apiKey = {}, int timeoutMs = 30000);
    Response post(const QString &path, const QJsonObject &body, const QByteArray &apiKey);
    Response get(const QString &path, const QByteArray &apiKey = {});
    /// For HTTPS: the only certificate authorities trusted (a self-signed server's own certificate).
    void setCaCertificates(const QList<QSslCertificate> &certificates) { m_ca = certificates; }
    /// The server's certificate seen on the last HTTPS answer.
    QSslCertificate lastPeerCertificate() const { return m_peer; }

private:
    QUrl m_base;
    QList<QSslCertificate> m_ca;
    QSslCertificate m_peer;
    QNetworkAccessManager m_nam;
};

} // namespace mailcaff::test
