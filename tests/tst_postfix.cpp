// Checks that the real Postfix test instance answers as the SMTP verifier expects: the verifier's own tests
// probe it, so a wrong setup must fail here first, with a plain client and nothing of ours in between.
// tests/postfix/setup BUILD_DIR starts it (installers/quickstart test does, before ctest): 127.0.0.25:25,
// mailboxes alice, bob, carol at mailcaff-postfix.test, catch-all domain catchall-postfix.test, every other
// domain refused as relaying.

#include "dnstestserver.h"
#include "engine.h"

#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QUuid>

#include <memory>

using namespace Qt::StringLiterals;

namespace {

const auto PostfixHost = u"127.0.0.25"_s;
constexpr quint16 PostfixPort = 25;
const auto Mailboxes = u"mailcaff-postfix.test"_s;
const auto CatchAll = u"catchall-postfix.test"_s;
// Generous: the machine running the tests may be busy; nothing here is a speed assertion.
constexpr int WaitMs = 15000;

struct Reply
{
    int code = 0;      // 0: no complete reply (timeout, connection closed, garbage)
    QString enhanced;  // "5.1.1", empty without one
    QStringList lines; // the text of every line, code and separator removed
    QString error;     // why code is 0

    QString text() const { return lines.join(u" | "_s); }
};

// One SMTP conversation over a plain QTcpSocket. Blocking waits are fine: the server is another process.
class Session
{
public:
    bool open(QString *why)
    {
        socket.connectToHost(PostfixHost, PostfixPort);
        if (!socket.waitForConnected(WaitMs)) {
            *why = socket.errorString();
            return false;
        }
        return true;
    }

    Reply read()
    {
        static const QRegularExpression line(u"^(\\d{3})([ -])(.*)$"_s);
        static const QRegularExpression enhancedCode(u"^([245]\\.\\d{1,3}\\.\\d{1,3})(?: |$)"_s);
        Reply reply;
        QElapsedTimer timer;
        timer.start();
        for (;;) {
            while (!socket.canReadLine()) {
                const auto left = WaitMs - timer.elapsed();
                if (left <= 0 || !socket.waitForReadyRead(int(left))) {
                    reply.error = u"no complete reply after %1 ms (%2); so far: %3"_s.arg(timer.elapsed())
                                      .arg(socket.errorString(), reply.text());
                    return reply;
                }
            }
            const auto raw = QString::fromUtf8(socket.readLine()).trimmed();
            const auto match = line.match(raw);
            if (!match.hasMatch()) {
                reply.error = u"not an SMTP reply line: \"%1\""_s.arg(raw);
                return reply;
            }
            reply.lines.append(match.captured(3));
            if (match.captured(2) == u" "_s) {
                reply.code = match.captured(1).toInt();
                if (const auto e = enhancedCode.match(match.captured(3)); e.hasMatch())
                    reply.enhanced = e.captured(1);
                return reply;
            }
        }
    }

    Reply command(const QString &line)
    {
        socket.write(line.toUtf8() + "\r\n");
        return read();
    }

    QTcpSocket socket;
};

QString notRunning(const QString &why)
{
    return u"Postfix test instance not reachable on %1:%2 (%3). Start it as root with "
           "`tests/postfix/setup BUILD_DIR` (installers/quickstart test does so before ctest), "
           "stop it with `tests/postfix/teardown BUILD_DIR`."_s.arg(PostfixHost)
               .arg(PostfixPort)
               .arg(why);
}

} // namespace

// Empty when the reply is the one expected, otherwise what went wrong.
QString mismatch(const Reply &reply, int code, const QString &enhanced, const QString &fragment)
{
    if (reply.code == 0)
        return reply.error;
    if (reply.code == code && reply.enhanced == enhanced &&
        reply.text().contains(fragment, Qt::CaseInsensitive))
        return {};
    return u"expected %1 %2 with \"%3\", got %4 [%5] %6"_s.arg(code)
        .arg(enhanced, fragment)
        .arg(reply.code)
        .arg(reply.enhanced, reply.text());
}

