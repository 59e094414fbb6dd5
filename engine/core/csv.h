#pragma once

#include <QByteArrayView>
#include <QChar>
#include <QFile>
#include <QList>
#include <QRegularExpression>
#include <QString>
#include <QStringDecoder>
#include <QStringList>

#include <functional>
#include <memory>

namespace mailcaff::core {

/// CSV as spreadsheets write it (RFC 4180): quoted fields with doubled quotes, delimiters and line breaks
/// inside quotes, CRLF or LF line ends. Tolerant on input, strict on output.
namespace csv {

/// The delimiter of a file from its first lines: the one of , ; TAB | that splits the lines most
/// consistently (outside quotes). ',' when nothing tells.
QChar detectDelimiter(const QString &sample);

/// Every record of `text`; a trailing empty line is not a record.
QList<QStringList> parse(const QString &text, QChar delimiter);

/// The parser behind parse(), fed text piece by piece (a quoted field, a doubled quote or a CRLF may be cut
/// anywhere between two pieces): each complete record goes to `record` as soon as it ends.
class Parser
{
public:
    explicit Parser(QChar delimiter)
        : m_delimiter(delimiter)
    {
    }
    void feed(QStringView text, const std::function<void(QStringList &&)> &record);
    /// The last record when the text does not end with a line break.
    void finish(const std::function<void(QStringList &&)> &record);

private:
    void endField();
    QChar m_delimiter;
    QStringList m_record;
    QString m_field;
    bool m_quoted = false;
    bool m_fieldStarted = false;
    bool m_quoteInQuoted = false; ///< a '"' inside quotes: the end of the quotes, or the first of two
    bool m_afterCr = false;       ///< a CR ended the record: a LF right after it belongs to it
};

/// A file read record by record, for lists too big to hold twice in memory: the encoding is decided on the
/// whole file first (as decode() does, in one cheap pass), the delimiter from its start, then records are
/// parsed a megabyte at a time.
class Reader
{
public:
    explicit Reader(const QString &path);
    /// Opens the file and reads enough to know its encoding and delimiter. False with error() set.
    bool open();
    /// The next record; false at the end of the file or on a read error (error() set).
    bool next(QStringList *record);
    QChar delimiter() const { return m_delimiter; }
    /// Bytes read so far, and the file's size: progress.
    qint64 position() const { return m_file.pos(); }
    qint64 size() const { return m_size; }
    QString error() const { return m_error; }

private:
    bool fill();
    QString decodeChunk(const QByteArray &bytes, bool last);

    QFile m_file;
    qint64 m_size = 0;
    enum class Encoding { Utf8, Utf16, Windows1252 } m_encoding = Encoding::Utf8;
    QStringDecoder m_decoder;
    std::unique_ptr<Parser> m_parser;
    QChar m_delimiter = u',';
    QString m_pendingText; ///< decoded and not yet parsed (the start of the file, read to find the delimiter)
    QList<QStringList> m_ready;
    qsizetype m_readyIndex = 0;
    bool m_atEnd = false;
    QString m_error;
};

/// One field for writing: quoted when it needs to be, and neutralised against formula injection (a cell
/// starting with = + - @ TAB or CR gets a leading apostrophe, so a spreadsheet shows it as text).
QString field(const QString &value, QChar delimiter = u',');
/// A whole record, CRLF-terminated.
QString record(const QStringList &values, QChar delimiter = u',');
/// record() in UTF-8, appended to `out` (for exports written as UTF-8 anyway: no conversions).
void appendRecord(QByteArray &out, const QList<QByteArrayView> &values, char delimiter = ',');

/// Decodes file bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.
QString decode(const QByteArray &bytes);
/// Windows-1252: Latin-1 plus the 0x80–0x9F block of typographic marks.
QString decodeWindows1252(QByteArrayView bytes);

/// A whole file: decoded, its delimiter detected, parsed. Empty with `error` set when it cannot be read or is
/// larger than `maxBytes`.
QList<QStringList> readFile(const QString &path, QString *error, qint64 maxBytes = 256 * 1024 * 1024);
/// The first `maxRows` records of a file (a preview), through Reader. `complete` tells whether that was all.
QList<QStringList> readFirstRecords(const QString &path, qsizetype maxRows, QString *error,
                                    bool *complete = nullptr);

/// The first cell of `header` matching `names` (the whole cell, case-insensitive), or -1.
int findColumn(const QStringList &header, const QRegularExpression &names);

/// The column most likely to hold email addresses: a header cell named like one ("email", "E-mail",
/// "address" …), else the column with most '@' in the first rows. `header`: whether the first row is a
/// header (named so, or free of '@' above rows that have some).
int guessAddressColumn(const QList<QStringList> &rows, bool *header);

} // namespace csv
} // namespace mailcaff::core
