#include "emailaddress.h"

#include <QStringView>
#include <QUrl>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace mailcaff::core {

namespace {

using Error = EmailAddress::Error;

// RFC 5321 section 4.5.3.1.1 and 4.5.3.1.2; the address limit is the path limit (256) minus the angle
// brackets (RFC 5321 erratum 1690), and a domain of 255 octets on the wire is 253 in text form.
constexpr qsizetype MaxLocalPartOctets = 64;
constexpr qsizetype MaxAddressOctets = 254;
constexpr qsizetype MaxDomainOctets = 253;
constexpr qsizetype MaxLabelOctets = 63;

// atext of RFC 5322 section 3.2.3, the characters of a dot-atom besides the dot.
bool isAtext(char16_t c)
{
    if ((c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9'))
        return true;
    return QStringView(u"!#$%&'*+-/=?^_`{|}~").contains(QChar(c));
}

bool isLdh(QChar c)
{
    return (c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9') || c == u'-';
}

// Whether a non-ASCII code point may appear in an address (RFC 6531 section 3.3 allows any UTF8-non-ascii).
// We still refuse what cannot be typed or seen: controls (C1), Unicode whitespace, and invisible format
// characters such as U+200B or bidi overrides, which make two different addresses look identical. ZWNJ and
// ZWJ stay allowed: Persian and Indic scripts need them (RFC 5892 appendix A.1, A.2). U+FFFD means the text
// was decoded wrongly upstream, never a real address.
bool isAcceptableNonAscii(char32_t ucs4)
{
    if (ucs4 == 0x200C || ucs4 == 0x200D)
        return true;
    if (ucs4 == 0xFFFD || QChar::isSpace(ucs4) || QChar::isNonCharacter(ucs4))
        return false;
    switch (QChar::category(ucs4)) {
    case QChar::Other_Control:
    case QChar::Other_Format:
    case QChar::Other_Surrogate:
        return false;
    default:
        return true;
    }
}

// Reads the code point at `i` and advances `i` past it; an unpaired surrogate comes back as itself, which
// isAcceptableNonAscii() refuses.
char32_t nextCodePoint(QStringView s, qsizetype &i)
{
    const QChar c = s.at(i++);
    if (c.isHighSurrogate() && i < s.size() && s.at(i).isLowSurrogate())
        return QChar::surrogateToUcs4(c, s.at(i++));
    return c.unicode();
}

struct LocalPartResult
{
    Error error = Error::None;
    bool quoted = false;
    bool international = false;
};

// A quoted string of RFC 5321 section 4.1.2: qtextSMTP (printable ASCII and space except " and \), and
// quoted-pairSMTP (a backslash before any printable ASCII or space), extended by RFC 6531 section 3.3 with
// UTF8-non-ascii in qtextSMTP. Tabs and line breaks (RFC 5322 FWS) are not part of the SMTP grammar.
LocalPartResult checkQuotedLocalPart(QStringView local)
{
    LocalPartResult result;
    result.quoted = true;
    if (local.size() < 2 || !local.endsWith(u'"')) {
        result.error = Error::QuotedLocalPartInvalid;
        return result;
    }
    const QStringView content = local.sliced(1, local.size() - 2);
    if (content.isEmpty()) {
        // `""@example.com` matches the grammar, but names no mailbox.
        result.error = Error::LocalPartEmpty;
        return result;
    }
    for (qsizetype i = 0; i < content.size();) {
        const char32_t c = nextCodePoint(content, i);
        if (c == u'\\') {
            if (i >= content.size() || content.at(i).unicode() < 0x20 || content.at(i).unicode() > 0x7E) {
                result.error = Error::QuotedLocalPartInvalid;
                return result;
            }
            ++i;
        } else if (c >= 0x80) {
            if (!isAcceptableNonAscii(c)) {
                result.error = Error::QuotedLocalPartInvalid;
                return result;
            }
            result.international = true;
        } else if (c < 0x20 || c == 0x7F || c == u'"') {
            result.error = Error::QuotedLocalPartInvalid;
            return result;
        }
    }
    return result;
}

// A dot-atom of RFC 5321 section 4.1.2 (RFC 5322 section 3.2.3), with UTF8-non-ascii allowed in atext by
// RFC 6531 section 3.3.
LocalPartResult checkDotAtomLocalPart(QStringView local)
{
    LocalPartResult result;
    for (qsizetype i = 0; i < local.size();) {
        const char32_t c = nextCodePoint(local, i);
        if (c >= 0x80) {
            if (!isAcceptableNonAscii(c)) {
                result.error = Error::LocalPartInvalidCharacter;
                return result;
            }
            result.international = true;
        } else if (c != u'.' && !isAtext(char16_t(c))) {
            result.error = Error::LocalPartInvalidCharacter;
            return result;
        }
    }
    if (local.startsWith(u'.') || local.endsWith(u'.') || local.contains(u".."))
        result.error = Error::LocalPartDotPlacement;
    return result;
}

// Label separators that IDNA (UTS #46 section 2.3) maps to a full stop: ideographic and full-width stops.
bool isLabelSeparator(QChar c)
{
    return c == u'.' || c == QChar(0x3002) || c == QChar(0xFF0E) || c == QChar(0xFF61);
}

// QUrl::toAce() returns nothing for any failure. Find out which label failed and why, so the user gets a
// precise error instead of "invalid IDN" for an empty or overlong label.
Error diagnoseAceFailure(QStringView domain)
{
    qsizetype start = 0;
    for (qsizetype i = 0; i <= domain.size(); ++i) {
        if (i < domain.size() && !isLabelSeparator(domain.at(i)))
            continue;
        const QStringView label = domain.sliced(start, i - start);
        start = i + 1;
        if (label.isEmpty()) {
            // A trailing separator is fine for QUrl; our own label check below reports it.
            if (i == domain.size())
                continue;
            return Error::LabelEmpty;
        }
        if (!QUrl::toAce(label.toString()).isEmpty())
            continue;
        // An ASCII character other than letter, digit or hyphen is the same mistake as in an ASCII domain.
        if (std::any_of(label.begin(), label.end(),
                        [](QChar c) { return c.unicode() < 0x80 && !isLdh(c.toLower()); }))
            return Error::LabelInvalidCharacter;
        // Qt refuses an ACE label over 63 octets without saying so. If both halves convert, the label's
        // characters are fine and only its length is wrong.
        const qsizetype half = label.size() / 2;
        if (label.size() > 1 && !QUrl::toAce(label.first(half).toString()).isEmpty() &&
            !QUrl::toAce(label.sliced(half).toString()).isEmpty())
            return Error::LabelTooLong;
        return Error::InvalidIdn;
    }
    return Error::InvalidIdn;
}

// Hostname labels of RFC 1123 section 2.1 (letters, digits, hyphens; no hyphen at either end) in the ASCII
// form that DNS sees. ACE labels ("xn--…", RFC 5890 section 2.3.2.1) are LDH labels too.
Error checkAsciiDomain(const QString &ascii)
{
    const QList<QStringView> labels = QStringView(ascii).split(u'.');
    for (const QStringView label : labels) {
        if (label.isEmpty())
            return Error::LabelEmpty;
        if (label.size() > MaxLabelOctets)
            return Error::LabelTooLong;
        if (!std::all_of(label.begin(), label.end(), isLdh))
            return Error::LabelInvalidCharacter;
        if (label.startsWith(u'-') || label.endsWith(u'-'))
            return Error::LabelHyphenPlacement;
    }
    if (ascii.size() > MaxDomainOctets)
        return Error::DomainTooLong;
    if (labels.size() < 2)
        return Error::SingleLabelDomain;
    // RFC 3696 section 2: a top-level domain is never all-numeric; this also rejects a bare IPv4 address.
    const QStringView tld = labels.last();
    if (std::all_of(tld.begin(), tld.end(), [](QChar c) { return c.isDigit(); }))
        return Error::NumericTopLevelLabel;
    return Error::None;
}

} // namespace

EmailAddress EmailAddress::parse(const QString &input)
{
    EmailAddress address;
    // QString::trimmed() removes every Unicode whitespace character (QChar::isSpace), not only ASCII.
    address.m_input = input.trimmed();
    const QString &text = address.m_input;
    if (text.isEmpty()) {
        address.m_error = Error::Empty;
        return address;
    }

    // The last '@' separates the domain: a quoted local part may contain '@' itself ("a@b"@example.com).
    // Full-width U+FF20 and other look-alikes are not '@'.
    const qsizetype at = text.lastIndexOf(u'@');
    if (at < 0) {
        address.m_error = Error::MissingAt;
        return address;
    }
    address.m_local = text.first(at);
    const QString domain = text.sliced(at + 1);
    if (address.m_local.isEmpty()) {
        address.m_error = Error::LocalPartEmpty;
        return address;
    }
    if (domain.isEmpty()) {
        address.m_error = Error::DomainEmpty;
        return address;
    }

    const LocalPartResult local = address.m_local.startsWith(u'"') ? checkQuotedLocalPart(address.m_local)
                                                                   : checkDotAtomLocalPart(address.m_local);
    address.m_quoted = local.quoted;
    address.m_intlLocal = local.international;
    if (local.error != Error::None) {
        address.m_error = local.error;
        return address;
    }
    const qsizetype localOctets = address.m_local.toUtf8().size();
    if (localOctets > MaxLocalPartOctets) {
        address.m_error = Error::LocalPartTooLong;
        return address;
    }

    // RFC 5321 section 4.1.3 address literals: refused by design, see the class comment.
    if (domain.startsWith(u'[') || domain.endsWith(u']')) {
        address.m_error = Error::AddressLiteral;
        return address;
    }

    // Whitespace, controls and invisible characters are refused before IDNA, which would silently drop
    // some of them (UTS #46 maps U+200B and U+00AD to nothing).
    for (qsizetype i = 0; i < domain.size();) {
        const char32_t c = nextCodePoint(domain, i);
        if (c < 0x20 || c == 0x7F || c == u' ' || (c >= 0x80 && !isAcceptableNonAscii(c))) {
            address.m_error = Error::LabelInvalidCharacter;
            return address;
        }
    }

    bool isAscii = true;
    for (const QChar c : domain) {
        if (c.unicode() >= 0x80) {
            isAscii = false;
            break;
        }
    }
    if (isAscii) {
        address.m_asciiDomain = domain.toLower();
    } else {
        // IDNA per UTS #46 non-transitional processing (Qt's default since 6.3): case folding,
        // normalisation and punycode (RFC 3492) in one step, so BÜCHER.DE becomes xn--bcher-kva.de.
        const QByteArray ace = QUrl::toAce(domain);
        if (ace.isEmpty()) {
            address.m_error = diagnoseAceFailure(domain);
            return address;
        }
        address.m_asciiDomain = QString::fromLatin1(ace);
    }

    address.m_error = checkAsciiDomain(address.m_asciiDomain);
    if (address.m_error != Error::None)
        return address;

    // RFC 5321 section 4.5.3.1.3 counts the path in octets; the domain counts in the form sent over SMTP.
    if (localOctets + 1 + address.m_asciiDomain.size() > MaxAddressOctets) {
        address.m_error = Error::AddressTooLong;
        return address;
    }

    // For display. QUrl::fromAce() shows Unicode only for top-level domains on Qt's IDN whitelist (those
    // whose registries prevent homograph spoofing) and keeps the punycode form otherwise.
    // Without a punycode label ("xn--", lowercase here) there is nothing to show differently.
    address.m_domain = address.m_asciiDomain.contains(u"xn--"_s)
                           ? QUrl::fromAce(address.m_asciiDomain.toLatin1())
                           : address.m_asciiDomain;
    if (address.m_domain.isEmpty())
        address.m_domain = address.m_asciiDomain;
    return address;
}

QString EmailAddress::errorText() const
{
    return errorText(m_error);
}

QString EmailAddress::errorText(Error error)
{
    switch (error) {
    case Error::None:
        return u"The address is valid."_s;
    case Error::Empty:
        return u"The address is empty."_s;
    case Error::MissingAt:
        return u"The address has no @ sign; it should look like name@example.com."_s;
    case Error::LocalPartEmpty:
        return u"The part before @ is empty."_s;
    case Error::LocalPartTooLong:
        return u"The part before @ is longer than 64 characters."_s;
    case Error::AddressTooLong:
        return u"The address is longer than 254 characters."_s;
    case Error::LocalPartInvalidCharacter:
        return u"The part before @ contains a character that is not allowed there, such as a space, a comma "
               u"or a second @; put it in quotes if it is really part of the address."_s;
    case Error::LocalPartDotPlacement:
        return u"The part before @ starts or ends with a dot or has two dots in a row."_s;
    case Error::QuotedLocalPartInvalid:
        return u"The quoted part before @ is not closed properly or contains an unescaped quote, backslash "
               u"or control character."_s;
    case Error::DomainEmpty:
        return u"The domain after @ is missing."_s;
    case Error::DomainTooLong:
        return u"The domain after @ is longer than 253 characters."_s;
    case Error::LabelEmpty:
        return u"The domain starts or ends with a dot or has two dots in a row."_s;
    case Error::LabelTooLong:
        return u"A part of the domain between dots is longer than 63 characters."_s;
    case Error::LabelInvalidCharacter:
        return u"The domain contains a character that is not allowed; use letters, digits, hyphens and "
               u"dots only."_s;
    case Error::LabelHyphenPlacement:
        return u"A part of the domain starts or ends with a hyphen."_s;
    case Error::SingleLabelDomain:
        return u"The domain has no dot; it needs an ending such as .com."_s;
    case Error::NumericTopLevelLabel:
        return u"The domain ends in a number, so it is not a domain name; IP addresses are not accepted."_s;
    case Error::AddressLiteral:
        return u"Addresses with an IP address in brackets instead of a domain are not supported."_s;
    case Error::InvalidIdn:
        return u"The domain contains characters that cannot form an internationalised domain name."_s;
    }
    return u"The address is not valid."_s;
}

} // namespace mailcaff::core
