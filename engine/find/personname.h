#pragma once

#include <QString>
#include <QStringList>

namespace mailcaff::find {

/// A person's name as it may appear in a mailbox: every likely ASCII spelling of the first and the last
/// name, most likely first.
struct PersonName
{
    QStringList firsts; ///< "jose"; "maryann", "mary-ann", "mary" for "Mary Ann"
    QStringList lasts; ///< "mueller", "muller"; "garcialopez", "garcia-lopez", "garcia"; "vanderberg", "berg"
    bool usable() const { return !firsts.isEmpty() && !lasts.isEmpty(); }
};

/// Trims and case-folds, strips accents (decomposition, plus the letters that do not decompose: ø ł đ æ œ
/// ß …), offers the German transliteration as well (ü → ue and u), drops apostrophes, titles and suffixes
/// (Dr., Prof., Jr., III …), and spells multi-word and hyphenated names joined, hyphenated and (surname
/// particles such as "van der" dropped) short. Non-Latin scripts give no spelling at all: an empty list,
/// never a made-up candidate.
PersonName normalisePersonName(const QString &firstName, const QString &lastName);

} // namespace mailcaff::find
