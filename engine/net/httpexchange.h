#pragma once

#include "targetpolicy.h"

#include <QElapsedTimer>
#include <QObject>
#include <QSslCertificate>
#include <QTimer>
#include <QUrl>

#include <functional>
#include <optional>

class QSslSocket;

namespace mailcaff::dns {
class Resolver;
}

namespace mailcaff::net {

/// One HTTP/1.1 request to a server we do not trust (webhook receivers, company websites): the host is
/// resolved through the engine's resolver, every address checked against the TargetPolicy, and the
/// connection made to the checked address (no second lookup can swap in an internal one) while TLS still
/// verifies the host name. No proxy, no redirects followed (the caller decides), bounded reads, one
/// deadline for the whole exchange. Calls `done` exactly once, then ignores its socket.
class HttpExchange : public QObject
{
public:
    struct Request
    {
        QUrl url;                  ///< http or https
        QByteArray method = "GET"; ///< HEAD reads no body
        QByteArray body;           ///< sent with Content-Length when not empty (or for POST/PUT)
        QByteArray headers;        ///< extra header lines, each CRLF-terminated
        QByteArray contentType;    ///< for a body
        QByteArray userAgent = "Mailcaff";
        quint16 port = 0;        ///< 0: the URL's port, else 80 or 443
        qint64 maxBodyBytes = 0; ///< the body is read up to this many bytes (0: not read)
    };
    struct Outcome
    {
        int status = 0; ///< 0: no HTTP answer (see error)
        QString error;
        QByteArray location;
        std::optional<qint64> retryAfterSecs;
        QByteArray contentType;
        QByteArray body;        ///< at most maxBodyBytes
        bool tlsFailed = false; ///< the TLS handshake or the certificate failed
    };

    static constexpr qint64 MaxHeaderBytes = 64 * 1024;

    /// `caCertificates` empty: the system's, loaded on demand.
    HttpExchange(Request request, dns::Resolver *resolver, const TargetPolicy &policy,
                 const QList<QSslCertificate> &caCertificates, int timeoutMs,
                 std::function<void(const Outcome &)> done, QObject *parent);

    void start();
    int elapsedMs() const { return int(m_clock.elapsed()); }

private:
    void connectTo(const QList<QHostAddress> &addresses);
    void send();
    void read();
    void fail(const QString &error);
    void complete();

    Request m_request;
    dns::Resolver *m_resolver = nullptr;
    TargetPolicy m_policy;
    QList<QSslCertificate> m_caCertificates;
    std::function<void(const Outcome &)> m_done;
    QString m_host;
    quint16 m_port = 443;
    bool m_tls = true;
    QSslSocket *m_socket = nullptr;
    QTimer m_timeout;
    QElapsedTimer m_clock;
    QByteArray m_buffer;
    Outcome m_outcome;
    bool m_headersDone = false;
    qint64 m_contentLength = -1;
    QString m_tlsError;
    bool m_finished = false;
};

} // namespace mailcaff::net
