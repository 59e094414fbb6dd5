#include "httpexchange.h"

#include "dns/resolver.h"

#include <QNetworkProxy>
#include <QSslConfiguration>
#include <QSslSocket>

using namespace Qt::StringLiterals;

namespace mailcaff::net {

HttpExchange::HttpExchange(Request request, dns::Resolver *resolver, const TargetPolicy &policy,
                           const QList<QSslCertificate> &caCertificates, int timeoutMs,
                           std::function<void(const Outcome &)> done, QObject *parent)
    : QObject(parent)
    , m_request(std::move(request))
    , m_resolver(resolver)
    , m_policy(policy)
    , m_caCertificates(caCertificates)
    , m_done(std::move(done))
{
    m_timeout.setSingleShot(true);
    m_timeout.setInterval(timeoutMs);
    connect(&m_timeout, &QTimer::timeout, this, [this] {
        if (m_headersDone)
            complete(); // out of time while reading the body: what came is the answer
        else
            fail(u"timed out after %1 ms"_s.arg(m_timeout.interval()));
    });
}

void HttpExchange::start()
{
    m_clock.start();
    m_timeout.start();
    m_tls = m_request.url.scheme() == "https"_L1;
    m_host = m_request.url.host(QUrl::EncodeUnicode).toLower();
    m_port = m_request.port ? m_request.port : quint16(m_request.url.port(m_tls ? 443 : 80));
    if (m_host.isEmpty() || (!m_tls && m_request.url.scheme() != "http"_L1)) {
        fail(u"not an http(s) URL with a host"_s);
        return;
    }
    // An address literal needs no DNS, but goes through the same check.
    const QHostAddress literal(m_host);
    if (!literal.isNull()) {
        connectTo({literal});
        return;
    }
    m_resolver->lookupAddresses(m_host, this, [this](const dns::AddressAnswer &answer) {
        if (answer.status != dns::DnsStatus::Ok || answer.addresses.isEmpty()) {
            fail(u"cannot resolve %1: %2"_s.arg(m_host, answer.error.isEmpty() ? dns::toString(answer.status)
                                                                               : answer.error));
            return;
        }
        connectTo(answer.addresses);
    });
}

void HttpExchange::connectTo(const QList<QHostAddress> &addresses)
{
    if (m_finished)
        return;
    // Connect only to an address the policy permits; the name never reaches the socket, so no second
    // lookup can hand it a different (internal) address.
    QHostAddress target;
    for (const QHostAddress &address : addresses) {
        if (m_policy.permits(address)) {
            target = address;
            break;
        }
    }
    if (target.isNull()) {
        fail(u"refused target: %1"_s.arg(TargetPolicy::describe(addresses.constFirst())));
        return;
    }
    m_socket = new QSslSocket(this);
    // A system or environment proxy would connect by name on our behalf and defeat the address check.
    m_socket->setProxy(QNetworkProxy::NoProxy);
    m_socket->setReadBufferSize(16 * 1024);
    connect(m_socket, &QSslSocket::readyRead, this, &HttpExchange::read);
    connect(m_socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError) {
        // A server that closes after answering (Connection: close): whatever it sent counts first.
        read();
        if (m_headersDone) {
            complete();
            return;
        }
        m_outcome.tlsFailed = !m_tlsError.isEmpty() || (m_tls && !m_socket->isEncrypted());
        fail(!m_tlsError.isEmpty() ? m_tlsError : m_socket->errorString());
    });
    connect(m_socket, &QAbstractSocket::disconnected, this, [this] {
        read();
        if (m_headersDone)
            complete();
        else
            fail(u"the server closed the connection before answering"_s);
    });
    if (!m_tls) {
        connect(m_socket, &QAbstractSocket::connected, this, &HttpExchange::send);
        m_socket->connectToHost(target, m_port);
        return;
    }
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.setProtocol(QSsl::TlsV1_2OrLater);
    config.setPeerVerifyMode(QSslSocket::VerifyPeer);
    if (!m_caCertificates.isEmpty())
        config.setCaCertificates(m_caCertificates);
    m_socket->setSslConfiguration(config);
    connect(m_socket, &QSslSocket::encrypted, this, &HttpExchange::send);
    connect(m_socket, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
        QStringList texts;
        for (const QSslError &e : errors)
            texts.append(e.errorString());
        m_tlsError = u"TLS: "_s + texts.join(u"; "_s);
    });
    // The peer name is the URL's host, so the certificate is verified against it, not the address.
    m_socket->connectToHostEncrypted(target.toString(), m_port, m_host);
}

