#include "verifier.h"

#include "core/emailaddress.h"
#include "core/scoring.h"
#include "dns/resolver.h"
#include "lists/lists.h"
#include "providers.h"
#include "resultcache.h"
#include "smtp/prober.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QRandomGenerator>
#include <QTimer>

using namespace Qt::StringLiterals;

namespace mailcaff::verify {

using core::Signals;

namespace {

Signals::Domain domainSignal(const dns::MailRoute &route)
{
    using K = dns::MailRoute::Kind;
    switch (route.kind) {
    case K::Mx:
        return Signals::Domain::Mx;
    case K::ImplicitMx:
        return Signals::Domain::ImplicitMx;
    case K::NullMx:
        return Signals::Domain::NullMx;
    case K::NoMail:
        return Signals::Domain::NoMail;
    case K::NxDomain:
        return Signals::Domain::NotFound;
    case K::Failure:
        return Signals::Domain::DnsFailure;
    }
    return Signals::Domain::DnsFailure;
}

void finish(core::VerificationResult &r, const Signals &s, const QElapsedTimer &timer)
{
    const core::Score score = core::scoreSignals(s);
    r.status = score.status;
    r.qualityScore = score.qualityScore;
    r.reason = score.reason;
    r.isValid = r.status == core::Status::Valid;
    r.responseMs = timer.elapsed();
}

Signals::Smtp smtpSignal(smtp::Verdict verdict)
{
    using V = smtp::Verdict;
    switch (verdict) {
    case V::Accepted:
        return Signals::Smtp::Accepted;
    case V::MailboxNotFound:
        return Signals::Smtp::MailboxNotFound;
    case V::MailboxDisabled:
        return Signals::Smtp::MailboxDisabled;
    case V::MailboxFull:
        return Signals::Smtp::MailboxFull;
    case V::TryLater:
        return Signals::Smtp::Greylisted;
    case V::Blocked:
    case V::Unknown:
        // An unexplained refusal is not evidence the mailbox is missing: reported like a block.
        return Signals::Smtp::Blocked;
    }
    return Signals::Smtp::Blocked;
}

/// What an outcome says: the RCPT verdict when there was one, else why the session failed. A 421 or other
/// 4xx before RCPT (busy, too many connections) means we could not get through: connect_failed.
Signals::Smtp outcomeSignal(const smtp::RcptOutcome &o)
{
    using F = smtp::Failure;
    switch (o.failure) {
    case F::None:
        return smtpSignal(o.verdict);
    case F::Timeout:
        return Signals::Smtp::Timeout;
    case F::Refused:
        return Signals::Smtp::Blocked;
    default:
        return Signals::Smtp::ConnectFailed;
    }
}

/// A local part nobody has: 16 random lowercase letters and digits, starting with a letter.
QString randomLocalPart()
{
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    QString s;
    auto *rng = QRandomGenerator::global();
    s += QLatin1Char(alphabet[rng->bounded(26)]);
    for (int i = 0; i < 15; ++i)
        s += QLatin1Char(alphabet[rng->bounded(36)]);
    return s;
}

} // namespace

/// One power-mode verification in flight: walks the MX hosts and their addresses, probes, retries a
/// greylisting server, and finishes exactly once, by the deadline at the latest.
class PowerCheck : public QObject
{
public:
    using Done = std::function<void(const core::VerificationResult &)>;
    PowerCheck(Verifier *verifier, std::shared_ptr<core::VerificationResult> result, Signals s,
               QElapsedTimer timer, core::EmailAddress address, dns::MailRoute route, core::Priority priority,
               Done done)
        : QObject(verifier)
        , m_verifier(verifier)
        , m_result(std::move(result))
        , m_signals(std::move(s))
        , m_timer(timer)
        , m_address(std::move(address))
        , m_route(std::move(route))
        , m_priority(priority)
        , m_done(std::move(done))
        , m_deadline(verifier->m_deadlines, [this] { conclude(); })
        , m_queueWait(verifier->m_deadlines, [this] { conclude(); })
    {
        const int left = std::max(1, verifier->m_power.deadlineMs - int(timer.elapsed()));
        m_deadline.start(left);
        m_catchAll = verifier->cachedCatchAll(m_address.asciiDomain());
    }

    ~PowerCheck() override { releaseProbe(); }

