#pragma once

#include "core/result.h"
#include "session.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QObject>
#include <QPointer>

#include <deque>
#include <functional>
#include <limits>
#include <memory>

namespace mailcaff::smtp {

/// Grants connections to a mail server address to the processes that share it: servers on one database
/// count their connections together (verify::SharedSessionLimiter), so that `maxSessionsPerHost` holds
/// for all of them, not for each.
class SessionLimiter
{
public:
    virtual ~SessionLimiter() = default;
    /// One of `max` connections to `address`: a non-empty token when granted, empty when all are in use.
    virtual QString acquire(const QString &address, int max) = 0;
    virtual void release(const QString &address, const QString &token) = 0;
};

/// Politeness limits per mail server address.
struct ProberConfig
{
    SessionConfig session;
    int maxSessionsPerHost = 2;  ///< concurrent connections to one MX address
    int maxRcptsPerSession = 20; ///< recipients per connection before a fresh one
    int maxRcptsPerTransaction = 20;
    int idleSessionMs = 5'000; ///< a pooled connection waits this long for more work, then QUITs
    int backoffMs = 30'000;    ///< after a 421 or a refused connection, leave the MX alone this long
    /// Null: the limits are this process's. Set: each new connection also needs a grant from it.
    std::shared_ptr<SessionLimiter> limiter;
    int limiterRetryMs = 250; ///< how soon to ask again when every grant is taken elsewhere
    /// Connections open at once to all servers together (0: no limit). Each is an open file and the process
    /// has only so many: past the limit a pooled connection waiting for work elsewhere says goodbye, or the
    /// request waits its turn (its deadline, for bulk work, standing still).
    int maxSessions = 0;
};

/// Runs RCPT probes against mail servers with a small pool of sessions per MX address: requests for the
/// same address queue up and share connections and transactions (several RCPTs each, RSET between), no
/// more than `maxSessionsPerHost` connections at once, a fresh connection after too many rejections or
/// recipients, and a back-off after the server says it is busy. Recipients of one request (the address and
/// its catch-all probe) always travel in the same transaction.
class Prober : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Prober)
public:
    explicit Prober(const ProberConfig &config, QObject *parent = nullptr);
    ~Prober() override;

    using Done = std::function<void(const QList<RcptOutcome> &)>;
    /// Probes `recipients` at `address` (the MX `mxHost`). `done` runs on this thread unless `context` is
    /// gone by then. Interactive requests queue ahead of bulk ones. `started`, when given, runs when the
    /// request leaves the queue for a session (the wait for a turn is over).
    void probe(const QString &mxHost, const QHostAddress &address, const QStringList &recipients,
               QObject *context, Done done, core::Priority priority = core::Priority::Interactive,
               std::function<void()> started = {});

    const ProberConfig &config() const { return m_config; }
    /// Connections opened so far, for statistics and tests.
    int connectionsOpened() const { return m_connectionsOpened; }
    /// Connections counted against `maxSessions` now (from opening until closed), for tests.
    int sessionsOpen() const { return m_open; }

private:
    struct Request
    {
        QStringList recipients;
        QPointer<QObject> context;
        bool hasContext = false;
        Done done;
        int retries = 0; ///< times sent back to the queue (unused, dropped, TLS failed): bounded
        bool utf8 = false;
        core::Priority priority = core::Priority::Interactive;
        std::function<void()> started;
    };
    struct Host
    {
        QString mxHost;
        QHostAddress address;
        std::deque<Request> queue;
        QList<Session *> sessions;
        QHash<Session *, int> rcptsUsed; ///< sessions that take work; retiring ones are not in it
        QDeadlineTimer backoffUntil;     ///< default: expired
        Failure backoffFailure = Failure::TryLater;
        Reply backoffReply;
        bool backoffTimerArmed = false;
        int learntRcptLimit = std::numeric_limits<int>::max(); ///< from "452 4.5.3 too many recipients"
        QDeadlineTimer learntRcptLimitUntil;
        QDeadlineTimer tlsBrokenUntil;    ///< STARTTLS handshakes fail here: plain text until then
        QHash<Session *, QString> grants; ///< the limiter's token for each session that holds one
        bool limiterTimerArmed = false;
        int rcptLimit() const
        {
            return learntRcptLimitUntil.hasExpired() ? std::numeric_limits<int>::max() : learntRcptLimit;
        }
    };

    Host &hostFor(const QString &mxHost, const QHostAddress &address);
    void dispatch(Host &host);
    void answerFromBackoff(Host &host);
    void run(Host &host, Session *session);
    void release(Host &host, Session *session, bool retireNow);
    void retire(Host &host, Session *session);
    void armIdleTimer(Host &host, Session *session);
    /// The session is gone: its grant, if any, goes back to the limiter.
    void releaseGrant(Host &host, Session *session);
    /// Every grant is taken elsewhere: dispatch again a little later.
    void waitForGrant(Host &host);
    /// The session is closed: it leaves its host and gives back its grant and its place under maxSessions.
    void dropSession(Host &host, Session *session);
    /// Whether `host` may open one more connection under maxSessions. When not, it waits in line for a
    /// place, and the longest-idle pooled connection at another host is asked to make one.
    bool takeSlot(Host &host);
    /// Places came free: the hosts waiting in line dispatch, first come first served.
    void wakeWaiting();
    int sessionCap() const;
    static QString key(const QHostAddress &address) { return address.toString(); }

    ProberConfig m_config;
    QHash<QString, std::shared_ptr<Host>> m_hosts;
    int m_connectionsOpened = 0;
    int m_open = 0; ///< sessions of every host, from opening until closed
    /// Pooled connections waiting for work, each with when it became idle and its host's key: the first to
    /// go when another host needs a place under maxSessions.
    QHash<Session *, std::pair<qint64, QString>> m_idle;
    std::deque<QString> m_waitingForSlot; ///< hosts (keys) that want a connection and found no place
    bool m_wakeQueued = false;
    bool m_slotTimerArmed = false;
    /// Learnt when the system would not give us a socket: no more connections than we then had, for a while,
    /// and none at all for a moment.
    int m_learntCap = std::numeric_limits<int>::max();
    QDeadlineTimer m_learntCapUntil;
    QDeadlineTimer m_socketPauseUntil;
};

} // namespace mailcaff::smtp
