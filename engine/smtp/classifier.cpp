#include "classifier.h"

#include <array>
#include <span>
#include <vector>

using namespace Qt::StringLiterals;

namespace mailcaff::smtp {

namespace {

// What a piece of a reply hints at. Replies are classified from these hints by the rules in classify() below;
// the tables say which code or phrase gives which hint, so a new provider text is one line here.
enum class Hint {
    NotFound,       ///< the text clearly says the mailbox does not exist
    NotFoundWeak,   ///< "address rejected" and the like: not found unless something says policy
    Disabled,       ///< the mailbox exists but is closed
    Full,           ///< the mailbox is over quota
    Greylisting,    ///< a temporary "come back later" by design
    Block,          ///< about our IP, name, domain or volume: reputation lists, rDNS, SPF, rate limits …
    PermanentBlock, ///< block words that, in a 4xx, are a session limit to wait out rather than a block
    AboutUs,        ///< our sender address refused, or relaying denied: says nothing about the recipient
};

struct Phrase
{
    QStringView text;
    bool wholeWord = false; ///< short tokens ("rbl", "ptr", "helo") must not match inside other words
};

struct PhraseRule
{
    Hint hint;
    std::span<const Phrase> phrases;
};

// Texts are matched lower-cased, with runs of white space (line joins, Gmail's double spaces) made single
// and typographic apostrophes made plain.
constexpr Phrase NotFoundPhrases[] = {
    {u"user unknown"}, // Postfix "User unknown in local recipient table", Sendmail, Proofpoint
    {u"unknown user"},
    {u"unknown recipient"},
    {u"recipient unknown"},
    {u"addressee unknown"}, // Sendmail
    {u"unknown local part"},
    {u"unknown or illegal alias"},
    {u"no such user"}, // Exim "No Such User Here", Yandex "No such user!", Barracuda
    {u"no such recipient"},
    {u"no such mailbox"},
    {u"no such account"},
    {u"no such address"},
    {u"does not exist"}, // Gmail "The email account that you tried to reach does not exist", iCloud, Zoho
    {u"doesn't exist"},
    {u"doesnt exist"},
    {u"unrouteable address"}, // Exim
    {u"unroutable address"},
    {u"user not found"}, // mail.ru "Local mailbox … is unavailable: user not found"
    {u"recipient not found"},
    {u"mailbox not found"},
    {u"address not found"},
    {u"account not found"},
    {u"recipnotfound"}, // Microsoft "RESOLVER.ADR.RecipNotFound"
    {u"recipientnotfound"},
    {u"invalid recipient"}, // Mimecast "Invalid Recipient"
    {u"recipient invalid"},
    {u"invalid mailbox"},
    {u"no mailbox"},
    {u"not a valid mailbox"},
    {u"not a valid recipient"},
    {u"user doesn't have a"}, // Yahoo/AOL "This user doesn't have a yahoo.com account"
    {u"doesn't have an account"},
    {u"not our customer"}, // Comcast
};

constexpr Phrase NotFoundWeakPhrases[] = {
    {u"address rejected"}, // Postfix "Recipient address rejected: …", IronPort "#5.1.0 Address rejected"
    {u"recipient rejected"}, {u"invalid address"}, {u"bad recipient"}, {u"undeliverable address"},
};

constexpr Phrase DisabledPhrases[] = {
    {u"disabled"}, // Gmail 5.2.1 "The email account that you tried to reach is disabled", Yahoo "mailbox is
                   // disabled"
    {u"inactive"},
    {u"deactivated"},
    {u"suspended"},
    {u"no longer active"},
    {u"not active"},
    {u"no longer available"},
    {u"no longer in use"},
    {u"account expired"},
    {u"account closed"},
    {u"account has been closed"},
};

constexpr Phrase FullPhrases[] = {
    {u"over quota"}, // Gmail 452/552 "is over quota"
    {u"quota exceeded"},
    {u"exceeded quota"},
    {u"exceeds quota"},
    {u"exceeded its quota"},
    {u"storage quota"},
    {u"mailbox full"}, // Postfix/Dovecot "Mailbox full"
    {u"mailbox is full"},
    {u"full mailbox"},
    {u"inbox is full"},
    {u"inbox full"},
    {u"mailbox has exceeded"},
    {u"mailbox size limit"},          // Yandex "Mailbox size limit exceeded"
    {u"exceeded storage allocation"}, // RFC 5321 section 4.2.2 text for 552
    {u"insufficient storage"}, // not "insufficient system storage": that is the server's disk (452 4.3.1)
    {u"out of storage"},
};

constexpr Phrase GreylistingPhrases[] = {
    {u"greylist"}, // postgrey "Greylisted, see http://postgrey.schweikert.ch/help/…"
    {u"graylist"}, {u"grey-list"}, {u"gray-list"}, {u"grey listed"}, {u"gray listed"}, {u"postgrey"},
};

constexpr Phrase BlockPhrases[] = {
    {u"spamhaus"}, // "blocked using zen.spamhaus.org", Yahoo [BL21] "the ip is in Spamhaus's list"
    {u"spamcop"},
    {u"spam"}, // Gmail 5.7.1 "likely unsolicited mail … spam", mail.ru "spam message rejected", Yandex
    {u"unsolicited"},
    {u"blocked"}, // Proofpoint "Blocked - see ipcheck", Mimecast "envelope blocked", Microsoft S3150
    {u"blocklist"},
    {u"block list"},
    {u"blacklist"},
    {u"black list"},
    {u"denylist"},
    {u"deny list"},
    {u"listed in"},
    {u"listed on"},
    {u"listed at"},
    {u"listed by"},
    {u"dnsbl"},
    {u"rbl", true},
    {u"reputation"}, // Barracuda Reputation, "poor reputation"
    {u"policy"},
    {u"client host"}, // Postfix "Client host rejected: cannot find your reverse hostname"
    {u"reverse dns"},
    {u"reverse hostname"},
    {u"reverse lookup"},
    {u"rdns", true},
    {u"ptr", true},
    {u"spf", true},
    {u"dkim", true},
    {u"dmarc", true},
    {u"access denied"}, // Microsoft 5.7.606-649 "Access denied, banned sending IP"
    {u"banned"},
    {u"prohibit"},       // Exim/Mimecast "Administrative prohibition", "relaying prohibited"
    {u"not authorized"}, // Microsoft "RESOLVER.RST.NotAuthorized": the recipient refuses our sender
    {u"not authorised"},
    {u"notauthorized"},
    {u"recipnotauth"},
    {u"authentication required"},
    {u"authrequired"},
    {u"unauthenticated"},
    {u"ip is in"},
    {u"helo command rejected"}, // Postfix: our HELO name does not resolve or is not fully qualified
    {u"rate limit"},            // Gmail 421 4.7.0 "temporarily rate limited"
    {u"unusual rate"},
    {u"unexpected volume"}, // Yahoo [TSS04] "deferred due to unexpected volume or user complaints"
    {u"complaints"},
};

constexpr Phrase PermanentBlockPhrases[] = {
    // In a 4xx these are "421 Too many connections", "452 4.5.3 Too many recipients", Gmail's transient
    // "421 4.7.0 Try again later, closing connection. (EHLO)": limits of the session, handled by waiting.
    {u"too many"},
    {u"helo", true},
    {u"ehlo", true},
};

constexpr Phrase AboutUsPhrases[] = {
    // Postfix checks the sender at RCPT time (smtpd_delay_reject), so these arrive in answer to RCPT TO.
    {u"sender address rejected"},
    {u"sender verify failed"}, // Exim callout to our MAIL FROM address
    {u"sender verification failed"},
    {u"sender rejected"},
    {u"sender denied"},
    // Relaying refused means this host does not take mail for the domain from us: nothing about the mailbox.
    {u"relay access denied"},
    {u"relaying denied"},
    {u"relay denied"},
    {u"relay not permitted"},
    {u"relaying not permitted"},
    {u"not permitted to relay"},
    {u"relay not allowed"},
    {u"relaying not allowed"},
    {u"not allowed to relay"},
    {u"unable to relay"},
    {u"we do not relay"},
    {u"relaying disallowed"}, // Zoho
    {u"no relaying"},
};

constexpr PhraseRule PhraseRules[] = {
    {Hint::NotFound, NotFoundPhrases},
    {Hint::NotFoundWeak, NotFoundWeakPhrases},
    {Hint::Disabled, DisabledPhrases},
    {Hint::Full, FullPhrases},
    {Hint::Greylisting, GreylistingPhrases},
    {Hint::Block, BlockPhrases},
    {Hint::PermanentBlock, PermanentBlockPhrases},
    {Hint::AboutUs, AboutUsPhrases},
};

// RFC 3463 section 3: subject 1 is addressing, 2 the mailbox, 7 security or policy.
struct EnhancedRule
{
    int subject;
    int detail; ///< -1: any detail
    Hint hint;
};

constexpr EnhancedRule EnhancedRules[] = {
    {1, 0, Hint::NotFound},  // other address status
    {1, 1, Hint::NotFound},  // bad destination mailbox address
    {1, 2, Hint::NotFound},  // bad destination system address (the domain)
    {1, 3, Hint::NotFound},  // bad destination mailbox address syntax
    {1, 6, Hint::NotFound},  // destination mailbox has moved, no forwarding address
    {1, 10, Hint::NotFound}, // RFC 7505 null MX; Microsoft "5.1.10 RESOLVER.ADR.RecipientNotFound"
    {1, 7, Hint::AboutUs},   // bad sender's mailbox address syntax
    {1, 8, Hint::AboutUs},   // bad sender's system address
    {2, 1, Hint::Disabled},  // mailbox disabled, not accepting messages
    {2, 2, Hint::Full},      // mailbox full
    {7, -1, Hint::Block},    // security or policy status
};

struct Hints
{
    QString text; ///< the reply's text, normalised for matching
    std::optional<Hint> enhanced;
    std::optional<Hint>
        mailboxText; ///< the first of Disabled, Full, NotFound, NotFoundWeak found in the text
    bool notFoundStrong = false;
    bool greylisting = false;
    bool block = false;
    bool permanentBlock = false;
    bool aboutUs = false;
};

using HintMask = quint32;

constexpr HintMask bit(Hint hint)
{
    return HintMask(1) << int(hint);
}

struct Candidate
{
    Hint hint;
    Phrase phrase;
};

// Every phrase, by its first character (all are lowercase ASCII): a reply's text is scanned once, and at
// each position only the phrases starting with its character are compared.
const std::array<std::vector<Candidate>, 128> &phrasesByFirstCharacter()
{
    static const auto index = [] {
        std::array<std::vector<Candidate>, 128> byFirst;
        for (const PhraseRule &rule : PhraseRules) {
            for (const Phrase &phrase : rule.phrases) {
                Q_ASSERT(!phrase.text.isEmpty() && phrase.text.front().unicode() < 128);
                byFirst[phrase.text.front().unicode() & 0x7f].push_back({rule.hint, phrase});
            }
        }
        return byFirst;
    }();
    return index;
}

// The hints whose phrases occur in `text` (a short phrase marked wholeWord only between non-alphanumerics).
HintMask phraseHints(QStringView text)
{
    const auto &index = phrasesByFirstCharacter();
    HintMask found = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t c = text[i].unicode();
        if (c >= 128)
            continue;
        for (const Candidate &candidate : index[c]) {
            const QStringView phrase = candidate.phrase.text;
            if ((found & bit(candidate.hint)) || !text.sliced(i).startsWith(phrase))
                continue;
            const qsizetype end = i + phrase.size();
            if (candidate.phrase.wholeWord && ((i > 0 && text[i - 1].isLetterOrNumber()) ||
                                               (end < text.size() && text[end].isLetterOrNumber())))
                continue;
            found |= bit(candidate.hint);
        }
    }
    return found;
}

std::optional<Hint> enhancedHint(const QString &enhancedCode)
{
    const QStringList parts = enhancedCode.split(u'.');
    if (parts.size() != 3)
        return std::nullopt;
    const int subject = parts.at(1).toInt();
    const int detail = parts.at(2).toInt();
    for (const EnhancedRule &rule : EnhancedRules) {
        if (rule.subject == subject && (rule.detail == -1 || rule.detail == detail))
            return rule.hint;
    }
    return std::nullopt;
}

Hints hintsOf(const Reply &reply)
{
    Hints hints;
    hints.text = reply.text().toLower().simplified();
    hints.text.replace(u'\u2019', u'\'');
    const QString &text = hints.text;
    hints.enhanced = enhancedHint(reply.enhancedCode);
    const HintMask found = phraseHints(text);
    // A text naming the state of the mailbox says more than one that only says "rejected"; a closed or full
    // mailbox is usually also described as unavailable, so those are looked for first.
    for (Hint hint : {Hint::Disabled, Hint::Full, Hint::NotFound, Hint::NotFoundWeak}) {
        if (found & bit(hint)) {
            hints.mailboxText = hint;
            break;
        }
    }
    hints.notFoundStrong = found & bit(Hint::NotFound);
    hints.greylisting = found & bit(Hint::Greylisting);
    hints.block = found & bit(Hint::Block);
    hints.permanentBlock = found & bit(Hint::PermanentBlock);
    hints.aboutUs = (found & bit(Hint::AboutUs)) || hints.enhanced == Hint::AboutUs;
    return hints;
}

Verdict verdictOf(Hint hint)
{
    switch (hint) {
    case Hint::NotFound:
    case Hint::NotFoundWeak:
        return Verdict::MailboxNotFound;
    case Hint::Disabled:
        return Verdict::MailboxDisabled;
    case Hint::Full:
        return Verdict::MailboxFull;
    case Hint::Greylisting:
        return Verdict::TryLater;
    case Hint::Block:
    case Hint::PermanentBlock:
    case Hint::AboutUs:
        return Verdict::Blocked;
    }
    return Verdict::Unknown;
}

// Before RCPT the reply is about us (our IP, our HELO name, our sender), never about a mailbox.
Verdict classifyBeforeRcpt(const Reply &reply, const Hints &hints)
{
    if (reply.code >= 200 && reply.code < 400)
        return Verdict::Accepted;
    if (reply.isTransient()) {
        if (hints.greylisting)
            return Verdict::TryLater;
        return hints.block || hints.aboutUs ? Verdict::Blocked : Verdict::TryLater;
    }
    if (reply.isPermanent())
        return Verdict::Blocked;
    return Verdict::Unknown;
}

// A 4xx is never "not found": even Postfix's "450 4.1.1 … unverified address: … User unknown" may turn out
// otherwise when retried.
Verdict classifyTransientRcpt(const Hints &hints)
{
    // Gmail "452-4.2.2 The email account that you tried to reach is over quota"
    if (hints.enhanced == Hint::Full)
        return Verdict::MailboxFull;
    if (hints.greylisting)
        return Verdict::TryLater;
    // Reputation throttles (Gmail 421 4.7.0 "unusual rate of unsolicited mail", Yahoo 421 [TSS04] "user
    // complaints") do not lift within a verification's deadline, and retrying them makes things worse.
    if (hints.block || hints.aboutUs)
        return Verdict::Blocked;
    if (hints.mailboxText == Hint::Full)
        return Verdict::MailboxFull;
    return Verdict::TryLater;
}

Verdict classifyPermanentRcpt(const Reply &reply, const Hints &hints)
{
    const QString &text = hints.text;
    // Microsoft 365 Directory-Based Edge Blocking: "550 5.4.1 Recipient address rejected: Access denied.
    // AS(201806281)" is the tenant saying the address is not in its directory, despite the wording.
    if (text.contains(u"as(201806281)"))
        return Verdict::MailboxNotFound;

    // Our sender or relaying refused: checked before the mailbox codes because Exim's sender verification
    // quotes the callout's own "Unrouteable address" before "Sender verify failed".
    if (hints.aboutUs)
        return Verdict::Blocked;

    const bool block = hints.block || hints.permanentBlock;

    // The enhanced code is the most specific statement, and it wins when the text agrees or is silent. When
    // it names a mailbox state but the text only talks about a block ("550 5.2.1 Mailbox unavailable. Your
    // IP address … is blacklisted"), the block wins: calling a block "not found" is the error to avoid.
    if (hints.enhanced && hints.enhanced != Hint::Block) {
        if (block && !hints.mailboxText)
            return Verdict::Blocked;
        return verdictOf(*hints.enhanced);
    }
    // 5.7.x is policy, except for servers that use it for a clear "no such user" (Yandex "550 5.7.1 No such
    // user!") with no block word beside it.
    if (hints.enhanced == Hint::Block)
        return hints.notFoundStrong && !block ? Verdict::MailboxNotFound : Verdict::Blocked;

    // Outlook.com / Hotmail answer an unknown recipient with "550 5.5.0 Requested action not taken: mailbox
    // unavailable (S2017062302)". Elsewhere "mailbox unavailable" is RFC 5321's generic 550 text, used for
    // policy refusals too, so it counts only with 5.5.0 (or with a 5.1.x code, handled above).
    if (reply.enhancedCode == u"5.5.0" && text.contains(u"mailbox unavailable") && !block)
        return Verdict::MailboxNotFound;

    // No code to settle it: a text mentioning both a block and a missing user is a block.
    if (block)
        return Verdict::Blocked;
    if (hints.mailboxText)
        return verdictOf(*hints.mailboxText);
    return Verdict::Unknown;
}

} // namespace

