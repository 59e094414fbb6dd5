#include "csv.h"

#include <QFile>
#include <QStringDecoder>

#include <array>

using namespace Qt::StringLiterals;

namespace mailcaff::core::csv {

namespace {

/// Fields per line for the first lines, counting `delimiter` outside quotes.
QList<int> countsPerLine(const QString &sample, QChar delimiter, int maxLines)
{
    QList<int> counts;
    int count = 0;
    bool quoted = false;
    for (const QChar c : sample) {
        if (c == u'"') {
            quoted = !quoted;
        } else if (!quoted && c == delimiter) {
            ++count;
        } else if (!quoted && c == u'\n') {
            counts.append(count);
            count = 0;
            if (counts.size() >= maxLines)
                return counts;
        }
    }
    if (count > 0)
        counts.append(count);
    return counts;
}

} // namespace

QChar detectDelimiter(const QString &sample)
{
    QChar best = u',';
    double bestScore = 0;
    for (const QChar d : std::array<QChar, 4>{u',', u';', u'\t', u'|'}) {
        const QList<int> counts = countsPerLine(sample, d, 20);
        if (counts.isEmpty() || counts.first() == 0)
            continue;
        // Lines that agree with the first one, weighted by how many fields they make.
        const int agreeing = int(std::count(counts.cbegin(), counts.cend(), counts.first()));
        const double score = double(agreeing) / counts.size() * 100 + counts.first();
        if (score > bestScore) {
            bestScore = score;
            best = d;
        }
    }
    return best;
}

QList<QStringList> parse(const QString &text, QChar delimiter)
{
    QList<QStringList> records;
    QStringList record;
    QString field;
    bool quoted = false;
    bool fieldStarted = false;
    const qsizetype n = text.size();
    for (qsizetype i = 0; i < n; ++i) {
        const QChar c = text.at(i);
        if (quoted) {
            if (c == u'"') {
                if (i + 1 < n && text.at(i + 1) == u'"') {
                    field += u'"';
                    ++i;
                } else {
                    quoted = false;
                }
            } else {
                field += c;
            }
            continue;
        }
        if (c == u'"' && !fieldStarted) {
            quoted = true;
            fieldStarted = true;
        } else if (c == delimiter) {
            record.append(field);
            field.clear();
            fieldStarted = false;
        } else if (c == u'\r' && i + 1 < n && text.at(i + 1) == u'\n') {
            continue; // the \n ends the record
        } else if (c == u'\n' || c == u'\r') {
            record.append(field);
            records.append(record);
            record.clear();
            field.clear();
            fieldStarted = false;
        } else {
            field += c;
            fieldStarted = true;
        }
    }
    if (fieldStarted || !field.isEmpty() || !record.isEmpty()) {
        record.append(field);
        records.append(record);
    }
    return records;
}

QString field(const QString &value, QChar delimiter)
{
    QString v = value;
    if (!v.isEmpty() && (v.front() == u'=' || v.front() == u'+' || v.front() == u'-' || v.front() == u'@' ||
                         v.front() == u'\t' || v.front() == u'\r'))
        v.prepend(u'\'');
    if (v.contains(delimiter) || v.contains(u'"') || v.contains(u'\n') || v.contains(u'\r')) {
        v.replace(u"\""_s, u"\"\""_s);
        return u'"' + v + u'"';
    }
    return v;
}

QString record(const QStringList &values, QChar delimiter)
{
    QStringList fields;
    fields.reserve(values.size());
    for (const QString &v : values)
        fields.append(field(v, delimiter));
    return fields.join(delimiter) + u"\r\n"_s;
}

QString decode(const QByteArray &bytes)
{
    if (bytes.startsWith("\xEF\xBB\xBF"))
        return QString::fromUtf8(bytes.mid(3));
    if (bytes.startsWith("\xFF\xFE") || bytes.startsWith("\xFE\xFF")) {
        QStringDecoder utf16(QStringDecoder::Utf16); // the BOM gives the byte order and is dropped
        return utf16.decode(bytes);
    }
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    const QString text = utf8.decode(bytes);
    if (!utf8.hasError())
        return text;
    // Windows-1252: Latin-1 plus the 0x80–0x9F block of typographic marks.
    static const char16_t cp1252[32] = {0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
                                        0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
    QString out;
    out.reserve(bytes.size());
    for (const char ch : bytes) {
        const uchar b = uchar(ch);
        out += (b >= 0x80 && b < 0xA0) ? QChar(cp1252[b - 0x80]) : QChar(char16_t(b));
    }
    return out;
}

QList<QStringList> readFile(const QString &path, QString *error, qint64 maxBytes)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (error)
            *error = file.errorString();
        return {};
    }
    if (file.size() > maxBytes) {
        if (error)
            *error = u"the file is larger than %1 MB"_s.arg(maxBytes / (1024 * 1024));
        return {};
    }
    const QString text = decode(file.readAll());
    return parse(text, detectDelimiter(text.left(16384)));
}

int findColumn(const QStringList &header, const QRegularExpression &names)
{
    for (qsizetype c = 0; c < header.size(); ++c)
        if (names.match(header.at(c).trimmed()).hasMatch())
            return int(c);
    return -1;
}

int guessAddressColumn(const QList<QStringList> &rows, bool *header)
{
    *header = false;
    if (rows.isEmpty())
        return 0;
    static const QRegularExpression named(
        u"^(e-?mail|e-?mail[ _]?address|mail|address|adres|courriel|correo|e-?mail[ _]?adresse?)$"_s,
        QRegularExpression::CaseInsensitiveOption);
    const int byName = findColumn(rows.first(), named);
    const bool firstHasAt = std::any_of(rows.first().cbegin(), rows.first().cend(),
                                        [](const QString &c) { return c.contains(u'@'); });
    *header = byName >= 0 || (!firstHasAt && rows.size() > 1);
    if (byName >= 0)
        return byName;
    QList<int> ats;
    for (qsizetype r = *header ? 1 : 0; r < std::min<qsizetype>(rows.size(), 200); ++r) {
        const QStringList &row = rows.at(r);
        if (ats.size() < row.size())
            ats.resize(row.size());
        for (qsizetype c = 0; c < row.size(); ++c)
            if (row.at(c).contains(u'@'))
                ++ats[c];
    }
    return ats.isEmpty() ? 0 : int(std::max_element(ats.cbegin(), ats.cend()) - ats.cbegin());
}

} // namespace mailcaff::core::csv
