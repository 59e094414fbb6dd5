#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

namespace mailcaff::find {

/// Addresses at `domain` (ASCII, lowercase) found in a web page: plain text, mailto: links, HTML entities
/// (&#64; &#x40; &commat;), "[at]"/"(at)"/" at " and "[dot]"/"(dot)" spellings, and Cloudflare's
/// data-cfemail obfuscation. Lowercase, in the order first seen, each once.
QStringList extractEmails(const QByteArray &html, const QString &domain);

/// The pages of a company site most likely to show addresses.
QStringList contactPaths();

} // namespace mailcaff::find
