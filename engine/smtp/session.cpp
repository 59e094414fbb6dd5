#include "session.h"

#include <QSslSocket>

using namespace Qt::StringLiterals;

namespace mailcaff::smtp {

QString toString(Failure failure)
{
    switch (failure) {
    case Failure::None:
        return u"none"_s;
    case Failure::ConnectFailed:
        return u"connect_failed"_s;
    case Failure::Timeout:
        return u"timeout"_s;
    case Failure::Refused:
        return u"refused"_s;
    case Failure::TryLater:
        return u"try_later"_s;
    case Failure::Dropped:
        return u"dropped"_s;
    case Failure::TlsFailed:
        return u"tls_failed"_s;
    case Failure::ProtocolError:
        return u"protocol_error"_s;
    case Failure::Unused:
        return u"unused"_s;
    case Failure::Unsupported:
        return u"unsupported"_s;
    case Failure::LocalLimit:
        return u"local_limit"_s;
    }
    return {};
}

Session::Session(const QString &mxHost, const QHostAddress &address, const SessionConfig &config,
                 QObject *parent)
    : QObject(parent)
    , m_mxHost(mxHost)
    , m_address(address)
    , m_config(config)
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, [this] {
        if (m_state == State::Quit)
            close();
        else
            fail(Failure::Timeout);
    });
}

Session::~Session()
{
    // Owners delete sessions only when they hold no transaction; close quietly.
    m_done = nullptr;
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
}

void Session::transaction(const QStringList &recipients, Done done, bool last)
{
    Q_ASSERT(!m_done);
    m_last = last;
    m_recipients = recipients;
    m_outcomes.clear();
    for (const QString &r : recipients)
        m_outcomes.append(RcptOutcome{r, Failure::None, {}, Verdict::Unknown});
    m_sent = 0;
    m_answered = 0;
    m_discard = 0;
    m_done = std::move(done);
    switch (m_state) {
    case State::Closed:
    case State::Quit: // saying goodbye: nothing more is asked here
        fail(Failure::Dropped);
        break;
    case State::Disconnected:
        connectNow();
        break;
    case State::Idle:
        beginTransaction();
        break;
    default:
        break; // still greeting: the transaction starts once EHLO is done
    }
}

void Session::connectNow()
{
    m_socket = new QSslSocket(this);
    m_socket->setPeerVerifyName(m_mxHost);
    connect(m_socket, &QAbstractSocket::connected, this, &Session::onConnected);
    connect(m_socket, &QIODevice::readyRead, this, &Session::onReadyRead);
    connect(m_socket, &QAbstractSocket::disconnected, this, &Session::onSocketGone);
    connect(m_socket, &QAbstractSocket::errorOccurred, this, [this](QAbstractSocket::SocketError error) {
        if (m_state == State::Closed || m_state == State::Quit)
            return;
        if (error == QAbstractSocket::SocketResourceError && m_state == State::Connecting) {
            // No socket to be had (EMFILE, ENFILE, ENOBUFS): nothing was sent, the server is not to blame.
            // Qt reports it from within connectToHost(); the caller hears of it once that has returned.
            m_timer.stop();
            QMetaObject::invokeMethod(
                this,
                [this] {
                    if (m_state == State::Connecting)
                        fail(Failure::LocalLimit);
                },
                Qt::QueuedConnection);
        } else if (error == QAbstractSocket::SslHandshakeFailedError || m_state == State::Handshake)
            fail(Failure::TlsFailed);
        else if (m_state == State::Connecting)
            fail(Failure::ConnectFailed);
        else if (error == QAbstractSocket::RemoteHostClosedError)
            onSocketGone();
    });
    // Certificates of mail servers are often self-signed or for another name; a verifier records that
    // and carries on (opportunistic TLS, RFC 7435).
    connect(m_socket, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
        for (const QSslError &e : errors)
            m_tlsErrors.append(e.errorString());
        m_socket->ignoreSslErrors();
    });
    connect(m_socket, &QSslSocket::encrypted, this, [this] {
        m_tls = true;
        m_parser.clear();
        sendEhlo();
    });
    m_state = State::Connecting;
    m_timer.start(m_config.connectTimeoutMs);
    m_socket->connectToHost(m_address, m_config.port);
}

void Session::onConnected()
{
    m_state = State::Banner;
    m_timer.start(m_config.bannerTimeoutMs);
}

