#pragma once

#include <QChar>
#include <QList>
#include <QRegularExpression>
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

/// A whole file: decoded, its delimiter detected, parsed. Empty with `error` set when it cannot be read or is
/// larger than `maxBytes`.
QList<QStringList> readFile(const QString &path, QString *error, qint64 maxBytes = 256 * 1024 * 1024);

/// The first cell of `header` matching `names` (the whole cell, case-insensitive), or -1.
int findColumn(const QStringList &header, const QRegularExpression &names);

/// The column most likely to hold email addresses: a header cell named like one ("email", "E-mail",
/// "address" …), else the column with most '@' in the first rows. `header`: whether the first row is a
/// header (named so, or free of '@' above rows that have some).
int guessAddressColumn(const QList<QStringList> &rows, bool *header);

} // namespace csv
} // namespace mailcaff::core
