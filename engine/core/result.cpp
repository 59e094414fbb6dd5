#include "result.h"

#include <QJsonValue>

#include <array>
#include <utility>

using namespace Qt::StringLiterals;

namespace mailcaff::core {

namespace {

constexpr std::array statusNames{
    std::pair{Status::Valid, "valid"},           std::pair{Status::Invalid, "invalid"},
    std::pair{Status::Risky, "risky"},           std::pair{Status::Unknown, "unknown"},
    std::pair{Status::Disposable, "disposable"}, std::pair{Status::Error, "error"},
};

struct ReasonInfo
{
    Reason reason;
    const char *name;
    const char *description;
};

constexpr std::array reasons{
    ReasonInfo{Reason::Accepted, "accepted", "The mail server accepted the recipient."},
    ReasonInfo{Reason::MailboxNotFound, "mailbox_not_found",
               "The mail server said this mailbox does not exist."},
    ReasonInfo{Reason::MailboxDisabled, "mailbox_disabled",
               "The mailbox exists but is disabled or inactive."},
    ReasonInfo{Reason::MailboxFull, "mailbox_full", "The mailbox is over its quota; mail may bounce."},
    ReasonInfo{Reason::CatchAll, "catch_all",
               "The domain accepts every address, so this one cannot be confirmed."},
    ReasonInfo{Reason::AcceptAllGateway, "accept_all_gateway",
               "The domain's mail gateway accepts every recipient during the SMTP dialogue."},
    ReasonInfo{Reason::Greylisted, "greylisted",
               "The mail server asked us to try again later (greylisting) and did not decide in time."},
    ReasonInfo{Reason::SmtpTimeout, "smtp_timeout", "The mail server did not answer in time."},
    ReasonInfo{Reason::SmtpConnectFailed, "smtp_connect_failed",
               "No mail server of the domain could be reached."},
    ReasonInfo{Reason::SmtpBlocked, "smtp_blocked",
               "The mail server refused our check for policy reasons; this says nothing about the mailbox."},
    ReasonInfo{Reason::InvalidSyntax, "invalid_syntax", "The address is not a valid email address."},
    ReasonInfo{Reason::DomainNotFound, "domain_not_found", "The domain does not exist."},
    ReasonInfo{Reason::NoMxRecords, "no_mx_records",
               "The domain has no mail server and no address to deliver to."},
    ReasonInfo{Reason::NullMx, "null_mx", "The domain declares that it accepts no mail (null MX)."},
    ReasonInfo{Reason::DnsError, "dns_error",
               "The domain's DNS could not be read (server failure or timeout)."},
    ReasonInfo{Reason::DisposableDomain, "disposable_domain",
               "The domain belongs to a disposable email provider."},
    ReasonInfo{Reason::QuickCheck, "quick_check",
               "Quick mode: syntax, DNS and lists passed; the mail server was not contacted."},
};

template<typename Table, typename Key> auto findIn(const Table &table, Key key)
{
    for (const auto &row : table) {
        if constexpr (requires { row.reason; }) {
            if (row.reason == key)
                return &row;
        } else {
            if (row.first == key)
                return &row;
        }
    }
    return static_cast<decltype(&table[0])>(nullptr);
}

} // namespace

QString toString(Status status)
{
    const auto *row = findIn(statusNames, status);
    return row ? QString::fromLatin1(row->second) : QString();
}

std::optional<Status> statusFromString(const QString &text)
{
    for (const auto &[status, name] : statusNames) {
        if (text == QLatin1StringView(name))
            return status;
    }
    return std::nullopt;
}

QString toString(Reason reason)
{
    const auto *row = findIn(reasons, reason);
    return row ? QString::fromLatin1(row->name) : QString();
}

QString describe(Reason reason)
{
    const auto *row = findIn(reasons, reason);
    return row ? QString::fromLatin1(row->description) : QString();
}

static std::optional<Reason> reasonFromString(const QString &text)
{
    for (const auto &row : reasons) {
        if (text == QLatin1StringView(row.name))
            return row.reason;
    }
    return std::nullopt;
}

QString toString(Mode mode)
{
    return mode == Mode::Power ? u"power"_s : u"quick"_s;
}

std::optional<Mode> modeFromString(const QString &text)
{
    if (text == "power"_L1)
        return Mode::Power;
    if (text == "quick"_L1)
        return Mode::Quick;
    return std::nullopt;
}

static QJsonValue stringOrNull(const QString &value)
{
    return value.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(value);
}

QJsonObject VerificationResult::toJson() const
{
    QJsonObject o;
    o.insert(field::Email, email);
    o.insert(field::Status, toString(status));
    o.insert(field::QualityScore, qualityScore);
    o.insert(field::IsValid, isValid);
    o.insert(field::IsDeliverable, isDeliverable);
    o.insert(field::IsDisposable, isDisposable);
    o.insert(field::IsRoleAccount, isRoleAccount);
    o.insert(field::IsFreeEmail, isFreeEmail);
    o.insert(field::CanConnectSmtp, canConnectSmtp);
    o.insert(field::MxAcceptsMail, mxAcceptsMail);
    o.insert(field::Mode, toString(mode));
    // API.md: is_spam_trap is present only when true.
    if (isSpamTrap)
        o.insert(field::IsSpamTrap, true);
    o.insert(field::ResponseMs, responseMs);
    o.insert(field::Reason, toString(reason));
    o.insert(field::IsCatchAll, isCatchAll ? QJsonValue(*isCatchAll) : QJsonValue(QJsonValue::Null));
    o.insert(field::MxHost, stringOrNull(mxHost));
    o.insert(field::SmtpProvider, stringOrNull(smtpProvider));
    o.insert(field::DidYouMean, stringOrNull(didYouMean));
    if (mode == Mode::Power) {
        if (smtp) {
            QJsonObject s;
            s.insert(u"code"_s, smtp->code);
            s.insert(u"enhanced_code"_s, stringOrNull(smtp->enhancedCode));
            s.insert(u"message"_s, smtp->message);
            o.insert(field::Smtp, s);
        } else {
            o.insert(field::Smtp, QJsonValue(QJsonValue::Null));
        }
    }
    return o;
}

std::optional<VerificationResult> VerificationResult::fromJson(const QJsonObject &o)
{
    const auto st = statusFromString(o.value(field::Status).toString());
    const auto md = modeFromString(o.value(field::Mode).toString());
    const auto rs = reasonFromString(o.value(field::Reason).toString());
    if (!st || !md || !rs || !o.value(field::Email).isString())
        return std::nullopt;
    VerificationResult r;
    r.email = o.value(field::Email).toString();
    r.status = *st;
    r.mode = *md;
    r.reason = *rs;
    r.qualityScore = o.value(field::QualityScore).toInt();
    r.isValid = o.value(field::IsValid).toBool();
    r.isDeliverable = o.value(field::IsDeliverable).toBool();
    r.isDisposable = o.value(field::IsDisposable).toBool();
    r.isRoleAccount = o.value(field::IsRoleAccount).toBool();
    r.isFreeEmail = o.value(field::IsFreeEmail).toBool();
    r.canConnectSmtp = o.value(field::CanConnectSmtp).toBool();
    r.mxAcceptsMail = o.value(field::MxAcceptsMail).toBool();
    r.isSpamTrap = o.value(field::IsSpamTrap).toBool();
    r.responseMs = o.value(field::ResponseMs).toInteger();
    if (o.value(field::IsCatchAll).isBool())
        r.isCatchAll = o.value(field::IsCatchAll).toBool();
    r.mxHost = o.value(field::MxHost).toString();
    r.smtpProvider = o.value(field::SmtpProvider).toString();
    r.didYouMean = o.value(field::DidYouMean).toString();
    if (o.value(field::Smtp).isObject()) {
        const QJsonObject s = o.value(field::Smtp).toObject();
        r.smtp = SmtpReply{s.value(u"code"_s).toInt(), s.value(u"enhanced_code"_s).toString(),
                           s.value(u"message"_s).toString()};
    }
    return r;
}

} // namespace mailcaff::core