void Session::onReadyRead()
{
    if (!m_socket || m_state == State::Handshake)
        return;
    m_parser.feed(m_socket->readAll());
    while (m_state != State::Closed) {
        if (m_parser.hasError()) {
            m_problem = m_parser.errorString();
            fail(Failure::ProtocolError);
            return;
        }
        const std::optional<Reply> reply = m_parser.next();
        if (!reply)
            break;
        onReply(*reply);
        if (m_spokeUnasked && m_state != State::Closed && m_state != State::Quit) {
            // Bytes that were already here when we wrote our next command cannot be its answer: every
            // reply from here on would be matched to the wrong command (a stray "250" read as a
            // recipient's acceptance). Nothing more from this server is trusted.
            m_problem = u"the server sent a reply before the command it would answer"_s;
            fail(Failure::ProtocolError);
            return;
        }
    }
}

void Session::send(const QByteArray &line, int timeoutMs)
{
    m_spokeUnasked = m_spokeUnasked || m_parser.holdsData();
    m_socket->write(line + "\r\n");
    m_timer.start(timeoutMs < 0 ? m_config.commandTimeoutMs : timeoutMs);
}

void Session::sendEhlo()
{
    m_state = State::Ehlo;
    send("EHLO " + m_config.heloName.toUtf8());
}

