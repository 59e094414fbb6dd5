#pragma once

#include <QChar>
#include <QList>
#include <QString>
#include <QStringList>

namespace mailcaff::core {

/// CSV as spreadsheets write it (RFC 4180): quoted fields with doubled quotes, delimiters and line breaks
/// inside quotes, CRLF or LF line ends. Tolerant on input, strict on output.
namespace csv {

/// The delimiter of a file from its first lines: the one of , ; TAB | that splits the lines most
/// consistently (outside quotes). ',' when nothing tells.
QChar detectDelimiter(const QString &sample);

/// Every record of `text`; a trailing empty line is not a record.
QList<QStringList> parse(const QString &text, QChar delimiter);

/// One field for writing: quoted when it needs to be, and neutralised against formula injection (a cell
/// starting with = + - @ TAB or CR gets a leading apostrophe, so a spreadsheet shows it as text).
QString field(const QString &value, QChar delimiter = u',');
/// A whole record, CRLF-terminated.
QString record(const QStringList &values, QChar delimiter = u',');

/// Decodes file bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.
QString decode(const QByteArray &bytes);

} // namespace csv
} // namespace mailcaff::core
