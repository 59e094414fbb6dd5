#include "resolver.h"

#include "dnsmessage.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QMetaObject>
#include <QMutex>
#include <QPointer>
#include <QSocketNotifier>
#include <QTimer>

#include <ares.h>

#include <algorithm>
#include <arpa/nameser.h>
#include <climits>
#include <deque>
#include <mutex>
#include <netinet/in.h>
#include <vector>

using namespace Qt::StringLiterals;

namespace mailcaff::dns {

QString toString(DnsStatus status)
{
    switch (status) {
    case DnsStatus::Ok:
        return u"ok"_s;
    case DnsStatus::NoData:
        return u"no_data"_s;
    case DnsStatus::NxDomain:
        return u"nxdomain"_s;
    case DnsStatus::ServFail:
        return u"servfail"_s;
    case DnsStatus::Timeout:
        return u"timeout"_s;
    case DnsStatus::Refused:
        return u"refused"_s;
    case DnsStatus::Error:
        return u"error"_s;
    }
    return u"error"_s;
}

namespace {

// When a negative answer carries no SOA (or c-ares gave us no message to read it from) we still cache it,
// for the 5 minutes RFC 2308 section 5 suggests as a sane upper range for negative caching.
constexpr quint32 FallbackNegativeTtl = 300;
// RFC 1034 does not bound CNAME chains; 8 hops is what common stub resolvers accept before giving up.
constexpr int MaxCnameHops = 8;
// Beyond this many entries expired ones are purged; if that frees nothing the cache starts afresh. Keeps a
// long bulk job from growing the cache without bound while costing nothing in normal use.
constexpr int MaxCacheEntries = 100000;
// Questions out on the wire at once: a window that grows by one with each answer (no more than doubling in a
// timeout period) and halves when a question goes unanswered (once a timeout period). A home router's
// resolver takes about 150 at once (dnsmasq's dns-forward-max) and silently drops the rest, which came back
// as DNS errors; a big resolver takes thousands. Tries after a timeout wait for room like new questions.
constexpr int InitialWindow = 128;
constexpr int MinWindow = 16;
constexpr int MaxWindow = 4096;

void initialiseLibrary()
{
    static std::once_flag once;
    std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

/// Lowercase ASCII without the trailing dot; nullopt for what cannot be a DNS name (callers pass the
/// ACE form of IDNs, so anything non-ASCII is an error here).
std::optional<QString> normaliseName(const QString &input)
{
    QString name = input.trimmed().toLower();
    if (name.endsWith(u'.'))
        name.chop(1);
    if (name.isEmpty() || name.size() > 253)
        return std::nullopt;
    qsizetype labelStart = 0; // labels of 1 to 63 characters, printable ASCII without a backslash
    for (qsizetype i = 0; i <= name.size(); ++i) {
        if (i == name.size() || name.at(i) == u'.') {
            if (i == labelStart || i - labelStart > 63)
                return std::nullopt;
            labelStart = i + 1;
            continue;
        }
        const char16_t ch = name.at(i).unicode();
        if (ch <= 0x20 || ch >= 0x7f || ch == u'\\')
            return std::nullopt;
    }
    return name;
}

DnsStatus statusFromAres(int status)
{
    switch (status) {
    case ARES_SUCCESS:
        return DnsStatus::Ok;
    case ARES_ENODATA:
        return DnsStatus::NoData;
    case ARES_ENOTFOUND:
        return DnsStatus::NxDomain;
    case ARES_ESERVFAIL:
        return DnsStatus::ServFail;
    case ARES_ETIMEOUT:
        return DnsStatus::Timeout;
    case ARES_EREFUSED:
        return DnsStatus::Refused;
    default:
        return DnsStatus::Error;
    }
}

bool isCacheable(DnsStatus status)
{
    // Failures are not cached: they say nothing about the domain, a retry a moment later may well succeed,
    // and the verifier's own retry logic must reach the network. Concurrent callers are still coalesced
    // into one query, which is what protects the servers from a burst of identical failing lookups.
    return status == DnsStatus::Ok || status == DnsStatus::NoData || status == DnsStatus::NxDomain;
}

QString aresError(int status)
{
    return QString::fromLatin1(ares_strerror(status));
}

template<typename Answer> struct Pending
{
    QPointer<QObject> context;
    std::function<void(const Answer &)> done;
};

template<typename Answer> struct CacheEntry
{
    Answer answer;
    QDeadlineTimer expiry;
};

quint32 remainingSeconds(const QDeadlineTimer &expiry)
{
    const qint64 ms = expiry.remainingTime();
    return ms <= 0 ? 0 : quint32((ms + 999) / 1000);
}

/// The mail route an MX answer gives, for every status but NoData (there the domain's addresses decide:
/// implicitRoute).
MailRoute routeFromMx(const MxAnswer &mx)
{
    MailRoute route;
    route.fromCache = mx.fromCache;
    route.error = mx.error;
    switch (mx.status) {
    case DnsStatus::Ok: {
        // RFC 7505 section 3: a null MX is the single record "0 ."; a "." among real hosts is ignored.
        QList<MxRecord> hosts;
        std::copy_if(mx.records.cbegin(), mx.records.cend(), std::back_inserter(hosts),
                     [](const MxRecord &r) { return r.host != u"."_s; });
        if (hosts.isEmpty()) {
            route.kind = MailRoute::Kind::NullMx;
            route.mx = mx.records;
        } else {
            route.kind = MailRoute::Kind::Mx;
            route.mx = hosts;
        }
        break;
    }
    case DnsStatus::NxDomain:
        route.kind = MailRoute::Kind::NxDomain;
        break;
    default:
        route.kind = MailRoute::Kind::Failure;
        route.failure = mx.status;
        break;
    }
    return route;
}

/// A domain without MX (RFC 5321 section 5.1): the domain itself is its mail host if it has an address.
MailRoute implicitRoute(const QString &domain, bool mxFromCache, const AddressAnswer &a)
{
    MailRoute implicit;
    implicit.fromCache = mxFromCache && a.fromCache;
    switch (a.status) {
    case DnsStatus::Ok:
        implicit.kind = MailRoute::Kind::ImplicitMx;
        implicit.mx = {MxRecord{domain, 0}};
        implicit.addresses = a.addresses;
        break;
    case DnsStatus::NoData:
    case DnsStatus::NxDomain:
        implicit.kind = MailRoute::Kind::NoMail;
        break;
    default:
        implicit.kind = MailRoute::Kind::Failure;
        implicit.failure = a.status;
        implicit.error = a.error;
        break;
    }
    return implicit;
}

} // namespace

struct Resolver::Private
{
    struct Channel;

