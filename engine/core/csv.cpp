#include "csv.h"

#include <QFile>
#include <QStringDecoder>

#include <algorithm>
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

void Parser::endField()
{
    m_record.append(m_field);
    m_field.clear();
    m_fieldStarted = false;
}

void Parser::feed(QStringView text, const std::function<void(QStringList &&)> &record)
{
    const qsizetype n = text.size();
    qsizetype plainFrom = -1; // a run of ordinary characters, appended in one go
    auto flushPlain = [&](qsizetype upTo) {
        if (plainFrom >= 0) {
            m_field += text.mid(plainFrom, upTo - plainFrom);
            plainFrom = -1;
        }
    };
    for (qsizetype i = 0; i < n; ++i) {
        const QChar c = text[i];
        if (m_afterCr) {
            m_afterCr = false;
            if (c == u'\n')
                continue;
        }
        if (m_quoteInQuoted) {
            m_quoteInQuoted = false;
            if (c == u'"') {
                m_field += u'"'; // a doubled quote: one quote in the field, still quoted
                continue;
            }
            m_quoted = false; // the closing quote; this character is read as unquoted
        }
        if (m_quoted) {
            if (c == u'"') {
                flushPlain(i);
                m_quoteInQuoted = true;
            } else if (plainFrom < 0) {
                plainFrom = i;
            }
            continue;
        }
        if (c == u'"' && !m_fieldStarted) {
            flushPlain(i);
            m_quoted = true;
            m_fieldStarted = true;
        } else if (c == m_delimiter) {
            flushPlain(i);
            endField();
        } else if (c == u'\n' || c == u'\r') {
            flushPlain(i);
            endField();
            record(std::move(m_record));
            m_record = QStringList();
            m_afterCr = c == u'\r';
        } else {
            m_fieldStarted = true;
            if (plainFrom < 0)
                plainFrom = i;
        }
    }
    flushPlain(n);
}

void Parser::finish(const std::function<void(QStringList &&)> &record)
{
    m_quoteInQuoted = false;
    if (m_fieldStarted || !m_field.isEmpty() || !m_record.isEmpty()) {
        endField();
        record(std::move(m_record));
        m_record = QStringList();
    }
    m_quoted = false;
    m_afterCr = false;
}

QList<QStringList> parse(const QString &text, QChar delimiter)
{
    QList<QStringList> records;
    Parser parser(delimiter);
    const auto add = [&records](QStringList &&r) { records.append(std::move(r)); };
    parser.feed(text, add);
    parser.finish(add);
    return records;
}

namespace {

/// field(), appended to `out` in one pass (an export writes a million rows of a dozen fields): UTF-16 into
/// a QString, or UTF-8 into a QByteArray (whose multi-byte sequences never hold an ASCII byte, so the
/// same tests hold).
template<typename Out, typename View, typename Unit> void appendField(Out &out, View value, Unit delimiter)
{
    const auto unit = [](char ascii) { return Unit(char16_t(ascii)); }; // QChar takes no char
    const auto is = [&](Unit c, char ascii) { return c == unit(ascii); };
    const bool formula =
        !value.isEmpty() && (is(value.front(), '=') || is(value.front(), '+') || is(value.front(), '-') ||
                             is(value.front(), '@') || is(value.front(), '\t') || is(value.front(), '\r'));
    const bool quoted = std::any_of(value.begin(), value.end(), [&](Unit c) {
        return c == delimiter || is(c, '"') || is(c, '\n') || is(c, '\r');
    });
    if (quoted)
        out += unit('"');
    if (formula)
        out += unit('\'');
    if (!quoted) {
        out += value;
        return;
    }
    for (const Unit c : value) {
        if (is(c, '"'))
            out += unit('"');
        out += c;
    }
    out += unit('"');
}

} // namespace

QString field(const QString &value, QChar delimiter)
{
    QString out;
    appendField(out, QStringView(value), delimiter);
    return out;
}

QString record(const QStringList &values, QChar delimiter)
{
    qsizetype size = 2;
    for (const QString &v : values)
        size += v.size() + 1;
    QString out;
    out.reserve(size + 8); // room for a few quotes
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            out += delimiter;
        appendField(out, QStringView(values.at(i)), delimiter);
    }
    out += u"\r\n"_s;
    return out;
}

void appendRecord(QByteArray &out, const QList<QByteArrayView> &values, char delimiter)
{
    for (qsizetype i = 0; i < values.size(); ++i) {
        if (i > 0)
            out += delimiter;
        appendField(out, values.at(i), delimiter);
    }
    out += "\r\n";
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
    return decodeWindows1252(bytes);
}

