#pragma once

#include "httpguard.h"
#include "httpresponse.h"

#include "accounts/apikeys.h"
#include "accounts/credits.h"
#include "jobs/jobstore.h"
#include "storage/database.h"

#include <QAbstractHttpServer>
#include <QHostAddress>
#include <QPointer>
#include <QUrl>

#include <functional>
#include <memory>
#include <optional>

class QTcpSocket;

namespace mailcaff {
class Engine;
}

namespace mailcaff::server {

/// A request as our handlers see it: copied out of QtHttpServer's request, so an answer may come later.
struct ApiRequest
{
    QByteArray method;
    QString path;
    QByteArray body;
    QList<QPair<QByteArray, QByteArray>> headers; ///< names lowercased
    QHostAddress remote;
    std::optional<accounts::ApiKeyInfo> key; ///< set on authenticated routes
    QString pathParam;                       ///< the {job_id} of routes that have one

    QByteArray header(const QByteArray &lowercaseName) const;
};

/// Answers one request, now or later. Writing is skipped when the client has gone (the socket is guarded
/// by a QPointer: Qt 6.4's responder would write through a dangling pointer). A Reply dropped without an
/// answer sends a 500, so no client waits forever on a forgotten path.
class Reply
{
public:
    Reply(QTcpSocket *socket, const QByteArray &requestId);
    ~Reply();
    Q_DISABLE_COPY_MOVE(Reply)
    void send(const HttpResponse &response);
    bool clientGone() const { return !m_socket; }
    /// Headers every answer to this request carries (X-Request-Id; X-RateLimit-* once authenticated).
    void setHeader(const QByteArray &name, const QByteArray &value);
    QByteArray requestId() const { return m_requestId; }
    bool hasHeader(const QByteArray &name) const;
    /// Runs once, just before the answer is written (to add headers computed only when needed).
    void setBeforeSend(std::function<void(Reply &)> hook) { m_beforeSend = std::move(hook); }
    /// Runs once the answer is written, with its status (the request log).
    void setAfterSend(std::function<void(int status)> hook) { m_afterSend = std::move(hook); }

private:
    std::function<void(Reply &)> m_beforeSend;
    std::function<void(int)> m_afterSend;
    QPointer<QTcpSocket> m_socket;
    QByteArray m_requestId;
    QList<QPair<QByteArray, QByteArray>> m_headers;
    bool m_sent = false;
};
using ReplyPtr = std::shared_ptr<Reply>;

/// The /api/v1 REST API (API.md) on QtHttpServer's request parser. Routing, method checks (405), JSON 404s,
/// authentication and the error bodies are ours; our GuardedTcpServer adds the limits Qt 6.4 lacks.
class ApiServer : public QAbstractHttpServer
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApiServer)
public:
    ApiServer(Engine &engine, QObject *parent = nullptr, const HttpLimits &limits = {});

    /// Binds address:port (port 0: any free port), over HTTPS when `tls` is given. False with `error` set
    /// when the port is taken. One listen per server: to move, make a new server.
    bool listen(const QHostAddress &address, quint16 port, QString *error,
                const QSslConfiguration &tls = QSslConfiguration());
    bool isTls() const;
    quint16 port() const;
    QHostAddress address() const;
    QUrl url() const; ///< e.g. http://127.0.0.1:8080/api/v1 (https:// with TLS)
    bool isListening() const;

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    using Handler = std::function<void(ApiRequest &, const ReplyPtr &)>;
    enum class Access { Public, Authenticated };
    struct Route
    {
        QByteArray method;
        QString path;
        Access access;
        Handler handler;
    };
    void addRoute(const QByteArray &method, const QString &path, Access access, Handler handler);

    void health(ApiRequest &request, const ReplyPtr &reply);
    void openApi(ApiRequest &request, const ReplyPtr &reply);
    void account(ApiRequest &request, const ReplyPtr &reply);
    void verify(ApiRequest &request, const ReplyPtr &reply);
    void verifyBulk(ApiRequest &request, const ReplyPtr &reply);
    void findDomain(ApiRequest &request, const ReplyPtr &reply);
    void findOne(ApiRequest &request, const ReplyPtr &reply);
    void findBulk(ApiRequest &request, const ReplyPtr &reply);
    /// The 202 (or 429/500) for a bulk job just created, or found again by its Idempotency-Key.
    void answerCreatedJob(ApiRequest &request, const ReplyPtr &reply,
                          const jobs::JobStore::CreateResult &created, int total);
    void bulkStatus(ApiRequest &request, const ReplyPtr &reply, QLatin1StringView kind);
    void bulkCancel(ApiRequest &request, const ReplyPtr &reply, QLatin1StringView kind);
    void webhookSet(ApiRequest &request, const ReplyPtr &reply);
    void webhookGet(ApiRequest &request, const ReplyPtr &reply);
    void webhookDelete(ApiRequest &request, const ReplyPtr &reply);
    void webhookDeliveries(ApiRequest &request, const ReplyPtr &reply);
    void sendLimitExceeded(const ReplyPtr &reply, const accounts::Usage &usage);
    /// Takes `amount` credits for the request's key, then runs `then`; on shortage sends the 429 of API.md
    /// instead (a 500 if the database failed). The charges of one turn of the event loop and the next
    /// share one transaction: they are taken when the next ends. `quickVerify`: the address `then` verifies
    /// in quick mode (the result cache is read for all of a batch at once).
    void chargeThen(const ApiRequest &request, const ReplyPtr &reply, int amount, const QString &reason,
                    std::function<void()> then, const QString &quickVerify = {});
    void takeCharges();
    struct PendingCharge
    {
        accounts::Credits::Charge charge;
        ReplyPtr reply;
        std::function<void()> then;
        QString quickVerify; ///< the address, for a quick verification (their cache reads go as one)
    };
    QList<PendingCharge> m_charges;
    void setRateLimitHeaders(const ReplyPtr &reply, const accounts::Usage &usage);
    bool maintenance(int *retryAfter);
    std::optional<accounts::ApiKeyInfo> authenticate(const QByteArray &presented);
    void refreshReadCache();
    struct ReadCache
    {
        storage::Database::ChangeStamp stamp;
        std::optional<std::pair<bool, int>> maintenance;             ///< on, retry-after seconds
        QHash<QByteArray, std::optional<accounts::ApiKeyInfo>> keys; ///< by the key's SHA-256
    };
    ReadCache m_readCache;
    bool m_readCacheChecked = false; ///< this turn of the event loop asked the database already

