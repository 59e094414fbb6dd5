#pragma once

#include <QString>

namespace mailcaff::core {

/// An email address parsed for real delivery (RFC 5321 section 4.1.2 and 4.5.3.1, RFC 5322 section 3.4.1,
/// RFC 6531 for UTF-8 local parts). Surrounding whitespace is trimmed; nothing else is rewritten.
///
/// Decisions: comments and folding whitespace (RFC 5322 CFWS) are rejected: no mail system hands them out
/// as addresses. Address literals (`user@[192.0.2.1]`, `user@[IPv6:…]`) are recognised and rejected with
/// their own error: they bypass DNS, no public provider uses them, and verifying them would let any
/// caller point the prober at an arbitrary host. A single-label domain (`user@localhost`) and an all-numeric
/// top-level label are rejected as not routable on the public internet.
class EmailAddress
{
public:
    enum class Error {
        None,
        Empty,
        MissingAt,
        LocalPartEmpty,
        LocalPartTooLong, ///< over 64 octets (UTF-8)
        AddressTooLong,   ///< over 254 octets
        LocalPartInvalidCharacter,
        LocalPartDotPlacement, ///< leading, trailing or consecutive dots in an unquoted local part
        QuotedLocalPartInvalid,
        DomainEmpty,
        DomainTooLong, ///< over 253 octets in ASCII form
        LabelEmpty,    ///< consecutive or leading dots in the domain
        LabelTooLong,  ///< over 63 octets in ASCII form
        LabelInvalidCharacter,
        LabelHyphenPlacement,
        SingleLabelDomain,
        NumericTopLevelLabel,
        AddressLiteral,
        InvalidIdn ///< a Unicode domain that does not convert to ASCII (IDNA)
    };

    EmailAddress() = default;
    static EmailAddress parse(const QString &input);

    bool isValid() const { return m_error == Error::None; }
    Error error() const { return m_error; }
    /// A sentence a user can act on, e.g. "The part before @ is longer than 64 characters."
    QString errorText() const;
    static QString errorText(Error error);

    QString input() const { return m_input; }             ///< as given, trimmed
    QString localPart() const { return m_local; }         ///< as given (case preserved: RFC 5321 2.4)
    QString domain() const { return m_domain; }           ///< lowercase Unicode form, for display
    QString asciiDomain() const { return m_asciiDomain; } ///< lowercase ASCII (punycode) form, for DNS
    /// localPart@asciiDomain, the form used for SMTP and as a cache key.
    QString ascii() const { return m_local + u'@' + m_asciiDomain; }
    bool isQuotedLocalPart() const { return m_quoted; }
    bool hasInternationalLocalPart() const { return m_intlLocal; } ///< needs SMTPUTF8 (RFC 6531)

private:
    QString m_input;
    QString m_local;
    QString m_domain;
    QString m_asciiDomain;
    Error m_error = Error::Empty;
    bool m_quoted = false;
    bool m_intlLocal = false;
};

} // namespace mailcaff::core
