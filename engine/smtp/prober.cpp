#include "prober.h"

#include <QTimer>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace mailcaff::smtp {

namespace {

constexpr int MaxRetries = 5;
constexpr auto LearntLimitLifetime = std::chrono::hours(1);
constexpr auto TlsBrokenLifetime = std::chrono::hours(1);
/// After the system refused us a socket: no more connections than we had then for this long, and none at all
/// for a moment (what holds the other descriptors may let go of some).
constexpr auto LearntCapLifetime = std::chrono::minutes(1);
constexpr auto SocketPause = std::chrono::milliseconds(500);

bool isUtf8Address(const QString &address)
{
    return std::any_of(address.cbegin(), address.cend(), [](QChar c) { return c.unicode() >= 0x80; });
}

} // namespace

Prober::Prober(const ProberConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
}

Prober::~Prober()
{
    for (const auto &host : std::as_const(m_hosts)) {
        for (Session *s : std::as_const(host->sessions)) {
            s->disconnect(this);
            releaseGrant(*host, s);
        }
    }
}

void Prober::releaseGrant(Host &host, Session *session)
{
    if (const QString token = host.grants.take(session); !token.isEmpty() && m_config.limiter)
        m_config.limiter->release(key(host.address), token);
}

void Prober::waitForGrant(Host &host)
{
    if (host.limiterTimerArmed)
        return;
    host.limiterTimerArmed = true;
    const QString hostKey = key(host.address);
    QTimer::singleShot(m_config.limiterRetryMs, this, [this, hostKey] {
        if (auto it = m_hosts.find(hostKey); it != m_hosts.end()) {
            (*it)->limiterTimerArmed = false;
            dispatch(**it);
        }
    });
}

void Prober::dropSession(Host &host, Session *session)
{
    if (host.sessions.removeOne(session)) {
        --m_open;
        if (!m_waitingForSlot.empty() && !m_wakeQueued) {
            m_wakeQueued = true;
            QMetaObject::invokeMethod(
                this, [this] { wakeWaiting(); }, Qt::QueuedConnection);
        }
    }
    host.rcptsUsed.remove(session);
    m_idle.remove(session);
    releaseGrant(host, session);
}

int Prober::sessionCap() const
{
    int cap = m_config.maxSessions > 0 ? m_config.maxSessions : std::numeric_limits<int>::max();
    if (!m_learntCapUntil.hasExpired())
        cap = std::min(cap, m_learntCap);
    return cap;
}

bool Prober::takeSlot(Host &host)
{
    const bool paused = !m_socketPauseUntil.hasExpired();
    if (!paused && m_open < sessionCap())
        return true;
    const QString hostKey = key(host.address);
    if (std::find(m_waitingForSlot.cbegin(), m_waitingForSlot.cend(), hostKey) != m_waitingForSlot.cend())
        return false; // in line already, and has asked for room
    m_waitingForSlot.push_back(hostKey);
    if (paused) {
        if (!m_slotTimerArmed) {
            m_slotTimerArmed = true;
            QTimer::singleShot(std::max<qint64>(1, m_socketPauseUntil.remainingTime()), this, [this] {
                m_slotTimerArmed = false;
                wakeWaiting();
            });
        }
        return false;
    }
    // Every place taken: the connection idle longest at another host goes (it was only waiting for work
    // that may never come); its closing lets the first host in line in.
    Session *spare = nullptr;
    QString spareKey;
    qint64 since = std::numeric_limits<qint64>::max();
    for (auto it = m_idle.cbegin(); it != m_idle.cend(); ++it) {
        if (it->first < since && it->second != hostKey) {
            since = it->first;
            spare = it.key();
            spareKey = it->second;
        }
    }
    if (spare) {
        if (auto it = m_hosts.find(spareKey); it != m_hosts.end())
            retire(**it, spare);
    }
    return false;
}

void Prober::wakeWaiting()
{
    m_wakeQueued = false;
    while (!m_waitingForSlot.empty() && m_socketPauseUntil.hasExpired() && m_open < sessionCap()) {
        const QString hostKey = m_waitingForSlot.front();
        m_waitingForSlot.pop_front();
        if (auto it = m_hosts.find(hostKey); it != m_hosts.end())
            dispatch(**it); // back in line when it finds no place after all
    }
}

