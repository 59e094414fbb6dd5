#include "core/emailaddress.h"

#include <QTest>

using namespace Qt::StringLiterals;
using mailcaff::core::EmailAddress;
using Error = EmailAddress::Error;

namespace {

enum Flag { NoFlags = 0, Quoted = 1, International = 2 };

constexpr Error AllErrors[] = {
    Error::None,
    Error::Empty,
    Error::MissingAt,
    Error::LocalPartEmpty,
    Error::LocalPartTooLong,
    Error::AddressTooLong,
    Error::LocalPartInvalidCharacter,
    Error::LocalPartDotPlacement,
    Error::QuotedLocalPartInvalid,
    Error::DomainEmpty,
    Error::DomainTooLong,
    Error::LabelEmpty,
    Error::LabelTooLong,
    Error::LabelInvalidCharacter,
    Error::LabelHyphenPlacement,
    Error::SingleLabelDomain,
    Error::NumericTopLevelLabel,
    Error::AddressLiteral,
    Error::InvalidIdn,
};

// Compared by name so a failing row prints which error it got.
QString errorName(Error error)
{
    switch (error) {
    case Error::None:
        return u"None"_s;
    case Error::Empty:
        return u"Empty"_s;
    case Error::MissingAt:
        return u"MissingAt"_s;
    case Error::LocalPartEmpty:
        return u"LocalPartEmpty"_s;
    case Error::LocalPartTooLong:
        return u"LocalPartTooLong"_s;
    case Error::AddressTooLong:
        return u"AddressTooLong"_s;
    case Error::LocalPartInvalidCharacter:
        return u"LocalPartInvalidCharacter"_s;
    case Error::LocalPartDotPlacement:
        return u"LocalPartDotPlacement"_s;
    case Error::QuotedLocalPartInvalid:
        return u"QuotedLocalPartInvalid"_s;
    case Error::DomainEmpty:
        return u"DomainEmpty"_s;
    case Error::DomainTooLong:
        return u"DomainTooLong"_s;
    case Error::LabelEmpty:
        return u"LabelEmpty"_s;
    case Error::LabelTooLong:
        return u"LabelTooLong"_s;
    case Error::LabelInvalidCharacter:
        return u"LabelInvalidCharacter"_s;
    case Error::LabelHyphenPlacement:
        return u"LabelHyphenPlacement"_s;
    case Error::SingleLabelDomain:
        return u"SingleLabelDomain"_s;
    case Error::NumericTopLevelLabel:
        return u"NumericTopLevelLabel"_s;
    case Error::AddressLiteral:
        return u"AddressLiteral"_s;
    case Error::InvalidIdn:
        return u"InvalidIdn"_s;
    }
    return u"?"_s;
}

QString repeated(QStringView text, qsizetype count)
{
    return text.toString().repeated(count);
}

QString letters(qsizetype count, char16_t letter = u'a')
{
    return QString(count, QChar(letter));
}

// A domain of exactly `length` characters made of full 63-character labels and a last, shorter one.
QString domainOfLength(qsizetype length)
{
    QString domain;
    char16_t letter = u'a';
    while (length - domain.size() > 64) {
        domain += letters(63, letter++) + u'.';
    }
    return domain + letters(length - domain.size(), letter);
}

void valid(const char *name, const QString &input, const QString &asciiDomain = {},
           const QString &domain = {}, int flags = NoFlags)
{
    QTest::addRow("%s", name) << input << Error::None << asciiDomain << domain << flags;
}

void invalid(const char *name, const QString &input, Error error)
{
    QTest::addRow("%s", name) << input << error << QString() << QString() << int(NoFlags);
}

} // namespace

class TestEmailAddress : public QObject
{
    Q_OBJECT

private slots:
    void parse_data();
    void parse();
    void accessors();
    void defaultConstructed();
    void errorText_data();
    void errorText();
};