    /// The socket notifiers of one c-ares socket.
    struct Watch
    {
        QSocketNotifier *read = nullptr;
        QSocketNotifier *write = nullptr;
    };

    /// One ares_channel with the notifiers of its sockets and its timeout timer. Reconfiguring the resolver
    /// (servers, timeouts) makes a new channel; the old one is retired and destroyed once its queries have
    /// ended, so a settings change never fails a lookup in flight.
    struct Channel
    {
        Private *d = nullptr;
        ares_channel channel = nullptr;
        QHash<ares_socket_t, Watch> watches;
        // A child of the resolver, like the notifiers, so that moveToThread() takes them all along.
        QTimer *timer = nullptr;
        int outstanding = 0;

        explicit Channel(Private *owner)
            : d(owner)
            , timer(new QTimer(owner->q))
        {
            timer->setSingleShot(true);
            QObject::connect(timer, &QTimer::timeout, timer, [this] {
                ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
                afterAresCall();
            });
        }
        ~Channel()
        {
            // ares_destroy ends pending queries (ARES_EDESTRUCTION) and closes the sockets, calling the
            // socket-state callback; both need this object alive, so it goes first.
            if (channel)
                ares_destroy(channel);
            for (const auto &watch : std::as_const(watches)) {
                dropNotifier(watch.read);
                dropNotifier(watch.write);
            }
            delete timer;
        }
        Q_DISABLE_COPY_MOVE(Channel)

        static void dropNotifier(QSocketNotifier *notifier)
        {
            if (!notifier)
                return;
            // Disabled at once: c-ares has closed the descriptor and the number may be reused by its next
            // socket straight away. Deleted later: we may be inside this very notifier's activated signal.
            notifier->setEnabled(false);
            notifier->deleteLater();
        }

        void setNotifier(QSocketNotifier *&notifier, ares_socket_t fd, QSocketNotifier::Type type, bool on)
        {
            if (!on) {
                if (notifier)
                    notifier->setEnabled(false);
                return;
            }
            if (!notifier) {
                notifier = new QSocketNotifier(qintptr(fd), type, d->q);
                QObject::connect(notifier, &QSocketNotifier::activated, notifier, [this, fd, type] {
                    if (type == QSocketNotifier::Read)
                        ares_process_fd(channel, fd, ARES_SOCKET_BAD);
                    else
                        ares_process_fd(channel, ARES_SOCKET_BAD, fd);
                    afterAresCall();
                });
            }
            notifier->setEnabled(true);
        }

        static void socketState(void *data, ares_socket_t fd, int readable, int writable)
        {
            auto *self = static_cast<Channel *>(data);
            if (!readable && !writable) {
                const auto it = self->watches.find(fd);
                if (it != self->watches.end()) {
                    dropNotifier(it->read);
                    dropNotifier(it->write);
                    self->watches.erase(it);
                }
                return;
            }
            Watch &watch = self->watches[fd];
            self->setNotifier(watch.read, fd, QSocketNotifier::Read, readable != 0);
            self->setNotifier(watch.write, fd, QSocketNotifier::Write, writable != 0);
        }