public:
    /// The routes served, as "METHOD /path" (the OpenAPI test compares them with openapi.json).
    QStringList routes() const;
    /// Log one line per request (method, path, status, time, key prefix; never a key) to stderr.
    void setAccessLog(bool enabled) { m_accessLog = enabled; }
    ~ApiServer() override;

private:
    /// Seconds `address` must wait before its next authentication attempt is looked at (0: none).
    int authThrottled(const QHostAddress &address);
    void authFailed(const QHostAddress &address);

    Engine &m_engine;
    HttpLimits m_limits;
    bool m_accessLog = false;
    /// Access log lines not yet written: written together, at most AccessLogDelayMs later (one write for
    /// many requests; a write per request cost the server a twentieth of its time under load).
    QByteArray m_accessLogPending;
    QTimer m_accessLogTimer;
    static constexpr int AccessLogDelayMs = 50;
    void writeAccessLog();
    struct AuthFailures
    {
        int count = 0;
        qint64 windowStartMs = 0;
    };
    QHash<QString, AuthFailures> m_authFailures; ///< per client address
    QList<Route> m_routes;
    GuardedTcpServer *m_tcp = nullptr;
};

/// Parses a request's JSON object body (Content-Type, UTF-8 and JSON checked); on failure returns the 400
/// response to send.
std::optional<HttpResponse> parseJsonObject(const ApiRequest &request, QJsonObject *out);

} // namespace mailcaff::server
