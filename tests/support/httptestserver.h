#pragma once

#include <QHash>
#include <QHostAddress>
#include <QObject>
#include <QPair>

#include <functional>

class QTcpServer;
class QTcpSocket;

namespace mailcaff::test {

/// Writes `bytes` filler bytes ('x') to `socket`, topped up as the peer reads them (never more than a few
/// 64 KiB pieces queued), adding each piece to `*counter`; then calls `done` (on the socket's thread). A
/// test server can serve 100 MB, or a 10 MB line, at the cost of what the client actually takes.
void streamFiller(QTcpSocket *socket, qint64 bytes, qint64 *counter, std::function<void()> done);

/// A tiny HTTP/1.1 server on loopback standing in for many websites at once: answers by Host header (port
/// ignored) and path, one request per connection (Connection: close), HEAD without a body. Anything that is
/// not HTTP (a TLS handshake, for instance) gets a 400 and the connection closed, as a plain web server
/// would answer.
///
///     HttpTestServer web;
///     QVERIFY(web.listen(QHostAddress(u"127.0.0.51"_s)));
///     web.addPage(u"coolblue.nl"_s, u"/"_s, 200, u"<title>Coolblue</title>"_s);
///     web.addRedirect(u"coolblue.com"_s, u"/"_s, u"http://coolblue.nl/"_s);
class HttpTestServer : public QObject
{
    Q_OBJECT
public:
    struct Page
    {
        int status = 200;
        QList<QPair<QByteArray, QByteArray>> headers;
        QByteArray body;
        bool stall = false; ///< never answer
        /// A body this long (Content-Length), made up as the client reads it, instead of `body`: a site
        /// serving 100 MB costs the test nothing until someone downloads it.
        qint64 streamBytes = 0;
    };

    explicit HttpTestServer(QObject *parent = nullptr);
    ~HttpTestServer() override;

    bool listen(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    quint16 port() const;
    QHostAddress address() const;

    void addPage(const QString &host, const QString &path, int status, const QString &body);
    void addRedirect(const QString &host, const QString &path, const QString &location, int status = 301);
    void setPage(const QString &host, const QString &path, const Page &page);
    /// Answer for HEAD, when it differs from GET's (e.g. 405 from servers that do not serve HEAD).
    void setHeadStatus(const QString &host, int status);

    int requestCount(const QString &host) const { return m_counts.value(host.toLower()); }
    QList<QByteArray> requestLines() const { return m_requestLines; }
    /// Bytes of streamed bodies (Page::streamBytes) handed to the sockets so far, all requests together.
    qint64 bytesStreamed() const { return m_streamed; }

private:
    void serve(QTcpSocket *socket);

    QTcpServer *m_server = nullptr;
    QHash<QString, Page> m_pages; ///< "host path"
    QHash<QString, int> m_headStatus;
    QHash<QString, int> m_counts;
    QList<QByteArray> m_requestLines;
    qint64 m_streamed = 0;
};

} // namespace mailcaff::test