        /// Re-arms the timer from ares_timeout(): after every call into c-ares the next deadline may differ.
        void afterAresCall()
        {
            timeval tv{};
            const timeval *next = ares_timeout(channel, nullptr, &tv);
            if (!next) {
                timer->stop();
            } else {
                const qint64 ms = qint64(next->tv_sec) * 1000 + (next->tv_usec + 999) / 1000;
                timer->start(int(std::clamp<qint64>(ms, 0, INT_MAX)));
            }
            if (outstanding == 0 && this != d->current.get())
                d->scheduleReap();
        }
    };

    /// What a c-ares callback gets as its argument: enough to hand the result to the event loop.
    struct QueryRequest
    {
        Private *d = nullptr;
        Channel *channel = nullptr;
        std::function<void(int status, const QByteArray &message)> handler;
    };
    struct AddrInfoRequest
    {
        Private *d = nullptr;
        Channel *channel = nullptr;
        std::function<void(int status, const AddressAnswer &answer)> handler;
    };

    // The window (InitialWindow): questions on the wire, and those waiting for room, in order.
    int onWire = 0;
    int window = InitialWindow;
    QDeadlineTimer noShrinkUntil; ///< one halving per timeout period, however many answers time out in it
    int growthLimit = 2 * InitialWindow; ///< the window at most doubles in a timeout period
    QDeadlineTimer growthPeriod;
    std::deque<std::function<void()>> waitingForRoom;

    /// Sends now when the window has room, else when an answer makes some.
    void whenRoom(std::function<void()> send)
    {
        if (onWire < window && waitingForRoom.empty()) {
            ++onWire;
            send();
        } else {
            waitingForRoom.push_back(std::move(send));
        }
    }
    /// An answer came back (on the event loop, never inside c-ares): `timedOut` when a try of it went
    /// unanswered, the sign of a resolver dropping what it cannot take.
    void answered(bool timedOut)
    {
        --onWire;
        if (timedOut) {
            if (noShrinkUntil.hasExpired()) {
                window = std::max(MinWindow, window / 2);
                noShrinkUntil = QDeadlineTimer(qint64(timeoutMs));
                growthLimit = window;
                growthPeriod = QDeadlineTimer(qint64(timeoutMs));
            }
        } else {
            if (growthPeriod.hasExpired()) {
                growthLimit = std::min(MaxWindow, 2 * window);
                growthPeriod = QDeadlineTimer(qint64(timeoutMs));
            }
            window = std::min(window + 1, std::max(window, growthLimit));
        }
        while (onWire < window && !waitingForRoom.empty()) {
            std::function<void()> send = std::move(waitingForRoom.front());
            waitingForRoom.pop_front();
            ++onWire;
            send();
        }
    }

    Resolver *q = nullptr;
    std::unique_ptr<Channel> current;
    std::vector<std::unique_ptr<Channel>> retired;
    bool reapScheduled = false;
    bool destroying = false;

    QString serversText;
    QString serversCsv;
    int timeoutMs = 2000;
    int tries = 2;
    quint32 maxCacheTtl = 3600;
    // Bumped when the servers change: answers of queries sent before are still delivered to their callers,
    // but neither cached nor joined by new lookups, since they come from the old servers.
    quint64 generation = 0;

    // The caches are read from other threads too (Resolver::cachedMailRoute): every access holds cacheMutex.
    mutable QMutex cacheMutex;
    QHash<QString, CacheEntry<MxAnswer>> mxCache;
    QHash<QString, CacheEntry<AddressAnswer>> addressCache;
    // Callers waiting for a query in flight, by inFlightKey(): one wire query however many ask.
    QHash<QString, QList<Pending<MxAnswer>>> mxInFlight;
    QHash<QString, QList<Pending<AddressAnswer>>> addressInFlight;

    static QString inFlightKey(quint64 gen, const QString &name)
    {
        return QString::number(gen) + u'|' + name;
    }

    explicit Private(Resolver *owner)
        : q(owner)
    {
    }
    ~Private()
    {
        destroying = true;
        current.reset();
        retired.clear();
    }
    Q_DISABLE_COPY_MOVE(Private)

