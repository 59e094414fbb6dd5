#include "result.h"

#include <QJsonDocument>
#include <QJsonValue>

#include <array>
#include <charconv>
#include <cstring>
#include <iterator>
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

void appendJsonString(QByteArray &out, QStringView text)
{
    static constexpr char Hex[] = "0123456789abcdef";
    const auto escaped = [&](char16_t c) {
        out += "\\u";
        for (int shift = 12; shift >= 0; shift -= 4)
            out += Hex[(c >> shift) & 0xf];
    };
    out += '"';
    for (qsizetype i = 0; i < text.size(); ++i) {
        // A run of printable ASCII without quote or backslash (most of any text here) goes in one copy.
        qsizetype end = i;
        while (end < text.size() && text[end].unicode() >= 0x20 && text[end].unicode() < 0x80 &&
               text[end] != u'"' && text[end] != u'\\')
            ++end;
        if (end > i) {
            const qsizetype at = out.size();
            out.resize(at + (end - i));
            char *to = out.data() + at;
            for (qsizetype k = i; k < end; ++k)
                *to++ = char(text[k].unicode());
            i = end - 1;
            continue;
        }
        const char16_t c = text[i].unicode();
        if (c == u'"' || c == u'\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            switch (c) {
            case u'\n':
                out += "\\n";
                break;
            case u'\r':
                out += "\\r";
                break;
            case u'\t':
                out += "\\t";
                break;
            case u'\b':
                out += "\\b";
                break;
            case u'\f':
                out += "\\f";
                break;
            default:
                escaped(c);
            }
        } else if (c < 0x80) {
            out += char(c);
        } else if (c < 0x800) {
            out += char(0xc0 | (c >> 6));
            out += char(0x80 | (c & 0x3f));
        } else if (QChar::isHighSurrogate(c) && i + 1 < text.size() && text[i + 1].isLowSurrogate()) {
            const char32_t u = QChar::surrogateToUcs4(c, text[++i].unicode());
            out += char(0xf0 | (u >> 18));
            out += char(0x80 | ((u >> 12) & 0x3f));
            out += char(0x80 | ((u >> 6) & 0x3f));
            out += char(0x80 | (u & 0x3f));
        } else if (QChar::isSurrogate(c)) {
            escaped(c);
        } else {
            out += char(0xe0 | (c >> 12));
            out += char(0x80 | ((c >> 6) & 0x3f));
            out += char(0x80 | (c & 0x3f));
        }
    }
    out += '"';
}

