#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace mailcaff::smtp {

/// One SMTP reply (RFC 5321 section 4.2), possibly multi-line ("250-…" lines then "250 …").
struct Reply
{
    int code = 0;         ///< the three-digit reply code
    QString enhancedCode; ///< RFC 3463 "class.subject.detail" (e.g. "5.1.1") from the first line, or empty
    /// Each line's text without the code and its separator; a line starting with the first line's enhanced
    /// code (Gmail repeats "5.1.1" on every line) also loses that code and the one space after it.
    QStringList lines;

    /// The lines joined with a space: what classifiers search and what `smtp.message` shows.
    QString text() const;
    bool isPositive() const { return code >= 200 && code < 400; }
    bool isTransient() const { return code >= 400 && code < 500; }
    bool isPermanent() const { return code >= 500 && code < 600; }
};

/// Incremental reply parser for bytes read from a mail server. Tolerant of what real servers send (bare LF,
/// lines longer than RFC 5321's 512 octets, non-UTF-8 text), bounded in memory against hostile ones:
/// a line over MaxLineLength or a reply over MaxLines lines is a protocol error, and so is a line that
/// does not start with three digits, or a continuation line whose code differs from the first line's.
class ReplyParser
{
public:
    static constexpr int MaxLineLength = 4096;
    static constexpr int MaxLines = 200;

    void feed(QByteArrayView data);
    /// The next complete reply, in order; nothing if none is complete yet (or after an error: once the stream
    /// is out of step nothing read from it is trusted, not even replies completed before the bad line).
    std::optional<Reply> next();
    bool hasError() const { return !m_error.isEmpty(); }
    QString errorString() const { return m_error; }
    /// Bytes received but not yet part of a complete reply (e.g. for STARTTLS: must be none, and next() must
    /// have nothing more either: complete replies still queued are not counted here).
    qsizetype pendingBytes() const;
    /// Anything received and not yet taken by next(): complete replies or bytes of one still coming.
    bool holdsData() const { return !m_ready.isEmpty() || pendingBytes() > 0; }
    void clear();

private:
    // A server that keeps sending replies nobody asked for (pipelined answers are a few dozen at most) must
    // not make the queue grow with everything it sends.
    static constexpr int MaxQueuedReplies = 1000;

    void parseLine(QByteArrayView line, qsizetype rawSize);
    void fail(const QString &message);

    QByteArray m_partialLine;     ///< bytes of a line whose LF has not arrived; at most MaxLineLength + 1
    QList<Reply> m_ready;         ///< complete replies not yet taken by next()
    Reply m_current;              ///< the reply whose final line has not arrived
    qsizetype m_currentBytes = 0; ///< raw bytes of m_current's lines, for pendingBytes()
    bool m_inReply = false;
    QString m_error;
};

} // namespace mailcaff::smtp
