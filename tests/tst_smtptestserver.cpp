#include "smtptestserver.h"

#include <QElapsedTimer>
#include <QNetworkProxy>
#include <QSslSocket>
#include <QTest>

#include <memory>

using namespace Qt::StringLiterals;
using mailcaff::test::SmtpTestServer;

namespace {

// Generous: the machine may be busy. Nothing waits this long unless a test fails.
constexpr int WaitMs = 5000;

/// A raw SMTP client on the test's event loop: collects complete replies (multi-line ones joined by '\n',
/// without CRLF) as they arrive, so the test can pipeline or wait as it likes.
class Client
{
public:
    explicit Client(bool tls = true)
        : m_socket(tls ? new QSslSocket : new QTcpSocket)
    {
        m_socket->setProxy(QNetworkProxy::NoProxy);
        QObject::connect(m_socket.get(), &QTcpSocket::readyRead, m_socket.get(), [this] { read(); });
        QObject::connect(m_socket.get(), &QTcpSocket::disconnected, m_socket.get(),
                         [this] { closed = true; });
        if (auto *ssl = sslSocket()) {
            // The server's certificate is self-signed: accept it, as the prober does (and records).
            QObject::connect(ssl, &QSslSocket::sslErrors, ssl, [ssl] { ssl->ignoreSslErrors(); });
        }
    }

    ~Client()
    {
        // The socket emits disconnected() from its destructor, when this object is half gone.
        m_socket->disconnect(m_socket.get());
    }
    Q_DISABLE_COPY_MOVE(Client)

    QTcpSocket *socket() const { return m_socket.get(); }
    QSslSocket *sslSocket() const { return qobject_cast<QSslSocket *>(m_socket.get()); }

    bool connectTo(const QHostAddress &address, quint16 port)
    {
        m_socket->connectToHost(address, port);
        return QTest::qWaitFor([this] { return m_socket->state() == QAbstractSocket::ConnectedState; },
                               WaitMs);
    }

    void send(const QByteArray &data) { m_socket->write(data); }

    /// The next reply, or "" if none comes within `timeout`.
    QString reply(int timeout = WaitMs)
    {
        if (!QTest::qWaitFor([this] { return !replies.isEmpty(); }, timeout))
            return {};
        return replies.takeFirst();
    }

    QString command(const QByteArray &line)
    {
        send(line + "\r\n");
        return reply();
    }

    bool waitClosed()
    {
        return QTest::qWaitFor([this] { return closed; }, WaitMs);
    }

    QStringList replies;
    bool closed = false;

private:
    void read()
    {
        m_buffer += m_socket->readAll();
        qsizetype lf;
        while ((lf = m_buffer.indexOf("\r\n")) >= 0) {
            const QString line = QString::fromUtf8(m_buffer.left(lf));
            m_buffer.remove(0, lf + 2);
            m_pending.append(line);
            // RFC 5321 section 4.2.1: "NNN-" continues a reply, "NNN " (or a bare code) ends it.
            if (line.size() < 4 || line[3] != u'-') {
                replies.append(m_pending.join(u'\n'));
                m_pending.clear();
            }
        }
    }

    std::unique_ptr<QTcpSocket> m_socket;
    QByteArray m_buffer;
    QStringList m_pending;
};

} // namespace

class TestSmtpTestServer : public QObject
{
    Q_OBJECT

private:
    /// Connects, checks the banner and sends EHLO and MAIL FROM, leaving the client ready for RCPTs.
    bool openTransaction(Client &client)
    {
        return client.connectTo(m_server->address(), m_server->port()) &&
               client.reply().startsWith(u"220 ") &&
               client.command("EHLO probe.verifier.test").startsWith(u"250") &&
               client.command("MAIL FROM:<probe@verifier.test>") == u"250 2.1.0 Ok";
    }

