#include "scoring.h"

#include <algorithm>

namespace mailcaff::core {

std::pair<int, int> scoreRange(Status status)
{
    switch (status) {
    case Status::Valid:
        return {90, 100};
    case Status::Risky:
        return {40, 85};
    case Status::Unknown:
        return {40, 45};
    case Status::Disposable:
        return {0, 10};
    case Status::Invalid:
        return {5, 10};
    case Status::Error:
        return {0, 0};
    }
    return {0, 0};
}

namespace {

Score clamped(Status status, int score, Reason reason)
{
    const auto [lo, hi] = scoreRange(status);
    return {status, std::clamp(score, lo, hi), reason};
}

/// Role and free addresses reach a person less reliably (shared inboxes, abandoned free accounts): a small
/// penalty inside the status's range, never a change of status.
int penalties(const Signals &s)
{
    return (s.role ? 10 : 0) + (s.free ? 5 : 0);
}

} // namespace

static Score scoreDeliverability(const Signals &s);

Score scoreSignals(const Signals &s)
{
    const Score score = scoreDeliverability(s);
    // A known spam trap is never worth sending to, however it answers: whatever would have been valid or
    // risky becomes risky below 50 ("likely not"), keeping the reason that describes what we observed.
    if (s.spamTrap && (score.status == Status::Valid || score.status == Status::Risky))
        return clamped(Status::Risky, 40, score.reason);
    return score;
}

static Score scoreDeliverability(const Signals &s)
{
    using D = Signals::Domain;
    using S = Signals::Smtp;

    if (!s.syntaxValid)
        return clamped(Status::Invalid, 5, Reason::InvalidSyntax);
    // Disposable providers are decided before any DNS or SMTP verdict (API.md).
    if (s.disposable)
        return clamped(Status::Disposable, 5, Reason::DisposableDomain);

    switch (s.domain) {
    case D::NotFound:
        return clamped(Status::Invalid, 5, Reason::DomainNotFound);
    case D::NoMail:
        return clamped(Status::Invalid, 5, Reason::NoMxRecords);
    case D::NullMx:
        return clamped(Status::Invalid, 5, Reason::NullMx);
    case D::DnsFailure:
        // A DNS failure says nothing about the domain: never invalid.
        return clamped(Status::Unknown, 40, Reason::DnsError);
    case D::Unchecked:
    case D::Mx:
    case D::ImplicitMx:
        break;
    }

    if (s.mode == Mode::Quick || s.smtp == S::NotTried) {
        // Quick mode: 50–75 from the signals we have. A domain publishing MX records is a better sign
        // than one that only has an address (implicit MX, often a web host that takes no mail).
        int score = s.domain == D::ImplicitMx ? 65 : 75;
        if (s.acceptAllGateway)
            score -= 5;
        score -= penalties(s);
        return {Status::Risky, std::clamp(score, 50, 75), Reason::QuickCheck};
    }

    switch (s.smtp) {
    case S::Accepted:
        if (s.acceptAllGateway)
            return clamped(Status::Risky, 70 - penalties(s), Reason::AcceptAllGateway);
        if (s.catchAll.value_or(false))
            return clamped(Status::Risky, 70 - penalties(s), Reason::CatchAll);
        if (!s.catchAll.has_value())
            // Accepted, but the catch-all probe could not tell: likely deliverable, not confirmed.
            return clamped(Status::Risky, 80 - penalties(s), Reason::Accepted);
        return clamped(Status::Valid, 100 - penalties(s), Reason::Accepted);
    case S::MailboxNotFound:
        return clamped(Status::Invalid, 10, Reason::MailboxNotFound);
    case S::MailboxDisabled:
        return clamped(Status::Invalid, 10, Reason::MailboxDisabled);
    case S::MailboxFull:
        return clamped(Status::Risky, 45, Reason::MailboxFull);
    case S::Greylisted:
        return clamped(Status::Unknown, 45, Reason::Greylisted);
    case S::Timeout:
        return clamped(Status::Unknown, 40, Reason::SmtpTimeout);
    case S::ConnectFailed:
        return clamped(Status::Unknown, 40, Reason::SmtpConnectFailed);
    case S::Blocked:
        return clamped(Status::Unknown, 45, Reason::SmtpBlocked);
    case S::NotTried:
        break;
    }
    return clamped(Status::Unknown, 40, Reason::SmtpConnectFailed);
}

} // namespace mailcaff::core
