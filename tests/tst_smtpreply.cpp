#include "smtp/reply.h"

#include <QRandomGenerator>
#include <QTest>

using namespace Qt::StringLiterals;
using mailcaff::smtp::Reply;
using mailcaff::smtp::ReplyParser;

namespace {

constexpr int MaxLine = ReplyParser::MaxLineLength;
// What a parser may hold at worst: a reply one line short of MaxLines plus a line whose LF has not come.
constexpr qsizetype MaxPending = qsizetype(ReplyParser::MaxLines) * (MaxLine + 2) + MaxLine + 1;

// One reply per line of the dump: "code[/enhanced]: line|line|…", so a failing row shows what was parsed.
QString dump(const QList<Reply> &replies)
{
    QStringList out;
    for (const Reply &reply : replies) {
        QString entry = QString::number(reply.code);
        if (!reply.enhancedCode.isEmpty())
            entry += u'/' + reply.enhancedCode;
        out.append(entry + u": "_s + reply.lines.join(u'|'));
    }
    return out.join(u'\n');
}

enum class Feeding { Whole, ByteByByte, RandomChunks };

struct Outcome
{
    QList<Reply> replies;
    bool error = false;
    qsizetype pending = 0;
};

// Feeds the bytes as the socket might deliver them and reads replies after every feed, as the session does.
Outcome parse(QByteArrayView wire, Feeding feeding, QRandomGenerator *random = nullptr)
{
    ReplyParser parser;
    Outcome outcome;
    const auto drain = [&] {
        while (auto reply = parser.next())
            outcome.replies.append(*reply);
    };
    qsizetype pos = 0;
    while (pos < wire.size()) {
        qsizetype chunk = wire.size() - pos;
        if (feeding == Feeding::ByteByByte)
            chunk = 1;
        else if (feeding == Feeding::RandomChunks)
            chunk = qMin(chunk, qsizetype(random->bounded(1, 64)));
        parser.feed(wire.sliced(pos, chunk));
        pos += chunk;
        drain();
    }
    outcome.error = parser.hasError();
    outcome.pending = parser.pendingBytes();
    return outcome;
}

QByteArray lineOf(int length, char fill = 'a')
{
    return "250 " + QByteArray(length - 4, fill);
}

} // namespace

class TestSmtpReply : public QObject
{
    Q_OBJECT

private slots:
    void parse_data();
    void parse();
    void textJoinsLines();
    void longLineWithoutNewlineStaysBounded();
    void hugeSingleFeedStaysBounded();
    void tooManyLines();
    void unreadRepliesStayBounded();
    void errorIsSticky();
    void clearRecovers();
    void fuzz();
    void roundTrip();
};