// Fails the calling test function on a wrong reply, printing it whole.
#define QCOMPARE_REPLY(reply, code, enhanced, fragment)                                                      \
    do {                                                                                                     \
        const QString mismatch_ = mismatch((reply), (code), (enhanced), (fragment));                         \
        QVERIFY2(mismatch_.isEmpty(), qPrintable(mismatch_));                                                \
    } while (false)

class TestPostfix : public QObject
{
    Q_OBJECT

private:
    // Connected, banner read, EHLO and MAIL FROM accepted: where every RCPT probe starts.
    void startTransaction(Session &session)
    {
        QString why;
        QVERIFY2(session.open(&why), qPrintable(notRunning(why)));
        QCOMPARE_REPLY(session.read(), 220, QString(), u"ESMTP"_s);
        QCOMPARE_REPLY(session.command(u"EHLO probe.mailcaff.test"_s), 250, QString(), QString());
        QCOMPARE_REPLY(session.command(u"MAIL FROM:<probe@mailcaff.test>"_s), 250, u"2.1.0"_s, QString());
    }

    void finish(Session &session)
    {
        QCOMPARE_REPLY(session.command(u"RSET"_s), 250, u"2.0.0"_s, QString());
        QCOMPARE_REPLY(session.command(u"QUIT"_s), 221, u"2.0.0"_s, QString());
        QVERIFY(session.socket.state() == QAbstractSocket::UnconnectedState ||
                session.socket.waitForDisconnected(WaitMs));
    }

private slots:
    void reachable()
    {
        Session session;
        QString why;
        QVERIFY2(session.open(&why), qPrintable(notRunning(why)));
        QCOMPARE_REPLY(session.read(), 220, QString(), u"ESMTP"_s);
        QCOMPARE_REPLY(session.command(u"QUIT"_s), 221, u"2.0.0"_s, QString());
    }

    // What the verifier relies on in the EHLO answer.
    void ehloExtensions()
    {
        Session session;
        QString why;
        QVERIFY2(session.open(&why), qPrintable(notRunning(why)));
        QCOMPARE_REPLY(session.read(), 220, QString(), QString());
        const auto ehlo = session.command(u"EHLO probe.mailcaff.test"_s);
        QCOMPARE_REPLY(ehlo, 250, QString(), QString());
        for (const auto &keyword : {u"ENHANCEDSTATUSCODES"_s, u"PIPELINING"_s, u"SMTPUTF8"_s, u"8BITMIME"_s})
            QVERIFY2(ehlo.lines.contains(keyword), qPrintable(keyword + u" not in: "_s + ehlo.text()));
        QCOMPARE_REPLY(session.command(u"QUIT"_s), 221, u"2.0.0"_s, QString());
    }

    // One recipient per conversation: EHLO, MAIL FROM, RCPT, RSET, QUIT.
    void recipient_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("enhanced");
        QTest::addColumn<QString>("fragment");

