#include "companyname.h"

#include <QHash>
#include <QRegularExpression>

using namespace Qt::StringLiterals;

namespace mailcaff::domain {

namespace {

struct LegalForm
{
    QStringList tokens; ///< lowercase, accents stripped, dots removed
    QString canonical;
    QString country; ///< a TLD, or empty
};

/// Legal forms, longest first so "pty ltd" wins over "ltd". Matched at the end of the name, repeatedly
/// ("GmbH & Co. KG" is three of them).
const QList<LegalForm> &legalForms()
{
    static const QList<LegalForm> forms = [] {
        QList<LegalForm> f{
            {{u"ug"_s, u"haftungsbeschrankt"_s}, u"UG (haftungsbeschränkt)"_s, u"de"_s},
            {{u"sp"_s, u"z"_s, u"oo"_s}, u"sp. z o.o."_s, u"pl"_s},
            {{u"pty"_s, u"ltd"_s}, u"Pty Ltd"_s, u"com.au"_s},
            {{u"pte"_s, u"ltd"_s}, u"Pte. Ltd."_s, u"sg"_s},
            {{u"co"_s, u"ltd"_s}, u"Co., Ltd."_s, QString()},
            {{u"&"_s, u"co"_s}, u"& Co."_s, QString()},
            {{u"and"_s, u"co"_s}, u"& Co."_s, QString()},
            {{u"inc"_s}, u"Inc."_s, QString()},
            {{u"incorporated"_s}, u"Inc."_s, QString()},
            {{u"corp"_s}, u"Corp."_s, QString()},
            {{u"corporation"_s}, u"Corporation"_s, QString()},
            {{u"llc"_s}, u"LLC"_s, QString()},
            {{u"llp"_s}, u"LLP"_s, u"co.uk"_s},
            {{u"ltd"_s}, u"Ltd."_s, u"co.uk"_s},
            {{u"limited"_s}, u"Limited"_s, u"co.uk"_s},
            {{u"plc"_s}, u"PLC"_s, u"co.uk"_s},
            {{u"gmbh"_s}, u"GmbH"_s, u"de"_s},
            {{u"mbh"_s}, u"mbH"_s, u"de"_s},
            {{u"gesmbh"_s}, u"GesmbH"_s, u"at"_s},
            {{u"ug"_s}, u"UG"_s, u"de"_s},
            {{u"ag"_s}, u"AG"_s, u"de"_s},
            {{u"kg"_s}, u"KG"_s, u"de"_s},
            {{u"kgaa"_s}, u"KGaA"_s, u"de"_s},
            {{u"ohg"_s}, u"OHG"_s, u"de"_s},
            {{u"ek"_s}, u"e.K."_s, u"de"_s},
            {{u"ev"_s}, u"e.V."_s, u"de"_s},
            {{u"se"_s}, u"SE"_s, u"eu"_s},
            {{u"bv"_s}, u"B.V."_s, u"nl"_s},
            {{u"nv"_s}, u"N.V."_s, u"nl"_s},
            {{u"vof"_s}, u"VOF"_s, u"nl"_s},
            {{u"bvba"_s}, u"BVBA"_s, u"be"_s},
            {{u"sprl"_s}, u"SPRL"_s, u"be"_s},
            {{u"sa"_s}, u"S.A."_s, u"fr"_s},
            {{u"sas"_s}, u"SAS"_s, u"fr"_s},
            {{u"sasu"_s}, u"SASU"_s, u"fr"_s},
            {{u"sarl"_s}, u"SARL"_s, u"fr"_s},
            {{u"eurl"_s}, u"EURL"_s, u"fr"_s},
            {{u"sl"_s}, u"S.L."_s, u"es"_s},
            {{u"sau"_s}, u"S.A.U."_s, u"es"_s},
            {{u"spa"_s}, u"S.p.A."_s, u"it"_s},
            {{u"srl"_s}, u"S.r.l."_s, u"it"_s},
            {{u"oy"_s}, u"Oy"_s, u"fi"_s},
            {{u"oyj"_s}, u"Oyj"_s, u"fi"_s},
            {{u"ab"_s}, u"AB"_s, u"se"_s},
            {{u"asa"_s}, u"ASA"_s, u"no"_s},
            {{u"as"_s}, u"AS"_s, u"no"_s},
            {{u"a/s"_s}, u"A/S"_s, u"dk"_s},
            {{u"aps"_s}, u"ApS"_s, u"dk"_s},
            {{u"kk"_s}, u"KK"_s, u"jp"_s},
            {{u"lda"_s}, u"Lda."_s, u"pt"_s},
            {{u"sro"_s}, u"s.r.o."_s, u"cz"_s},
            {{u"co"_s}, u"Co."_s, QString()},
            {{u"company"_s}, u"Company"_s, QString()},
        };
        std::stable_sort(f.begin(), f.end(), [](const LegalForm &a, const LegalForm &b) {
            return a.tokens.size() > b.tokens.size();
        });
        return f;
    }();
    return forms;
}

/// Lowercase ASCII where the script allows: accents stripped by decomposition, plus the letters that do not
/// decompose. Anything else (another script) is kept, to be dropped later as not usable in a label.
QString foldToAscii(const QString &text)
{
    static const QHash<QChar, QString> special{
        {u'ø', u"o"_s},  {u'Ø', u"o"_s},  {u'ł', u"l"_s},  {u'Ł', u"l"_s},  {u'đ', u"d"_s},  {u'Đ', u"d"_s},
        {u'æ', u"ae"_s}, {u'Æ', u"ae"_s}, {u'œ', u"oe"_s}, {u'Œ', u"oe"_s}, {u'ß', u"ss"_s}, {u'þ', u"th"_s},
        {u'Þ', u"th"_s}, {u'ı', u"i"_s},  {u'ð', u"d"_s},  {u'’', u"'"_s},  {u'‘', u"'"_s},  {u'＆', u"&"_s},
    };
    QString out;
    const QString decomposed = text.normalized(QString::NormalizationForm_KD);
    out.reserve(decomposed.size());
    for (const QChar c : decomposed) {
        if (c.category() == QChar::Mark_NonSpacing)
            continue;
        const auto it = special.constFind(c);
        out += it != special.constEnd() ? *it : QString(c);
    }
    return out.toCaseFolded();
}

QString tokenKey(const QString &token)
{
    QString k = token;
    k.remove(u'.');
    return k;
}

void putFirst(QStringList &list, const QString &item)
{
    list.removeAll(item);
    list.prepend(item);
}

} // namespace

QString foldedAlnum(const QString &text)
{
    QString out = foldToAscii(text);
    out.removeIf([](QChar ch) { return !((ch >= u'a' && ch <= u'z') || (ch >= u'0' && ch <= u'9')); });
    return out;
}

QStringList defaultTlds()
{
    return {u"com"_s, u"nl"_s, u"de"_s, u"io"_s, u"eu"_s, u"co"_s, u"net"_s, u"org"_s};
}

QStringList CompanyName::candidates() const
{
    QStringList out;
    for (const QString &label : labels)
        for (const QString &tld : tlds)
            out.append(label + u'.' + tld);
    return out;
}

CompanyName normaliseCompanyName(const QString &name)
{
    CompanyName c;
    c.original = name;
    c.tlds = defaultTlds();

    QString text = foldToAscii(name.simplified());
    for (const QChar sep : {u',', u'(', u')', u';', u'"', u'|'})
        text.replace(sep, u' ');
    // "AT & T" and "AT&T" alike: a lone ampersand is a token of its own.
    QStringList tokens = text.split(u' ', Qt::SkipEmptyParts);

    // Legal forms at the end, as many as there are ("GmbH & Co. KG"); the first word always stays.
    QStringList forms;
    bool stripped = true;
    while (stripped && tokens.size() > 1) {
        stripped = false;
        for (const LegalForm &form : legalForms()) {
            const qsizetype n = form.tokens.size();
            if (tokens.size() - n < 1)
                continue;
            bool match = true;
            for (qsizetype i = 0; i < n && match; ++i)
                match = tokenKey(tokens.at(tokens.size() - n + i)) == form.tokens.at(i);
            if (!match)
                continue;
            tokens.resize(tokens.size() - n);
            forms.prepend(form.canonical);
            if (c.country.isEmpty())
                c.country = form.country;
            stripped = true;
            break;
        }
    }
    // A name written as its domain ("Booking.com"): its TLD first, its name as the label.
    static const QRegularExpression asDomain(u"^(.+)\\.(com|net|org|io|nl|de|eu|co|be|fr|it|es|ch|at|uk)$"_s);
    if (!tokens.isEmpty()) {
        const auto m = asDomain.match(tokens.last());
        if (m.hasMatch()) {
            tokens.last() = m.captured(1);
            putFirst(c.tlds, m.captured(2));
        }
    }

    c.legalForm = forms.join(u' ');
    if (tokens.size() > 1 && tokens.first() == "the"_L1)
        tokens.removeFirst();

    // Two spellings of '&' (and '+'): spelled out ("marksandspencer") and dropped ("att"). Spelled out first
    // where it stands between words, dropped first inside one ("AT&T").
    auto words = [&](bool spellOut) {
        QStringList out;
        for (QString t : tokens) {
            t.remove(u'\'');
            t.replace(u'+', u'&');
            t.replace(u'&', spellOut ? u" and "_s : u" "_s);
            t.replace(u'-', u' ');
            t.replace(u'.', u' ');
            t.replace(u'/', u' ');
            for (QString w : t.split(u' ', Qt::SkipEmptyParts)) {
                w.removeIf(
                    [](QChar ch) { return !((ch >= u'a' && ch <= u'z') || (ch >= u'0' && ch <= u'9')); });
                if (!w.isEmpty())
                    out.append(w);
            }
        }
        return out;
    };
    const bool loneAmpersand = tokens.contains(u"&"_s) || tokens.contains(u"+"_s);
    const bool innerAmpersand =
        !loneAmpersand && std::any_of(tokens.cbegin(), tokens.cend(),
                                      [](const QString &t) { return t.contains(u'&') || t.contains(u'+'); });
    QList<QStringList> spellings{words(loneAmpersand || !innerAmpersand)};
    if (loneAmpersand || innerAmpersand)
        spellings.append(words(!(loneAmpersand || !innerAmpersand)));
    for (const QStringList &w : std::as_const(spellings)) {
        if (w.isEmpty())
            continue;
        for (const QString &label : {w.join(QString()), w.size() > 1 ? w.join(u'-') : QString()}) {
            if (!label.isEmpty() && label.size() <= 63 && !c.labels.contains(label))
                c.labels.append(label);
        }
    }
    if (!c.country.isEmpty())
        putFirst(c.tlds, c.country);
    c.key = QString(spellings.first().join(u' ') + u'|' + c.country);
    return c;
}

} // namespace mailcaff::domain
