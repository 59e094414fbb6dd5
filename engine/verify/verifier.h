#pragma once

#include "core/deadlines.h"
#include "core/result.h"
#include "net/targetpolicy.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QObject>
#include <QPointer>
#include <QSet>

#include <functional>
#include <memory>
#include <optional>

class QElapsedTimer;

namespace mailcaff::core {
class EmailAddress;
struct Signals;
} // namespace mailcaff::core
namespace mailcaff::dns {
class Resolver;
struct MailRoute;
} // namespace mailcaff::dns
namespace mailcaff::lists {
class Lists;
}
namespace mailcaff::smtp {
class Prober;
}

namespace mailcaff::verify {

class ResultCache;

/// Power mode's bounds.
struct PowerConfig
{
    int deadlineMs = 60'000; ///< a power verification answers within this, whatever the servers do
    /// Waits before asking a greylisting server again (from the same sender and address, as greylisting
    /// expects), as long as the deadline allows.
    QList<int> greylistRetryMs{5'000, 15'000, 30'000};
    int catchAllCacheSeconds = 24 * 3600;
    net::TargetPolicy targetPolicy = net::TargetPolicy();
};

/// The verification pipeline: syntax, lists, DNS and, in power mode, the SMTP dialogue with the domain's
/// mail servers (MX in preference order, each MX's addresses in turn, the catch-all probe in the same
/// transaction, greylisting retried within the deadline). Lives on the engine thread with the resolver
/// and the prober; every step is asynchronous.
class Verifier : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Verifier)
public:
    /// Without a prober, only quick mode is available.
    Verifier(dns::Resolver *resolver, std::shared_ptr<const lists::Lists> lists,
             smtp::Prober *prober = nullptr, const PowerConfig &power = PowerConfig(),
             QObject *parent = nullptr);

    /// Power results are kept there and reused by both modes while fresh (none by default).
    void setResultCache(ResultCache *cache) { m_cache = cache; }

    ~Verifier() override;

    /// `done` runs on this object's thread, unless `context` was destroyed first. A bulk verification
    /// queues behind interactive ones at a busy mail server, and its deadline waits while it queues.
    void verify(const QString &email, core::Mode mode, QObject *context,
                std::function<void(const core::VerificationResult &)> done,
                core::Priority priority = core::Priority::Interactive);

    /// Thread-safe: the answer verify() would give, when it can be given at once, without waiting for DNS or
    /// SMTP (bad syntax, a cached power result, or a cached mail route that decides without SMTP); else
    /// nothing, and verify() has to run.
    std::optional<core::VerificationResult> verifyNow(const QString &email, core::Mode mode) const;
    /// Thread-safe: verifyNow() of `emails` about to come from this thread; what the result cache holds
    /// for them is read at once (ResultCache::beginBatch) until ResultCache::endBatch(). `forVerify`: read
    /// in the same query for the verify() calls about to follow, which then need not ask again.
    void beginVerifyNowBatch(const QStringList &emails, const QStringList &forVerify = {}) const;
    /// Catch-all knowledge per domain, learnt from the random-recipient probe.
    std::optional<bool> cachedCatchAll(const QString &asciiDomain) const;
    void rememberCatchAll(const QString &asciiDomain, bool catchAll);
    /// The random address probed at a domain while its catch-all answer is unknown. The same one for an
    /// hour: a greylisting server lets a triplet through only when it comes back, so a later check of the
    /// domain (a bulk item tried again after greylisting) must ask about the same address.
    QString probeRecipient(const QString &asciiDomain);

private:
    friend class PowerCheck;
    /// Syntax, the result cache, the lists: true when `result` is final already.
    bool begin(const core::EmailAddress &address, core::VerificationResult &result, core::Signals &s,
               const QElapsedTimer &timer) const;
    /// What the domain's mail route says: true when the verdict needs the mail server (power mode).
    bool applyRoute(const dns::MailRoute &route, core::VerificationResult &result, core::Signals &s) const;
    /// `settled` runs (later, on this thread, unless `context` is gone) once the domain's probe in flight
    /// has answered or given up.
    void waitForCatchAll(const QString &asciiDomain, QObject *context, std::function<void()> settled);
    /// The domain's probe is over: its waiters decide now (queued: never inside the caller's stack).
    void catchAllSettled(const QString &asciiDomain);
    dns::Resolver *m_resolver;
    std::shared_ptr<const lists::Lists> m_lists;
    smtp::Prober *m_prober;
    PowerConfig m_power;
    ResultCache *m_cache = nullptr;
    core::Deadlines m_deadlines; ///< the power checks' deadlines: one Qt timer for all of them
    struct CatchAll
    {
        bool value;
        QDeadlineTimer expires;
    };
    QHash<QString, CatchAll> m_catchAll;
    QSet<QString> m_catchAllProbing; ///< domains with a random-address probe in flight
    QMultiHash<QString, std::pair<QPointer<QObject>, std::function<void()>>> m_catchAllWaiters;
    struct ProbeRecipient
    {
        QString address;
        QDeadlineTimer expires;
    };
    QHash<QString, ProbeRecipient> m_probeRecipients;
};

} // namespace mailcaff::verify