    void start() { nextMx(); }

private:
    void nextMx()
    {
        if (m_finished)
            return;
        if (m_mxIndex >= m_route.mx.size()) {
            conclude();
            return;
        }
        const QString host = m_route.mx.at(m_mxIndex++).host;
        if (m_route.kind == dns::MailRoute::Kind::ImplicitMx) {
            tryAddresses(host, m_route.addresses);
            return;
        }
        m_verifier->m_resolver->lookupAddresses(host, this, [this, host](const dns::AddressAnswer &answer) {
            if (answer.status != dns::DnsStatus::Ok) {
                m_notes.append(u"%1: %2"_s.arg(host, dns::toString(answer.status)));
                nextMx();
                return;
            }
            tryAddresses(host, answer.addresses);
        });
    }

    void tryAddresses(const QString &host, const QList<QHostAddress> &addresses)
    {
        m_host = host;
        m_addresses.clear();
        for (const QHostAddress &a : addresses) {
            if (m_verifier->m_power.targetPolicy.permits(a))
                m_addresses.append(a);
            else
                m_notes.append(u"refused to connect: %1"_s.arg(net::TargetPolicy::describe(a)));
        }
        m_addressIndex = 0;
        nextAddress();
    }

    void nextAddress()
    {
        if (m_finished)
            return;
        if (m_addressIndex >= m_addresses.size()) {
            nextMx();
            return;
        }
        probe(m_addresses.at(m_addressIndex++));
    }

    void probe(const QHostAddress &address)
    {
        m_currentAddress = address;
        QStringList recipients{m_address.ascii()};
        m_probeIndex = -1;
        if (!m_catchAll.has_value())
            m_catchAll = m_verifier->cachedCatchAll(m_address.asciiDomain());
        // One random-address probe per domain at a time: a burst of certain-to-fail RCPTs looks like a
        // directory-harvest attack to Microsoft 365, Proofpoint and Mimecast. Checks that do not hold it
        // read the answer from the cache when they decide.
        if (!m_catchAll.has_value() &&
            (m_holdsProbe || !m_verifier->m_catchAllProbing.contains(m_address.asciiDomain()))) {
            if (!m_holdsProbe) {
                m_verifier->m_catchAllProbing.insert(m_address.asciiDomain());
                m_holdsProbe = true;
            }
            // The same random address on every retry: greylisting lets a triplet through only when it
            // comes back, and a new address each time would never get a definite answer.
            if (m_randomRecipient.isEmpty())
                m_randomRecipient = m_verifier->probeRecipient(m_address.asciiDomain());
            recipients.append(m_randomRecipient);
            m_probeIndex = 1;
        }
        // The domain's catch-all probe goes as if interactive: other checks of the domain wait for its
        // answer, and theirs may be interactive.
        const core::Priority priority = m_probeIndex > 0 ? core::Priority::Interactive : m_priority;
        std::function<void()> started;
        const qint64 waitLeft = MaxQueueWaitMs - m_queueWaited;
        if (priority == core::Priority::Bulk && m_deadline.isActive() && waitLeft > 0) {
            // A bulk item's deadline is for talking to servers: it stands still while the item waits for
            // its turn at a busy one. All its waits together are bounded, so it answers before the job's
            // lease on it runs out.
            m_pausedLeft = std::max(1, m_deadline.remainingTime());
            m_deadline.stop();
            m_queueWait.start(int(waitLeft));
            m_waitClock.start();
            started = [this] { resumeDeadline(); };
        }
        m_verifier->m_prober->probe(
            m_host, address, recipients, this,
            [this](const QList<smtp::RcptOutcome> &outcomes) { onOutcomes(outcomes); }, priority,
            std::move(started));
    }

    /// The wait for a turn is over (the request went to a session, or was answered without one).
    void resumeDeadline()
    {
        if (m_queueWait.isActive()) {
            m_queueWait.stop();
            m_queueWaited += m_waitClock.elapsed();
            if (!m_finished)
                m_deadline.start(m_pausedLeft);
        }
    }

    void releaseProbe()
    {
        if (m_holdsProbe) {
            m_verifier->m_catchAllProbing.remove(m_address.asciiDomain());
            m_holdsProbe = false;
            m_verifier->catchAllSettled(m_address.asciiDomain());
        }
    }

