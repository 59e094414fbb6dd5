#pragma once

#include "result.h"

#include <optional>

namespace mailcaff::core {

/// What the pipeline learned about an address, before it is turned into a status and a score.
struct Signals
{
    enum class Domain { Unchecked, Mx, ImplicitMx, NullMx, NoMail, NotFound, DnsFailure };
    /// The SMTP verdict for the recipient (power mode only).
    enum class Smtp {
        NotTried,
        Accepted,
        MailboxNotFound,
        MailboxDisabled,
        MailboxFull,
        Greylisted,
        Timeout,
        ConnectFailed,
        Blocked
    };

    Mode mode = Mode::Quick;
    bool syntaxValid = true;
    Domain domain = Domain::Unchecked;
    bool disposable = false;
    bool role = false;
    bool free = false;
    bool spamTrap = false;
    Smtp smtp = Smtp::NotTried;
    std::optional<bool> catchAll;  ///< power mode: did a random address at the domain get accepted?
    bool acceptAllGateway = false; ///< the MX belongs to a provider known to accept every RCPT
};

struct Score
{
    Status status = Status::Error;
    int qualityScore = 0;
    Reason reason = Reason::QuickCheck;
};

/// The one place where signals become status, quality_score and reason (API.md's table). Each status stays
/// inside its documented score range whatever the signals.
Score scoreSignals(const Signals &s);

/// Score range of a status per API.md (quick mode's risky results use 50–75 within risky's 40–85).
std::pair<int, int> scoreRange(Status status);

} // namespace mailcaff::core
