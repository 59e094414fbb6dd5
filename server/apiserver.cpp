#include "apiserver.h"

#include "engine.h"
#include "net/descriptors.h"
#include "requests.h"

#include "storage/settings.h"
#include "webhooks/webhookstore.h"

#include <QCryptographicHash>
#include <QFile>
#include <QHttpServerRequest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QTcpSocket>

#include <cstdio>

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

int ApiServer::authThrottled(const QHostAddress &address)
{
    if (m_authFailures.isEmpty()) // as it almost always is: no address text to make for every request
        return 0;
    const auto it = m_authFailures.constFind(address.toString());
    if (it == m_authFailures.cend() || it->count < m_limits.authFailureLimit)
        return 0;
    const qint64 left =
        it->windowStartMs + m_limits.authFailureWindowMs - QDateTime::currentMSecsSinceEpoch();
    return left > 0 ? int((left + 999) / 1000) : 0;
}

void ApiServer::authFailed(const QHostAddress &address)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    // Bounded whatever the number of addresses: windows that ended are forgotten first, then everything.
    if (m_authFailures.size() >= 10'000) {
        m_authFailures.removeIf([&](const auto &entry) {
            return entry.value().windowStartMs + m_limits.authFailureWindowMs <= now;
        });
        if (m_authFailures.size() >= 10'000)
            m_authFailures.clear();
    }
    AuthFailures &f = m_authFailures[address.toString()];
    if (f.windowStartMs + m_limits.authFailureWindowMs <= now)
        f = AuthFailures{0, now};
    if (++f.count == m_limits.authFailureLimit)
        qWarning("mailcaff: %d requests with a bad API key from %s within %d s; its requests get 429 for the "
                 "rest of that time",
                 f.count, qPrintable(address.toString()), m_limits.authFailureWindowMs / 1000);
}

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
    m_headers.reserve(4); // and the three X-RateLimit headers of an authenticated answer: one allocation
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

bool Reply::hasHeader(const QByteArray &name) const
{
    return std::any_of(m_headers.cbegin(), m_headers.cend(), [&](const auto &h) { return h.first == name; });
}

void Reply::send(const HttpResponse &response)
{
    if (m_sent)
        return;
    m_sent = true;
    if (auto hook = std::exchange(m_beforeSend, nullptr))
        hook(*this);
    if (auto hook = std::exchange(m_afterSend, nullptr))
        hook(m_socket ? response.status : 0); // 0: the client was gone
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
    return requests::jsonObject(request.header("content-type"), request.body, out);
}

ApiServer::~ApiServer()
{
    writeAccessLog();
}

void ApiServer::writeAccessLog()
{
    m_accessLogTimer.stop();
    if (m_accessLogPending.isEmpty())
        return;
    std::fwrite(m_accessLogPending.constData(), 1, std::size_t(m_accessLogPending.size()), stderr);
    std::fflush(stderr);
    m_accessLogPending.clear();
}