    void onOutcomes(const QList<smtp::RcptOutcome> &outcomes)
    {
        resumeDeadline();
        if (m_finished || outcomes.isEmpty())
            return;
        const smtp::RcptOutcome &o = outcomes.first();
        if (!o.replayed && (o.greeted || o.failure == smtp::Failure::None || o.reply.code != 0))
            m_talked = true; // a server answered us (even if only to say it is busy)
        using F = smtp::Failure;
        switch (o.failure) {
        case F::None:
            break;
        case F::Refused:
            if (o.senderRefused) {
                // Our sender refused: about us, the same at every MX of the domain.
                decide(Signals::Smtp::Blocked, o);
                return;
            }
            // A refused greeting ("554 no SMTP service here", a block on this host): try the next MX.
            rememberFailure(o);
            nextAddress();
            return;
        case F::Unsupported:
            decide(Signals::Smtp::Blocked, o);
            return;
        default:
            // This address did not work (down, tarpit, busy, dropped): the next address, then the next MX.
            noteFailure(o);
            rememberFailure(o);
            nextAddress();
            return;
        }

        if (o.verdict == smtp::Verdict::TryLater) {
            rememberFailure(o);
            scheduleGreylistRetry();
            return;
        }
        if (o.failure == F::None && m_probeIndex > 0 && outcomes.size() > m_probeIndex) {
            // Catch-all only from a definite answer to the random address: never from a 4xx or a block.
            // Learnt whatever this address got: the other checks of the domain need it too.
            const smtp::RcptOutcome &p = outcomes.at(m_probeIndex);
            if (p.failure == F::None) {
                if (p.verdict == smtp::Verdict::Accepted)
                    m_catchAll = true;
                else if (p.verdict == smtp::Verdict::MailboxNotFound ||
                         p.verdict == smtp::Verdict::MailboxDisabled)
                    m_catchAll = false;
                // Only the most preferred MX speaks for the domain: a backup MX often accepts everything
                // and checks later.
                if (m_catchAll && m_mxIndex == 1)
                    m_verifier->rememberCatchAll(m_address.asciiDomain(), *m_catchAll);
            }
        }
        releaseProbe();
        decide(smtpSignal(o.verdict), o);
    }

    /// Why this address gave no answer, in words for `detail` (a reply, when there was one, is in `smtp`).
    void noteFailure(const smtp::RcptOutcome &o)
    {
        using F = smtp::Failure;
        QString what;
        switch (o.failure) {
        case F::ProtocolError:
            what =
                u"broke the SMTP protocol: "_s + (o.problem.isEmpty() ? u"unreadable replies"_s : o.problem);
            break;
        case F::Timeout:
            what = o.greeted ? u"stopped answering mid-dialogue"_s : u"did not answer in time"_s;
            break;
        case F::Dropped:
        case F::ConnectFailed:
            what = o.greeted || o.failure == F::Dropped ? u"closed the connection mid-dialogue"_s
                                                        : u"connection refused or closed"_s;
            break;
        case F::TlsFailed:
            what = u"the TLS handshake failed"_s;
            break;
        case F::LocalLimit:
            what = u"not asked: this computer ran out of open files for new connections (see ulimit -n)"_s;
            break;
        default:
            return;
        }
        if (o.replayed)
            what += u" on a recent connection, so not asked again yet"_s;
        m_notes.append(u"%1 (%2): %3"_s.arg(m_host, m_currentAddress.toString(), what));
    }

    void rememberFailure(const smtp::RcptOutcome &o)
    {
        // The most telling failure is kept: an answer from a server beats a silent one.
        const bool better = !m_lastFailure || o.reply.code != 0 || m_lastFailure->reply.code == 0;
        if (better)
            m_lastFailure = o;
        m_lastHost = m_host;
    }

    void scheduleGreylistRetry()
    {
        const auto &delays = m_verifier->m_power.greylistRetryMs;
        const qint64 left = m_deadline.remainingTime();
        if (m_greylistRetries >= delays.size() || delays.at(m_greylistRetries) + 2'000 > left) {
            decide(Signals::Smtp::Greylisted, *m_lastFailure);
            return;
        }
        const int delay = delays.at(m_greylistRetries++);
        m_waitingRetry = true;
        QTimer::singleShot(delay, this, [this] {
            m_waitingRetry = false;
            if (!m_finished)
                probe(m_currentAddress); // same sender, same server: what greylisting waits for
        });
    }