Prober::Host &Prober::hostFor(const QString &mxHost, const QHostAddress &address)
{
    // shared_ptr: a Host stays where it is while the hash grows, so references to it stay valid.
    auto &slot = m_hosts[key(address)];
    if (!slot) {
        slot = std::make_shared<Host>();
        slot->mxHost = mxHost;
        slot->address = address;
    }
    return *slot;
}

void Prober::probe(const QString &mxHost, const QHostAddress &address, const QStringList &recipients,
                   QObject *context, Done done, core::Priority priority, std::function<void()> started)
{
    Host &host = hostFor(mxHost, address);
    Request r;
    r.recipients = recipients;
    r.context = context;
    r.hasContext = context != nullptr;
    r.done = std::move(done);
    r.utf8 = std::any_of(recipients.cbegin(), recipients.cend(), isUtf8Address);
    r.priority = priority;
    r.started = std::move(started);
    // Interactive requests go after the other interactive ones, ahead of every bulk one.
    auto at = host.queue.end();
    if (priority == core::Priority::Interactive)
        while (at != host.queue.begin() && std::prev(at)->priority == core::Priority::Bulk)
            --at;
    host.queue.insert(at, std::move(r));
    dispatch(host);
}

void Prober::answerFromBackoff(Host &host)
{
    while (!host.queue.empty()) {
        Request r = std::move(host.queue.front());
        host.queue.pop_front();
        QList<RcptOutcome> outcomes;
        const Verdict verdict =
            host.backoffFailure == Failure::TryLater ? Verdict::TryLater : Verdict::Unknown;
        for (const QString &rcpt : std::as_const(r.recipients)) {
            RcptOutcome o{rcpt, host.backoffFailure, host.backoffReply, verdict};
            o.replayed = true;
            outcomes.append(o);
        }
        if (!r.hasContext || r.context)
            r.done(outcomes);
    }
}

void Prober::dispatch(Host &host)
{
    // Connections the server closed while idle (e.g. "421 idle timeout") no longer count.
    for (qsizetype i = host.sessions.size() - 1; i >= 0; --i) {
        Session *s = host.sessions.at(i);
        if (s->isClosed() && !s->isBusy()) {
            dropSession(host, s);
            s->deleteLater();
        }
    }
    while (!host.queue.empty()) {
        // Drop requests whose caller has gone before spending a connection on them.
        if (host.queue.front().hasContext && !host.queue.front().context) {
            host.queue.pop_front();
            continue;
        }
        Session *idle = nullptr;
        const int needed = int(host.queue.front().recipients.size());
        for (Session *s : host.sessions) {
            if (s->isBusy() || s->isClosed() || !host.rcptsUsed.contains(s))
                continue;
            if (s->rejectionBudget() < needed) {
                // Too close to its rejection limit for this request: a fresh connection takes it.
                retire(host, s);
                return; // retire() dispatches again once the connection is closed
            }
            idle = s;
            break;
        }
        if (!idle) {
            if (!host.backoffUntil.hasExpired()) {
                if (host.backoffFailure != Failure::TryLater) {
                    // Unreachable or refusing: say so at once, so the caller moves on to the next MX.
                    answerFromBackoff(host);
                    return;
                }
                // Busy (421): wait for the back-off to end; each caller's deadline decides how long.
                if (!host.backoffTimerArmed) {
                    host.backoffTimerArmed = true;
                    const QString hostKey = key(host.address);
                    QTimer::singleShot(std::max<qint64>(1, host.backoffUntil.remainingTime()), this,
                                       [this, hostKey] {
                                           if (auto it = m_hosts.find(hostKey); it != m_hosts.end()) {
                                               (*it)->backoffTimerArmed = false;
                                               dispatch(**it);
                                           }
                                       });
                }
                return;
            }
            if (host.sessions.size() >= m_config.maxSessionsPerHost)
                return; // a session becoming free calls dispatch() again
            if (!takeSlot(host))
                return; // a connection closing elsewhere calls dispatch() again
            // Servers sharing the limit: another of them may hold every connection this server allows.
            QString grant;
            if (m_config.limiter) {
                grant = m_config.limiter->acquire(key(host.address), m_config.maxSessionsPerHost);
                if (grant.isEmpty()) {
                    waitForGrant(host);
                    return;
                }
            }
            SessionConfig config = m_config.session;
            if (!host.tlsBrokenUntil.hasExpired())
                config.startTls = false;
            idle = new Session(host.mxHost, host.address, config, this);
            if (!grant.isEmpty())
                host.grants.insert(idle, grant);
            ++m_connectionsOpened;
            ++m_open;
            host.sessions.append(idle);
            host.rcptsUsed.insert(idle, 0);
        }
        run(host, idle);
    }
}

