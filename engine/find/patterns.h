#pragma once

#include "personname.h"

#include <QHash>
#include <QList>
#include <QString>

namespace mailcaff::find {

/// One way companies build addresses from names.
struct Pattern
{
    QString name;     ///< API.md's `pattern`: "first.last", "flast", …
    double prior = 0; ///< share of business domains using it (published surveys, rounded)
    QString (*build)(const QString &first, const QString &last) = nullptr;
};

/// The catalogue, most common first.
const QList<Pattern> &patterns();
const Pattern *patternNamed(const QString &name);

/// One address to try, and how it was built.
struct Candidate
{
    QString localPart;
    QString pattern;
};

/// Candidate local parts for a person, in the order to try them: patterns by the domain's learned
/// distribution (pattern → SMTP-verified finds) first, then by prior; within a pattern the most likely
/// spellings first. Duplicates (e.g. "first" for two surname spellings) come once; at most `max`.
QList<Candidate> candidates(const PersonName &name, const QHash<QString, int> &learned, int max = 24);

/// The patterns a local part fits for this person (a scraped or known address: which rule made it).
QStringList patternsOf(const QString &localPart, const PersonName &name);

/// The shape of an address of somebody else (a scraped one) when the name is unknown: "first.last" for
/// "jane.roe", "flast" is not told apart from "first" here and gives nothing. Empty when unclear.
QString shapeOf(const QString &localPart);

} // namespace mailcaff::find