    std::unique_ptr<Channel> makeChannel(const QString &csv, QString *error)
    {
        auto channel = std::make_unique<Channel>(this);
        ares_options options{};
        options.sock_state_cb = &Channel::socketState;
        options.sock_state_cb_data = channel.get();
        options.timeout = timeoutMs;
        options.tries = 1; // the tries after a timeout are ours: they wait for room in the window
        // EDNS0 (RFC 6891) with the 1232-byte payload of DNS Flag Day 2020: large MX sets fit in one UDP
        // answer; c-ares falls back to plain DNS when a server answers FORMERR.
        // NOCHECKRESP: c-ares 1.18 otherwise drops SERVFAIL and REFUSED answers to try the next server and,
        // once out of servers, reports ARES_ECONNREFUSED for both: indistinguishable from an unreachable
        // server. We need the real RCODE; the price is no failover to a second server on those two answers.
        options.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOCHECKRESP;
        options.ednspsz = 1232;
        // DNS only: a mail domain in /etc/hosts says nothing about its mail routing, and tests serve every
        // name from the loopback server.
        char lookups[] = "b";
        options.lookups = lookups;
        // No search domains: the names we resolve are always fully qualified.
        options.domains = nullptr;
        options.ndomains = 0;
        // A list's first second sends a query for each of hundreds of domains, and their answers come back
        // together. The kernel's default UDP buffer (208 KiB, about 200 answers) dropped some of them while
        // the engine thread was busy, each drop costing a whole timeout (2 s) before the retry. 4 MiB, or
        // as much of it as net.core.rmem_max allows.
        options.socket_receive_buffer_size = 4 * 1024 * 1024;
        const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS |
                         ARES_OPT_EDNSPSZ | ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_SOCK_RCVBUF;
        int status = ares_init_options(&channel->channel, &options, mask);
        if (status != ARES_SUCCESS) {
            channel->channel = nullptr;
            if (error)
                *error = u"cannot initialise c-ares: "_s + aresError(status);
            return nullptr;
        }
        if (!csv.isEmpty()) {
            status = ares_set_servers_ports_csv(channel->channel, csv.toLatin1().constData());
            if (status != ARES_SUCCESS) {
                if (error)
                    *error = u"cannot use DNS servers \"%1\": %2"_s.arg(csv, aresError(status));
                return nullptr;
            }
        }
        return channel;
    }

    /// Puts a freshly configured channel in place; the previous one serves its pending queries to the end.
    bool reconfigure(const QString &csv, QString *error)
    {
        auto channel = makeChannel(csv, error);
        if (!channel)
            return false;
        if (current) {
            if (current->outstanding > 0)
                retired.push_back(std::move(current));
            else
                current.reset();
        }
        current = std::move(channel);
        return true;
    }

    void scheduleReap()
    {
        if (reapScheduled || destroying)
            return;
        reapScheduled = true;
        // Not now: we may be inside a callback or notifier of the very channel to destroy.
        QMetaObject::invokeMethod(
            q,
            [this] {
                reapScheduled = false;
                std::erase_if(retired, [](const std::unique_ptr<Channel> &c) { return c->outstanding == 0; });
            },
            Qt::QueuedConnection);
    }

    Channel *channel()
    {
        if (!current) {
            QString error;
            if (!reconfigure(serversCsv, &error))
                qWarning("mailcaff::dns: %s", qPrintable(error));
        }
        return current.get();
    }