void TestSmtpReply::parse_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<QString>("expected"); // dump() of the replies; ignored for error rows
    QTest::addColumn<bool>("error");
    QTest::addColumn<int>("pending");

    const auto ok = [](const char *name, const QByteArray &wire, const QString &expected, int pending = 0) {
        QTest::addRow("%s", name) << wire << expected << false << pending;
    };
    const auto bad = [](const char *name, const QByteArray &wire) {
        QTest::addRow("%s", name) << wire << QString() << true << 0;
    };

    ok("single line", "220 mx.example.com ESMTP Postfix\r\n", u"220: mx.example.com ESMTP Postfix"_s);
    ok("enhanced code", "250 2.1.5 Ok\r\n", u"250/2.1.5: Ok"_s);
    ok("code alone", "250\r\n", u"250: "_s);
    ok("code and space", "250 \r\n", u"250: "_s);
    ok("enhanced code alone", "250 2.0.0\r\n", u"250/2.0.0: "_s);
    ok("bare LF", "250 Ok\n", u"250: Ok"_s);
    ok("mixed line ends", "250-first\n250-second\r\n250 third\n", u"250: first|second|third"_s);
    ok("text keeps inner spaces", "250  two  spaces \r\n", u"250:  two  spaces "_s);
    ok("ehlo gmail",
       "250-mx.google.com at your service, [203.0.113.7]\r\n250-SIZE 157286400\r\n250-8BITMIME\r\n"
       "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       u"250: mx.google.com at your service, [203.0.113.7]|SIZE 157286400|8BITMIME|STARTTLS|"
       u"ENHANCEDSTATUSCODES|PIPELINING|CHUNKING|SMTPUTF8"_s);
    ok("ehlo postfix",
       "250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n"
       "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 CHUNKING\r\n",
       u"250: mail.example.org|PIPELINING|SIZE 10240000|VRFY|ETRN|STARTTLS|ENHANCEDSTATUSCODES|8BITMIME|DSN|"
       u"CHUNKING"_s);
    ok("ehlo microsoft",
       "250-AM0PR01MB1234.eurprd01.prod.exchangelabs.com Hello [203.0.113.7]\r\n250-SIZE 157286400\r\n"
       "250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-8BITMIME\r\n"
       "250-BINARYMIME\r\n250-CHUNKING\r\n250 SMTPUTF8\r\n",
       u"250: AM0PR01MB1234.eurprd01.prod.exchangelabs.com Hello [203.0.113.7]|SIZE 157286400|PIPELINING|DSN|"
       u"ENHANCEDSTATUSCODES|STARTTLS|8BITMIME|BINARYMIME|CHUNKING|SMTPUTF8"_s);
    ok("enhanced code on every line (gmail)",
       "550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n"
       "550-5.1.1 double-checking the recipient's email address for typos or\r\n"
       "550-5.1.1 unnecessary spaces. For more information, go to\r\n"
       "550 5.1.1  https://support.google.com/mail/?p=NoSuchUser x1si123 - gsmtp\r\n",
       u"550/5.1.1: The email account that you tried to reach does not exist. Please try|double-checking the "
       u"recipient's email address for typos or|unnecessary spaces. For more information, go to| "
       u"https://support.google.com/mail/?p=NoSuchUser x1si123 - gsmtp"_s);
    ok("enhanced code on the first line only", "550-5.7.1 first\r\n550-second line\r\n550 third\r\n",
       u"550/5.7.1: first|second line|third"_s);
    ok("enhanced code on later lines only", "550-Verification failed\r\n550 5.1.1 User unknown\r\n",
       u"550: Verification failed|5.1.1 User unknown"_s);
    ok("different enhanced code later kept", "550-5.1.1 a\r\n550 5.7.1 b\r\n", u"550/5.1.1: a|5.7.1 b"_s);
    ok("three-digit detail", "550 5.7.606 Access denied, banned sending IP [203.0.113.7]\r\n",
       u"550/5.7.606: Access denied, banned sending IP [203.0.113.7]"_s);
    ok("four-digit detail is text", "550 5.1.1000 x\r\n", u"550: 5.1.1000 x"_s);
    ok("class 1 is not an enhanced code", "250 1.2.3 foo\r\n", u"250: 1.2.3 foo"_s);
    ok("class 3 is not an enhanced code", "354 3.0.0 go ahead\r\n", u"354: 3.0.0 go ahead"_s);
    ok("IPv4 address in banner", "220 5.6.7.8 ESMTP\r\n", u"220: 5.6.7.8 ESMTP"_s);
    ok("code with colon is text", "550 5.1.1: no\r\n", u"550: 5.1.1: no"_s);
    ok("several replies in one feed", "220 ready\r\n250 ok\r\n354 go\r\n", u"220: ready\n250: ok\n354: go"_s);
    ok("pipelined replies",
       "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <a@example.com>: Recipient address rejected: User "
       "unknown\r\n",
       u"250/2.1.0: Ok\n250/2.1.5: Ok\n550/5.1.1: <a@example.com>: Recipient address rejected: User unknown"_s);
    ok("incomplete multi-line reply", "250-first\r\n250-second", u""_s, 21);
    ok("complete reply then partial", "250 ok\r\n250-more\r\n25", u"250: ok"_s, 12);
    ok("CR waiting for LF", "250 ok\r", u""_s, 7);
    ok("invalid UTF-8 replaced",
       "550 Benutzer \xfc"
       "nbekannt\r\n",
       u"550: Benutzer \uFFFDnbekannt"_s);
    ok("UTF-8 text",
       "550 5.1.1 "
       "\xd0\x9f\xd0\xbe\xd0\xbb\xd1\x8c\xd0\xb7\xd0\xbe\xd0\xb2\xd0\xb0\xd1\x82\xd0\xb5\xd0\xbb\xd1\x8c\r\n",
       u"550/5.1.1: Пользователь"_s);
    ok("600-octet line", lineOf(600) + "\r\n", u"250: "_s + QString(596, u'a'));
    ok("line of MaxLineLength octets", lineOf(MaxLine) + "\r\n", u"250: "_s + QString(MaxLine - 4, u'a'));
    ok("line of MaxLineLength octets, bare LF", lineOf(MaxLine) + "\n",
       u"250: "_s + QString(MaxLine - 4, u'a'));
    {
        QByteArray wire;
        for (int i = 0; i < ReplyParser::MaxLines - 1; ++i)
            wire += "250-x\r\n";
        wire += "250 x\r\n";
        QStringList lines;
        for (int i = 0; i < ReplyParser::MaxLines; ++i)
            lines.append(u"x"_s);
        ok("MaxLines lines", wire, u"250: "_s + lines.join(u'|'));
    }

    bad("line over MaxLineLength", lineOf(MaxLine + 1) + "\r\n");
    bad("line over MaxLineLength, no newline yet", lineOf(MaxLine + 2));
    bad("garbage", "hello\r\n");
    bad("http reply", "HTTP/1.1 400 Bad Request\r\n");
    bad("two digits", "25\r\n");
    bad("empty line", "\r\n");
    bad("four digits", "2500 ok\r\n");
    bad("bad separator", "250_ok\r\n");
    bad("tab separator", "250\tok\r\n");
    bad("1xx code", "150 ok\r\n");
    bad("6xx code", "650 ok\r\n");
    bad("0xx code", "050 ok\r\n");
    bad("leading space", " 250 ok\r\n");
    bad("mismatched continuation", "250-first\r\n251 second\r\n");
    bad("mismatched class", "250-first\r\n550 second\r\n");
    bad("garbage after a good reply", "250 ok\r\nxyz\r\n");
    {
        QByteArray wire;
        for (int i = 0; i < ReplyParser::MaxLines; ++i)
            wire += "250-x\r\n";
        wire += "250 x\r\n";
        bad("MaxLines + 1 lines", wire);
    }
}