    /// Out of addresses, or out of time.
    void conclude()
    {
        if (m_finished)
            return;
        m_outOfTime = m_deadline.remainingTime() <= 0;
        if (m_waitingForCatchAll) {
            m_outOfTime = true;
            decide(m_pendingVerdict, m_pendingOutcome); // out of time: as it stands
            return;
        }
        if (m_waitingRetry && m_lastFailure) {
            decide(Signals::Smtp::Greylisted, *m_lastFailure);
            return;
        }
        if (!m_lastFailure) {
            // Deadline with a probe still running, or every address refused by the target policy.
            smtp::RcptOutcome none;
            none.failure = m_addresses.isEmpty() && !m_notes.isEmpty() ? smtp::Failure::ConnectFailed
                                                                       : smtp::Failure::Timeout;
            decide(outcomeSignal(none), none);
            return;
        }
        decide(outcomeSignal(*m_lastFailure), *m_lastFailure);
    }

    void decide(Signals::Smtp verdict, const smtp::RcptOutcome &o)
    {
        if (m_finished)
            return;
        const QString domain = m_address.asciiDomain();
        if (verdict == Signals::Smtp::Accepted && !m_catchAll)
            m_catchAll = m_verifier->cachedCatchAll(domain);
        if (verdict == Signals::Smtp::Accepted && !m_catchAll && !m_holdsProbe && !m_waitingForCatchAll &&
            !m_outOfTime && m_verifier->m_catchAllProbing.contains(domain)) {
            // Another check of this domain is probing it right now: its answer, not "unknown", decides
            // whether this acceptance means anything (the deadline still ends the wait).
            m_waitingForCatchAll = true;
            m_pendingVerdict = verdict;
            m_pendingOutcome = o;
            m_verifier->waitForCatchAll(domain, this, [this] { decide(m_pendingVerdict, m_pendingOutcome); });
            return;
        }
        if (verdict == Signals::Smtp::Accepted && !m_catchAll && !m_holdsProbe && !m_outOfTime &&
            !m_reprobed && !m_currentAddress.isNull() && !m_verifier->m_catchAllProbing.contains(domain)) {
            // Nobody could tell (the probe that ran for the domain got no definite answer, or none ran):
            // ask once more, this time with the random address alongside ours, before saying "unknown".
            m_reprobed = true;
            probe(m_currentAddress);
            return;
        }
        m_finished = true;
        m_deadline.stop();
        m_queueWait.stop();
        releaseProbe();
        core::VerificationResult &r = *m_result;
        m_signals.smtp = verdict;
        m_signals.catchAll = m_catchAll;
        r.canConnectSmtp = m_talked;
        r.isDeliverable = verdict == Signals::Smtp::Accepted;
        r.isCatchAll = m_catchAll;
        if (m_talked)
            r.mxHost = o.reply.code != 0 || o.failure == smtp::Failure::None ? m_host : m_lastHost;
        if (o.reply.code != 0)
            r.smtp = core::SmtpReply{o.reply.code, o.reply.enhancedCode, o.reply.text()};
        if (o.tls && !o.tlsErrors.isEmpty())
            m_notes.append(u"TLS certificate problems (not fatal): "_s + o.tlsErrors.join(u", "_s));
        if (!m_notes.isEmpty())
            r.detail = m_notes.join(u"; "_s);
        finish(r, m_signals, m_timer);
        if (m_verifier->m_cache)
            m_verifier->m_cache->store(m_address.ascii(), r);
        Done done = std::move(m_done);
        done(r);
        deleteLater();
    }

