#include "personname.h"

#include <QHash>
#include <QSet>

using namespace Qt::StringLiterals;

namespace mailcaff::find {

namespace {

/// Letters that do not decompose into an ASCII letter and a mark.
const QHash<QChar, QString> &specialLetters()
{
    static const QHash<QChar, QString> map{
        {u'ø', u"o"_s},  {u'ł', u"l"_s}, {u'đ', u"d"_s}, {u'æ', u"ae"_s}, {u'œ', u"oe"_s}, {u'ß', u"ss"_s},
        {u'þ', u"th"_s}, {u'ð', u"d"_s}, {u'ı', u"i"_s}, {u'ħ', u"h"_s},  {u'ŧ', u"t"_s},  {u'ŀ', u"l"_s},
        {u'’', u"'"_s},  {u'‘', u"'"_s}, {u'ʼ', u"'"_s}, {u'`', u"'"_s},  {u'´', u"'"_s},
    };
    return map;
}

/// One ASCII spelling. `german`: ä ö ü as ae oe ue (Müller → mueller) instead of a o u.
QString toAscii(const QString &text, bool german)
{
    QString out;
    for (const QChar raw : text.toCaseFolded()) {
        if (german && (raw == u'ä' || raw == u'ö' || raw == u'ü')) {
            out += raw == u'ä' ? u"ae"_s : raw == u'ö' ? u"oe"_s : u"ue"_s;
            continue;
        }
        const auto special = specialLetters().constFind(raw);
        if (special != specialLetters().constEnd()) {
            out += *special;
            continue;
        }
        for (const QChar c : QString(raw).normalized(QString::NormalizationForm_KD)) {
            if (c.category() == QChar::Mark_NonSpacing)
                continue;
            out += c;
        }
    }
    return out;
}

bool hasUmlaut(const QString &text)
{
    const QString folded = text.toCaseFolded();
    return folded.contains(u'ä') || folded.contains(u'ö') || folded.contains(u'ü');
}

/// Words of a name part: letters and digits only, apostrophes dropped (O'Brien → obrien), hyphens and
/// spaces separate words; titles and suffixes gone.
QStringList words(const QString &ascii)
{
    static const QSet<QString> dropped{
        u"dr"_s,   u"prof"_s, u"mr"_s,   u"mrs"_s, u"ms"_s,   u"miss"_s, u"mx"_s,   u"sir"_s, u"dame"_s,
        u"jr"_s,   u"sr"_s,   u"ii"_s,   u"iii"_s, u"iv"_s,   u"phd"_s,  u"md"_s,   u"esq"_s, u"mba"_s,
        u"dipl"_s, u"herr"_s, u"frau"_s, u"mme"_s, u"mlle"_s, u"dhr"_s,  u"mevr"_s,
    };
    QString text = ascii;
    text.remove(u'\'');
    QStringList out;
    QString word;
    auto flush = [&] {
        if (!word.isEmpty() && !dropped.contains(word))
            out.append(word);
        word.clear();
    };
    for (const QChar c : text) {
        if ((c >= u'a' && c <= u'z') || (c >= u'0' && c <= u'9'))
            word += c;
        else
            flush(); // spaces, hyphens, dots ("Dr."), anything of another script
    }
    flush();
    return out;
}

/// Surname particles that people often leave out of their address (van der Berg → berg).
bool isParticle(const QString &word)
{
    static const QSet<QString> particles{u"van"_s, u"der"_s, u"den"_s, u"de"_s,  u"del"_s, u"della"_s,
                                         u"di"_s,  u"da"_s,  u"dos"_s, u"das"_s, u"do"_s,  u"von"_s,
                                         u"zu"_s,  u"la"_s,  u"le"_s,  u"du"_s,  u"ter"_s, u"ten"_s,
                                         u"bin"_s, u"al"_s,  u"el"_s,  u"y"_s};
    return particles.contains(word);
}

void add(QStringList &list, const QString &spelling)
{
    if (!spelling.isEmpty() && spelling.size() <= 40 && !list.contains(spelling))
        list.append(spelling);
}

QStringList spellings(const QString &part, bool surname)
{
    QStringList out;
    // Müller: mueller first, muller too.
    const QList<bool> modes = hasUmlaut(part) ? QList<bool>{true, false} : QList<bool>{false};
    for (const bool german : modes) {
        const QStringList w = words(toAscii(part, german));
        if (w.isEmpty())
            continue;
        add(out, w.join(QString()));
        if (w.size() > 1)
            add(out, w.join(u'-'));
        if (surname) {
            QStringList core = w;
            while (core.size() > 1 && isParticle(core.first()))
                core.removeFirst();
            if (core.size() < w.size()) {
                add(out, core.join(QString()));
                if (core.size() > 1)
                    add(out, core.join(u'-'));
            }
            if (w.size() > 1 && !isParticle(w.first()))
                add(out, w.first()); // García López → garcia
        } else if (w.size() > 1) {
            add(out, w.first()); // Mary Ann → mary
        }
    }
    return out;
}

} // namespace

PersonName normalisePersonName(const QString &firstName, const QString &lastName)
{
    PersonName n;
    n.firsts = spellings(firstName.trimmed(), false);
    n.lasts = spellings(lastName.trimmed(), true);
    return n;
}

} // namespace mailcaff::find