void TestSmtpReply::parse()
{
    QFETCH(QByteArray, wire);
    QFETCH(QString, expected);
    QFETCH(bool, error);
    QFETCH(int, pending);

    QRandomGenerator random(20240601);
    for (Feeding feeding : {Feeding::Whole, Feeding::ByteByByte, Feeding::RandomChunks}) {
        const Outcome outcome = ::parse(wire, feeding, &random);
        QCOMPARE(outcome.error, error);
        if (error) {
            QCOMPARE(outcome.pending, 0);
        } else {
            QCOMPARE(dump(outcome.replies), expected);
            QCOMPARE(outcome.pending, pending);
        }
    }
}

void TestSmtpReply::textJoinsLines()
{
    ReplyParser parser;
    parser.feed("421-4.7.0 first\r\n421 4.7.0 second\r\n");
    const auto reply = parser.next();
    QVERIFY(reply);
    QCOMPARE(reply->text(), u"first second"_s);
    QVERIFY(reply->isTransient());
    QVERIFY(!reply->isPermanent());
    QVERIFY(!reply->isPositive());
}

void TestSmtpReply::longLineWithoutNewlineStaysBounded()
{
    // A peer streaming 10 MB without a newline, the way a socket delivers it.
    ReplyParser parser;
    const QByteArray chunk(64 * 1024, 'a');
    parser.feed("250 ");
    for (int i = 0; i < 160 && !parser.hasError(); ++i) {
        parser.feed(chunk);
        QVERIFY(parser.pendingBytes() <= MaxLine + 1);
    }
    QVERIFY(parser.hasError());
    QCOMPARE(parser.pendingBytes(), 0);
    parser.feed("\r\n250 ok\r\n"); // ignored: the stream is out of step
    QVERIFY(!parser.next());
    QCOMPARE(parser.pendingBytes(), 0);
}

void TestSmtpReply::hugeSingleFeedStaysBounded()
{
    const QByteArray tenMegabytes(10 * 1024 * 1024, 'a');
    const QList<QByteArray> wires = {"250 " + tenMegabytes, "250 " + tenMegabytes + "\r\n",
                                     "250-ok\r\n" + tenMegabytes};
    for (const QByteArray &wire : wires) {
        ReplyParser parser;
        parser.feed(wire);
        QVERIFY(parser.hasError());
        QVERIFY(!parser.errorString().isEmpty());
        QCOMPARE(parser.pendingBytes(), 0);
        QVERIFY(!parser.next());
    }
}

void TestSmtpReply::tooManyLines()
{
    ReplyParser parser;
    for (int i = 0; i < 10 * ReplyParser::MaxLines && !parser.hasError(); ++i) {
        parser.feed(u"250-line %1\r\n"_s.arg(i).toLatin1());
        QVERIFY(parser.pendingBytes() <= MaxPending);
    }
    QVERIFY(parser.hasError());
    QCOMPARE(parser.pendingBytes(), 0);
}

