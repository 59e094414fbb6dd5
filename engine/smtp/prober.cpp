#include "prober.h"

#include <QTimer>

using namespace Qt::StringLiterals;

namespace mailcaff::smtp {

Prober::Prober(const ProberConfig &config, QObject *parent)
    : QObject(parent)
    , m_config(config)
{
}

Prober::~Prober()
{
    for (const auto &host : std::as_const(m_hosts)) {
        for (Session *s : std::as_const(host->sessions))
            s->disconnect(this);
    }
}

Prober::Host &Prober::hostFor(const QString &mxHost, const QHostAddress &address)
{
    auto &slot = m_hosts[key(address)];
    if (!slot) {
        slot = std::make_shared<Host>();
        slot->mxHost = mxHost;
        slot->address = address;
    }
    return *slot;
}

void Prober::probe(const QString &mxHost, const QHostAddress &address, const QStringList &recipients,
                   QObject *context, Done done)
{
    Host &host = hostFor(mxHost, address);
    host.queue.push_back(Request{recipients, context, context != nullptr, std::move(done)});
    dispatch(host);
}

void Prober::dispatch(Host &host)
{
    // Connections the server closed while idle (e.g. "421 idle timeout") no longer count.
    for (qsizetype i = host.sessions.size() - 1; i >= 0; --i) {
        Session *s = host.sessions.at(i);
        if (s->isClosed() && !s->isBusy()) {
            host.sessions.removeAt(i);
            host.rcptsUsed.remove(s);
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
        for (Session *s : std::as_const(host.sessions)) {
            if (!s->isBusy() && !s->isClosed() && host.rcptsUsed.contains(s)) {
                idle = s;
                break;
            }
        }
        if (!idle) {
            if (host.sessions.size() >= m_config.maxSessionsPerHost)
                return; // a session becoming free calls dispatch() again
            if (!host.backoffUntil.hasExpired()) {
                // The server asked us to slow down, or would not answer: tell what waits the same thing
                // rather than hammer it again.
                while (!host.queue.empty()) {
                    Request r = std::move(host.queue.front());
                    host.queue.pop_front();
                    QList<RcptOutcome> outcomes;
                    const Verdict verdict =
                        host.backoffFailure == Failure::TryLater ? Verdict::TryLater : Verdict::Unknown;
                    for (const QString &rcpt : std::as_const(r.recipients))
                        outcomes.append(RcptOutcome{rcpt, host.backoffFailure, host.backoffReply, verdict});
                    if (!r.hasContext || r.context)
                        r.done(outcomes);
                }
                return;
            }
            idle = new Session(host.mxHost, host.address, m_config.session, this);
            ++m_connectionsOpened;
            host.sessions.append(idle);
            host.rcptsUsed.insert(idle, 0);
        }
        run(host, idle);
    }
}

void Prober::run(Host &host, Session *session)
{
    // Whole requests, in order, up to the transaction's recipient limit (at least one request).
    auto batch = std::make_shared<std::vector<Request>>();
    QStringList recipients;
    const int room =
        std::min({m_config.maxRcptsPerTransaction, host.maxRcpts,
                  std::min(m_config.maxRcptsPerSession, host.maxRcpts) - host.rcptsUsed.value(session)});
    while (!host.queue.empty()) {
        Request &next = host.queue.front();
        if (next.hasContext && !next.context) {
            host.queue.pop_front();
            continue;
        }
        if (!batch->empty() && recipients.size() + next.recipients.size() > room)
            break;
        recipients += next.recipients;
        batch->push_back(std::move(next));
        host.queue.pop_front();
    }
    if (batch->empty())
        return;
    host.rcptsUsed[session] += int(recipients.size());
    const QString hostKey = key(host.address);
    session->transaction(recipients, [this, hostKey, session, batch](const QList<RcptOutcome> &outcomes) {
        auto hostIt = m_hosts.find(hostKey);
        Host *h = hostIt == m_hosts.end() ? nullptr : hostIt->get();
        qsizetype at = 0;
        std::vector<Request> requeue;
        for (Request &r : *batch) {
            const QList<RcptOutcome> mine = outcomes.mid(at, r.recipients.size());
            at += r.recipients.size();
            bool unused = false;
            bool dropped = false;
            for (const RcptOutcome &o : mine) {
                unused = unused || o.failure == Failure::Unused;
                dropped = dropped || o.failure == Failure::Dropped;
                // The server said it is busy, or would not take a connection: leave it alone for a while.
                if (h && ((o.failure == Failure::TryLater && o.reply.code == 421) ||
                          o.failure == Failure::ConnectFailed || o.failure == Failure::Timeout)) {
                    h->backoffUntil = QDeadlineTimer(m_config.backoffMs);
                    h->backoffFailure = o.failure;
                    h->backoffReply = o.reply;
                }
            }
            // A server that hung up mid-dialogue gets one more chance on a fresh connection.
            if (dropped && h && r.reconnects++ == 0)
                unused = true;
            if (unused && h) {
                // The session stopped after too many rejections: these go first to a fresh session.
                requeue.push_back(std::move(r));
                continue;
            }
            if (!r.hasContext || r.context)
                r.done(mine);
        }
        if (h && session->recipientLimitHit()) {
            // Learn the server's recipient limit: never ask it for more per connection again.
            h->maxRcpts = std::max(1, h->rcptsUsedBeforeLimit(session, outcomes));
        }
        if (h) {
            for (auto it = requeue.rbegin(); it != requeue.rend(); ++it)
                h->queue.push_front(std::move(*it));
            release(*h, session);
        }
    });
}

void Prober::retire(Host &host, Session *session)
{
    // QUIT, and keep counting the connection against the limit until the server has closed it: a new one
    // opened meanwhile would be one too many at once.
    host.rcptsUsed.remove(session);
    const QString hostKey = key(host.address);
    auto gone = [this, hostKey, session] {
        auto it = m_hosts.find(hostKey);
        if (it != m_hosts.end()) {
            (*it)->sessions.removeOne(session);
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

void Prober::release(Host &host, Session *session)
{
    const bool spent = session->isClosed() || session->tooManyRejections() || session->recipientLimitHit() ||
                       host.rcptsUsed.value(session) >= std::min(m_config.maxRcptsPerSession, host.maxRcpts);
    if (spent) {
        retire(host, session);
    } else if (host.queue.empty()) {
        // Keep the connection a moment for more addresses at the same server, then say goodbye.
        QPointer<Session> guard(session);
        const QString hostKey = key(host.address);
        QTimer::singleShot(m_config.idleSessionMs, this, [this, guard, hostKey] {
            if (!guard || guard->isBusy())
                return;
            auto it = m_hosts.find(hostKey);
            if (it == m_hosts.end())
                return;
            Host &h = **it;
            if (h.sessions.contains(guard.data()) && h.queue.empty())
                retire(h, guard.data());
        });
    }
    dispatch(host);
}

} // namespace mailcaff::smtp