    std::unique_ptr<SmtpTestServer> m_server;

private Q_SLOTS:
    void init()
    {
        m_server = std::make_unique<SmtpTestServer>();
        QVERIFY2(m_server->listen(), qPrintable(m_server->errorString()));
        m_server->addMailboxes(u"example.com"_s, {u"alice"_s, u"Bob"_s});
        m_server->setMailboxReply(u"full@example.com"_s, SmtpTestServer::mailboxFullReply());
        m_server->setMailboxReply(u"disabled@example.com"_s, SmtpTestServer::mailboxDisabledReply());
        m_server->setCatchAll(u"catchall.test"_s, true);
        m_server->addMailbox(u"real@gmail.test"_s);
        m_server->setUnknownUserReply(u"gmail.test"_s, SmtpTestServer::gmailUnknownUserReply());
        m_server->setDomainBlocked(u"blocked.test"_s, true);
        m_server->addMailbox(u"user@xn--bcher-kva.test"_s);
    }

    void cleanup() { m_server.reset(); }

    void banner()
    {
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QCOMPARE(client.reply(), u"220 mx.mailcaff.test ESMTP Postfix (Debian/GNU)"_s);

        m_server->setHostName(u"mx.other.test"_s);
        m_server->setBanner(u"{host} ESMTP\nNo UCE, no relaying"_s);
        Client second;
        QVERIFY(second.connectTo(m_server->address(), m_server->port()));
        QCOMPARE(second.reply(), u"220-mx.other.test ESMTP\n220 No UCE, no relaying"_s);
    }

    void ehloCapabilities()
    {
        QVERIFY(m_server->setStartTls(true));
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(u"220 "));
        const QString ehlo = client.command("EHLO probe.verifier.test");
        QVERIFY2(ehlo.startsWith(u"250-mx.mailcaff.test\n"), qPrintable(ehlo));
        const QStringList lines = ehlo.split(u'\n');
        for (const auto &capability : {u"250-PIPELINING", u"250-STARTTLS", u"250-8BITMIME", u"250-SMTPUTF8"})
            QVERIFY2(lines.contains(capability), qPrintable(ehlo));
        QVERIFY(lines.last().startsWith(u"250 "));
        QCOMPARE(client.command("HELO probe.verifier.test"), u"250 mx.mailcaff.test"_s);