    // c-ares may call back synchronously (inside ares_query) or from inside ares_process_fd. Either way the
    // result only travels to the event loop from here: no user code, and no new c-ares call, runs while
    // c-ares is on the stack.
    static void queryDone(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
    {
        std::unique_ptr<QueryRequest> request(static_cast<QueryRequest *>(arg));
        --request->channel->outstanding;
        if (request->d->destroying)
            return;
        QByteArray message;
        if (abuf && alen > 0)
            message = QByteArray(reinterpret_cast<const char *>(abuf), alen);
        QMetaObject::invokeMethod(
            request->d->q,
            [d = request->d, handler = std::move(request->handler), status, message, timeouts] {
                d->answered(timeouts > 0 || status == ARES_ETIMEOUT);
                handler(status, message);
            },
            Qt::QueuedConnection);
    }

    static void addrInfoDone(void *arg, int status, int timeouts, ares_addrinfo *result)
    {
        std::unique_ptr<AddrInfoRequest> request(static_cast<AddrInfoRequest *>(arg));
        std::unique_ptr<ares_addrinfo, decltype(&ares_freeaddrinfo)> info(result, &ares_freeaddrinfo);
        --request->channel->outstanding;
        if (request->d->destroying)
            return;
        AddressAnswer answer;
        if (status == ARES_SUCCESS && info) {
            quint32 ttl = UINT_MAX;
            QList<QHostAddress> v6;
            for (auto *node = info->nodes; node; node = node->ai_next) {
                if (!node->ai_addr || (node->ai_family != AF_INET && node->ai_family != AF_INET6))
                    continue;
                const QHostAddress address(node->ai_addr);
                auto &list = node->ai_family == AF_INET ? answer.addresses : v6;
                if (!list.contains(address))
                    list.append(address);
                ttl = std::min(ttl, quint32(std::max(node->ai_ttl, 0)));
            }
            for (auto *cname = info->cnames; cname; cname = cname->next)
                ttl = std::min(ttl, quint32(std::max(cname->ttl, 0)));
            // The A and AAAA answers arrive in either order; IPv4 first (each family in the order the
            // server gave it) keeps the result stable from one lookup to the next.
            answer.addresses += v6;
            answer.ttl = ttl == UINT_MAX ? 0 : ttl;
        }
        QMetaObject::invokeMethod(
            request->d->q,
            [d = request->d, handler = std::move(request->handler), status, answer, timeouts] {
                d->answered(timeouts > 0 || status == ARES_ETIMEOUT);
                handler(status, answer);
            },
            Qt::QueuedConnection);
    }

    /// `sendNow` once the window has room; after a timeout, again the same way, up to `tries` times.
    template<typename Result>
    void sendInWindow(std::function<void(std::function<void(int, const Result &)>)> sendNow,
                      std::function<void(int, const Result &)> handler, int attempt = 1)
    {
        whenRoom([this, sendNow, attempt, handler = std::move(handler)]() mutable {
            sendNow([this, sendNow, attempt, handler = std::move(handler)](int status,
                                                                           const Result &result) mutable {
                if (status == ARES_ETIMEOUT && attempt < tries && !destroying)
                    sendInWindow<Result>(std::move(sendNow), std::move(handler), attempt + 1);
                else
                    handler(status, result);
            });
        });
    }

    void sendQuery(const QString &name, int type, std::function<void(int, const QByteArray &)> handler)
    {
        sendInWindow<QByteArray>(
            [this, name, type](std::function<void(int, const QByteArray &)> done) {
                sendQueryNow(name, type, std::move(done));
            },
            std::move(handler));
    }

    void sendQueryNow(const QString &name, int type, std::function<void(int, const QByteArray &)> handler)
    {
        Channel *c = channel();
        if (!c) {
            QMetaObject::invokeMethod(
                q,
                [this, handler = std::move(handler)] {
                    answered(false);
                    handler(ARES_ENOTINITIALIZED, {});
                },
                Qt::QueuedConnection);
            return;
        }
        auto *request = new QueryRequest{this, c, std::move(handler)};
        ++c->outstanding;
        ares_query(c->channel, name.toLatin1().constData(), ns_c_in, type, &Private::queryDone, request);
        c->afterAresCall();
    }

    void sendAddrInfo(const QString &name, std::function<void(int, const AddressAnswer &)> handler)
    {
        sendInWindow<AddressAnswer>(
            [this, name](std::function<void(int, const AddressAnswer &)> done) {
                sendAddrInfoNow(name, std::move(done));
            },
            std::move(handler));
    }

    void sendAddrInfoNow(const QString &name, std::function<void(int, const AddressAnswer &)> handler)
    {
        Channel *c = channel();
        if (!c) {
            QMetaObject::invokeMethod(
                q,
                [this, handler = std::move(handler)] {
                    answered(false);
                    handler(ARES_ENOTINITIALIZED, {});
                },
                Qt::QueuedConnection);
            return;
        }
        auto *request = new AddrInfoRequest{this, c, std::move(handler)};
        ++c->outstanding;
        ares_addrinfo_hints hints{};
        hints.ai_family = AF_UNSPEC;
        // No RFC 6724 sorting: it opens a UDP socket per address, and callers get the server's order.
        hints.ai_flags = ARES_AI_NOSORT;
        ares_getaddrinfo(c->channel, name.toLatin1().constData(), nullptr, &hints, &Private::addrInfoDone,
                         request);
        c->afterAresCall();
    }

    quint32 capTtl(quint32 ttl) const { return std::min(ttl, maxCacheTtl); }

    template<typename Answer>
    void storeInCache(QHash<QString, CacheEntry<Answer>> &cache, quint64 gen, const QString &name,
                      const Answer &answer)
    {
        const quint32 ttl = capTtl(answer.ttl);
        if (ttl == 0 || !isCacheable(answer.status) || gen != generation)
            return;
        QMutexLocker lock(&cacheMutex);
        if (mxCache.size() + addressCache.size() >= MaxCacheEntries) {
            purgeExpired();
            if (mxCache.size() + addressCache.size() >= MaxCacheEntries) {
                mxCache.clear();
                addressCache.clear();
            }
        }
        cache.insert(name, {answer, QDeadlineTimer(qint64(ttl) * 1000)});
    }

    /// A fresh answer from `cache`, leaving an expired one in place. With cacheMutex held.
    template<typename Answer>
    static std::optional<Answer> peek(const QHash<QString, CacheEntry<Answer>> &cache, const QString &name)
    {
        const auto it = cache.constFind(name);
        if (it == cache.constEnd() || it->expiry.hasExpired())
            return std::nullopt;
        Answer answer = it->answer;
        answer.fromCache = true;
        answer.ttl = remainingSeconds(it->expiry);
        return answer;
    }

    template<typename Answer>
    std::optional<Answer> fromCache(QHash<QString, CacheEntry<Answer>> &cache, const QString &name)
    {
        QMutexLocker lock(&cacheMutex);
        std::optional<Answer> answer = peek(cache, name);
        if (!answer)
            cache.remove(name); // expired, if there at all
        return answer;
    }

    /// With cacheMutex held.
    void purgeExpired()
    {
        auto purge = [](auto &cache) {
            for (auto it = cache.begin(); it != cache.end();) {
                if (it->expiry.hasExpired())
                    it = cache.erase(it);
                else
                    ++it;
            }
        };
        purge(mxCache);
        purge(addressCache);
    }

    template<typename Answer> static void deliver(QList<Pending<Answer>> waiters, const Answer &answer)
    {
        for (const auto &waiter : waiters) {
            // Checked one by one: an earlier callback may delete a later caller's context.
            if (waiter.context)
                waiter.done(answer);
        }
    }

    // --- MX ---------------------------------------------------------------------------------------------

    /// One MX question for `origin`, currently asking about `name` after following `visited` CNAMEs.
    struct MxChase
    {
        quint64 generation = 0;
        QString origin;
        QString name;
        QStringList visited;
        quint32 chainTtl = UINT_MAX;
    };

    void queryMx(MxChase chase)
    {
        const QString name = chase.name;
        sendQuery(name, ns_t_mx,
                  [this, chase = std::move(chase)](int status, const QByteArray &message) mutable {
                      handleMx(std::move(chase), status, message);
                  });
    }

    void handleMx(MxChase chase, int status, const QByteArray &raw)
    {
        MxAnswer answer;
        answer.status = statusFromAres(status);
        std::optional<DnsMessage> message;
        QString parseError;
        if (!raw.isEmpty())
            message = DnsMessage::parse(raw, &parseError);

        auto negativeTtl = [&] {
            const auto soa = message ? message->negativeTtl() : std::nullopt;
            return std::min(chase.chainTtl, soa.value_or(FallbackNegativeTtl));
        };

        switch (answer.status) {
        case DnsStatus::Ok:
            break;
        case DnsStatus::NoData:
        case DnsStatus::NxDomain:
            answer.ttl = negativeTtl();
            return finishMx(chase, answer);
        default:
            answer.error = aresError(status);
            return finishMx(chase, answer);
        }

        if (!message) {
            answer.status = DnsStatus::Error;
            answer.error = u"malformed DNS answer: "_s + parseError;
            return finishMx(chase, answer);
        }

        // Walk the answer from the name asked: its MX records, or a CNAME chain (RFC 1034 section 3.6.2)
        // to the name that holds them. A recursive server puts the whole chain in one answer.
        QString name = chase.name;
        quint32 ttl = chase.chainTtl;
        QList<MxRecord> records;
        while (true) {
            for (const auto &rr : std::as_const(message->answers)) {
                if (rr.type == RrType::MX && rr.name == name) {
                    records.append({rr.target.isEmpty() ? u"."_s : rr.target, rr.preference});
                    ttl = std::min(ttl, rr.ttl);
                }
            }
            if (!records.isEmpty())
                break;
            const auto cname =
                std::find_if(message->answers.cbegin(), message->answers.cend(),
                             [&](const auto &rr) { return rr.type == RrType::CNAME && rr.name == name; });
            if (cname == message->answers.cend())
                break;
            if (chase.visited.contains(cname->target)) {
                answer.status = DnsStatus::Error;
                answer.error = u"CNAME loop at %1"_s.arg(cname->target);
                return finishMx(chase, answer);
            }
            if (chase.visited.size() > MaxCnameHops) {
                answer.status = DnsStatus::Error;
                answer.error = u"CNAME chain longer than %1"_s.arg(MaxCnameHops);
                return finishMx(chase, answer);
            }
            chase.visited.append(cname->target);
            ttl = std::min(ttl, cname->ttl);
            name = cname->target;
        }

        if (!records.isEmpty()) {
            std::sort(records.begin(), records.end(), [](const MxRecord &a, const MxRecord &b) {
                return a.preference != b.preference ? a.preference < b.preference : a.host < b.host;
            });
            records.erase(std::unique(records.begin(), records.end()), records.end());
            answer.records = records;
            answer.ttl = ttl;
            return finishMx(chase, answer);
        }

        if (name != chase.name) {
            // A chain with nothing of the type asked at its end. With an SOA in the authority section a
            // recursive server is telling us the target has no MX (RFC 2308 section 2.2); without it this
            // is a server that does not chase CNAMEs, so ask about the target ourselves.
            if (message->hasSoaInAuthority()) {
                answer.status = DnsStatus::NoData;
                answer.ttl = std::min(ttl, negativeTtl());
                return finishMx(chase, answer);
            }
            chase.name = name;
            chase.chainTtl = ttl;
            return queryMx(std::move(chase));
        }

        // NOERROR with answers, none about the name asked: as good as no data.
        answer.status = DnsStatus::NoData;
        answer.ttl = negativeTtl();
        finishMx(chase, answer);
    }

    void finishMx(const MxChase &chase, const MxAnswer &answer)
    {
        storeInCache(mxCache, chase.generation, chase.origin, answer);
        deliver(mxInFlight.take(inFlightKey(chase.generation, chase.origin)), answer);
    }

    // --- Addresses --------------------------------------------------------------------------------------

    // ares_getaddrinfo follows CNAME chains inside an answer but does not ask again about the target of a
    // bare CNAME: against a server that does not chase CNAMEs (recursive resolvers all do) that is NoData.
    void handleAddresses(quint64 gen, const QString &name, int status, AddressAnswer answer)
    {
        answer.status = statusFromAres(status);
        if (answer.status == DnsStatus::Ok && answer.addresses.isEmpty())
            answer.status = DnsStatus::NoData;
        if (answer.status == DnsStatus::NoData || answer.status == DnsStatus::NxDomain) {
            // ares_getaddrinfo does not hand out the SOA of a negative answer.
            answer.ttl = FallbackNegativeTtl;
            answer.addresses.clear();
        } else if (answer.status != DnsStatus::Ok) {
            answer.error = aresError(status);
        }
        storeInCache(addressCache, gen, name, answer);
        deliver(addressInFlight.take(inFlightKey(gen, name)), answer);
    }
};

Resolver::Resolver(QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>(this))
{
    initialiseLibrary();
}

Resolver::~Resolver() = default;

bool Resolver::setServers(const QString &servers, QString *error)
{
    QStringList entries;
    QStringList normalised;
    const QString trimmed = servers.trimmed();
    if (!trimmed.isEmpty()) {
        const auto parts = trimmed.split(u',');
        for (const auto &rawPart : parts) {
            const QString part = rawPart.trimmed();
            QString host = part;
            QString portText;
            if (part.startsWith(u'[')) {
                const qsizetype close = part.indexOf(u']');
                if (close < 0) {
                    if (error)
                        *error = u"missing ']' in \"%1\""_s.arg(part);
                    return false;
                }
                host = part.mid(1, close - 1);
                const QString rest = part.mid(close + 1);
                if (!rest.isEmpty()) {
                    if (!rest.startsWith(u':')) {
                        if (error)
                            *error = u"unexpected text after ']' in \"%1\""_s.arg(part);
                        return false;
                    }
                    portText = rest.mid(1);
                    if (portText.isEmpty()) {
                        if (error)
                            *error = u"missing port in \"%1\""_s.arg(part);
                        return false;
                    }
                }
            } else if (part.count(u':') == 1) {
                host = part.section(u':', 0, 0);
                portText = part.section(u':', 1);
                if (portText.isEmpty()) {
                    if (error)
                        *error = u"missing port in \"%1\""_s.arg(part);
                    return false;
                }
            }
            // More than one colon without brackets: a bare IPv6 address, no port.
            QHostAddress address;
            // QHostAddress takes inet_aton's shorthands ("1.2.3", "127.1"); a user typing them made a typo.
            const bool shorthandIpv4 = !host.contains(u':') && host.count(u'.') != 3;
            if (host.isEmpty() || shorthandIpv4 || !address.setAddress(host) ||
                (part.startsWith(u'[') && address.protocol() != QAbstractSocket::IPv6Protocol)) {
                if (error)
                    *error = u"\"%1\" is not an IP address"_s.arg(part);
                return false;
            }
            int port = 53;
            if (!portText.isEmpty()) {
                bool ok = false;
                port = portText.toInt(&ok);
                if (!ok || port < 1 || port > 65535) {
                    if (error)
                        *error = u"bad port in \"%1\""_s.arg(part);
                    return false;
                }
            }
            // c-ares 1.18 does not take scoped (link-local %if) addresses in its CSV.
            if (!address.scopeId().isEmpty()) {
                if (error)
                    *error = u"scoped IPv6 addresses are not supported: \"%1\""_s.arg(part);
                return false;
            }
            const QString ip = address.toString();
            const QString entry = address.protocol() == QAbstractSocket::IPv6Protocol
                                      ? u"[%1]:%2"_s.arg(ip).arg(port)
                                      : u"%1:%2"_s.arg(ip).arg(port);
            entries.append(entry);
            normalised.append(entry);
        }
    }
    const QString csv = entries.join(u',');
    QString reason;
    if (!d->reconfigure(csv, &reason)) {
        if (error)
            *error = reason;
        return false;
    }
    d->serversCsv = csv;
    d->serversText = normalised.join(u',');
    ++d->generation;
    // Another server may see DNS differently (tests, split horizon): answers of the old one go.
    clearCache();
    return true;
}

QString Resolver::servers() const
{
    return d->serversText;
}

void Resolver::setTimeout(int milliseconds, int tries)
{
    d->timeoutMs = std::max(milliseconds, 1);
    d->tries = std::max(tries, 1);
    // Timeouts are fixed when a channel is created: build a new one (the old one finishes its queries).
    QString error;
    if (!d->reconfigure(d->serversCsv, &error))
        qWarning("mailcaff::dns: %s", qPrintable(error));
}

void Resolver::setMaxCacheTtl(quint32 seconds)
{
    d->maxCacheTtl = seconds;
    if (seconds == 0)
        clearCache();
}

void Resolver::clearCache()
{
    QMutexLocker lock(&d->cacheMutex);
    d->mxCache.clear();
    d->addressCache.clear();
}

int Resolver::cacheSize() const
{
    QMutexLocker lock(&d->cacheMutex);
    d->purgeExpired();
    return int(d->mxCache.size() + d->addressCache.size());
}

void Resolver::lookupMx(const QString &asciiDomain, QObject *context,
                        std::function<void(const MxAnswer &)> done)
{
    if (!context)
        context = this;
    const auto name = normaliseName(asciiDomain);
    if (!name) {
        MxAnswer answer;
        answer.error = u"not a valid domain name: \"%1\""_s.arg(asciiDomain);
        done(answer);
        return;
    }
    if (auto cached = d->fromCache(d->mxCache, *name)) {
        done(*cached);
        return;
    }
    auto &waiters = d->mxInFlight[Private::inFlightKey(d->generation, *name)];
    waiters.append({context, std::move(done)});
    if (waiters.size() == 1)
        d->queryMx({d->generation, *name, *name, {*name}, UINT_MAX});
}

void Resolver::lookupNs(const QString &asciiDomain, QObject *context,
                        std::function<void(const NsAnswer &)> done)
{
    const auto name = normaliseName(asciiDomain);
    if (!name) {
        NsAnswer answer;
        answer.error = u"not a valid domain name: \"%1\""_s.arg(asciiDomain);
        done(answer);
        return;
    }
    QPointer<QObject> guard(context ? context : this);
    d->sendQuery(*name, ns_t_ns,
                 [guard, asked = *name, done = std::move(done)](int status, const QByteArray &raw) {
                     if (!guard)
                         return;
                     NsAnswer answer;
                     answer.status = statusFromAres(status);
                     if (answer.status == DnsStatus::Ok) {
                         QString parseError;
                         const auto message = DnsMessage::parse(raw, &parseError);
                         if (!message) {
                             answer.status = DnsStatus::Error;
                             answer.error = u"malformed DNS answer: "_s + parseError;
                         } else {
                             for (const auto &rr : message->answers)
                                 if (rr.type == RrType::NS && rr.name == asked && !rr.target.isEmpty())
                                     answer.hosts.append(rr.target);
                             answer.hosts.sort();
                             answer.hosts.removeDuplicates();
                             if (answer.hosts.isEmpty())
                                 answer.status = DnsStatus::NoData;
                         }
                     } else if (answer.status != DnsStatus::NoData && answer.status != DnsStatus::NxDomain) {
                         answer.error = aresError(status);
                     }
                     done(answer);
                 });
}

void Resolver::lookupAddresses(const QString &asciiHost, QObject *context,
                               std::function<void(const AddressAnswer &)> done)
{
    if (!context)
        context = this;
    const auto name = normaliseName(asciiHost);
    if (!name) {
        AddressAnswer answer;
        answer.error = u"not a valid host name: \"%1\""_s.arg(asciiHost);
        done(answer);
        return;
    }
    if (auto cached = d->fromCache(d->addressCache, *name)) {
        done(*cached);
        return;
    }
    auto &waiters = d->addressInFlight[Private::inFlightKey(d->generation, *name)];
    waiters.append({context, std::move(done)});
    if (waiters.size() == 1) {
        const QString host = *name;
        d->sendAddrInfo(host, [this, gen = d->generation, host](int status, const AddressAnswer &answer) {
            d->handleAddresses(gen, host, status, answer);
        });
    }
}

std::optional<MailRoute> Resolver::cachedMailRoute(const QString &asciiDomain) const
{
    const auto name = normaliseName(asciiDomain);
    if (!name)
        return std::nullopt;
    QMutexLocker lock(&d->cacheMutex);
    const std::optional<MxAnswer> mx = Private::peek(d->mxCache, *name);
    if (!mx)
        return std::nullopt;
    if (mx->status != DnsStatus::NoData)
        return routeFromMx(*mx);
    const std::optional<AddressAnswer> addresses = Private::peek(d->addressCache, *name);
    if (!addresses)
        return std::nullopt;
    return implicitRoute(*name, true, *addresses);
}

void Resolver::lookupMailRoute(const QString &asciiDomain, QObject *context,
                               std::function<void(const MailRoute &)> done)
{
    if (!context)
        context = this;
    lookupMx(asciiDomain, context, [this, asciiDomain, context, done = std::move(done)](const MxAnswer &mx) {
        if (mx.status != DnsStatus::NoData)
            return done(routeFromMx(mx));
        // RFC 5321 section 5.1: no MX, so the domain itself is the mail host if it has an address.
        const QString domain = normaliseName(asciiDomain).value_or(asciiDomain);
        lookupAddresses(domain, context, [domain, mxFromCache = mx.fromCache, done](const AddressAnswer &a) {
            done(implicitRoute(domain, mxFromCache, a));
        });
    });
}

} // namespace mailcaff::dns