void Prober::run(Host &host, Session *session)
{
    // Whole requests, in order, up to the recipient limits; an internationalised request travels alone
    // (its MAIL FROM carries SMTPUTF8).
    struct Item
    {
        Request request;
        qsizetype sent = 0; ///< recipients of it in this transaction; the rest are answered Unused
    };
    m_idle.remove(session);
    auto batch = std::make_shared<std::vector<Item>>();
    QStringList recipients;
    const int limit = std::min(m_config.maxRcptsPerSession, host.rcptLimit());
    // No more than the session could answer if every recipient were refused: nothing is left unanswered
    // for lack of a rejection budget.
    const int room =
        std::max(1, std::min({m_config.maxRcptsPerTransaction, limit - host.rcptsUsed.value(session),
                              session->rejectionBudget()}));
    // What a fresh session would take at once. When this one has too little rejection budget left for the
    // next request (an address and its catch-all probe), it goes and a fresh one takes the request whole:
    // cutting the probe off would lose the domain's catch-all answer for every address waiting on it.
    const int fresh = std::max(1, std::min(m_config.maxRcptsPerTransaction, limit));
    while (!host.queue.empty() && host.queue.front().hasContext && !host.queue.front().context)
        host.queue.pop_front();
    if (!host.queue.empty()) {
        const qsizetype wanted = host.queue.front().recipients.size();
        if (wanted > room && wanted <= fresh && room < fresh && host.rcptsUsed.value(session) > 0) {
            retire(host, session);
            return;
        }
    }
    while (!host.queue.empty()) {
        Request &next = host.queue.front();
        if (next.hasContext && !next.context) {
            host.queue.pop_front();
            continue;
        }
        if (!batch->empty() &&
            (next.utf8 || batch->front().request.utf8 || recipients.size() + next.recipients.size() > room))
            break;
        // A request larger than the server takes (the address plus its catch-all probe, at a server that
        // takes one recipient per transaction) sends what fits; the rest is answered Unused, not retried.
        const qsizetype sent = std::min<qsizetype>(next.recipients.size(), std::max<qsizetype>(room, 1));
        recipients += next.recipients.mid(0, sent);
        if (next.started)
            std::exchange(next.started, {})(); // once: a request sent back to the queue has had its turn
        batch->push_back(Item{std::move(next), sent});
        host.queue.pop_front();
    }
    if (batch->empty())
        return;
    host.rcptsUsed[session] += int(recipients.size());
    // The session's recipients are used up with this transaction: it says goodbye along with it.
    const bool last = host.rcptsUsed.value(session) >= limit;
    const QString hostKey = key(host.address);
    session->transaction(
        recipients,
        [this, hostKey, session, batch](const QList<RcptOutcome> &outcomes) {
            auto hostIt = m_hosts.find(hostKey);
            Host *h = hostIt == m_hosts.end() ? nullptr : hostIt->get();
            qsizetype at = 0;
            bool greylisted = false;
            bool noSocket = false;
            std::vector<Request> requeue;
            for (Item &item : *batch) {
                Request &r = item.request;
                QList<RcptOutcome> mine = outcomes.mid(at, item.sent);
                at += item.sent;
                for (qsizetype i = item.sent; i < r.recipients.size(); ++i)
                    mine.append(RcptOutcome{r.recipients.at(i), Failure::Unused, {}, Verdict::Unknown});
                bool unused = false;
                bool dropped = false;
                bool tlsFailed = false;
                bool local = false;
                for (qsizetype i = 0; i < item.sent && i < mine.size(); ++i) {
                    const RcptOutcome &o = mine.at(i);
                    unused = unused || o.failure == Failure::Unused;
                    local = local || o.failure == Failure::LocalLimit;
                    dropped = dropped || o.failure == Failure::Dropped;
                    tlsFailed = tlsFailed || o.failure == Failure::TlsFailed;
                    greylisted = greylisted || (o.failure == Failure::None && o.verdict == Verdict::TryLater);
                    if (!h)
                        continue;
                    const bool busy = o.failure == Failure::TryLater && o.reply.code == 421;
                    const bool unreachable =
                        o.failure == Failure::ConnectFailed || o.failure == Failure::Timeout;
                    const bool blocked = o.failure == Failure::None && o.verdict == Verdict::Blocked;
                    if (busy || unreachable || blocked) {
                        // Leave the server alone for a while: it is busy, unreachable or does not want
                        // probes.
                        h->backoffUntil = QDeadlineTimer(m_config.backoffMs);
                        h->backoffFailure = blocked ? Failure::Refused : o.failure;
                        h->backoffReply = o.reply;
                    }
                }
                if (tlsFailed && h)
                    h->tlsBrokenUntil =
                        QDeadlineTimer(TlsBrokenLifetime); // opportunistic TLS: plain text next
                noSocket = noSocket || local;
                // Unused: the session stopped early (rejection limit, recipient limit). No socket: this
                // machine's limit, not the server's doing. Dropped or TLS failed: one more chance on a
                // fresh connection. All bounded, so a server cannot keep us looping.
                const bool retry = h && r.retries < MaxRetries &&
                                   (unused || local || ((dropped || tlsFailed) && r.retries == 0));
                if (retry) {
                    ++r.retries;
                    requeue.push_back(std::move(r));
                    continue;
                }
                if (!r.hasContext || r.context)
                    r.done(mine);
            }
            if (!h)
                return;
            if (noSocket) {
                // Out of descriptors: for a while, fewer connections than the others open now (this one
                // never opened), leaving some to DNS and the database; its requests wait in line.
                m_learntCap = std::max(1, (m_open - 1) * 3 / 4);
                m_learntCapUntil = QDeadlineTimer(LearntCapLifetime);
                m_socketPauseUntil = QDeadlineTimer(SocketPause);
            }
            if (session->recipientLimitHit()) {
                // Never ask this server for more recipients per connection than it took (for an hour).
                h->learntRcptLimit = std::max(1, session->recipientsBeforeLimit());
                h->learntRcptLimitUntil = QDeadlineTimer(LearntLimitLifetime);
            }
            for (auto it = requeue.rbegin(); it != requeue.rend(); ++it)
                h->queue.push_front(std::move(*it));
            // After a greylisting 4xx the retry goes on a fresh connection: some receivers (Postfix
            // postscreen) only let a client through once it reconnects.
            release(*h, session, greylisted);
        },
        last);
}