void TestEmailAddress::parse_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<Error>("error");
    QTest::addColumn<QString>("asciiDomain"); // checked when not empty
    QTest::addColumn<QString>("domain");      // checked when not empty
    QTest::addColumn<int>("flags");           // checked for valid rows

    // Plain addresses.
    valid("simple address", u"john@example.com"_s, u"example.com"_s, u"example.com"_s);
    valid("single character local part", u"a@example.com"_s);
    valid("dot in local part", u"john.doe@example.com"_s);
    valid("several dots in local part", u"j.o.h.n@example.com"_s);
    valid("plus addressing", u"john+newsletter@example.com"_s);
    valid("plus addressing with empty tag", u"john+@example.com"_s);
    valid("plus addressing with dotted tag", u"john+a.b@example.com"_s);
    valid("hyphen in local part", u"john-doe@example.com"_s);
    valid("underscore in local part", u"john_doe@example.com"_s);
    valid("digits-only local part", u"1234567890@example.com"_s);
    valid("every atext special character", u"!#$%&'*+-/=?^_`{|}~@example.com"_s);
    valid("apostrophe in local part", u"o'connor@example.ie"_s);
    valid("equals and slash in local part", u"a=b/c@example.com"_s);
    valid("uppercase local part preserved", u"JOHN@example.com"_s);
    valid("uppercase domain lowercased", u"john@EXAMPLE.COM"_s, u"example.com"_s, u"example.com"_s);
    valid("mixed-case domain lowercased", u"john@Example.Co.UK"_s, u"example.co.uk"_s);
    valid("subdomain", u"john@mail.example.com"_s, u"mail.example.com"_s);
    valid("deep subdomain", u"john@a.b.c.d.example.com"_s);
    valid("two-letter country code", u"john@example.de"_s);
    valid("second-level country domain", u"john@example.co.uk"_s);
    valid("long top-level label", u"john@example.technology"_s);
    valid("hyphen inside domain label", u"john@my-domain.com"_s, u"my-domain.com"_s);
    valid("double hyphen inside domain label", u"john@ab--cd.com"_s);
    valid("several hyphens in domain label", u"john@a-b-c.com"_s);
    valid("digits-only second-level label", u"john@123.com"_s, u"123.com"_s);
    valid("digits-only labels except the top", u"john@1.2.3.com"_s);
    valid("label starting with a digit", u"john@1example.com"_s);
    valid("alphanumeric top-level label", u"john@example.a1"_s);
    valid("single-letter labels", u"john@a.bc"_s);

    // Surrounding whitespace is trimmed (QString::trimmed covers Unicode spaces).
    valid("leading and trailing spaces trimmed", u"  john@example.com  "_s, u"example.com"_s);
    valid("tab and newline trimmed", u"\tjohn@example.com\n"_s);
    valid("CRLF trimmed", u"\r\njohn@example.com\r\n"_s);
    valid("no-break space trimmed", u"\u00A0john@example.com\u00A0"_s);
    valid("ideographic space trimmed", u"\u3000john@example.com\u3000"_s);
    valid("em space trimmed", u"\u2003john@example.com"_s);

    // IDN domains (RFC 5890, UTS #46): ASCII form for DNS, Unicode form for display.
    valid("IDN bücher.de", u"john@bücher.de"_s, u"xn--bcher-kva.de"_s, u"bücher.de"_s);
    valid("IDN münchen.de", u"john@münchen.de"_s, u"xn--mnchen-3ya.de"_s, u"münchen.de"_s);
    valid("uppercase IDN case-folded", u"john@BÜCHER.DE"_s, u"xn--bcher-kva.de"_s, u"bücher.de"_s);
    valid("mixed-case IDN case-folded", u"john@München.De"_s, u"xn--mnchen-3ya.de"_s, u"münchen.de"_s);
    valid("IDN Japanese 例え.jp", u"john@例え.jp"_s, u"xn--r8jz45g.jp"_s, u"例え.jp"_s);
    valid("IDN ideographic full stop", u"john@例え。jp"_s, u"xn--r8jz45g.jp"_s, u"例え.jp"_s);
    valid("IDN full-width full stop", u"john@bücher\uFF0Ede"_s, u"xn--bcher-kva.de"_s);
    valid("IDN subdomain", u"john@mail.bücher.de"_s, u"mail.xn--bcher-kva.de"_s, u"mail.bücher.de"_s);
    valid("IDN sharp s kept (non-transitional)", u"john@faß.de"_s, u"xn--fa-hia.de"_s, u"faß.de"_s);
    valid("IDN Cyrillic domain and TLD", u"john@пример.рф"_s, u"xn--e1afmkfd.xn--p1ai"_s);
    // Qt shows Unicode only for top-level domains on its IDN whitelist (homograph protection).
    valid("IDN TLD off the whitelist shown as punycode", u"john@例子.广告"_s, u"xn--fsqu00a.xn--4rr70v"_s,
          u"xn--fsqu00a.xn--4rr70v"_s);
    valid("ACE domain given in ASCII", u"john@xn--bcher-kva.de"_s, u"xn--bcher-kva.de"_s, u"bücher.de"_s);
    valid("uppercase ACE domain given in ASCII", u"john@XN--BCHER-KVA.DE"_s, u"xn--bcher-kva.de"_s,
          u"bücher.de"_s);
    valid("full-width letters in domain folded", u"john@ｅｘａｍｐｌｅ.com"_s, u"example.com"_s,
          u"example.com"_s);
    valid("IDN label exactly 63 octets in ASCII form", u"john@"_s + letters(57, u'ü') + u".de"_s);

    // Internationalised local parts (RFC 6531).
    valid("Chinese local part and IDN", u"用户@例子.广告"_s, u"xn--fsqu00a.xn--4rr70v"_s, {}, International);
    valid("Greek local part and IDN", u"δοκιμή@παράδειγμα.δοκιμή"_s, u"xn--hxajbheg2az3al.xn--jxalpdlp"_s, {},
          International);
    valid("accented local part", u"josé@example.com"_s, u"example.com"_s, {}, International);
    valid("Cyrillic local part and IDN", u"чебурашка@ящик-с-апельсинами.рф"_s, {}, {}, International);
    valid("Devanagari local part and IDN", u"संपर्क@डाटामेल.भारत"_s, {}, {}, International);
    valid("Chinese local part ASCII domain", u"用户@example.com"_s, u"example.com"_s, {}, International);
    valid("emoji local part (surrogate pair)", u"\U0001F600@example.com"_s, {}, {}, International);
    valid("zero-width non-joiner in Persian local part", u"می\u200Cخواهم@example.com"_s, {}, {},
          International);
    valid("international local part with dots", u"jöhn.dœ@example.com"_s, {}, {}, International);
    valid("international local part with plus tag", u"müller+news@example.de"_s, {}, {}, International);

    // Quoted local parts (RFC 5321 section 4.1.2).
    valid("quoted local part with space", u"\"john doe\"@example.com"_s, u"example.com"_s, {}, Quoted);
    valid("quoted local part containing @", u"\"a@b\"@example.com"_s, u"example.com"_s, {}, Quoted);
    valid("quoted local part with escaped quote", u"\"a\\\"b\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with escaped backslash", u"\"a\\\\b\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with consecutive dots", u"\"john..doe\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with leading dot", u"\".john\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with trailing dot", u"\"john.\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with parentheses", u"\"(comment)\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with comma and colon", u"\"a,b:c\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part of a single space", u"\" \"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with escaped space", u"\"\\ \"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with escaped ordinary letter", u"\"\\a\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part that needs no quotes", u"\"john\"@example.com"_s, {}, {}, Quoted);
    valid("quoted local part with UTF-8", u"\"jöhn doe\"@example.com"_s, {}, {}, Quoted | International);
    valid("quoted local part with IDN domain", u"\"john doe\"@bücher.de"_s, u"xn--bcher-kva.de"_s, {},
          Quoted);

    // Length limits (RFC 5321 section 4.5.3.1), in UTF-8 octets and in the ASCII form of the domain.
    valid("local part exactly 64 octets", letters(64) + u"@example.com"_s);
    valid("local part exactly 64 octets of two-byte characters", letters(32, u'é') + u"@example.com"_s, {},
          {}, International);
    valid("local part exactly 64 octets of four-byte characters",
          repeated(u"\U0001F600", 16) + u"@example.com"_s, {}, {}, International);
    valid("quoted local part exactly 64 octets with quotes", u'"' + letters(62) + u"\"@example.com"_s, {}, {},
          Quoted);
    valid("domain label exactly 63 octets", u"john@"_s + letters(63) + u".com"_s);
    valid("address exactly 254 octets", letters(64) + u'@' + domainOfLength(189));
    valid("IDN address exactly 254 octets in ASCII form",
          letters(55) + u'@' + repeated(u"bücher.", 14) + u"de"_s);

    invalid("empty string", QString(), Error::Empty);
    invalid("only spaces", u"   "_s, Error::Empty);
    invalid("only tabs and newlines", u"\t\r\n"_s, Error::Empty);
    invalid("only ideographic space", u"\u3000"_s, Error::Empty);

    invalid("no at sign", u"johnexample.com"_s, Error::MissingAt);
    invalid("plain word", u"john"_s, Error::MissingAt);
    invalid("full-width at sign", u"john＠example.com"_s, Error::MissingAt);
    invalid("small commercial at sign", u"john\uFE6Bexample.com"_s, Error::MissingAt);
    invalid("at spelled out", u"john(at)example.com"_s, Error::MissingAt);

    invalid("nothing before at", u"@example.com"_s, Error::LocalPartEmpty);
    invalid("only an at sign", u"@"_s, Error::LocalPartEmpty);
    invalid("empty quoted local part", u"\"\"@example.com"_s, Error::LocalPartEmpty);
    invalid("nothing after at", u"john@"_s, Error::DomainEmpty);
    invalid("only spaces after at", u"john@   "_s, Error::DomainEmpty);

    invalid("space in local part", u"john doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("space before at", u"john @example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("tab inside local part", u"john\tdoe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("newline inside local part", u"john\ndoe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("comma in local part", u"john,doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("semicolon in local part", u"john;doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("colon in local part", u"john:doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("mailto scheme", u"mailto:john@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("angle brackets around address", u"<john@example.com>"_s, Error::LocalPartInvalidCharacter);
    invalid("display name with address", u"John <john@example.com>"_s, Error::LocalPartInvalidCharacter);
    invalid("comment in local part (CFWS rejected)", u"john(comment)@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("square brackets in local part", u"john[1]@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("unquoted backslash", u"john\\doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("quote inside unquoted local part", u"john\"doe\"@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("two at signs", u"john@doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("three at signs", u"a@b@c@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("double at sign", u"john@@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("zero-width space in local part", u"john\u200Bdoe@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("no-break space inside local part", u"john\u00A0doe@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("ideographic space inside local part", u"john\u3000doe@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("C1 control in local part", u"john\u0085doe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("right-to-left override in local part", u"john\u202Edoe@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("soft hyphen in local part", u"john\u00ADdoe@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("byte-order mark in local part", u"\uFEFFjohn@example.com"_s, Error::LocalPartInvalidCharacter);
    invalid("replacement character in local part", u"j\uFFFDhn@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("unpaired surrogate in local part", u"john"_s + QChar(0xD800) + u"@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("NUL in local part", u"john"_s + QChar(0) + u"doe@example.com"_s,
            Error::LocalPartInvalidCharacter);
    invalid("DEL in local part", u"john\u007Fdoe@example.com"_s, Error::LocalPartInvalidCharacter);

    invalid("leading dot in local part", u".john@example.com"_s, Error::LocalPartDotPlacement);
    invalid("trailing dot in local part", u"john.@example.com"_s, Error::LocalPartDotPlacement);
    invalid("consecutive dots in local part", u"john..doe@example.com"_s, Error::LocalPartDotPlacement);
    invalid("local part of a single dot", u".@example.com"_s, Error::LocalPartDotPlacement);
    invalid("local part of two dots", u"..@example.com"_s, Error::LocalPartDotPlacement);
    invalid("consecutive dots in international local part", u"jö..hn@example.com"_s,
            Error::LocalPartDotPlacement);

    invalid("unclosed quote", u"\"john@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("lone quote as local part", u"\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("text after closing quote", u"\"john\"doe@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("unescaped quote inside quotes", u"\"a\"b\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("backslash escaping the closing quote", u"\"john\\\"@example.com"_s,
            Error::QuotedLocalPartInvalid);
    invalid("obsolete dotted quoted words", u"\"john\".\"doe\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("tab inside quotes", u"\"john\tdoe\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("newline inside quotes", u"\"john\ndoe\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("control character inside quotes", u"\"john\u0001\"@example.com"_s,
            Error::QuotedLocalPartInvalid);
    invalid("DEL inside quotes", u"\"john\u007F\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("escaped tab inside quotes", u"\"john\\\t\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("escaped non-ASCII inside quotes", u"\"j\\öhn\"@example.com"_s, Error::QuotedLocalPartInvalid);
    invalid("zero-width space inside quotes", u"\"jo\u200Bhn\"@example.com"_s, Error::QuotedLocalPartInvalid);

    invalid("local part 65 octets", letters(65) + u"@example.com"_s, Error::LocalPartTooLong);
    invalid("local part 66 octets in 33 two-byte characters", letters(33, u'é') + u"@example.com"_s,
            Error::LocalPartTooLong);
    invalid("local part 68 octets in 17 four-byte characters",
            repeated(u"\U0001F600", 17) + u"@example.com"_s, Error::LocalPartTooLong);
    invalid("quoted local part 65 octets with quotes", u'"' + letters(63) + u"\"@example.com"_s,
            Error::LocalPartTooLong);
    invalid("local part far too long", letters(300) + u"@example.com"_s, Error::LocalPartTooLong);

    invalid("address 255 octets", letters(64) + u'@' + domainOfLength(190), Error::AddressTooLong);
    // A 253-octet domain leaves no room for a local part within 254 octets: the address limit binds first.
    invalid("domain exactly 253 octets", u"a@"_s + domainOfLength(253), Error::AddressTooLong);
    invalid("IDN address 255 octets in ASCII form but short in Unicode",
            letters(56) + u'@' + repeated(u"bücher.", 14) + u"de"_s, Error::AddressTooLong);
    invalid("domain 254 octets", u"a@"_s + domainOfLength(254), Error::DomainTooLong);
    invalid("domain of many short labels over 253 octets", u"a@"_s + repeated(u"a.", 127) + u"com"_s,
            Error::DomainTooLong);

    invalid("leading dot in domain", u"john@.example.com"_s, Error::LabelEmpty);
    invalid("consecutive dots in domain", u"john@example..com"_s, Error::LabelEmpty);
    invalid("trailing root dot in domain", u"john@example.com."_s, Error::LabelEmpty);
    invalid("two trailing dots in domain", u"john@example.com.."_s, Error::LabelEmpty);
    invalid("domain of a single dot", u"john@."_s, Error::LabelEmpty);
    invalid("consecutive dots in IDN", u"john@bücher..de"_s, Error::LabelEmpty);
    invalid("leading dot in IDN", u"john@.bücher.de"_s, Error::LabelEmpty);
    invalid("trailing dot in IDN", u"john@bücher.de."_s, Error::LabelEmpty);
    invalid("consecutive ideographic full stops", u"john@例え。。jp"_s, Error::LabelEmpty);

    invalid("domain label 64 octets", u"john@"_s + letters(64) + u".com"_s, Error::LabelTooLong);
    invalid("top-level label 64 octets", u"john@example."_s + letters(64), Error::LabelTooLong);
    invalid("IDN label 64 octets in ASCII form", u"john@"_s + letters(58, u'ü') + u".de"_s,
            Error::LabelTooLong);

    invalid("underscore in domain", u"john@exam_ple.com"_s, Error::LabelInvalidCharacter);
    invalid("space inside domain", u"john@exam ple.com"_s, Error::LabelInvalidCharacter);
    invalid("tab inside domain", u"john@exam\tple.com"_s, Error::LabelInvalidCharacter);
    invalid("exclamation mark in domain", u"john@example!.com"_s, Error::LabelInvalidCharacter);
    invalid("port after domain", u"john@example.com:25"_s, Error::LabelInvalidCharacter);
    invalid("path after domain", u"john@example.com/contact"_s, Error::LabelInvalidCharacter);
    invalid("percent-encoding in domain", u"john@ex%41mple.com"_s, Error::LabelInvalidCharacter);
    invalid("comma instead of dot in domain", u"john@example,com"_s, Error::LabelInvalidCharacter);
    invalid("angle bracket after domain", u"john@example.com>"_s, Error::LabelInvalidCharacter);
    invalid("underscore in IDN label", u"john@bü_cher.de"_s, Error::LabelInvalidCharacter);
    invalid("exclamation mark in IDN label", u"john@bü!cher.de"_s, Error::LabelInvalidCharacter);
    invalid("zero-width space in domain", u"john@exam\u200Bple.com"_s, Error::LabelInvalidCharacter);
    invalid("soft hyphen in domain", u"john@exam\u00ADple.com"_s, Error::LabelInvalidCharacter);
    invalid("no-break space inside domain", u"john@example\u00A0.com"_s, Error::LabelInvalidCharacter);
    invalid("control character in domain", u"john@exam\u0001ple.com"_s, Error::LabelInvalidCharacter);

    invalid("leading hyphen in domain label", u"john@-example.com"_s, Error::LabelHyphenPlacement);
    invalid("trailing hyphen in domain label", u"john@example-.com"_s, Error::LabelHyphenPlacement);
    invalid("leading hyphen in top-level label", u"john@example.-com"_s, Error::LabelHyphenPlacement);
    invalid("trailing hyphen in top-level label", u"john@example.com-"_s, Error::LabelHyphenPlacement);
    invalid("label of only a hyphen", u"john@-.com"_s, Error::LabelHyphenPlacement);
    invalid("bare ACE prefix", u"john@xn--.com"_s, Error::LabelHyphenPlacement);

    invalid("single-label domain localhost", u"john@localhost"_s, Error::SingleLabelDomain);
    invalid("uppercase single-label domain", u"john@LOCALHOST"_s, Error::SingleLabelDomain);
    invalid("top-level domain only", u"john@com"_s, Error::SingleLabelDomain);
    invalid("single-label IDN", u"john@bücher"_s, Error::SingleLabelDomain);
    invalid("single numeric label", u"john@12345"_s, Error::SingleLabelDomain);

    invalid("bare IPv4 address", u"john@192.0.2.1"_s, Error::NumericTopLevelLabel);
    invalid("dotted numbers", u"john@1.2.3.4"_s, Error::NumericTopLevelLabel);
    invalid("numeric top-level label", u"john@example.123"_s, Error::NumericTopLevelLabel);
    invalid("zero as top-level label", u"john@example.0"_s, Error::NumericTopLevelLabel);

    invalid("IPv4 address literal", u"john@[192.0.2.1]"_s, Error::AddressLiteral);
    invalid("IPv6 address literal", u"john@[IPv6:2001:db8::1]"_s, Error::AddressLiteral);
    invalid("domain in brackets", u"john@[example.com]"_s, Error::AddressLiteral);
    invalid("unclosed address literal", u"john@[192.0.2.1"_s, Error::AddressLiteral);
    invalid("address literal missing opening bracket", u"john@192.0.2.1]"_s, Error::AddressLiteral);

    invalid("IDN with disallowed parenthesised digit", u"john@⒈.com"_s, Error::InvalidIdn);
    invalid("IDN with disallowed not-equal sign", u"john@≠.com"_s, Error::InvalidIdn);
    invalid("full-width at sign inside IDN label", u"john@bü＠x.de"_s, Error::InvalidIdn);
    invalid("one-dot leader in IDN label", u"john@bü\u2024x.de"_s, Error::InvalidIdn);
}

void TestEmailAddress::parse()
{
    QFETCH(QString, input);
    QFETCH(Error, error);
    QFETCH(QString, asciiDomain);
    QFETCH(QString, domain);
    QFETCH(int, flags);

    const EmailAddress address = EmailAddress::parse(input);
    QCOMPARE(errorName(address.error()), errorName(error));
    QCOMPARE(address.isValid(), error == Error::None);
    QCOMPARE(address.input(), input.trimmed());
    if (!asciiDomain.isEmpty())
        QCOMPARE(address.asciiDomain(), asciiDomain);
    if (!domain.isEmpty())
        QCOMPARE(address.domain(), domain);
    if (address.isValid()) {
        QCOMPARE(address.isQuotedLocalPart(), bool(flags & Quoted));
        QCOMPARE(address.hasInternationalLocalPart(), bool(flags & International));
        QVERIFY(!address.domain().isEmpty());
        // The ASCII form is what DNS and SMTP see: LDH labels only, within the limits.
        for (const QChar c : address.asciiDomain())
            QVERIFY2(c.unicode() < 0x80 && c == c.toLower(), qPrintable(address.asciiDomain()));
        QVERIFY(address.localPart().toUtf8().size() <= 64);
        QVERIFY(address.ascii().toUtf8().size() <= 254);
    }
}

void TestEmailAddress::accessors()
{
    const EmailAddress plain = EmailAddress::parse(u"  John.Doe+Tag@Example.COM \n"_s);
    QVERIFY(plain.isValid());
    QCOMPARE(plain.input(), u"John.Doe+Tag@Example.COM"_s);
    QCOMPARE(plain.localPart(), u"John.Doe+Tag"_s); // case preserved: RFC 5321 section 2.4
    QCOMPARE(plain.domain(), u"example.com"_s);
    QCOMPARE(plain.ascii(), u"John.Doe+Tag@example.com"_s);
    QCOMPARE(plain.errorText(), EmailAddress::errorText(EmailAddress::Error::None));

    const EmailAddress quoted = EmailAddress::parse(u"\"john doe\"@Bücher.de"_s);
    QVERIFY(quoted.isValid());
    QCOMPARE(quoted.localPart(), u"\"john doe\""_s); // the quotes are part of the local part on the wire
    QCOMPARE(quoted.ascii(), u"\"john doe\"@xn--bcher-kva.de"_s);

    const EmailAddress international = EmailAddress::parse(u"用户@例え.jp"_s);
    QVERIFY(international.isValid());
    QCOMPARE(international.ascii(), u"用户@xn--r8jz45g.jp"_s);
    QCOMPARE(international.domain(), u"例え.jp"_s);

    const EmailAddress bad = EmailAddress::parse(u"john..doe@example.com"_s);
    QVERIFY(!bad.isValid());
    QCOMPARE(bad.errorText(), EmailAddress::errorText(EmailAddress::Error::LocalPartDotPlacement));
}

void TestEmailAddress::defaultConstructed()
{
    const EmailAddress address;
    QVERIFY(!address.isValid());
    QCOMPARE(errorName(address.error()), errorName(Error::Empty));
    QVERIFY(address.input().isEmpty());
}

void TestEmailAddress::errorText_data()
{
    QTest::addColumn<Error>("error");
    for (const Error error : AllErrors)
        QTest::addRow("%s", qPrintable(errorName(error))) << error;
}

void TestEmailAddress::errorText()
{
    QFETCH(Error, error);
    const QString text = EmailAddress::errorText(error);
    QVERIFY(!text.isEmpty());
    QVERIFY2(text.endsWith(u'.'), qPrintable(text)); // a full sentence
    QVERIFY2(text.at(0).isUpper(), qPrintable(text));
    // Each error says something different.
    int same = 0;
    for (const Error other : AllErrors)
        same += EmailAddress::errorText(other) == text ? 1 : 0;
    QCOMPARE(same, 1);
}

QTEST_APPLESS_MAIN(TestEmailAddress)

#include "tst_emailaddress.moc"