namespace {

/// A code unit of `text` as a number, 0 past its end: UTF-16 units, or UTF-8 bytes (whose multi-byte
/// sequences never hold an ASCII byte, so the same tests hold on both).
char16_t unitAt(QStringView text, qsizetype k)
{
    return k < text.size() ? text[k].unicode() : char16_t(0);
}
char16_t unitAt(QByteArrayView text, qsizetype k)
{
    return k < text.size() ? char16_t(uchar(text[k])) : char16_t(0);
}
qsizetype indexOfName(QStringView name, const QStringList &names)
{
    return names.indexOf(name);
}
qsizetype indexOfName(QByteArrayView name, const QStringList &names)
{
    for (qsizetype k = 0; k < names.size(); ++k)
        if (QLatin1StringView(name.data(), name.size()) == names.at(k)) // the names are ASCII
            return k;
    return -1;
}

/// jsonMemberTexts() without QJsonDocument, as views into `json` (UTF-16 or UTF-8): nullopt for what it
/// does not take.
template<typename View> std::optional<QList<View>> quickMembers(View json, const QStringList &names)
{
    qsizetype i = 0;
    const qsizetype n = json.size();
    const auto at = [&](qsizetype k) { return unitAt(json, k); };
    const auto startsAt = [&](qsizetype k, const char *ascii) {
        for (; *ascii; ++ascii, ++k)
            if (at(k) != char16_t(*ascii))
                return false;
        return true;
    };
    const auto skipSpace = [&] {
        while (at(i) == u' ' || at(i) == u'\t' || at(i) == u'\n' || at(i) == u'\r')
            ++i;
    };
    // A string without escapes (the quote at i): its text, i past the closing quote.
    const auto plainString = [&]() -> std::optional<View> {
        const qsizetype start = ++i;
        while (i < n && at(i) != u'"') {
            if (at(i) == u'\\' || at(i) < 0x20)
                return std::nullopt;
            ++i;
        }
        if (i >= n)
            return std::nullopt;
        return json.sliced(start, i++ - start);
    };
    // A nested object or array (the bracket at i), skipped whole, strings and their escapes included.
    const auto skipNested = [&]() -> bool {
        int depth = 0;
        do {
            const char16_t c = at(i++);
            if (c == 0) // the end, or a character no JSON has outside strings
                return false;
            if (c == u'"') {
                while (i < n && at(i) != u'"')
                    i += at(i) == u'\\' ? 2 : 1;
                if (i++ >= n)
                    return false;
            } else if (c == u'{' || c == u'[') {
                ++depth;
            } else if (c == u'}' || c == u']') {
                --depth;
            }
        } while (depth > 0);
        return true;
    };

    QList<View> out(names.size());
    QList<bool> seen(names.size(), false);
    skipSpace();
    if (at(i) != u'{')
        return std::nullopt;
    ++i;
    skipSpace();
    if (at(i) == u'}') {
        ++i;
    } else {
        for (;;) {
            skipSpace();
            if (at(i) != u'"')
                return std::nullopt;
            const std::optional<View> name = plainString();
            if (!name)
                return std::nullopt;
            skipSpace();
            if (at(i) != u':')
                return std::nullopt;
            ++i;
            skipSpace();
            View text;
            const char16_t c = at(i);
            if (c == u'"') {
                const std::optional<View> value = plainString();
                if (!value)
                    return std::nullopt;
                text = *value;
            } else if (c == u'{' || c == u'[') {
                if (!skipNested())
                    return std::nullopt;
            } else if (c == u'-' || (c >= u'0' && c <= u'9')) {
                const qsizetype start = i;
                if (c == u'-')
                    ++i;
                const qsizetype digits = i;
                while (at(i) >= u'0' && at(i) <= u'9')
                    ++i;
                // JSON's integers: no leading zero; up to nine digits, which an int holds.
                if (i == digits || i - digits > 9 || (at(digits) == u'0' && i - digits > 1) ||
                    at(i) == u'.' || at(i) == u'e' || at(i) == u'E')
                    return std::nullopt;
                text = json.sliced(start, i - start);
                if (i - start == 2 && c == u'-' && at(start + 1) == u'0')
                    text = json.sliced(start + 1, 1); // -0 is 0
            } else if (startsAt(i, "true")) {
                text = json.sliced(i, 4);
                i += 4;
            } else if (startsAt(i, "false")) {
                text = json.sliced(i, 5);
                i += 5;
            } else if (startsAt(i, "null")) {
                i += 4;
            } else {
                return std::nullopt;
            }
            if (const qsizetype k = indexOfName(*name, names); k >= 0) {
                if (seen[k])
                    return std::nullopt;
                seen[k] = true;
                out[k] = text;
            }
            skipSpace();
            if (at(i) == u',') {
                ++i;
                continue;
            }
            if (at(i) != u'}')
                return std::nullopt;
            ++i;
            break;
        }
    }
    skipSpace();
    if (i != n)
        return std::nullopt;
    return out;
}

} // namespace

QStringList jsonMemberTexts(QStringView json, const QStringList &names)
{
    if (const std::optional<QList<QStringView>> quick = quickMembers(json, names)) {
        QStringList out;
        out.reserve(quick->size());
        for (const QStringView text : *quick)
            out.append(text.toString());
        return out;
    }
    const QJsonObject object = QJsonDocument::fromJson(json.toUtf8()).object();
    QStringList out;
    out.reserve(names.size());
    for (const QString &name : names) {
        const QJsonValue v = object.value(name);
        out.append(v.isBool()     ? (v.toBool() ? u"true"_s : u"false"_s)
                   : v.isDouble() ? QString::number(v.toInt())
                                  : v.toString());
    }
    return out;
}

std::optional<QList<QByteArrayView>> jsonMemberViews(QByteArrayView json, const QStringList &names)
{
    return quickMembers(json, names);
}