void Session::onReply(const Reply &reply)
{
    m_timer.stop();
    if (m_rsetPending) {
        m_rsetPending = false;
        if (reply.code != 250)
            fail(reply.isTransient() ? Failure::TryLater : Failure::Refused, reply);
        else if (m_state != State::Idle)
            m_timer.start(m_config.commandTimeoutMs); // the rest of the group's replies are due
        return;
    }
    switch (m_state) {
    case State::Banner:
        m_greeted = reply.code == 220;
        if (reply.code == 220)
            sendEhlo();
        else
            fail(reply.isTransient() ? Failure::TryLater : Failure::Refused, reply);
        return;
    case State::Ehlo:
        if (reply.code == 250) {
            m_pipelining = false;
            m_smtpUtf8 = false;
            m_startTlsOffered = false;
            for (qsizetype i = 1; i < reply.lines.size(); ++i) {
                const QString keyword = reply.lines.at(i).section(u' ', 0, 0).toUpper();
                m_pipelining = m_pipelining || keyword == "PIPELINING"_L1;
                m_smtpUtf8 = m_smtpUtf8 || keyword == "SMTPUTF8"_L1;
                m_startTlsOffered = m_startTlsOffered || keyword == "STARTTLS"_L1;
            }
            if (m_startTlsOffered && m_config.startTls && !m_tls) {
                m_state = State::StartTls;
                send("STARTTLS");
            } else {
                m_state = State::Idle;
                beginTransaction();
            }
        } else if (reply.code == 500 || reply.code == 501 || reply.code == 502 || reply.code == 504) {
            // An old server without ESMTP (RFC 5321 4.1.4): HELO instead.
            m_state = State::Helo;
            send("HELO " + m_config.heloName.toUtf8());
        } else {
            fail(reply.isTransient() ? Failure::TryLater : Failure::Refused, reply);
        }
        return;
    case State::Helo:
    case State::Rset:
        // Greeted (HELO) or reset (RSET): ready for the next transaction.
        if (reply.code == 250) {
            m_state = State::Idle;
            beginTransaction();
        } else {
            fail(reply.isTransient() ? Failure::TryLater : Failure::Refused, reply);
        }
        return;
    case State::StartTls:
        if (reply.code == 220) {
            // Anything the server sent after its 220 was sent before encryption: a STARTTLS command
            // injection (CVE-2011-0411 class). Throw it away.
            m_parser.clear();
            m_state = State::Handshake;
            m_timer.start(m_config.commandTimeoutMs);
            m_socket->startClientEncryption();
        } else if (reply.code == 421) {
            fail(Failure::TryLater, reply);
        } else {
            // Offered but refused: carry on in plain text, as the server still accepts mail.
            m_state = State::Idle;
            beginTransaction();
        }
        return;
    case State::Mail:
        if (m_pipelining && m_sent > 0 && reply.isPositive() && reply.enhancedCode == "2.1.5"_L1) {
            // "Destination address valid" (RFC 3463) is a recipient's answer, not the sender's: with our
            // RCPTs pipelined behind MAIL, the server answers out of order, and nothing it says can be
            // matched to them. (Without pipelining nothing else is outstanding: a sloppy code only.)
            m_problem =
                u"the server answered MAIL FROM with a recipient's reply (%1 %2): replies out of order"_s
                    .arg(reply.code)
                    .arg(reply.enhancedCode);
            fail(Failure::ProtocolError, reply);
            return;
        }
        if (reply.isPositive()) {
            m_state = State::Rcpt;
            if (!m_pipelining)
                sendNextRcpts();
            else if (m_sent > 0)
                m_timer.start(m_config.commandTimeoutMs);
        } else {
            // Our sender refused: about us, never the mailbox, and the same at every MX of the domain.
            // Pipelined RCPT replies may follow, so the connection is not reusable.
            m_senderRefused = true;
            fail(reply.isTransient() ? Failure::TryLater : Failure::Refused, reply);
        }
        return;
    case State::Rcpt: {
        if (reply.code == 421) {
            // The server is closing the session (RFC 5321 3.8): nothing more comes on this connection.
            fail(Failure::TryLater, reply);
            return;
        }
        if (m_discard > 0) {
            // Replies to pipelined RCPTs past the server's recipient limit: already counted as unused.
            if (--m_discard == 0)
                finishTransaction();
            else
                m_timer.start(m_config.commandTimeoutMs);
            return;
        }
        if (m_answered >= m_sent) {
            fail(Failure::ProtocolError, reply); // a reply nobody asked for
            return;
        }
        const bool recipientLimit =
            reply.code == 452 && (reply.enhancedCode == "4.5.3"_L1 ||
                                  (reply.enhancedCode.isEmpty() &&
                                   reply.text().contains(u"too many recipients"_s, Qt::CaseInsensitive)));
        if (recipientLimit) {
            // The server's recipient limit for this transaction (RFC 5321 4.5.3.1.10): not about the
            // mailbox. This and the rest go to another transaction.
            m_rcptLimitHit = true;
            m_rcptsBeforeLimit = m_answered;
            for (qsizetype i = m_answered; i < m_outcomes.size(); ++i)
                m_outcomes[i].failure = Failure::Unused;
            m_discard = m_sent - m_answered - 1;
            m_answered = m_sent;
            if (m_discard == 0)
                finishTransaction();
            else
                m_timer.start(m_config.commandTimeoutMs);
            return;
        }
        RcptOutcome &outcome = m_outcomes[m_answered++];
        outcome.reply = reply;
        outcome.verdict = classify(reply, Stage::RcptTo);
        // Receivers count errors per session (Postfix: a pause after 10, a hang-up after 20) and read a
        // run of unknown recipients as harvesting: stop early on both counts.
        if (outcome.verdict != Verdict::Accepted)
            ++m_errors;
        if (outcome.verdict == Verdict::MailboxNotFound || outcome.verdict == Verdict::MailboxDisabled)
            ++m_consecutiveRejections;
        else if (outcome.verdict == Verdict::Accepted)
            m_consecutiveRejections = 0;
        if (outcome.verdict == Verdict::Blocked)
            m_blocked = true;
        if (m_answered == m_recipients.size()) {
            finishTransaction();
        } else if (m_answered == m_sent) {
            if (tooManyRejections() || m_blocked) {
                for (qsizetype i = m_answered; i < m_outcomes.size(); ++i)
                    m_outcomes[i].failure = Failure::Unused;
                finishTransaction();
            } else {
                sendNextRcpts();
            }
        } else {
            m_timer.start(m_config.commandTimeoutMs);
        }
        return;
    }
    case State::Quit:
        close();
        return;
    case State::Idle:
        // Unsolicited: typically "421 idle timeout" before the server hangs up. The session is over. Any
        // other reply nobody asked for means the dialogue is out of step: not used again.
        close();
        return;
    case State::Disconnected:
    case State::Connecting:
    case State::Handshake:
    case State::Closed:
        return;
    }
}

void Session::beginTransaction()
{
    if (!m_done)
        return;
    if (m_transactionUsed) {
        m_transactionUsed = false;
        send("RSET");
        if (!m_pipelining) {
            m_state = State::Rset;
            return;
        }
        // RFC 2920: RSET may lead a pipelined group. Its reply comes first; MAIL and RCPTs follow at once.
        m_rsetPending = true;
    }
    // An internationalised address needs SMTPUTF8 (RFC 6531): declared on MAIL FROM when the server offers
    // it; without it the server cannot take the address at all, and we say so without sending it.
    const bool needsUtf8 = std::any_of(m_recipients.cbegin(), m_recipients.cend(), [](const QString &r) {
        return std::any_of(r.cbegin(), r.cend(), [](QChar c) { return c.unicode() >= 0x80; });
    });
    if (needsUtf8 && !m_smtpUtf8) {
        Reply reply;
        reply.code = 553;
        reply.enhancedCode = u"5.6.7"_s;
        reply.lines = {u"the server does not offer SMTPUTF8, needed for this internationalised address"_s};
        for (RcptOutcome &o : m_outcomes) {
            o.failure = Failure::Unsupported;
            o.reply = reply;
            o.greeted = m_greeted;
        }
        finishTransaction();
        return;
    }
    m_transactionUsed = true;
    ++m_transactions;
    m_state = State::Mail;
    m_mailAccepted = false;
    send("MAIL FROM:<" + m_config.mailFrom.toUtf8() + '>' +
         (needsUtf8 ? QByteArray(" SMTPUTF8") : QByteArray()));
    // RFC 2920: with PIPELINING the RCPTs go out with MAIL FROM, in groups no larger than the rejection
    // limit so we never fire more unknown recipients than a receiver tolerates.
    if (m_pipelining)
        sendNextRcpts();
}

