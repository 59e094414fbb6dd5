#pragma once

#include "reply.h"

namespace mailcaff::smtp {

/// What a reply says about the mailbox (or about our probe). The verifier maps it to status and reason.
enum class Verdict {
    Accepted,        ///< 2xx to RCPT
    MailboxNotFound, ///< 5.1.1, "user unknown", "no such user", "does not exist", "unrouteable address" …
    MailboxDisabled, ///< 5.2.1, "disabled", "inactive", "suspended" …
    MailboxFull,     ///< 452/552 with x.2.2 or "over quota", "mailbox full" …
    TryLater,        ///< 4xx that is not a block: greylisting, "try again later", temporary failures
    Blocked,         ///< our probe refused for policy or reputation (5.7.x, Spamhaus, "blocked", rDNS …):
                     ///< says nothing about the mailbox
    Unknown          ///< anything else (unrecognised 5xx without a mailbox enhanced code, odd codes)
};

/// Where in the dialogue the reply came; a 5xx to MAIL FROM or the banner is about us, never the mailbox.
enum class Stage { Banner, Helo, MailFrom, RcptTo };

/// Classifies a reply by code, RFC 3463 enhanced code and text, in that order of trust, with the texts of
/// the common servers and providers (Postfix, Exim, Sendmail, Microsoft 365, Gmail, Yahoo, Mimecast,
/// Proofpoint, Spamhaus-based blocks …). Never turns a block or a transient failure into "not found".
Verdict classify(const Reply &reply, Stage stage = Stage::RcptTo);

QString toString(Verdict verdict);

} // namespace mailcaff::smtp
