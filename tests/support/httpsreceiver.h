#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPair>
#include <QSslCertificate>
#include <QSslKey>
#include <QStringList>

class QSslServer;
class QSslSocket;

namespace mailcaff::test {

/// An HTTPS server on loopback for webhook tests: a QSslServer with a self-signed certificate made at
/// runtime (SAN: the given DNS names, 127.0.0.1 and ::1) that tests trust explicitly. Each request gets the
/// next scripted response (then the default one); every request is recorded.
///
/// Usage:
///     HttpsReceiver receiver({u"hooks.test"_s});
///     QVERIFY(receiver.listen());
///     HttpsReceiver::Response error;
///     error.status = 500;
///     receiver.addResponse(error);
///     dispatcher = new WebhookDispatcher(&store, &resolver, policy, {receiver.certificate()});
class HttpsReceiver : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(HttpsReceiver)
public:
    using Headers = QList<QPair<QByteArray, QByteArray>>;

    struct Response
    {
        int status = 200;
        Headers headers; ///< e.g. Retry-After, Location
        QByteArray body;
        int delayMs = 0;   ///< answer after this long
        bool hang = false; ///< read the request and never answer
    };

    struct Request
    {
        QByteArray method;
        QByteArray path;
        Headers headers;
        QByteArray body;
        /// The first header of that name (case-insensitive), or empty.
        QByteArray header(const QByteArray &name) const;
    };

    explicit HttpsReceiver(const QStringList &dnsNames = {QStringLiteral("localhost")},
                           QObject *parent = nullptr);
    ~HttpsReceiver() override;

    /// Port 0 picks a free port. Bind loopback only. False when TLS or the certificate is unavailable.
    bool listen(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    quint16 port() const;
    QHostAddress address() const;
    QString errorString() const { return m_error; }
    /// The self-signed certificate to trust.
    QSslCertificate certificate() const { return m_certificate; }

    void addResponse(const Response &response) { m_script.append(response); }
    void setDefaultResponse(const Response &response) { m_default = response; }

    QList<Request> requests() const { return m_requests; }
    int requestCount() const { return int(m_requests.size()); }
    void clearRequests() { m_requests.clear(); }

Q_SIGNALS:
    void requestReceived();

private:
    void acceptConnections();
    void readRequest(QSslSocket *socket);
    void answer(QSslSocket *socket, const Response &response);

    QStringList m_dnsNames;
    QSslServer *m_server = nullptr;
    QSslCertificate m_certificate;
    QSslKey m_key;
    QString m_error;
    QList<Response> m_script;
    Response m_default;
    QList<Request> m_requests;
};

} // namespace mailcaff::test