void Session::sendNextRcpts()
{
    const int batch =
        m_pipelining ? std::max(1, m_config.maxConsecutiveRejections - m_consecutiveRejections) : 1;
    QByteArray out;
    int n = 0;
    while (m_sent < m_recipients.size() && n < batch) {
        out += "RCPT TO:<" + m_recipients.at(m_sent).toUtf8() + ">\r\n";
        ++m_sent;
        ++n;
    }
    if (n == 0)
        return;
    m_spokeUnasked = m_spokeUnasked || m_parser.holdsData();
    if (m_last && m_pipelining && m_sent == m_recipients.size()) {
        out += "QUIT\r\n";
        m_quitSent = true;
    }
    m_socket->write(out);
    m_timer.start(m_config.commandTimeoutMs);
}

void Session::finishTransaction()
{
    for (RcptOutcome &o : m_outcomes) {
        o.greeted = m_greeted;
        o.tls = m_tls;
        o.tlsErrors = m_tlsErrors;
    }
    m_timer.stop();
    m_state = State::Idle;
    if (m_quitSent) {
        // Its QUIT is out: the 221 (or the server closing) follows the answers.
        m_state = State::Quit;
        m_timer.start(2'000);
    }
    Done done = std::move(m_done);
    m_done = nullptr;
    const QList<RcptOutcome> outcomes = m_outcomes; // the callback may start the next transaction here
    if (done)
        done(outcomes);
}

void Session::fail(Failure failure, const Reply &reply)
{
    // A server that answered (and did not say 421) gets its QUIT before we hang up (RFC 5321 4.1.1.10).
    if (m_socket && reply.code != 0 && reply.code != 421 && m_state != State::Handshake &&
        m_socket->state() == QAbstractSocket::ConnectedState) {
        m_socket->write("QUIT\r\n");
        m_socket->flush();
    }
    for (RcptOutcome &o : m_outcomes) {
        o.greeted = m_greeted;
        o.senderRefused = m_senderRefused;
    }
    if (failure == Failure::ProtocolError && m_problem.isEmpty())
        m_problem = u"a reply nobody asked for"_s;
    for (qsizetype i = m_answered; i < m_outcomes.size(); ++i) {
        m_outcomes[i].failure = failure;
        m_outcomes[i].reply = reply;
        if (failure == Failure::ProtocolError)
            m_outcomes[i].problem = m_problem;
        m_outcomes[i].verdict = failure == Failure::TryLater  ? Verdict::TryLater
                                : failure == Failure::Refused ? Verdict::Blocked
                                                              : Verdict::Unknown;
    }
    close();
    Done done = std::move(m_done);
    m_done = nullptr;
    const QList<RcptOutcome> outcomes = m_outcomes; // the callback may start the next transaction here
    if (done)
        done(outcomes);
}

void Session::quit()
{
    if (m_state == State::Quit)
        return; // said already: the server's goodbye, or its closing the connection, ends it
    if (m_state == State::Idle && m_socket) {
        m_state = State::Quit;
        send("QUIT", 2'000);
    } else if (m_state != State::Closed) {
        fail(Failure::Dropped);
    }
}

void Session::onSocketGone()
{
    if (m_state == State::Closed)
        return;
    if (m_state == State::Quit) {
        close();
        return;
    }
    fail(m_state == State::Connecting || m_state == State::Banner ? Failure::ConnectFailed
                                                                  : Failure::Dropped);
}

void Session::close()
{
    if (m_state == State::Closed)
        return;
    const bool polite = m_state == State::Quit;
    m_state = State::Closed;
    m_timer.stop();
    if (m_socket) {
        m_socket->disconnect(this);
        if (polite)
            m_socket->disconnectFromHost();
        else
            m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
    Q_EMIT closed();
}

} // namespace mailcaff::smtp