        m_server->setStartTls(false);
        m_server->setPipelining(false);
        Client plain;
        QVERIFY(plain.connectTo(m_server->address(), m_server->port()));
        QVERIFY(plain.reply().startsWith(u"220 "));
        const QString reply = plain.command("EHLO probe.verifier.test");
        QVERIFY(!reply.contains(u"PIPELINING"));
        QVERIFY(!reply.contains(u"STARTTLS"));
        QCOMPARE(plain.command("STARTTLS"), u"502 5.5.1 Error: command not implemented"_s);
    }

    void ehloDisabled()
    {
        m_server->setEhloEnabled(false);
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(u"220 "));
        QCOMPARE(client.command("EHLO probe.verifier.test"), u"502 5.5.2 Error: command not recognized"_s);
        QCOMPARE(client.command("MAIL FROM:<>"), u"503 5.5.1 Error: send HELO/EHLO first"_s);
        QCOMPARE(client.command("HELO probe.verifier.test"), u"250 mx.mailcaff.test"_s);
        QCOMPARE(client.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
    }

    void commands()
    {
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(u"220 "));
        QCOMPARE(client.command("MAIL FROM:<>"), u"503 5.5.1 Error: send HELO/EHLO first"_s);
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"503 5.5.1 Error: send HELO/EHLO first"_s);
        QCOMPARE(client.command("EHLO"), u"501 5.5.4 Syntax: EHLO hostname"_s);
        QVERIFY(client.command("ehlo probe.verifier.test").startsWith(u"250-"));
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"503 5.5.1 Error: need MAIL command"_s);
        QCOMPARE(client.command("MAIL FROM:"), u"501 5.5.4 Syntax: MAIL FROM:<address>"_s);
        QCOMPARE(client.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(client.command("MAIL FROM:<other@verifier.test>"),
                 u"503 5.5.1 Error: nested MAIL command"_s);
        QCOMPARE(client.command("NOOP"), u"250 2.0.0 Ok"_s);
        QVERIFY(client.command("VRFY alice").startsWith(u"252 2.0.0 "));
        QCOMPARE(client.command("EXPN staff"), u"502 5.5.2 Error: command not recognized"_s);
        QCOMPARE(client.command("DATA"), u"554 5.5.1 Error: no valid recipients"_s);
        QCOMPARE(m_server->dataCount(), 1);
        QCOMPARE(client.command("RSET"), u"250 2.0.0 Ok"_s);
        QCOMPARE(client.command("MAIL FROM:<probe@verifier.test> SMTPUTF8"), u"250 2.1.0 Ok"_s);

        // RFC 5321 section 4.5.3.1.4: 1000 octets with CRLF at most. Once in one piece, once in two.
        QCOMPARE(client.command("NOOP " + QByteArray(1200, 'x')), u"500 5.5.2 line too long"_s);
        client.send("NOOP " + QByteArray(900, 'y'));
        QTest::qWait(20);
        client.send(QByteArray(900, 'y') + "\r\n");
        QCOMPARE(client.reply(), u"500 5.5.2 line too long"_s);
        QCOMPARE(client.command("NOOP " + QByteArray(990, 'z')), u"250 2.0.0 Ok"_s);

        QCOMPARE(client.command("QUIT"), u"221 2.0.0 Bye"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->quitCount(), 1);
        QTRY_COMPARE(m_server->currentConnections(), 0);
    }

    void recipients_data()
    {
        QTest::addColumn<QByteArray>("path");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<int>("lines");

        QTest::addRow("mailbox") << "<alice@example.com>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("mailbox case") << "<ALICE@Example.COM>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("mailbox added in capitals") << "<bob@example.com>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("bare address") << "alice@example.com"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("source route") << "<@relay.test:alice@example.com>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("unknown user")
            << "<nobody@example.com>"_ba
            << u"550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox "
               u"table"_s
            << 1;
        QTest::addRow("unknown domain")
            << "<x@elsewhere.test>"_ba << u"554 5.7.1 <x@elsewhere.test>: Relay access denied"_s << 1;
        QTest::addRow("catch-all") << "<anything-at-all@CatchAll.test>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("full") << "<full@example.com>"_ba << u"552 5.2.2 <full@example.com>: Mailbox full"_s
                              << 1;
        QTest::addRow("disabled")
            << "<Disabled@example.com>"_ba
            << u"550 5.2.1 <Disabled@example.com>: Mailbox disabled, not accepting messages"_s << 1;
        QTest::addRow("gmail unknown")
            << "<nobody@gmail.test>"_ba
            << u"550-5.1.1 The email account that you tried to reach does not exist. Please try"_s << 4;
        QTest::addRow("gmail mailbox") << "<real@gmail.test>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("blocked domain")
            << "<a@blocked.test>"_ba
            << u"554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; "
               u"https://www.spamhaus.org/query/ip/127.0.0.1"_s
            << 1;
        QTest::addRow("idn") << "<user@bücher.test>"_ba << u"250 2.1.5 Ok"_s << 1;
        QTest::addRow("no domain") << "<postmaster>"_ba << u"501 5.1.3 Bad recipient address syntax"_s << 1;
        QTest::addRow("no path") << ""_ba << u"501 5.5.4 Syntax: RCPT TO:<address>"_s << 1;
    }

    void recipients()
    {
        QFETCH(QByteArray, path);
        QFETCH(QString, expected);
        QFETCH(int, lines);
        Client client;
        QVERIFY(openTransaction(client));
        const QString reply = client.command("RCPT TO:" + path);
        QCOMPARE(reply.split(u'\n').first(), expected);
        QCOMPARE(reply.split(u'\n').size(), lines);
        QCOMPARE(m_server->rcptCount(), 1);
    }

    void pipelining()
    {
        // With latency every reply is delayed, so the commands really wait in the server's buffer.
        m_server->setReplyDelay(20);
        Client client;
        QVERIFY(openTransaction(client));
        client.send("RCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRSET\r\n"
                    "MAIL FROM:<>\r\nRCPT TO:<x@catchall.test>\r\nQUIT\r\n");
        QTRY_COMPARE_WITH_TIMEOUT(client.replies.size(), 6, WaitMs);
        QStringList codes;
        for (const QString &reply : std::as_const(client.replies))
            codes.append(reply.left(3));
        QCOMPARE(codes, (QStringList{u"250"_s, u"550"_s, u"250"_s, u"250"_s, u"250"_s, u"221"_s}));
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->pipeliningViolations(), 0);

        // Without PIPELINING advertised, a client must wait for each reply (RFC 2920 section 3.1).
        m_server->setReplyDelay(0);
        m_server->setPipelining(false);
        Client impolite;
        QVERIFY(openTransaction(impolite));
        impolite.send("RCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n");
        QTRY_COMPARE_WITH_TIMEOUT(impolite.replies.size(), 2, WaitMs);
        QVERIFY(m_server->pipeliningViolations() >= 1);
    }

    void greylisting()
    {
        m_server->setGreylisting(true, 200);
        Client client;
        QVERIFY(openTransaction(client));
        const QString first = client.command("RCPT TO:<alice@example.com>");
        QVERIFY2(first.startsWith(u"450 4.2.0 <alice@example.com>: Recipient address rejected: Greylisted"),
                 qPrintable(first));
        QVERIFY(client.command("RCPT TO:<nobody@example.com>").startsWith(u"450 4.2.0 "));
        // Too early: still greylisted.
        QVERIFY(client.command("RCPT TO:<alice@example.com>").startsWith(u"450 4.2.0 "));
        QTest::qWait(250);
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
        QVERIFY(client.command("RCPT TO:<nobody@example.com>").startsWith(u"550 5.1.1 "));
        // The triplet includes the sender.
        QCOMPARE(client.command("RSET"), u"250 2.0.0 Ok"_s);
        QCOMPARE(client.command("MAIL FROM:<other@verifier.test>"), u"250 2.1.0 Ok"_s);
        QVERIFY(client.command("RCPT TO:<alice@example.com>").startsWith(u"450 4.2.0 "));

        m_server->resetGreylist();
        m_server->setGreylisting(true, 0);
        QVERIFY(client.command("RCPT TO:<bob@example.com>").startsWith(u"450 4.2.0 "));
        QCOMPARE(client.command("RCPT TO:<bob@example.com>"), u"250 2.1.5 Ok"_s);
    }

    void connectionLimit()
    {
        m_server->setMaxConnections(1);
        Client first;
        QVERIFY(first.connectTo(m_server->address(), m_server->port()));
        QVERIFY(first.reply().startsWith(u"220 "));
        Client second;
        QVERIFY(second.connectTo(m_server->address(), m_server->port()));
        QCOMPARE(second.reply(), u"421 4.7.0 Too many connections, try again later"_s);
        QVERIFY(second.waitClosed());
        QCOMPARE(m_server->refusedCount(), 1);
        QCOMPARE(m_server->peakConnections(), 2);

        QCOMPARE(first.command("QUIT"), u"221 2.0.0 Bye"_s);
        QTRY_COMPARE(m_server->currentConnections(), 0);
        Client third;
        QVERIFY(third.connectTo(m_server->address(), m_server->port()));
        QVERIFY(third.reply().startsWith(u"220 "));
        QCOMPARE(m_server->connectionCount(), 3);
        QCOMPARE(m_server->rcptsPerSession(), (QList<int>{0, 0, 0}));
    }

    void busy()
    {
        m_server->setBusy(true);
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QCOMPARE(client.reply(), u"421 4.7.0 Too many connections, try again later"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->refusedCount(), 1);
    }

    void tarpit()
    {
        m_server->setTarpit(true);
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        client.send("EHLO probe.verifier.test\r\n");
        QCOMPARE(client.reply(500), QString());
        QVERIFY(!client.closed);
        QCOMPARE(m_server->connectionCount(), 1);
        QCOMPARE(m_server->currentConnections(), 1);
    }

    void delays()
    {
        m_server->setGreetingDelay(200);
        Client client;
        QElapsedTimer timer;
        timer.start();
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QCOMPARE(client.reply(100), QString());
        QVERIFY(client.reply().startsWith(u"220 "));
        QVERIFY2(timer.elapsed() >= 190, QByteArray::number(timer.elapsed()));

        m_server->setReplyDelay(150);
        timer.restart();
        QCOMPARE(client.command("NOOP"), u"250 2.0.0 Ok"_s);
        QVERIFY2(timer.elapsed() >= 140, QByteArray::number(timer.elapsed()));

        // A delay is a round trip: pipelined commands are answered together, not one delay after another.
        timer.restart();
        client.send("NOOP\r\nRSET\r\nNOOP\r\nVRFY x\r\n");
        QTRY_COMPARE_WITH_TIMEOUT(client.replies.size(), 4, WaitMs);
        const qint64 elapsed = timer.elapsed();
        QVERIFY2(elapsed >= 140 && elapsed < 450, QByteArray::number(elapsed));
        QVERIFY(client.replies.last().startsWith(u"252 "));
    }

    void blockAtBanner()
    {
        m_server->setBlockMode(SmtpTestServer::BlockMode::AtBanner);
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(
            u"554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"));
        QCOMPARE(client.command("EHLO probe.verifier.test"), u"503 5.5.1 Error: bad sequence of commands"_s);
        QCOMPARE(client.command("QUIT"), u"221 2.0.0 Bye"_s);
        QVERIFY(client.waitClosed());
    }

    void blockAtRcpt()
    {
        m_server->setBlockMode(SmtpTestServer::BlockMode::AtRcpt);
        Client client;
        QVERIFY(openTransaction(client));
        QVERIFY(client.command("RCPT TO:<alice@example.com>")
                    .startsWith(u"554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using "));
    }

    void rcptLimit()
    {
        m_server->setMaxRcptsPerSession(2);
        Client client;
        QVERIFY(openTransaction(client));
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(client.command("RSET"), u"250 2.0.0 Ok"_s);
        QCOMPARE(client.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(client.command("RCPT TO:<bob@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"452 4.5.3 Too many recipients"_s);
        QCOMPARE(m_server->rcptsPerSession(), QList<int>{3});
    }

    void tooManyErrors()
    {
        m_server->setMaxConsecutiveRejections(3);
        Client client;
        QVERIFY(openTransaction(client));
        QVERIFY(client.command("RCPT TO:<n1@example.com>").startsWith(u"550 "));
        QVERIFY(client.command("RCPT TO:<n2@example.com>").startsWith(u"550 "));
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s); // resets the count
        QVERIFY(client.command("RCPT TO:<n3@example.com>").startsWith(u"550 "));
        QVERIFY(client.command("RCPT TO:<n4@example.com>").startsWith(u"550 "));
        QVERIFY(client.command("RCPT TO:<n5@example.com>").startsWith(u"550 "));
        QCOMPARE(client.reply(), u"421 4.7.0 Too many errors"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->rcptsPerSession(), QList<int>{6});
    }

    void disconnects()
    {
        m_server->setDisconnectAfterBanner(true);
        Client early;
        QVERIFY(early.connectTo(m_server->address(), m_server->port()));
        QVERIFY(early.reply().startsWith(u"220 "));
        QVERIFY(early.waitClosed());

        m_server->setDisconnectAfterBanner(false);
        m_server->setDisconnectAfterRcpts(2);
        Client client;
        QVERIFY(openTransaction(client));
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(client.command("RCPT TO:<nobody@example.com>").left(4), u"550 "_s);
        QVERIFY(client.waitClosed());
        QVERIFY(client.replies.isEmpty());
    }

    void startTls()
    {
        QVERIFY(m_server->setStartTls(true));
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(u"220 "));
        QCOMPARE(client.command("STARTTLS"), u"503 5.5.1 Error: send EHLO first"_s);
        QVERIFY(client.command("EHLO probe.verifier.test").contains(u"\n250-STARTTLS\n"));
        QCOMPARE(client.command("STARTTLS"), u"220 2.0.0 Ready to start TLS"_s);
        QSslSocket *ssl = client.sslSocket();
        ssl->startClientEncryption();
        QTRY_VERIFY_WITH_TIMEOUT(ssl->isEncrypted(), WaitMs);
        QCOMPARE(ssl->peerCertificate().subjectInfo(QSslCertificate::CommonName),
                 QStringList{u"mx.mailcaff.test"_s});
        QTRY_COMPARE(m_server->startTlsCount(), 1);

        // RFC 3207 section 4.2: the client must EHLO again, and STARTTLS is not offered twice.
        QCOMPARE(client.command("MAIL FROM:<>"), u"503 5.5.1 Error: send HELO/EHLO first"_s);
        const QString ehlo = client.command("EHLO probe.verifier.test");
        QVERIFY(ehlo.startsWith(u"250-mx.mailcaff.test"));
        QVERIFY(!ehlo.contains(u"STARTTLS"));
        QCOMPARE(client.command("STARTTLS"), u"554 5.5.1 Error: TLS already active"_s);
        QCOMPARE(client.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(client.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(client.command("QUIT"), u"221 2.0.0 Bye"_s);
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->commandCount(u"starttls"_s), 3);
    }

    void counters()
    {
        Client a;
        Client b(false); // QTcpSocket: bound to another loopback source address
        Client c(false);
        const QHostAddress other(u"127.0.0.3"_s);
        QVERIFY(b.socket()->bind(other));
        QVERIFY(c.socket()->bind(other));
        for (Client *client : {&a, &b, &c}) {
            QVERIFY(client->connectTo(m_server->address(), m_server->port()));
            QVERIFY(client->reply().startsWith(u"220 "));
        }
        QCOMPARE(m_server->connectionCount(), 3);
        QCOMPARE(m_server->currentConnections(), 3);
        QCOMPARE(m_server->peakConnections(), 3);
        QCOMPARE(m_server->connectionsFrom(QHostAddress(QHostAddress::LocalHost)), 1);
        QCOMPARE(m_server->connectionsFrom(other), 2);

        QVERIFY(a.command("EHLO probe.verifier.test").startsWith(u"250-"));
        QCOMPARE(a.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(a.command("RCPT TO:<alice@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(a.command("RCPT TO:<x@catchall.test>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(a.command("RSET"), u"250 2.0.0 Ok"_s);
        QCOMPARE(a.command("QUIT"), u"221 2.0.0 Bye"_s);
        QVERIFY(b.command("HELO probe.verifier.test").startsWith(u"250 "));
        QCOMPARE(b.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QVERIFY(b.command("RCPT TO:<nobody@example.com>").startsWith(u"550 "));
        QVERIFY(a.waitClosed());
        c.socket()->abort();

        QTRY_COMPARE(m_server->currentConnections(), 1);
        QCOMPARE(m_server->peakConnections(), 3);
        QCOMPARE(m_server->rcptCount(), 3);
        QCOMPARE(m_server->rcptsPerSession(), (QList<int>{2, 1, 0}));
        QCOMPARE(m_server->commandCount(u"rset"_s), 1);
        QCOMPARE(m_server->quitCount(), 1);
        QCOMPARE(m_server->dataCount(), 0);
        QCOMPARE(m_server->startTlsCount(), 0);
        QCOMPARE(m_server->commandLog().size(), 9);
        QVERIFY(m_server->commandLog().contains(u"RCPT TO:<x@catchall.test>"_s));

        m_server->setCommandLogLimit(2);
        QCOMPARE(m_server->commandLog(), (QStringList{u"MAIL FROM:<>"_s, u"RCPT TO:<nobody@example.com>"_s}));

        m_server->resetCounters();
        QCOMPARE(m_server->connectionCount(), 0);
        QCOMPARE(m_server->peakConnections(), 1);
        QCOMPARE(m_server->rcptCount(), 0);
        QCOMPARE(m_server->connectionsFrom(other), 0);
        QVERIFY(m_server->commandLog().isEmpty());
        QCOMPARE(m_server->rcptsPerSession(), QList<int>{0}); // b, still open, counts again from zero
        QVERIFY(b.command("RCPT TO:<alice@example.com>").startsWith(u"250 "));
        QCOMPARE(m_server->rcptsPerSession(), QList<int>{1});
    }

    void severalInstances()
    {
        SmtpTestServer second;
        QVERIFY2(second.listen(QHostAddress(u"127.0.0.2"_s)), qPrintable(second.errorString()));
        QCOMPARE(second.address(), QHostAddress(u"127.0.0.2"_s));
        second.setHostName(u"mx2.mailcaff.test"_s);
        second.setCatchAll(u"example.com"_s, true);

        Client one;
        QVERIFY(openTransaction(one));
        QVERIFY(one.command("RCPT TO:<nobody@example.com>").startsWith(u"550 "));
        Client two;
        QVERIFY(two.connectTo(second.address(), second.port()));
        QCOMPARE(two.reply(), u"220 mx2.mailcaff.test ESMTP Postfix (Debian/GNU)"_s);
        QVERIFY(two.command("EHLO probe.verifier.test").startsWith(u"250-mx2.mailcaff.test"));
        QCOMPARE(two.command("MAIL FROM:<>"), u"250 2.1.0 Ok"_s);
        QCOMPARE(two.command("RCPT TO:<nobody@example.com>"), u"250 2.1.5 Ok"_s);
        QCOMPARE(m_server->connectionCount(), 1);
        QCOMPARE(second.connectionCount(), 1);

        SmtpTestServer outside;
        QVERIFY(!outside.listen(QHostAddress(u"192.0.2.1"_s)));
        QVERIFY(!outside.errorString().isEmpty());
    }

    void clientDisconnectsAnytime()
    {
        m_server->setReplyDelay(50);
        {
            // Gone while replies wait for their delay.
            Client client;
            QVERIFY(client.connectTo(m_server->address(), m_server->port()));
            client.send("EHLO probe.verifier.test\r\nMAIL FROM:<>\r\nRCPT TO:<alice@");
        }
        {
            // Gone in the middle of the TLS handshake.
            m_server->setReplyDelay(0);
            QVERIFY(m_server->setStartTls(true));
            Client client;
            QVERIFY(client.connectTo(m_server->address(), m_server->port()));
            QVERIFY(client.reply().startsWith(u"220 "));
            QVERIFY(client.command("EHLO probe.verifier.test").startsWith(u"250-"));
            QCOMPARE(client.command("STARTTLS"), u"220 2.0.0 Ready to start TLS"_s);
            client.send("\x16\x03\x01\x02\x00\x01"_ba);
        }
        {
            // Garbage instead of a TLS handshake, and staying connected: the server hangs up.
            Client client;
            QVERIFY(client.connectTo(m_server->address(), m_server->port()));
            QVERIFY(client.reply().startsWith(u"220 "));
            QVERIFY(client.command("EHLO probe.verifier.test").startsWith(u"250-"));
            QCOMPARE(client.command("STARTTLS"), u"220 2.0.0 Ready to start TLS"_s);
            client.send("EHLO probe.verifier.test\r\n" + QByteArray(200, 'x'));
            QVERIFY(client.waitClosed());
            QCOMPARE(m_server->startTlsCount(), 0);
        }
        QTRY_COMPARE_WITH_TIMEOUT(m_server->currentConnections(), 0, WaitMs);
        QTest::qWait(100); // the delayed replies' timers fire on sessions already gone
        QCOMPARE(m_server->connectionCount(), 3);

        // And the server closing with sessions open.
        Client client;
        QVERIFY(client.connectTo(m_server->address(), m_server->port()));
        QVERIFY(client.reply().startsWith(u"220 "));
        m_server->close();
        QVERIFY(client.waitClosed());
        QCOMPARE(m_server->currentConnections(), 0);
        QVERIFY(!m_server->isListening());
    }
};

QTEST_GUILESS_MAIN(TestSmtpTestServer)
#include "tst_smtptestserver.moc"