void Prober::retire(Host &host, Session *session)
{
    // QUIT, and keep counting the connection against the limit until the server has closed it: a new one
    // opened meanwhile would be one too many at once.
    host.rcptsUsed.remove(session);
    m_idle.remove(session);
    const QString hostKey = key(host.address);
    auto gone = [this, hostKey, session] {
        if (auto it = m_hosts.find(hostKey); it != m_hosts.end()) {
            dropSession(**it, session);
            dispatch(**it);
        }
        session->deleteLater();
    };
    session->quit();
    if (session->isClosed())
        gone();
    else
        connect(session, &Session::closed, this, gone, Qt::SingleShotConnection);
}

void Prober::armIdleTimer(Host &host, Session *session)
{
    // One restartable timer per session: whenever it is left idle it waits this long for more work at
    // the same server, then says goodbye.
    auto *timer = session->findChild<QTimer *>(u"idle"_s, Qt::FindDirectChildrenOnly);
    if (!timer) {
        timer = new QTimer(session);
        timer->setObjectName(u"idle"_s);
        timer->setSingleShot(true);
        const QString hostKey = key(host.address);
        connect(timer, &QTimer::timeout, this, [this, hostKey, session] {
            auto it = m_hosts.find(hostKey);
            if (it == m_hosts.end() || session->isBusy() || !(*it)->rcptsUsed.contains(session))
                return;
            retire(**it, session);
        });
    }
    timer->start(m_config.idleSessionMs);
    m_idle.insert(session, {QDeadlineTimer::current().deadline(), key(host.address)});
}

void Prober::release(Host &host, Session *session, bool retireNow)
{
    const bool spent =
        retireNow || session->isClosed() || session->quitSent() || session->tooManyRejections() ||
        session->blocked() || session->recipientLimitHit() ||
        host.rcptsUsed.value(session) >= std::min(m_config.maxRcptsPerSession, host.rcptLimit());
    // Nothing more for it here while other hosts wait for a place: it goes now rather than when idle.
    const bool wanted = !m_waitingForSlot.empty() && host.queue.empty();
    if (spent || wanted)
        retire(host, session);
    else
        armIdleTimer(host, session);
    dispatch(host);
}

} // namespace mailcaff::smtp