QString decodeWindows1252(QByteArrayView bytes)
{
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

namespace {
constexpr qint64 ChunkBytes = 1024 * 1024;
}

Reader::Reader(const QString &path)
    : m_file(path)
{
}

bool Reader::open()
{
    if (!m_file.open(QIODevice::ReadOnly)) {
        m_error = m_file.errorString();
        return false;
    }
    m_size = m_file.size();
    // The encoding: a BOM says it; otherwise UTF-8 if the whole file is valid UTF-8 (checked in chunks,
    // nothing kept), else Windows-1252, as decode() decides for a whole file.
    const QByteArray start = m_file.peek(3);
    if (start.startsWith("\xEF\xBB\xBF")) {
        m_file.skip(3);
    } else if (start.startsWith("\xFF\xFE") || start.startsWith("\xFE\xFF")) {
        m_encoding = Encoding::Utf16;
    } else {
        QStringDecoder check(QStringDecoder::Utf8);
        while (!m_file.atEnd() && !check.hasError()) {
            const QByteArray chunk = m_file.read(ChunkBytes);
            if (chunk.isEmpty() && m_file.error() != QFileDevice::NoError) {
                m_error = m_file.errorString();
                return false;
            }
            [[maybe_unused]] const QString ignored = check.decode(chunk);
        }
        // A sequence cut by the end of the file is an error too.
        if (!check.hasError()) [[maybe_unused]]
            const QString rest = check.decode(QByteArray());
        if (check.hasError())
            m_encoding = Encoding::Windows1252;
        m_file.seek(0);
    }
    if (m_encoding == Encoding::Utf16)
        m_decoder = QStringDecoder(QStringDecoder::Utf16); // the BOM gives the byte order and is dropped
    else if (m_encoding == Encoding::Utf8)
        m_decoder = QStringDecoder(QStringDecoder::Utf8);
    // The delimiter from the first 16,384 characters (more than one chunk only for very long lines).
    while (m_pendingText.size() < 16384 && !m_file.atEnd()) {
        const QByteArray chunk = m_file.read(ChunkBytes);
        if (chunk.isEmpty() && m_file.error() != QFileDevice::NoError) {
            m_error = m_file.errorString();
            return false;
        }
        m_pendingText += decodeChunk(chunk, m_file.atEnd());
    }
    m_delimiter = detectDelimiter(m_pendingText.left(16384));
    m_parser = std::make_unique<Parser>(m_delimiter);
    return true;
}

QString Reader::decodeChunk(const QByteArray &bytes, bool last)
{
    if (m_encoding == Encoding::Windows1252)
        return decodeWindows1252(bytes);
    QString text = m_decoder.decode(bytes);
    if (last)
        text += m_decoder.decode(QByteArray()); // a sequence cut at the very end
    return text;
}

bool Reader::fill()
{
    m_ready.clear();
    m_readyIndex = 0;
    const auto add = [this](QStringList &&r) { m_ready.append(std::move(r)); };
    while (m_ready.isEmpty() && !m_atEnd) {
        if (!m_pendingText.isEmpty()) {
            m_parser->feed(m_pendingText, add);
            m_pendingText.clear();
            continue;
        }
        if (m_file.atEnd()) {
            m_parser->finish(add);
            m_atEnd = true;
            break;
        }
        const QByteArray chunk = m_file.read(ChunkBytes);
        if (chunk.isEmpty() && m_file.error() != QFileDevice::NoError) {
            m_error = m_file.errorString();
            m_atEnd = true;
            return false;
        }
        m_parser->feed(decodeChunk(chunk, m_file.atEnd()), add);
    }
    return !m_ready.isEmpty();
}

bool Reader::next(QStringList *record)
{
    if (!m_parser)
        return false;
    if (m_readyIndex >= m_ready.size() && !fill())
        return false;
    *record = std::move(m_ready[m_readyIndex++]);
    return true;
}

QList<QStringList> readFirstRecords(const QString &path, qsizetype maxRows, QString *error, bool *complete)
{
    QList<QStringList> rows;
    Reader reader(path);
    if (!reader.open()) {
        if (error)
            *error = reader.error();
        return rows;
    }
    QStringList row;
    while (rows.size() < maxRows && reader.next(&row))
        rows.append(std::move(row));
    if (!reader.error().isEmpty()) {
        if (error)
            *error = reader.error();
        return {};
    }
    if (complete)
        *complete = rows.size() < maxRows || !reader.next(&row);
    return rows;
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