void TestSmtpReply::unreadRepliesStayBounded()
{
    // Pipelined answers a caller has not read yet are fine…
    ReplyParser parser;
    for (int i = 0; i < 500; ++i)
        parser.feed("250 2.1.5 Ok\r\n");
    QVERIFY(!parser.hasError());
    int count = 0;
    while (parser.next())
        ++count;
    QCOMPARE(count, 500);

    // …but a server flooding replies nobody asked for must not grow the queue with everything it sends.
    QByteArray flood;
    for (int i = 0; i < 100000; ++i)
        flood += "250 ok\r\n";
    parser.feed(flood);
    QVERIFY(parser.hasError());
    QVERIFY(!parser.next());
}

void TestSmtpReply::errorIsSticky()
{
    ReplyParser parser;
    parser.feed("250 ok\r\n");
    parser.feed("garbage\r\n");
    QVERIFY(parser.hasError());
    QVERIFY(!parser.next()); // even the reply completed before the bad line
    parser.feed("250 ok\r\n");
    QVERIFY(!parser.next());
    QVERIFY(parser.hasError());
}

void TestSmtpReply::clearRecovers()
{
    ReplyParser parser;
    parser.feed("250-partial\r\n");
    parser.feed("garbage\r\n");
    QVERIFY(parser.hasError());
    parser.clear();
    QVERIFY(!parser.hasError());
    QVERIFY(parser.errorString().isEmpty());
    parser.feed("220 again\r\n");
    const auto reply = parser.next();
    QVERIFY(reply);
    QCOMPARE(reply->code, 220);
    QCOMPARE(parser.pendingBytes(), 0);
}

void TestSmtpReply::fuzz()
{
    // Random bytes biased towards the pieces of SMTP (codes, separators, line ends, enhanced codes) so the
    // interesting paths are reached. Whatever comes in: no crash, only codes 200–599, at most MaxLines lines
    // of at most MaxLineLength, bounded pending bytes, and the same result however the bytes are split.
    const quint32 seed = qEnvironmentVariableIsSet("MAILCAFF_FUZZ_SEED")
                             ? quint32(qEnvironmentVariableIntValue("MAILCAFF_FUZZ_SEED"))
                             : 0x5eed2024u;
    qInfo("fuzz seed %u (set MAILCAFF_FUZZ_SEED to repeat another)", seed);
    QRandomGenerator random(seed);

    static const QByteArray codes[] = {"250", "250", "250", "550", "421", "354", "220", "199", "600", "25"};
    static const QByteArray separators[] = {"-", "-", " ", " ", "", "_"};
    static const QByteArray pieces[] = {"5.1.1 ",       "2.0.0",    "4.7.", "550-5.1.1 ",
                                        "\xff\xfe",     "\xe2\x82", "\0",   "ok",
                                        "User unknown", " ",        "\r",   "-"};
    static const QByteArray ends[] = {"\r\n", "\r\n", "\r\n", "\n", "\r", ""};
    int replies = 0;
    int errors = 0;
    for (int round = 0; round < 20000; ++round) {
        QByteArray wire;
        if (random.bounded(5) == 0) { // plain random bytes
            for (int n = int(random.bounded(0, 600)); n > 0; --n)
                wire += char(random.bounded(256));
        } else { // line-shaped input, now and then broken
            for (int lines = int(random.bounded(1, 30)); lines > 0; --lines) {
                const bool mangle = random.bounded(25) == 0;
                wire += mangle ? codes[random.bounded(int(std::size(codes)))] : codes[random.bounded(4)];
                wire += mangle ? separators[random.bounded(int(std::size(separators)))]
                               : separators[random.bounded(4)];
                for (int n = int(random.bounded(0, 6)); n > 0; --n) {
                    switch (random.bounded(8)) {
                    case 0:
                        wire += char(random.bounded(256));
                        break;
                    case 1: // occasionally a run long enough to reach the line limit
                        wire += QByteArray(
                            random.bounded(30) == 0 ? int(random.bounded(MaxLine - 20, MaxLine + 20)) : 20,
                            char(random.bounded(32, 127)));
                        break;
                    default:
                        wire += pieces[random.bounded(int(std::size(pieces)))];
                    }
                }
                wire += mangle ? ends[random.bounded(int(std::size(ends)))] : ends[random.bounded(4)];
            }
        }

        const Outcome whole = ::parse(wire, Feeding::Whole);
        const Outcome chunked = ::parse(wire, Feeding::RandomChunks, &random);
        for (const Outcome *outcome : {&whole, &chunked}) {
            QVERIFY(outcome->pending <= MaxPending);
            for (const Reply &reply : outcome->replies) {
                QVERIFY2(reply.code >= 200 && reply.code <= 599, qPrintable(u"round %1"_s.arg(round)));
                QVERIFY(!reply.lines.isEmpty());
                QVERIFY(reply.lines.size() <= ReplyParser::MaxLines);
                for (const QString &line : reply.lines)
                    QVERIFY(line.size() <= MaxLine);
            }
        }
        QVERIFY2(whole.error == chunked.error, qPrintable(u"round %1"_s.arg(round)));
        replies += int(whole.replies.size());
        errors += whole.error ? 1 : 0;
        if (!whole.error) {
            QCOMPARE(dump(chunked.replies), dump(whole.replies));
            QCOMPARE(chunked.pending, whole.pending);
        }
    }
    // The bias must keep reaching the parser's paths, not only its first-line rejection.
    qInfo("fuzz: %d replies parsed, %d of 20000 inputs rejected", replies, errors);
    QVERIFY(replies > 1000);
    QVERIFY(errors > 1000 && errors < 20000);
}