namespace {

/// The fields of a result, in API.md's order, to any writer with field(key, value), nullableString(key,
/// value) (empty: null), null(key), beginObject(key) and endObject(): toJson() and toJsonBytes() list them
/// once, here.
template<typename Writer> void writeFields(const VerificationResult &r, Writer &w)
{
    w.field(field::Email, r.email);
    w.field(field::Status, toString(r.status));
    w.field(field::QualityScore, r.qualityScore);
    w.field(field::IsValid, r.isValid);
    w.field(field::IsDeliverable, r.isDeliverable);
    w.field(field::IsDisposable, r.isDisposable);
    w.field(field::IsRoleAccount, r.isRoleAccount);
    w.field(field::IsFreeEmail, r.isFreeEmail);
    w.field(field::CanConnectSmtp, r.canConnectSmtp);
    w.field(field::MxAcceptsMail, r.mxAcceptsMail);
    w.field(field::Mode, toString(r.mode));
    // API.md: is_spam_trap is present only when true.
    if (r.isSpamTrap)
        w.field(field::IsSpamTrap, true);
    w.field(field::ResponseMs, r.responseMs);
    w.field(field::Reason, toString(r.reason));
    if (r.isCatchAll)
        w.field(field::IsCatchAll, *r.isCatchAll);
    else
        w.null(field::IsCatchAll);
    w.nullableString(field::MxHost, r.mxHost);
    w.nullableString(field::SmtpProvider, r.smtpProvider);
    w.nullableString(field::DidYouMean, r.didYouMean);
    if (r.mode == Mode::Power) {
        if (r.smtp) {
            w.beginObject(field::Smtp);
            w.field("code"_L1, r.smtp->code);
            w.nullableString("enhanced_code"_L1, r.smtp->enhancedCode);
            w.field("message"_L1, r.smtp->message);
            w.endObject();
        } else {
            w.null(field::Smtp);
        }
    }
}

/// writeFields() into a QJsonObject (nested objects on a stack).
class ObjectWriter
{
public:
    template<typename T> void field(QLatin1StringView key, const T &value)
    {
        m_objects.last().insert(key, QJsonValue(value));
    }
    void null(QLatin1StringView key) { m_objects.last().insert(key, QJsonValue(QJsonValue::Null)); }
    void nullableString(QLatin1StringView key, const QString &value)
    {
        value.isEmpty() ? null(key) : field(key, value);
    }
    void beginObject(QLatin1StringView key)
    {
        m_keys.append(key);
        m_objects.append(QJsonObject());
    }
    void endObject()
    {
        const QJsonObject inner = m_objects.takeLast();
        m_objects.last().insert(m_keys.takeLast(), inner);
    }
    QJsonObject take() { return m_objects.takeFirst(); }

private:
    QList<QJsonObject> m_objects{QJsonObject()};
    QList<QLatin1StringView> m_keys;
};

/// writeFields() straight into compact JSON text (UTF-8), without building a QJsonObject first.
class BytesWriter
{
public:
    BytesWriter() { m_out.reserve(512); }
    void field(QLatin1StringView key, const QString &value)
    {
        name(key);
        appendString(value);
    }
    void field(QLatin1StringView key, bool value)
    {
        name(key);
        m_out += value ? "true" : "false";
    }
    void field(QLatin1StringView key, int value) { field(key, qint64(value)); }
    void field(QLatin1StringView key, qint64 value)
    {
        name(key);
        char digits[24];
        const auto written = std::to_chars(std::begin(digits), std::end(digits), value);
        m_out.append(digits, written.ptr - digits);
    }
    void null(QLatin1StringView key)
    {
        name(key);
        m_out += "null";
    }
    void nullableString(QLatin1StringView key, const QString &value)
    {
        value.isEmpty() ? null(key) : field(key, value);
    }
    void beginObject(QLatin1StringView key)
    {
        name(key);
        m_out += '{';
        m_first = true;
    }
    void endObject()
    {
        m_out += '}';
        m_first = false;
    }
    QByteArray take()
    {
        m_out += '}';
        return std::move(m_out);
    }

private:
    void name(QLatin1StringView key)
    {
        // ,"key": in one append (field names are short plain ASCII): four appends were a third of the
        // writing.
        char text[64];
        Q_ASSERT(key.size() <= qsizetype(sizeof(text)) - 4);
        qsizetype n = 0;
        if (!m_first)
            text[n++] = ',';
        m_first = false;
        text[n++] = '"';
        std::memcpy(text + n, key.data(), size_t(key.size()));
        n += key.size();
        text[n++] = '"';
        text[n++] = ':';
        m_out.append(text, n);
    }
    /// RFC 8259: quote, backslash and control characters escaped; the rest as UTF-8. A lone surrogate
    /// (which UTF-8 cannot carry) is escaped as \uXXXX, as JSON allows.
    void appendString(QStringView text) { appendJsonString(m_out, text); }

    QByteArray m_out = "{"_ba;
    bool m_first = true;
};

} // namespace

QJsonObject VerificationResult::toJson() const
{
    ObjectWriter w;
    writeFields(*this, w);
    return w.take();
}

QByteArray VerificationResult::toJsonBytes() const
{
    BytesWriter w;
    writeFields(*this, w);
    return w.take();
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