    Verifier *m_verifier;
    std::shared_ptr<core::VerificationResult> m_result;
    Signals m_signals;
    QElapsedTimer m_timer;
    core::EmailAddress m_address;
    dns::MailRoute m_route;
    core::Priority m_priority;
    Done m_done;
    core::Deadline m_deadline;
    core::Deadline
        m_queueWait;      ///< a bulk item waiting for its turn at a server: no longer than MaxQueueWaitMs
    int m_pausedLeft = 0; ///< what was left of the deadline when the wait began
    QElapsedTimer m_waitClock;
    qint64 m_queueWaited = 0; ///< all the waits so far
    /// Under the job runner's lease (300 s) with the deadline added: an item is answered before it is leased
    /// again.
    static constexpr int MaxQueueWaitMs = 180'000;
    qsizetype m_mxIndex = 0;
    QString m_host;
    QString m_lastHost;
    QList<QHostAddress> m_addresses;
    qsizetype m_addressIndex = 0;
    QHostAddress m_currentAddress;
    qsizetype m_probeIndex = -1;
    QString m_randomRecipient;
    bool m_holdsProbe = false;
    std::optional<bool> m_catchAll;
    std::optional<smtp::RcptOutcome> m_lastFailure;
    QStringList m_notes;
    int m_greylistRetries = 0;
    bool m_waitingRetry = false;
    bool m_talked = false;
    bool m_finished = false;
    bool m_waitingForCatchAll = false; ///< accepted; waiting for another check's catch-all probe
    bool m_reprobed = false;           ///< accepted, catch-all unknown: asked once more with the probe
    bool m_outOfTime = false;          ///< past the deadline: decide with what is known
    Signals::Smtp m_pendingVerdict = Signals::Smtp::Accepted;
    smtp::RcptOutcome m_pendingOutcome;
};

Verifier::Verifier(dns::Resolver *resolver, std::shared_ptr<const lists::Lists> lists, smtp::Prober *prober,
                   const PowerConfig &power, QObject *parent)
    : QObject(parent)
    , m_resolver(resolver)
    , m_lists(std::move(lists))
    , m_prober(prober)
    , m_power(power)
{
}

Verifier::~Verifier()
{
    // The checks in flight (children) go while the members they use are still here: QObject would delete
    // them only after the members, the deadline queue among them.
    while (!children().isEmpty())
        delete children().constLast();
}

std::optional<bool> Verifier::cachedCatchAll(const QString &asciiDomain) const
{
    const auto it = m_catchAll.constFind(asciiDomain);
    if (it == m_catchAll.constEnd() || it->expires.hasExpired())
        return std::nullopt;
    return it->value;
}

void Verifier::rememberCatchAll(const QString &asciiDomain, bool catchAll)
{
    m_catchAll.insert(asciiDomain,
                      CatchAll{catchAll, QDeadlineTimer(std::chrono::seconds(m_power.catchAllCacheSeconds))});
    catchAllSettled(asciiDomain);
}

void Verifier::waitForCatchAll(const QString &asciiDomain, QObject *context, std::function<void()> settled)
{
    m_catchAllWaiters.insert(asciiDomain, {QPointer<QObject>(context), std::move(settled)});
}

void Verifier::catchAllSettled(const QString &asciiDomain)
{
    if (!m_catchAllWaiters.contains(asciiDomain))
        return;
    const auto waiters = m_catchAllWaiters.values(asciiDomain);
    m_catchAllWaiters.remove(asciiDomain);
    QMetaObject::invokeMethod(
        this,
        [waiters] {
            for (const auto &[context, settled] : waiters)
                if (context)
                    settled();
        },
        Qt::QueuedConnection);
}

QString Verifier::probeRecipient(const QString &asciiDomain)
{
    auto it = m_probeRecipients.find(asciiDomain);
    if (it != m_probeRecipients.end() && !it->expires.hasExpired())
        return it->address;
    if (m_probeRecipients.size() >= 10'000) // a long run over many domains: drop what has expired
        m_probeRecipients.removeIf([](const auto &entry) { return entry.value().expires.hasExpired(); });
    const QString address = randomLocalPart() + u'@' + asciiDomain;
    m_probeRecipients.insert(asciiDomain, {address, QDeadlineTimer(std::chrono::hours(1))});
    return address;
}

bool Verifier::begin(const core::EmailAddress &address, core::VerificationResult &result, Signals &s,
                     const QElapsedTimer &timer) const
{
    s.mode = result.mode;
    s.syntaxValid = address.isValid();
    if (!address.isValid()) {
        result.detail = address.errorText();
        finish(result, s, timer);
        return true;
    }

    // A fresh power verdict answers either mode without contacting anyone (API.md, quick mode).
    if (m_cache) {
        if (std::optional<core::VerificationResult> cached = m_cache->find(address.ascii())) {
            cached->email = result.email;
            cached->responseMs = timer.elapsed();
            result = *cached;
            return true;
        }
    }

    s.disposable = m_lists->isDisposableDomain(address.asciiDomain());
    s.free = !s.disposable && m_lists->isFreeDomain(address.asciiDomain());
    s.role = m_lists->isRoleLocalPart(address.localPart());
    s.spamTrap = m_lists->isSpamTrap(address.localPart(), address.asciiDomain());
    result.isDisposable = s.disposable;
    result.isFreeEmail = s.free;
    result.isRoleAccount = s.role;
    result.isSpamTrap = s.spamTrap;
    result.didYouMean = m_lists->suggestDomain(address.asciiDomain());
    if (!result.didYouMean.isEmpty())
        result.didYouMean = address.localPart() + u'@' + result.didYouMean;
    return false;
}

bool Verifier::applyRoute(const dns::MailRoute &route, core::VerificationResult &result, Signals &s) const
{
    s.domain = domainSignal(route);
    result.mxAcceptsMail = route.acceptsMail();
    if (route.kind == dns::MailRoute::Kind::Failure)
        result.detail = route.error;
    if (route.kind == dns::MailRoute::Kind::Mx) {
        QStringList hosts;
        for (const auto &mx : route.mx)
            hosts.append(mx.host);
        const Provider provider = identifyProvider(hosts);
        result.smtpProvider = provider.name;
        s.acceptAllGateway = provider.acceptsAllAtRcpt;
    }
    // Power mode talks to the mail server only when everything before allows a verdict from it:
    // disposable providers are decided before any SMTP, dead domains by DNS.
    const bool smtpNeeded = result.mode == core::Mode::Power && !s.disposable && route.acceptsMail();
    if (smtpNeeded && m_prober)
        return true;
    if (result.mode == core::Mode::Power && s.domain != Signals::Domain::DnsFailure && route.acceptsMail())
        s.smtp = Signals::Smtp::NotTried;
    return false;
}

void Verifier::beginVerifyNowBatch(const QStringList &emails, const QStringList &forVerify) const
{
    if (!m_cache)
        return;
    const auto asciiOf = [](const QStringList &list) {
        QStringList addresses;
        addresses.reserve(list.size());
        for (const QString &email : list) {
            const core::EmailAddress address = core::EmailAddress::parse(email);
            if (address.isValid())
                addresses.append(address.ascii());
        }
        return addresses;
    };
    m_cache->beginBatch(asciiOf(emails), asciiOf(forVerify));
}

std::optional<core::VerificationResult> Verifier::verifyNow(const QString &email, core::Mode mode) const
{
    QElapsedTimer timer;
    timer.start();
    const core::EmailAddress address = core::EmailAddress::parse(email);
    core::VerificationResult result;
    result.email = email.trimmed();
    result.mode = mode;
    Signals s;
    if (begin(address, result, s, timer))
        return result;
    const std::optional<dns::MailRoute> route = m_resolver->cachedMailRoute(address.asciiDomain());
    if (!route || applyRoute(*route, result, s))
        return std::nullopt;
    finish(result, s, timer);
    return result;
}

void Verifier::verify(const QString &email, core::Mode mode, QObject *context,
                      std::function<void(const core::VerificationResult &)> done, core::Priority priority)
{
    QElapsedTimer timer;
    timer.start();
    const core::EmailAddress address = core::EmailAddress::parse(email);
    auto result = std::make_shared<core::VerificationResult>();
    result->email = email.trimmed();
    result->mode = mode;
    Signals s;
    if (begin(address, *result, s, timer)) {
        done(*result);
        return;
    }

    // DNS even for disposable domains: mx_accepts_mail must be true to the domain, and the answer is cached.
    QPointer<QObject> guard(context);
    m_resolver->lookupMailRoute(
        address.asciiDomain(), this,
        [this, result, s, timer, address, done = std::move(done), guard, priority,
         hasContext = context != nullptr](const dns::MailRoute &route) mutable {
            if (hasContext && !guard)
                return;
            if (!applyRoute(route, *result, s)) {
                finish(*result, s, timer);
                done(*result);
                return;
            }
            auto *check = new PowerCheck(this, result, s, timer, address, route, priority, std::move(done));
            if (hasContext)
                connect(guard.data(), &QObject::destroyed, check, &QObject::deleteLater);
            check->start();
        });
}

} // namespace mailcaff::verify