Verdict classify(const Reply &reply, Stage stage)
{
    if (stage != Stage::RcptTo)
        return classifyBeforeRcpt(reply, hintsOf(reply));

    if (reply.code >= 200 && reply.code < 300) // 250, 251 "will forward", 252 "cannot verify, will accept"
        return Verdict::Accepted;
    const Hints hints = hintsOf(reply); // the text only matters for a refusal
    if (reply.isTransient())
        return classifyTransientRcpt(hints);
    if (reply.isPermanent())
        return classifyPermanentRcpt(reply, hints);
    return Verdict::Unknown; // 3xx to RCPT, or no reply at all
}

QString toString(Verdict verdict)
{
    switch (verdict) {
    case Verdict::Accepted:
        return u"Accepted"_s;
    case Verdict::MailboxNotFound:
        return u"MailboxNotFound"_s;
    case Verdict::MailboxDisabled:
        return u"MailboxDisabled"_s;
    case Verdict::MailboxFull:
        return u"MailboxFull"_s;
    case Verdict::TryLater:
        return u"TryLater"_s;
    case Verdict::Blocked:
        return u"Blocked"_s;
    case Verdict::Unknown:
        return u"Unknown"_s;
    }
    return u"Unknown"_s;
}

} // namespace mailcaff::smtp
