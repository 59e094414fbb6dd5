#pragma once

#include <QString>
#include <QStringList>

namespace mailcaff::domain {

/// A company name made ready for guessing its domain: the legal form taken off (and remembered), accents
/// stripped, `&` both spelled out and dropped, punctuation gone, and the top-level domains to try in the
/// order the name suggests.
struct CompanyName
{
    QString original;
    QString key;        ///< one normalised spelling of the whole name: the cache key
    QString legalForm;  ///< canonical spelling of the legal form found ("B.V.", "GmbH"), empty if none
    QString country;    ///< the country TLD that legal form suggests ("nl", "de"), empty if none
    QStringList labels; ///< domain labels to try, most likely first: "coolblue", "acme-widgets"
    QStringList tlds;   ///< top-level domains to try, in order ("nl" first for a B.V.)

    /// labels × tlds, in order: labels first, then TLDs (every TLD of the best label before the next label).
    QStringList candidates() const;
};

/// Empty `labels` when nothing usable is left (a name only of legal forms or of non-Latin script: no
/// candidate is better than a made-up one).
CompanyName normaliseCompanyName(const QString &name);

/// Lowercase ASCII letters and digits only, accents stripped ("Crème Brûlée!" → "cremebrulee"): for comparing
/// a page title with a company name.
QString foldedAlnum(const QString &text);

/// The TLDs tried for every name, in this order unless the name suggests another first.
QStringList defaultTlds();

} // namespace mailcaff::domain