ApiServer::ApiServer(Engine &engine, QObject *parent, const HttpLimits &limits)
    : QAbstractHttpServer(parent)
    , m_engine(engine)
    , m_limits(limits)
{
    m_accessLogTimer.setSingleShot(true);
    m_accessLogTimer.setInterval(AccessLogDelayMs);
    connect(&m_accessLogTimer, &QTimer::timeout, this, &ApiServer::writeAccessLog);
    // Every connection is a descriptor: at most half of what the process may open, the rest left to SMTP,
    // DNS and the database. Past the limit, accept() would fail in a loop instead of saying 503.
    const int descriptors = net::raiseDescriptorLimit();
    if (descriptors > 0)
        m_limits.maxConnections = std::min(m_limits.maxConnections, std::max(16, descriptors / 2));
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
    addRoute("POST", u"/api/v1/verify/bulk"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { verifyBulk(r, p); });
    addRoute("GET", u"/api/v1/verify/bulk/{job_id}"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { bulkStatus(r, p, jobs::KindVerify); });
    addRoute("DELETE", u"/api/v1/verify/bulk/{job_id}"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { bulkCancel(r, p, jobs::KindVerify); });
    addRoute("POST", u"/api/v1/find"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { findOne(r, p); });
    addRoute("POST", u"/api/v1/find/bulk"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { findBulk(r, p); });
    addRoute("GET", u"/api/v1/find/bulk/{job_id}"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { bulkStatus(r, p, jobs::KindFind); });
    addRoute("DELETE", u"/api/v1/find/bulk/{job_id}"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { bulkCancel(r, p, jobs::KindFind); });
    addRoute("POST", u"/api/v1/find-domain"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { findDomain(r, p); });
    addRoute("PUT", u"/api/v1/webhook"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { webhookSet(r, p); });
    addRoute("GET", u"/api/v1/webhook"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { webhookGet(r, p); });
    addRoute("DELETE", u"/api/v1/webhook"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { webhookDelete(r, p); });
    addRoute("GET", u"/api/v1/webhook/deliveries"_s, A::Authenticated,
             [this](ApiRequest &r, const ReplyPtr &p) { webhookDeliveries(r, p); });
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

void ApiServer::refreshReadCache()
{
    // Every request reads the maintenance switch and its key: kept while nothing could have changed them
    // (no commit by another connection or process, no key or setting written by this one). The database
    // is asked once per turn of the event loop: requests read together see the same state.
    const storage::Database &db = m_engine.database();
    if (m_readCacheChecked && db.notedChanges() == m_readCache.stamp.noted)
        return;
    if (!m_readCacheChecked) {
        m_readCacheChecked = true;
        QMetaObject::invokeMethod(
            this, [this] { m_readCacheChecked = false; }, Qt::QueuedConnection);
    }
    const storage::Database::ChangeStamp stamp = db.changeStamp();
    if (stamp == m_readCache.stamp && stamp.dataVersion >= 0)
        return;
    m_readCache = {};
    m_readCache.stamp = stamp;
}

bool ApiServer::maintenance(int *retryAfter)
{
    if (!m_readCache.maintenance) {
        const storage::Settings settings(m_engine.database());
        m_readCache.maintenance = {settings.value(storage::setting::Maintenance),
                                   settings.value(storage::setting::MaintenanceRetryAfter)};
    }
    *retryAfter = m_readCache.maintenance->second;
    return m_readCache.maintenance->first;
}

std::optional<accounts::ApiKeyInfo> ApiServer::authenticate(const QByteArray &presented)
{
    // Kept by the key's hash, not the key; unknown keys too (bounded: a flood of made-up keys only
    // empties the cache).
    const QByteArray id = QCryptographicHash::hash(presented, QCryptographicHash::Sha256);
    if (const auto it = m_readCache.keys.constFind(id); it != m_readCache.keys.cend())
        return *it;
    if (m_readCache.keys.size() >= 1000)
        m_readCache.keys.clear();
    const std::optional<accounts::ApiKeyInfo> key =
        m_engine.apiKeys().authenticate(QString::fromLatin1(presented));
    m_readCache.keys.insert(id, key);
    return key;
}

void ApiServer::setRateLimitHeaders(const ReplyPtr &reply, const accounts::Usage &usage)
{
    reply->setHeader("X-RateLimit-Limit", QByteArray::number(usage.monthlyLimit));
    reply->setHeader("X-RateLimit-Remaining", QByteArray::number(usage.remaining));
    reply->setHeader("X-RateLimit-Reset", QByteArray::number(usage.resetsAt.toSecsSinceEpoch()));
}

void ApiServer::sendLimitExceeded(const ReplyPtr &reply, const accounts::Usage &usage)
{
    setRateLimitHeaders(reply, usage);
    const qint64 wait = std::max<qint64>(1, m_engine.credits().now().secsTo(usage.resetsAt));
    reply->send(HttpResponse::json(429, {{u"error"_s, u"Monthly limit exceeded"_s},
                                         {u"monthly_limit"_s, usage.monthlyLimit},
                                         {u"monthly_used"_s, usage.monthlyUsed},
                                         {u"resets_at"_s, usage.resetsAt.toString(Qt::ISODate)}})
                    .withHeader("Retry-After", QByteArray::number(wait)));
}

void ApiServer::chargeThen(const ApiRequest &request, const ReplyPtr &reply, int amount,
                           const QString &reason, std::function<void()> then, const QString &quickVerify)
{
    // Group commit: the charges are taken when the next turn of the event loop ends, not this one. The
    // requests that turn reads from other connections (sent while this turn worked) share the transaction,
    // which costs about the same for fifty charges as for one. Alone, a request waits one empty turn.
    // (Measured with bench_api_load 50: 15-17 charges a commit instead of 9, quick verification 11% more
    // requests a second; waiting more turns gained nothing more, the clients sat idle.)
    if (m_charges.isEmpty())
        QMetaObject::invokeMethod(
            this, [this] { QMetaObject::invokeMethod(this, &ApiServer::takeCharges, Qt::QueuedConnection); },
            Qt::QueuedConnection);
    m_charges.append({{*request.key, amount, reason}, reply, std::move(then), quickVerify});
}

void ApiServer::takeCharges()
{
    const QList<PendingCharge> pending = std::exchange(m_charges, {});
    QList<accounts::Credits::Charge> charges;
    charges.reserve(pending.size());
    for (const PendingCharge &p : pending)
        charges.append(p.charge);
    const QList<accounts::Credits::Result> taken = m_engine.credits().takeAll(charges);
    QStringList quick;
    for (qsizetype i = 0; i < pending.size(); ++i)
        if (taken.at(i).ok && !pending.at(i).quickVerify.isEmpty())
            quick.append(pending.at(i).quickVerify);
    // Under load a turn holds a dozen quick verifications: one cache read for them all, not one each.
    const auto batch = m_engine.verifyNowBatch(quick.size() > 1 ? quick : QStringList());
    for (qsizetype i = 0; i < pending.size(); ++i) {
        const PendingCharge &p = pending.at(i);
        const accounts::Credits::Result &t = taken.at(i);
        if (t.failed) {
            p.reply->send(internalError(p.reply));
            continue;
        }
        setRateLimitHeaders(p.reply, t.usage);
        if (!t.ok)
            sendLimitExceeded(p.reply, t.usage);
        else
            p.then();
    }
}

bool ApiServer::listen(const QHostAddress &address, quint16 port, QString *error,
                       const QSslConfiguration &tls)
{
    auto *tcp = new GuardedTcpServer(m_limits, this);
    if (!tls.isNull())
        tcp->setTls(tls);
    // Qt's default backlog is 50: a burst of connections (a thousand clients at once, a flood) fills it,
    // and the kernel drops the SYNs behind it, so a client waits a 1 s retransmission for nothing. The
    // kernel caps this at net.core.somaxconn.
    tcp->setListenBacklogSize(1024);
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

bool ApiServer::isTls() const
{
    return m_tcp && m_tcp->isTls();
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
    u.setScheme(isTls() ? u"https"_s : u"http"_s);
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
    // The window's server log: every answer, with its time, never the key (its prefix, once known).
    auto logged = std::make_shared<core::RequestLogEntry>();
    logged->at = QDateTime::currentDateTimeUtc();
    logged->method = QString::fromLatin1(req.method);
    logged->path = req.path.left(200);
    logged->remote = request.remoteAddress().toString();
    reply->setAfterSend([&log = m_engine.requestLog(), logged](int status) {
        logged->status = status;
        logged->durationMs = int(logged->at.msecsTo(QDateTime::currentDateTimeUtc()));
        log.add(*logged);
    });
    req.body = request.body();
    req.remote = request.remoteAddress();
    for (const auto &[name, value] : request.headers())
        req.headers.append({name.toLower(), value});

    QByteArrayList allowed;
    for (const Route &route : std::as_const(m_routes)) {
        // A route ending in "{name}" takes one more path segment as its parameter.
        const qsizetype brace = route.path.indexOf(u'{');
        if (brace < 0) {
            if (route.path != req.path)
                continue;
        } else {
            const QString prefix = route.path.left(brace);
            const QString rest = req.path.mid(prefix.size());
            if (!req.path.startsWith(prefix) || rest.isEmpty() || rest.contains(u'/'))
                continue;
            req.pathParam = rest;
        }
        if (route.method != req.method) {
            allowed.append(route.method);
            continue;
        }
        if (route.access == Access::Authenticated) {
            // Maintenance first: nothing is charged or even looked up while the service is down.
            refreshReadCache();
            if (int retryAfter = 0; maintenance(&retryAfter)) {
                reply->send(HttpResponse::json(503, {{u"error"_s, u"Service under maintenance"_s},
                                                     {u"retry_after"_s, retryAfter}})
                                .withHeader("Retry-After", QByteArray::number(retryAfter)));
                return true;
            }
            if (const int wait = authThrottled(req.remote); wait > 0) {
                reply->send(HttpResponse::json(429, {{u"error"_s, u"Too many failed authentication attempts "
                                                                  "from this address: try again later"_s},
                                                     {u"retry_after"_s, wait}})
                                .withHeader("Retry-After", QByteArray::number(wait)));
                return true;
            }
            const QByteArray auth = req.header("authorization");
            const qsizetype space = auth.indexOf(' ');
            if (space > 0 && auth.left(space).toLower() == "bearer")
                req.key = authenticate(auth.mid(space + 1).trimmed());
            if (!req.key) {
                authFailed(req.remote);
                reply->send(unauthorized());
                return true;
            }
            // Every authenticated answer shows the balance: routes that charge set it after charging, the
            // others (and errors) get it computed as the answer leaves.
            // The engine outlives the server; the hook may run after the server is gone (a late answer).
            reply->setBeforeSend([&credits = m_engine.credits(), key = *req.key](Reply &r) {
                if (r.hasHeader("X-RateLimit-Limit"))
                    return;
                if (const auto usage = credits.usage(key)) {
                    r.setHeader("X-RateLimit-Limit", QByteArray::number(usage->monthlyLimit));
                    r.setHeader("X-RateLimit-Remaining", QByteArray::number(usage->remaining));
                    r.setHeader("X-RateLimit-Reset", QByteArray::number(usage->resetsAt.toSecsSinceEpoch()));
                }
            });
        }
        if (req.key)
            logged->keyPrefix = req.key->prefix;
        if (m_accessLog) {
            // Never the key: its visible prefix is enough to tell callers apart. Formatted as qInfo() would
            // (QT_MESSAGE_PATTERN applies).
            const QString line = QString::asprintf(
                "%s %s %s key=%s id=%s", req.remote.toString().toLatin1().constData(), req.method.constData(),
                req.path.toUtf8().constData(), req.key ? req.key->prefix.toLatin1().constData() : "-",
                requestId.constData());
            m_accessLogPending +=
                qFormatLogMessage(QtInfoMsg, QMessageLogContext(), line).toLocal8Bit() + '\n';
            if (m_accessLogPending.size() >= 16 * 1024)
                writeAccessLog();
            else if (!m_accessLogTimer.isActive())
                m_accessLogTimer.start();
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
    refreshReadCache();
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
    const auto usage = m_engine.credits().usage(*request.key);
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
    requests::Verify parsed;
    if (auto bad = requests::verify(body, &parsed)) {
        reply->send(*bad);
        return;
    }
    // Charged once the request is known to be good: a 400 costs nothing.
    chargeThen(
        request, reply, 1, u"verify"_s,
        [this, reply, email = parsed.email, mode = parsed.mode, key = *request.key] {
            // Most quick verifications are answered here, on the HTTP thread, from the caches. (Power
            // ones mostly need a mail server: asking first would repeat the result cache's lookup.)
            if (mode == core::Mode::Quick) {
                if (std::optional<core::VerificationResult> now = m_engine.verifyNow(email, mode)) {
                    reply->send(HttpResponse::jsonText(200, now->toJsonBytes()));
                    return;
                }
            }
            const bool started =
                m_engine.verify(email, mode, this, [reply](const core::VerificationResult &result) {
                    reply->send(HttpResponse::jsonText(200, result.toJsonBytes()));
                });
            if (!started) {
                m_engine.credits().refund(key, 1, u"verify not started"_s);
                reply->send(internalError(reply));
            }
        },
        parsed.mode == core::Mode::Quick ? parsed.email : QString());
}

/// A client that retries after a lost answer sends the same Idempotency-Key and gets the same job.
static std::optional<HttpResponse> parseIdempotencyKey(const ApiRequest &request, QString *out)
{
    *out = QString::fromUtf8(request.header("idempotency-key")).trimmed();
    if (out->size() > 255)
        return HttpResponse::error(400, u"Invalid header Idempotency-Key: at most 255 characters"_s);
    return std::nullopt;
}

void ApiServer::answerCreatedJob(ApiRequest &request, const ReplyPtr &reply,
                                 const jobs::JobStore::CreateResult &created, int total)
{
    switch (created.outcome) {
    case jobs::JobStore::Created::InsufficientCredits:
        sendLimitExceeded(reply, created.usage);
        return;
    case jobs::JobStore::Created::Failed:
        reply->send(internalError(reply));
        return;
    case jobs::JobStore::Created::Existing: {
        const auto existing = m_engine.jobs().summary(created.jobId, request.key->id);
        if (!existing) {
            reply->send(internalError(reply));
            return;
        }
        reply->send(HttpResponse::json(202, {{u"job_id"_s, existing->id},
                                             {u"total"_s, existing->total},
                                             {u"status"_s, jobs::toString(existing->status)}}));
        return;
    }
    case jobs::JobStore::Created::Ok:
        break;
    }
    setRateLimitHeaders(reply, created.usage);
    if (jobs::JobRunner *runner = m_engine.jobRunner())
        runner->wake();
    reply->send(HttpResponse::json(
        202, {{u"job_id"_s, created.jobId}, {u"total"_s, total}, {u"status"_s, u"processing"_s}}));
}

void ApiServer::findOne(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    find::FindRequest lead;
    if (auto bad = requests::lead(body, &lead)) {
        reply->send(*bad);
        return;
    }
    chargeThen(request, reply, 1, u"find"_s, [this, reply, lead, key = *request.key] {
        const bool fromCompany = lead.domain.isEmpty();
        const bool started =
            m_engine.find(lead, this, [this, reply, key, fromCompany](const find::FindResult &r) {
                if (r.reason == "dns_error"_L1) { // nothing learnt: nothing charged
                    m_engine.credits().refund(key, 1, u"find: DNS failed"_s);
                    if (const auto usage = m_engine.credits().usage(key))
                        setRateLimitHeaders(reply, *usage);
                }
                QJsonObject json = r.toJson();
                if (fromCompany) // ours: the domain the domain finder chose
                    json.insert(u"domain"_s,
                                r.domain.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(r.domain));
                reply->send(HttpResponse::json(200, json));
            });
        if (!started) {
            m_engine.credits().refund(key, 1, u"find not started"_s);
            reply->send(internalError(reply));
        }
    });
}

void ApiServer::findBulk(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    requests::FindBulk parsed;
    if (auto bad = requests::findBulk(body, &parsed)) {
        reply->send(*bad);
        return;
    }
    QString idempotencyKey;
    if (auto bad = parseIdempotencyKey(request, &idempotencyKey)) {
        reply->send(*bad);
        return;
    }
    answerCreatedJob(request, reply,
                     m_engine.jobs().createFindJob(&*request.key, parsed.stored, idempotencyKey),
                     int(parsed.stored.size()));
}

void ApiServer::findDomain(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    QString company;
    if (auto bad = requests::findDomain(body, &company)) {
        reply->send(*bad);
        return;
    }
    chargeThen(request, reply, 1, u"find-domain"_s, [this, reply, company, key = *request.key] {
        const bool started =
            m_engine.findDomain(company, this, [this, reply, key](const domain::DomainResult &result) {
                // DNS itself failed: nothing was learnt, so nothing is charged.
                if (result.status == domain::DomainResult::Status::Error) {
                    m_engine.credits().refund(key, 1, u"find-domain: DNS failed"_s);
                    if (const auto usage = m_engine.credits().usage(key))
                        setRateLimitHeaders(reply, *usage);
                }
                reply->send(HttpResponse::json(200, result.toJson()));
            });
        if (!started) {
            m_engine.credits().refund(key, 1, u"find-domain not started"_s);
            reply->send(internalError(reply));
        }
    });
}

void ApiServer::verifyBulk(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    requests::VerifyBulk parsed;
    if (auto bad = requests::verifyBulk(body, &parsed)) {
        reply->send(*bad);
        return;
    }
    // Stored (and charged, all or nothing) in one transaction before the 202 goes out.
    QString idempotencyKey;
    if (auto bad = parseIdempotencyKey(request, &idempotencyKey)) {
        reply->send(*bad);
        return;
    }
    answerCreatedJob(
        request, reply,
        m_engine.jobs().createVerifyJob(&*request.key, parsed.emails, parsed.mode, idempotencyKey),
        int(parsed.emails.size()));
}

static QJsonObject summaryJson(const jobs::JobSummary &s)
{
    auto count = [&](core::Status status) { return s.counts.value(status); };
    return {{u"job_id"_s, s.id},
            {u"status"_s, jobs::toString(s.status)},
            {u"total"_s, s.total},
            {u"processed"_s, s.processed},
            {u"valid_count"_s, count(core::Status::Valid)},
            {u"invalid_count"_s, count(core::Status::Invalid)},
            {u"risky_count"_s, count(core::Status::Risky)},
            {u"disposable_count"_s, count(core::Status::Disposable)},
            {u"unknown_count"_s, count(core::Status::Unknown)},
            {u"error_count"_s, count(core::Status::Error)},
            {u"created_at"_s, s.createdAt.toString(Qt::ISODate)},
            {u"completed_at"_s, s.completedAt.isValid() ? QJsonValue(s.completedAt.toString(Qt::ISODate))
                                                        : QJsonValue(QJsonValue::Null)}};
}

static HttpResponse jobNotFound(const QString &id)
{
    return HttpResponse::error(404, u"Not found: no bulk job %1"_s.arg(id.left(64)));
}

static QJsonObject findSummaryJson(const jobs::JobSummary &s)
{
    return {{u"job_id"_s, s.id},
            {u"status"_s, jobs::toString(s.status)},
            {u"total"_s, s.total},
            {u"processed"_s, s.processed},
            {u"found_count"_s, s.found},
            {u"not_found_count"_s, s.notFound},
            {u"error_count"_s, s.counts.value(core::Status::Error)},
            {u"created_at"_s, s.createdAt.toString(Qt::ISODate)},
            {u"completed_at"_s, s.completedAt.isValid() ? QJsonValue(s.completedAt.toString(Qt::ISODate))
                                                        : QJsonValue(QJsonValue::Null)}};
}

static QJsonObject jobJson(const jobs::JobSummary &s)
{
    return s.kind == jobs::KindFind ? findSummaryJson(s) : summaryJson(s);
}

void ApiServer::bulkStatus(ApiRequest &request, const ReplyPtr &reply, QLatin1StringView kind)
{
    // Another key's job, or one of the other kind, gets exactly the answer of a job that does not exist.
    const auto snapshot = m_engine.jobs().snapshot(request.pathParam, request.key->id);
    if (!snapshot || snapshot->first.kind != kind) {
        reply->send(jobNotFound(request.pathParam));
        return;
    }
    QJsonObject body = jobJson(snapshot->first);
    body.insert(u"results"_s, snapshot->second);
    reply->send(HttpResponse::json(200, body));
}

void ApiServer::bulkCancel(ApiRequest &request, const ReplyPtr &reply, QLatin1StringView kind)
{
    const auto summary = m_engine.jobs().summary(request.pathParam, request.key->id);
    if (!summary || summary->kind != kind) {
        reply->send(jobNotFound(request.pathParam));
        return;
    }
    if (!m_engine.jobs().cancel(summary->id, &*request.key)) {
        reply->send(HttpResponse::error(400, u"Bulk job %1 is %2: there is nothing to cancel"_s.arg(
                                                 summary->id, jobs::toString(summary->status))));
        return;
    }
    if (const auto usage = m_engine.credits().usage(*request.key))
        setRateLimitHeaders(reply, *usage);
    const auto cancelled = m_engine.jobs().summary(summary->id);
    if (!cancelled) {
        reply->send(internalError(reply));
        return;
    }
    reply->send(HttpResponse::json(200, jobJson(*cancelled)));
}

static QJsonValue nullable(const QString &s)
{
    return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
}

static QJsonValue isoOrNull(qint64 epochSecs)
{
    return epochSecs > 0 ? QJsonValue(QDateTime::fromSecsSinceEpoch(epochSecs, Qt::UTC).toString(Qt::ISODate))
                         : QJsonValue(QJsonValue::Null);
}

void ApiServer::webhookSet(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonObject body;
    if (auto bad = parseJsonObject(request, &body)) {
        reply->send(*bad);
        return;
    }
    QString url;
    if (auto bad = requests::webhookUrl(body, &url)) {
        reply->send(*bad);
        return;
    }
    const webhooks::SetEndpointResult set = m_engine.webhooks().setEndpoint(request.key->id, url);
    if (!set.ok()) {
        reply->send(HttpResponse::error(400, u"Invalid field 'url': %1"_s.arg(set.error)));
        return;
    }
    // The secret is shown here, once; it is needed to check the webhook-signature header.
    reply->send(HttpResponse::json(
        200, {{u"url"_s, url}, {u"enabled"_s, true}, {u"secret"_s, QString::fromLatin1(set.secret)}}));
}

void ApiServer::webhookGet(ApiRequest &request, const ReplyPtr &reply)
{
    const auto endpoint = m_engine.webhooks().endpoint(request.key->id);
    if (!endpoint) {
        reply->send(HttpResponse::error(404, u"Not found: no webhook is set for this key"_s));
        return;
    }
    reply->send(HttpResponse::json(200, {{u"url"_s, endpoint->url},
                                         {u"enabled"_s, endpoint->enabled},
                                         {u"disabled_reason"_s, nullable(endpoint->disabledReason)},
                                         {u"created_at"_s, isoOrNull(endpoint->createdAt)}}));
}

void ApiServer::webhookDelete(ApiRequest &request, const ReplyPtr &reply)
{
    if (!m_engine.webhooks().endpoint(request.key->id)) {
        reply->send(HttpResponse::error(404, u"Not found: no webhook is set for this key"_s));
        return;
    }
    if (!m_engine.webhooks().removeEndpoint(request.key->id)) {
        reply->send(internalError(reply));
        return;
    }
    reply->send(HttpResponse::json(200, {{u"deleted"_s, true}}));
}

void ApiServer::webhookDeliveries(ApiRequest &request, const ReplyPtr &reply)
{
    QJsonArray list;
    for (const webhooks::Delivery &d : m_engine.webhooks().deliveries(request.key->id, 100)) {
        list.append(QJsonObject{
            {u"id"_s, d.id},
            {u"event"_s, d.event},
            {u"job_id"_s, nullable(d.jobId)},
            {u"state"_s, webhooks::toString(d.state)},
            {u"attempts"_s, d.attempts},
            {u"last_status"_s, d.lastStatus == 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(d.lastStatus)},
            {u"last_error"_s, nullable(d.lastError)},
            {u"last_duration_ms"_s, d.lastDurationMs},
            {u"created_at"_s, isoOrNull(d.createdAt)},
            {u"delivered_at"_s, isoOrNull(d.deliveredAt)},
            {u"next_attempt_at"_s, d.state == webhooks::Delivery::State::Pending
                                       ? isoOrNull(d.nextAttemptAt)
                                       : QJsonValue(QJsonValue::Null)}});
    }
    reply->send(HttpResponse::json(200, {{u"deliveries"_s, list}}));
}

} // namespace mailcaff::server