        const auto random = QUuid::createUuid().toString(QUuid::Id128).left(16);
        QTest::newRow("mailbox") << u"alice@"_s + Mailboxes << 250 << u"2.1.5"_s << u"Ok"_s;
        QTest::newRow("mailbox other") << u"carol@"_s + Mailboxes << 250 << u"2.1.5"_s << u"Ok"_s;
        QTest::newRow("mailbox upper case") << u"BOB@MAILCAFF-POSTFIX.TEST"_s << 250 << u"2.1.5"_s << u"Ok"_s;
        QTest::newRow("unknown user")
            << u"nobody@"_s + Mailboxes << 550 << u"5.1.1"_s << u"User unknown in virtual mailbox table"_s;
        QTest::newRow("random user") << random + u'@' + Mailboxes << 550 << u"5.1.1"_s
                                     << u"User unknown in virtual mailbox table"_s;
        QTest::newRow("catch-all") << u"anything@"_s + CatchAll << 250 << u"2.1.5"_s << u"Ok"_s;
        QTest::newRow("catch-all random") << random + u'@' + CatchAll << 250 << u"2.1.5"_s << u"Ok"_s;
        QTest::newRow("other domain")
            << u"someone@elsewhere.test"_s << 554 << u"5.7.1"_s << u"Relay access denied"_s;
    }

    void recipient()
    {
        QFETCH(QString, address);
        QFETCH(int, code);
        QFETCH(QString, enhanced);
        QFETCH(QString, fragment);

        Session session;
        startTransaction(session);
        if (QTest::currentTestFailed())
            return;
        const auto reply = session.command(u"RCPT TO:<%1>"_s.arg(address));
        QCOMPARE_REPLY(reply, code, enhanced, fragment);
        if (code != 250)
            QVERIFY2(reply.text().contains(address, Qt::CaseInsensitive), qPrintable(reply.text()));
        finish(session);
    }

    // The verifier's sequence: several RCPT in one transaction, rejections not ending it, then RSET, QUIT.
    void oneTransaction()
    {
        Session session;
        startTransaction(session);
        if (QTest::currentTestFailed())
            return;
        QCOMPARE_REPLY(session.command(u"RCPT TO:<alice@%1>"_s.arg(Mailboxes)), 250, u"2.1.5"_s, QString());
        QCOMPARE_REPLY(session.command(u"RCPT TO:<nobody@%1>"_s.arg(Mailboxes)), 550, u"5.1.1"_s,
                       u"User unknown"_s);
        QCOMPARE_REPLY(session.command(u"RCPT TO:<anything@%1>"_s.arg(CatchAll)), 250, u"2.1.5"_s, QString());
        QCOMPARE_REPLY(session.command(u"RCPT TO:<someone@elsewhere.test>"_s), 554, u"5.7.1"_s,
                       u"Relay access denied"_s);
        QCOMPARE_REPLY(session.command(u"RCPT TO:<bob@%1>"_s.arg(Mailboxes)), 250, u"2.1.5"_s, QString());
        finish(session);
    }

    // The whole engine against the real Postfix: the verdicts the product gives (DNS from the loopback test
    // server, which points both domains at Postfix's address).
    void engineVerdicts_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("reason");
        QTest::newRow("existing mailbox") << u"alice@"_s + Mailboxes << u"valid"_s << u"accepted"_s;
        QTest::newRow("unknown mailbox")
            << u"nobody@"_s + Mailboxes << u"invalid"_s << u"mailbox_not_found"_s;
        QTest::newRow("catch-all domain") << u"anyone@"_s + CatchAll << u"risky"_s << u"catch_all"_s;
    }

    void engineVerdicts()
    {
        QFETCH(QString, address);
        QFETCH(QString, status);
        QFETCH(QString, reason);
        mailcaff::test::DnsTestServer dns;
        QVERIFY(dns.listen());
        for (const QString &domain : {Mailboxes, CatchAll}) {
            dns.addMx(domain, 10, u"mx."_s + domain);
            dns.addA(u"mx."_s + domain, u"127.0.0.25"_s);
        }
        QTemporaryDir dir;
        mailcaff::Engine engine;
        mailcaff::EngineConfig config;
        config.dataDir = dir.path();
        config.dnsServers = dns.serverString();
        config.allowPrivateTargets = true;
        config.heloName = u"probe.mailcaff.test"_s;
        config.mailFrom = u"probe@mailcaff.test"_s;
        config.powerDeadlineMs = 15000;
        QString error;
        QVERIFY2(engine.start(config, &error), qPrintable(error));
        std::optional<mailcaff::core::VerificationResult> result;
        QObject context;
        QVERIFY(engine.verify(address, mailcaff::core::Mode::Power, &context,
                              [&](const mailcaff::core::VerificationResult &r) { result = r; }));
        QTRY_VERIFY_WITH_TIMEOUT(result.has_value(), 20000);
        const QJsonObject o = result->toJson();
        QVERIFY2(o.value(u"status"_s).toString() == status,
                 QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        QCOMPARE(o.value(u"reason"_s).toString(), reason);
        QCOMPARE(o.value(u"mx_host"_s).toString(), u"mx."_s + address.section(u'@', 1));
        engine.stop();
    }
};

QTEST_GUILESS_MAIN(TestPostfix)
#include "tst_postfix.moc"