void TestSmtpReply::roundTrip()
{
    // Replies generated from known parts, written as a server would, must parse back to exactly those parts.
    const quint32 seed = 0xc0ffee;
    qInfo("round-trip seed %u", seed);
    QRandomGenerator random(seed);
    static const QString extra[] = {u"é"_s, u"ß"_s, u"Ж"_s, u"中"_s, u"😀"_s, u"\uFFFD"_s};
    const auto randomText = [&](bool letterFirst) {
        QString text;
        const int length = int(random.bounded(0, 120));
        for (int i = 0; i < length; ++i) {
            if (i == 0 && letterFirst)
                text += QChar(u'a' + random.bounded(26));
            else if (random.bounded(12) == 0)
                text += extra[random.bounded(int(std::size(extra)))];
            else
                text += QChar(char16_t(random.bounded(0x20, 0x7f)));
        }
        return text;
    };

    for (int round = 0; round < 2000; ++round) {
        QList<Reply> sent;
        QByteArray wire;
        for (int n = int(random.bounded(1, 6)); n > 0; --n) {
            Reply reply;
            reply.code = int(random.bounded(200, 600));
            const int cls = reply.code / 100;
            if (cls != 3 && random.bounded(2))
                reply.enhancedCode =
                    u"%1.%2.%3"_s.arg(cls).arg(random.bounded(0, 8)).arg(random.bounded(0, 1000));
            const int lineCount = int(random.bounded(1, 9));
            for (int i = 0; i < lineCount; ++i) {
                // Without an enhanced code the first line's text must not look like one.
                reply.lines.append(randomText(reply.enhancedCode.isEmpty() && i == 0));
                QByteArray line = QByteArray::number(reply.code);
                const bool last = i == lineCount - 1;
                if (!reply.enhancedCode.isEmpty()) {
                    line += (last ? " " : "-") + reply.enhancedCode.toLatin1();
                    if (!reply.lines.last().isEmpty() || random.bounded(2))
                        line += ' ';
                } else if (!last || !reply.lines.last().isEmpty() || random.bounded(2)) {
                    line += last ? ' ' : '-';
                }
                line += reply.lines.last().toUtf8();
                line += random.bounded(4) == 0 ? "\n" : "\r\n";
                wire += line;
            }
            sent.append(reply);
        }
        const Outcome outcome = ::parse(wire, Feeding::RandomChunks, &random);
        QVERIFY(!outcome.error);
        QCOMPARE(outcome.pending, 0);
        QCOMPARE(outcome.replies.size(), sent.size());
        for (qsizetype i = 0; i < sent.size(); ++i) {
            QCOMPARE(outcome.replies.at(i).code, sent.at(i).code);
            QCOMPARE(outcome.replies.at(i).enhancedCode, sent.at(i).enhancedCode);
            QCOMPARE(outcome.replies.at(i).lines, sent.at(i).lines);
        }
    }
}

QTEST_GUILESS_MAIN(TestSmtpReply)
#include "tst_smtpreply.moc"