void HttpExchange::send()
{
    QByteArray path = m_request.url.path(QUrl::FullyEncoded).toLatin1();
    if (path.isEmpty())
        path = "/";
    if (m_request.url.hasQuery())
        path += '?' + m_request.url.query(QUrl::FullyEncoded).toLatin1();
    QByteArray host = m_request.url.host(QUrl::FullyEncoded).toLatin1();
    if (host.contains(':'))
        host = '[' + host + ']';
    if (m_request.url.port() > 0)
        host += ':' + QByteArray::number(m_request.url.port());
    QByteArray head = m_request.method + ' ' + path + " HTTP/1.1\r\nHost: " + host +
                      "\r\nUser-Agent: " + m_request.userAgent + "\r\n";
    if (!m_request.body.isEmpty() || m_request.method == "POST" || m_request.method == "PUT") {
        if (!m_request.contentType.isEmpty())
            head += "Content-Type: " + m_request.contentType + "\r\n";
        head += "Content-Length: " + QByteArray::number(m_request.body.size()) + "\r\n";
    }
    head += m_request.headers + "Connection: close\r\n\r\n";
    m_socket->write(head + m_request.body);
}

void HttpExchange::read()
{
    if (m_finished || !m_socket)
        return;
    m_buffer += m_socket->readAll();
    while (!m_headersDone) {
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0) {
            if (m_buffer.size() > MaxHeaderBytes)
                fail(u"the response headers exceed %1 bytes"_s.arg(MaxHeaderBytes));
            return;
        }
        const QList<QByteArray> lines = m_buffer.left(end).split('\n');
        const QList<QByteArray> statusLine = lines.constFirst().trimmed().split(' ');
        bool ok = false;
        const int status = statusLine.size() >= 2 ? statusLine.at(1).toInt(&ok) : 0;
        if (!statusLine.constFirst().startsWith("HTTP/1.") || !ok || status < 100 || status > 599) {
            fail(u"the server did not answer HTTP"_s);
            return;
        }
        m_buffer.remove(0, end + 4);
        // Interim answers (100 Continue, 103 Early Hints) come before the real one.
        if (status < 200)
            continue;
        m_headersDone = true;
        m_outcome.status = status;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray &line = lines.at(i);
            const qsizetype colon = line.indexOf(':');
            if (colon <= 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed();
            if (name == "location") {
                m_outcome.location = value.left(2048);
            } else if (name == "content-type") {
                m_outcome.contentType = value.left(200);
            } else if (name == "content-length") {
                m_contentLength = value.toLongLong(&ok);
                if (!ok)
                    m_contentLength = -1;
            } else if (name == "retry-after") {
                // RFC 9110 section 10.2.3 also allows an HTTP date; the servers we talk to send seconds.
                const qint64 secs = value.toLongLong(&ok);
                if (ok && secs >= 0)
                    m_outcome.retryAfterSecs = secs;
            }
        }
    }
    const bool wantsBody = m_request.maxBodyBytes > 0 && m_request.method != "HEAD" &&
                           m_outcome.status != 204 && m_outcome.status != 304;
    if (!wantsBody) {
        complete();
        return;
    }
    m_outcome.body += m_buffer.left(m_request.maxBodyBytes - m_outcome.body.size());
    m_buffer.clear();
    if (m_outcome.body.size() >= m_request.maxBodyBytes ||
        (m_contentLength >= 0 && m_outcome.body.size() >= m_contentLength))
        complete();
}

void HttpExchange::fail(const QString &error)
{
    m_outcome.status = 0;
    m_outcome.error = error;
    complete();
}

void HttpExchange::complete()
{
    if (m_finished)
        return;
    m_finished = true;
    m_timeout.stop();
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
    m_done(m_outcome);
}

} // namespace mailcaff::net
