#include "apiserver.h"

#include "engine.h"

#include <QHttpServerRequest>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>

using namespace Qt::StringLiterals;

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

Reply::Reply(QTcpSocket *socket)
    : m_socket(socket)
{
}

Reply::~Reply()
{
    if (!m_sent)
        send(HttpResponse::error(500, u"Internal server error"_s));
}

void Reply::send(const HttpResponse &response)
{
    if (m_sent)
        return;
    m_sent = true;
    if (!m_socket)
        return;
    if (ConnectionGuard *guard = ConnectionGuard::of(m_socket.data()))
        guard->send(response);
}

std::optional<HttpResponse> parseJsonObject(const QByteArray &body, QJsonObject *out)
{
    if (body.trimmed().isEmpty())
        return HttpResponse::error(400, u"Missing request body: send a JSON object"_s);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
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
    , m_limits(limits)
{
    addRoute("GET", u"/api/v1/health"_s, false, [this](ApiRequest &r, const ReplyPtr &p) { health(r, p); });
    addRoute("POST", u"/api/v1/verify"_s, true, [this](ApiRequest &r, const ReplyPtr &p) { verify(r, p); });
}

void ApiServer::addRoute(const QByteArray &method, const QString &path, bool authenticated, Handler handler)
{
    m_routes.append({method, path, authenticated, std::move(handler)});
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
    auto reply = std::make_shared<Reply>(socket);
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
        if (route.authenticated) {
            const QByteArray auth = req.header("authorization");
            const qsizetype space = auth.indexOf(' ');
            if (space <= 0 || auth.left(space).toLower() != "bearer") {
                reply->send(unauthorized());
                return true;
            }
            req.key = m_engine.apiKeys().authenticate(QString::fromLatin1(auth.mid(space + 1).trimmed()));
            if (!req.key) {
                reply->send(unauthorized());
                return true;
            }
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
    Reply(socket).send(HttpResponse::error(404, u"Not found: %1"_s.arg(request.url().path())));
}

void ApiServer::health(ApiRequest &, const ReplyPtr &reply)
{
    reply->send(
        HttpResponse::json(200, {{u"status"_s, u"ok"_s}, {u"version"_s, QStringLiteral(MAILCAFF_VERSION)}}));
}

void ApiServer::verify(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request.body, &body)) {
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
    const bool started =
        m_engine.verify(email.toString(), mode, this, [reply](const core::VerificationResult &result) {
            reply->send(HttpResponse::json(200, result.toJson()));
        });
    if (!started)
        reply->send(
            HttpResponse::error(503, u"Service unavailable: the verification engine is not running"_s));
}

} // namespace mailcaff::server
