#include "apiserver.h"

#include "engine.h"

#include "storage/settings.h"

#include <QFile>
#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QStringDecoder>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

// Q_INIT_RESOURCE must be used from the global namespace; it keeps the static library's resources linked.
static void initServerResources()
{
    Q_INIT_RESOURCE(server_resources);
}

namespace mailcaff::server {

namespace {

QByteArray methodName(QHttpServerRequest::Method method)
{
    using M = QHttpServerRequest::Method;
    switch (method) {
    case M::Get:
        return "GET";
    case M::Put:
        return "PUT";
    case M::Delete:
        return "DELETE";
    case M::Post:
        return "POST";
    case M::Head:
        return "HEAD";
    case M::Options:
        return "OPTIONS";
    case M::Patch:
        return "PATCH";
    case M::Connect:
        return "CONNECT";
    case M::Trace:
        return "TRACE";
    default:
        return "UNKNOWN";
    }
}

HttpResponse unauthorized()
{
    return HttpResponse::error(401, u"Unauthorized: missing or invalid API key"_s)
        .withHeader("WWW-Authenticate", "Bearer");
}

} // namespace

QByteArray ApiRequest::header(const QByteArray &lowercaseName) const
{
    for (const auto &[name, value] : headers) {
        if (name == lowercaseName)
            return value;
    }
    return {};
}

Reply::Reply(QTcpSocket *socket, const QByteArray &requestId)
    : m_socket(socket)
    , m_requestId(requestId)
{
    m_headers.append({"X-Request-Id", requestId});
}

Reply::~Reply()
{
    if (!m_sent) {
        // A path that forgot to answer: the client gets a 500 without internals; the log has the request id.
        qWarning("mailcaff: request %s ended without an answer; sent 500", m_requestId.constData());
        send(HttpResponse::error(
            500, u"Internal server error (request %1)"_s.arg(QString::fromLatin1(m_requestId))));
    }
}

void Reply::setHeader(const QByteArray &name, const QByteArray &value)
{
    for (auto &[n, v] : m_headers) {
        if (n == name) {
            v = value;
            return;
        }
    }
    m_headers.append({name, value});
}

void Reply::send(const HttpResponse &response)
{
    if (m_sent)
        return;
    m_sent = true;
    if (!m_socket)
        return;
    HttpResponse out = response;
    out.headers = m_headers + response.headers;
    if (ConnectionGuard *guard = ConnectionGuard::of(m_socket.data()))
        guard->send(out);
}

static HttpResponse internalError(const ReplyPtr &reply)
{
    qWarning("mailcaff: request %s failed with an internal error", reply->requestId().constData());
    return HttpResponse::error(
        500, u"Internal server error (request %1)"_s.arg(QString::fromLatin1(reply->requestId())));
}

std::optional<HttpResponse> parseJsonObject(const ApiRequest &request, QJsonObject *out)
{
    const QByteArray type = request.header("content-type").split(';').first().trimmed().toLower();
    if (!type.isEmpty() && type != "application/json")
        return HttpResponse::error(
            400, u"Content-Type must be application/json, not %1"_s.arg(QString::fromLatin1(type)));
    if (request.body.trimmed().isEmpty())
        return HttpResponse::error(400, u"Missing request body: send a JSON object"_s);
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    [[maybe_unused]] const QString decoded = utf8.decode(request.body);
    if (utf8.hasError())
        return HttpResponse::error(400, u"The request body is not valid UTF-8"_s);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(request.body, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return HttpResponse::error(
            400,
            u"Invalid JSON body: %1 at offset %2"_s.arg(parseError.errorString()).arg(parseError.offset));
    if (!doc.isObject())
        return HttpResponse::error(400, u"The request body must be a JSON object"_s);
    *out = doc.object();
    return std::nullopt;
}

ApiServer::ApiServer(Engine &engine, QObject *parent, const HttpLimits &limits)
    : QAbstractHttpServer(parent)
    , m_engine(engine)
    , m_credits(engine.database())
    , m_limits(limits)
{
    initServerResources();
    using A = Access;
    addRoute("GET", u"/api/v1/health"_s, A::Public,
             [this](ApiRequest &r, const ReplyPtr &p) { health(r, p); });
    addRoute("GET", u"/api/v1/openapi.json"_s, A::Public,
             [this](ApiRequest &r, const ReplyPtr &p) { openApi(r, p); });
    addRoute("GET", u"/api/v1/account"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { account(r, p); });
    addRoute("POST", u"/api/v1/verify"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { verify(r, p); });
}

void ApiServer::addRoute(const QByteArray &method, const QString &path, Access access, Handler handler)
{
    m_routes.append({method, path, access, std::move(handler)});
}

QStringList ApiServer::routes() const
{
    QStringList out;
    for (const Route &r : m_routes)
        out.append(QString::fromLatin1(r.method) + u' ' + r.path);
    return out;
}

bool ApiServer::maintenance(int *retryAfter) const
{
    const storage::Settings settings(m_engine.database());
    if (!settings.value(storage::setting::Maintenance))
        return false;
    *retryAfter = settings.value(storage::setting::MaintenanceRetryAfter);
    return true;
}

void ApiServer::setRateLimitHeaders(const ReplyPtr &reply, const accounts::Usage &usage)
{
    reply->setHeader("X-RateLimit-Limit", QByteArray::number(usage.monthlyLimit));
    reply->setHeader("X-RateLimit-Remaining", QByteArray::number(usage.remaining));
    reply->setHeader("X-RateLimit-Reset", QByteArray::number(usage.resetsAt.toSecsSinceEpoch()));
}

bool ApiServer::charge(ApiRequest &request, const ReplyPtr &reply, int amount, const QString &reason)
{
    const accounts::Credits::Result taken = m_credits.take(*request.key, amount, reason);
    if (taken.failed) {
        reply->send(internalError(reply));
        return false;
    }
    setRateLimitHeaders(reply, taken.usage);
    if (!taken.ok) {
        const qint64 wait = std::max<qint64>(1, m_credits.now().secsTo(taken.usage.resetsAt));
        reply->send(HttpResponse::json(429, {{u"error"_s, u"Monthly limit exceeded"_s},
                                             {u"monthly_limit"_s, taken.usage.monthlyLimit},
                                             {u"monthly_used"_s, taken.usage.monthlyUsed},
                                             {u"resets_at"_s, taken.usage.resetsAt.toString(Qt::ISODate)}})
                        .withHeader("Retry-After", QByteArray::number(wait)));
        return false;
    }
    return true;
}

bool ApiServer::listen(const QHostAddress &address, quint16 port, QString *error)
{
    auto *tcp = new GuardedTcpServer(m_limits, this);
    if (!tcp->listen(address, port)) {
        if (error)
            *error = u"cannot listen on %1 port %2: %3"_s.arg(address.toString())
                         .arg(port)
                         .arg(tcp->errorString());
        delete tcp;
        return false;
    }
    bind(tcp);
    m_tcp = tcp;
    return true;
}

bool ApiServer::isListening() const
{
    return m_tcp && m_tcp->isListening();
}

quint16 ApiServer::port() const
{
    return m_tcp ? m_tcp->serverPort() : 0;
}

QHostAddress ApiServer::address() const
{
    return m_tcp ? m_tcp->serverAddress() : QHostAddress();
}

QUrl ApiServer::url() const
{
    QUrl u;
    u.setScheme(u"http"_s);
    QHostAddress host = address();
    if (host == QHostAddress::Any || host == QHostAddress::AnyIPv4)
        host = QHostAddress::LocalHost;
    else if (host == QHostAddress::AnyIPv6)
        host = QHostAddress::LocalHostIPv6;
    u.setHost(host.toString());
    u.setPort(port());
    u.setPath(u"/api/v1"_s);
    return u;
}

bool ApiServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    const QByteArray requestId =
        QByteArray::number(QRandomGenerator::global()->generate64(), 16).rightJustified(16, '0');
    auto reply = std::make_shared<Reply>(socket, requestId);
    ApiRequest req;
    req.method = methodName(request.method());
    req.path = request.url().path();
    req.body = request.body();
    req.remote = request.remoteAddress();
    for (const auto &[name, value] : request.headers())
        req.headers.append({name.toLower(), value});

    QByteArrayList allowed;
    for (const Route &route : std::as_const(m_routes)) {
        if (route.path != req.path)
            continue;
        if (route.method != req.method) {
            allowed.append(route.method);
            continue;
        }
        if (route.access == Access::Authenticated) {
            // Maintenance first: nothing is charged or even looked up while the service is down.
            if (int retryAfter = 0; maintenance(&retryAfter)) {
                reply->send(HttpResponse::json(503, {{u"error"_s, u"Service under maintenance"_s},
                                                     {u"retry_after"_s, retryAfter}})
                                .withHeader("Retry-After", QByteArray::number(retryAfter)));
                return true;
            }
            const QByteArray auth = req.header("authorization");
            const qsizetype space = auth.indexOf(' ');
            if (space > 0 && auth.left(space).toLower() == "bearer")
                req.key = m_engine.apiKeys().authenticate(QString::fromLatin1(auth.mid(space + 1).trimmed()));
            if (!req.key) {
                reply->send(unauthorized());
                return true;
            }
            if (const auto usage = m_credits.usage(*req.key))
                setRateLimitHeaders(reply, *usage);
        }
        if (m_accessLog) {
            // Never the key: its visible prefix is enough to tell callers apart.
            qInfo("%s %s %s key=%s id=%s", req.remote.toString().toLatin1().constData(),
                  req.method.constData(), req.path.toUtf8().constData(),
                  req.key ? req.key->prefix.toLatin1().constData() : "-", requestId.constData());
        }
        route.handler(req, reply);
        return true;
    }
    if (!allowed.isEmpty()) {
        reply->send(HttpResponse::error(405, u"Method %1 not allowed on %2; use %3"_s.arg(
                                                 QString::fromLatin1(req.method), req.path,
                                                 QString::fromLatin1(allowed.join(", "))))
                        .withHeader("Allow", allowed.join(", ")));
        return true;
    }
    reply->send(HttpResponse::error(
        404, u"Not found: no route for %1 %2"_s.arg(QString::fromLatin1(req.method), req.path)));
    return true;
}

void ApiServer::missingHandler(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // handleRequest() answers every request; this is only reached if QtHttpServer changes its contract.
    Reply(socket, "missing").send(HttpResponse::error(404, u"Not found: %1"_s.arg(request.url().path())));
}

void ApiServer::health(ApiRequest &, const ReplyPtr &reply)
{
    // Up in maintenance too, and saying so: monitors must tell "down" from "switched off on purpose".
    int retryAfter = 0;
    const bool down = maintenance(&retryAfter);
    QJsonObject body{{u"status"_s, down ? u"maintenance"_s : u"ok"_s},
                     {u"version"_s, QStringLiteral(MAILCAFF_VERSION)}};
    if (down)
        body.insert(u"retry_after"_s, retryAfter);
    reply->send(HttpResponse::json(200, body));
}

void ApiServer::openApi(ApiRequest &, const ReplyPtr &reply)
{
    static const QByteArray document = [] {
        QFile file(u":/openapi.json"_s);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }();
    if (document.isEmpty()) {
        reply->send(internalError(reply));
        return;
    }
    HttpResponse r;
    r.body = document;
    reply->send(r);
}

void ApiServer::account(ApiRequest &request, const ReplyPtr &reply)
{
    const auto usage = m_credits.usage(*request.key);
    if (!usage) {
        reply->send(internalError(reply));
        return;
    }
    reply->send(HttpResponse::json(200, {{u"plan"_s, accounts::toString(usage->plan)},
                                         {u"monthly_limit"_s, usage->monthlyLimit},
                                         {u"monthly_used"_s, usage->monthlyUsed},
                                         {u"remaining"_s, usage->remaining},
                                         {u"carried_over"_s, usage->carriedOver},
                                         {u"resets_at"_s, usage->resetsAt.toString(Qt::ISODate)}}));
}

void ApiServer::verify(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    const QJsonValue email = body.value(u"email"_s);
    if (email.isUndefined() || email.isNull()) {
        reply->send(HttpResponse::error(400, u"Missing required field: email"_s));
        return;
    }
    if (!email.isString()) {
        reply->send(HttpResponse::error(400, u"Invalid field 'email': must be a string"_s));
        return;
    }
    if (email.toString().trimmed().isEmpty()) {
        reply->send(HttpResponse::error(400, u"Invalid field 'email': must not be empty"_s));
        return;
    }
    core::Mode mode = core::Mode::Power;
    const QJsonValue modeValue = body.value(u"mode"_s);
    if (!modeValue.isUndefined() && !modeValue.isNull()) {
        const auto parsed = modeValue.isString() ? core::modeFromString(modeValue.toString()) : std::nullopt;
        if (!parsed) {
            reply->send(HttpResponse::error(400, u"Invalid field 'mode': must be \"power\" or \"quick\""_s));
            return;
        }
        mode = *parsed;
    }
    // Charged once the request is known to be good: a 400 costs nothing.
    if (!charge(request, reply, 1, u"verify"_s))
        return;
    const bool started =
        m_engine.verify(email.toString(), mode, this, [reply](const core::VerificationResult &result) {
            reply->send(HttpResponse::json(200, result.toJson()));
        });
    if (!started) {
        m_credits.refund(*request.key, 1, u"verify not started"_s);
        reply->send(internalError(reply));
    }
}

} // namespace mailcaff::server
