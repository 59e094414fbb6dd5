#include "patterns.h"

#include <QRegularExpression>
#include <QSet>

using namespace Qt::StringLiterals;

namespace mailcaff::find {

namespace {

QString initial(const QString &s)
{
    return s.left(1);
}

} // namespace

const QList<Pattern> &patterns()
{
    // Priors from public studies of business address formats (first.last dominates, then flast and first).
    static const QList<Pattern> list{
        {u"first.last"_s, 0.30, +[](const QString &f, const QString &l) -> QString { return f + u'.' + l; }},
        {u"flast"_s, 0.15, +[](const QString &f, const QString &l) -> QString { return initial(f) + l; }},
        {u"first"_s, 0.11, +[](const QString &f, const QString &) -> QString { return f; }},
        {u"firstlast"_s, 0.08, +[](const QString &f, const QString &l) -> QString { return f + l; }},
        {u"f.last"_s, 0.06, +[](const QString &f, const QString &l) -> QString { return initial(f) + u'.' + l; }},
        {u"first_last"_s, 0.04, +[](const QString &f, const QString &l) -> QString { return f + u'_' + l; }},
        {u"firstl"_s, 0.04, +[](const QString &f, const QString &l) -> QString { return f + initial(l); }},
        {u"first.l"_s, 0.03, +[](const QString &f, const QString &l) -> QString { return f + u'.' + initial(l); }},
        {u"last.first"_s, 0.03, +[](const QString &f, const QString &l) -> QString { return l + u'.' + f; }},
        {u"lastf"_s, 0.03, +[](const QString &f, const QString &l) -> QString { return l + initial(f); }},
        {u"first-last"_s, 0.03, +[](const QString &f, const QString &l) -> QString { return f + u'-' + l; }},
        {u"last"_s, 0.03, +[](const QString &, const QString &l) -> QString { return l; }},
        {u"lastfirst"_s, 0.02, +[](const QString &f, const QString &l) -> QString { return l + f; }},
        {u"fl"_s, 0.02, +[](const QString &f, const QString &l) -> QString { return initial(f) + initial(l); }},
        {u"l.first"_s, 0.01, +[](const QString &f, const QString &l) -> QString { return initial(l) + u'.' + f; }},
        {u"last_first"_s, 0.01, +[](const QString &f, const QString &l) -> QString { return l + u'_' + f; }},
        {u"f_last"_s, 0.01, +[](const QString &f, const QString &l) -> QString { return initial(f) + u'_' + l; }},
    };
    return list;
}

const Pattern *patternNamed(const QString &name)
{
    for (const Pattern &p : patterns())
        if (p.name == name)
            return &p;
    return nullptr;
}

QList<Candidate> candidates(const PersonName &name, const QHash<QString, int> &learned, int max)
{
    QList<const Pattern *> order;
    for (const Pattern &p : patterns())
        order.append(&p);
    // Learned finds first (most finds first), the priors after; stable, so ties keep the prior order.
    std::stable_sort(order.begin(), order.end(), [&](const Pattern *a, const Pattern *b) {
        return learned.value(a->name) > learned.value(b->name);
    });
    QList<Candidate> out;
    QSet<QString> seen;
    // The main spelling of both names for every pattern before any alternative spelling.
    for (int depth = 0; depth < 2 && out.size() < max; ++depth) {
        for (const Pattern *p : std::as_const(order)) {
            for (qsizetype fi = 0; fi < name.firsts.size(); ++fi) {
                for (qsizetype li = 0; li < name.lasts.size(); ++li) {
                    if ((fi + li == 0) != (depth == 0))
                        continue;
                    const QString local = p->build(name.firsts.at(fi), name.lasts.at(li));
                    if (local.isEmpty() || local.size() > 64 || seen.contains(local))
                        continue;
                    seen.insert(local);
                    out.append({local, p->name});
                    if (out.size() >= max)
                        return out;
                }
            }
        }
    }
    return out;
}

QStringList patternsOf(const QString &localPart, const PersonName &name)
{
    QStringList out;
    const QString local = localPart.toLower();
    for (const Pattern &p : patterns())
        for (const QString &f : name.firsts)
            for (const QString &l : name.lasts)
                if (p.build(f, l) == local && !out.contains(p.name))
                    out.append(p.name);
    return out;
}

QString shapeOf(const QString &localPart)
{
    static const QRegularExpression twoWords(u"^([a-z]{2,})([._-])([a-z]{2,})$"_s);
    static const QRegularExpression initialWord(u"^([a-z])([._-])([a-z]{2,})$"_s);
    static const QRegularExpression wordInitial(u"^([a-z]{2,})([._-])([a-z])$"_s);
    const QString local = localPart.toLower();
    if (const auto m = twoWords.match(local); m.hasMatch())
        return m.captured(2) == "."_L1   ? u"first.last"_s
               : m.captured(2) == "_"_L1 ? u"first_last"_s
                                         : u"first-last"_s;
    if (const auto m = initialWord.match(local); m.hasMatch())
        return m.captured(2) == "."_L1 ? u"f.last"_s : m.captured(2) == "_"_L1 ? u"f_last"_s : QString();
    if (wordInitial.match(local).hasMatch() && local.contains(u'.'))
        return u"first.l"_s;
    return {};
}

} // namespace mailcaff::find
