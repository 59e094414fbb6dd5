#include "reply.h"

using namespace Qt::StringLiterals;

namespace mailcaff::smtp {

namespace {

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// Length of the RFC 3463 section 2 status code at the start of a reply's text ("5.1.1 User unknown"), or 0.
// class is 2, 4 or 5; subject and detail are one to three digits. The code must end the text or be followed
// by white space, so an address in a banner ("220 5.6.7.8 ESMTP") or a version number is not taken for one.
qsizetype enhancedCodeLength(QByteArrayView text)
{
    if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return 0;
    qsizetype i = 2;
    const auto digits = [&] {
        const qsizetype start = i;
        while (i < text.size() && i - start < 3 && isDigit(text[i]))
            ++i;
        return i > start;
    };
    if (!digits() || i >= text.size() || text[i] != '.')
        return 0;
    ++i;
    if (!digits())
        return 0;
    if (i < text.size() && text[i] != ' ' && text[i] != '\t')
        return 0;
    return i;
}

} // namespace

QString Reply::text() const
{
    return lines.join(u' ');
}

void ReplyParser::feed(QByteArrayView data)
{
    if (hasError())
        return;
    qsizetype pos = 0;
    while (pos < data.size()) {
        const qsizetype newline = data.indexOf('\n', pos);
        if (newline < 0) {
            // No end of line yet: keep at most one line's worth (plus a CR waiting for its LF), so a peer
            // streaming megabytes without a newline costs us MaxLineLength bytes, not megabytes.
            const QByteArrayView tail = data.sliced(pos);
            if (m_partialLine.size() + tail.size() > MaxLineLength + 1)
                return fail(u"Reply line longer than %1 octets"_s.arg(MaxLineLength));
            m_partialLine.append(tail);
            return;
        }
        const QByteArrayView segment = data.sliced(pos, newline - pos);
        pos = newline + 1;

        QByteArrayView line = segment;
        if (!m_partialLine.isEmpty()) {
            if (m_partialLine.size() + segment.size() > MaxLineLength + 1)
                return fail(u"Reply line longer than %1 octets"_s.arg(MaxLineLength));
            m_partialLine.append(segment);
            line = m_partialLine;
        }
        const qsizetype rawSize = line.size() + 1;
        // RFC 5321 section 2.3.8 requires CRLF, but bare LF is common enough (and harmless) to accept.
        if (line.endsWith('\r'))
            line.chop(1);
        if (line.size() > MaxLineLength)
            return fail(u"Reply line longer than %1 octets"_s.arg(MaxLineLength));
        parseLine(line, rawSize);
        m_partialLine.clear();
        if (hasError())
            return;
    }
}

void ReplyParser::parseLine(QByteArrayView line, qsizetype rawSize)
{
    // RFC 5321 section 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
    //                                       Reply-code [ SP textstring ] CRLF
    // Only 2yz to 5yz are replies to what a client sends; 1yz is unused by SMTP (section 4.2.1).
    if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]))
        return fail(
            u"Not an SMTP reply line: \"%1\""_s.arg(QString::fromUtf8(line.first(qMin(line.size(), 40)))));
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');

    bool last = true;
    QByteArrayView text;
    if (line.size() > 3) {
        if (line[3] == '-')
            last = false;
        else if (line[3] != ' ')
            return fail(u"Bad separator after reply code %1"_s.arg(code));
        text = line.sliced(4);
    }

    if (!m_inReply) {
        m_current = Reply{};
        m_current.code = code;
        if (const qsizetype length = enhancedCodeLength(text))
            m_current.enhancedCode = QString::fromLatin1(text.first(length));
        m_inReply = true;
    } else if (code != m_current.code) {
        return fail(u"Continuation line with code %1 in a %2 reply"_s.arg(code).arg(m_current.code));
    }
    if (m_current.lines.size() >= MaxLines)
        return fail(u"Reply longer than %1 lines"_s.arg(MaxLines));

    // Servers that send an enhanced code repeat it on every line (Gmail: "550-5.1.1 …" four times); the code
    // is kept once in enhancedCode and removed from each line with its separating space.
    if (!m_current.enhancedCode.isEmpty()) {
        const qsizetype length = enhancedCodeLength(text);
        if (length > 0 && QLatin1StringView(text.first(length)) == m_current.enhancedCode)
            text = text.sliced(qMin(length + 1, text.size()));
    }
    // Invalid UTF-8 (Latin-1 texts from old servers) becomes U+FFFD rather than failing the reply.
    m_current.lines.append(QString::fromUtf8(text));
    m_currentBytes += rawSize;

    if (last) {
        m_ready.append(std::move(m_current));
        m_current = Reply{};
        m_currentBytes = 0;
        m_inReply = false;
        if (m_ready.size() > MaxQueuedReplies)
            return fail(u"More than %1 unread replies"_s.arg(MaxQueuedReplies));
    }
}

void ReplyParser::fail(const QString &message)
{
    // Once a line is out of step nothing after it (nor the replies queued before it) can be trusted: the
    // session drops the connection, and everything held is released now.
    m_error = message;
    m_partialLine = QByteArray();
    m_ready.clear();
    m_current = Reply{};
    m_currentBytes = 0;
    m_inReply = false;
}

std::optional<Reply> ReplyParser::next()
{
    if (hasError() || m_ready.isEmpty())
        return std::nullopt;
    return m_ready.takeFirst();
}

qsizetype ReplyParser::pendingBytes() const
{
    return m_partialLine.size() + m_currentBytes;
}

void ReplyParser::clear()
{
    m_partialLine = QByteArray();
    m_ready.clear();
    m_current = Reply{};
    m_currentBytes = 0;
    m_inReply = false;
    m_error.clear();
}

} // namespace mailcaff::smtp
