#pragma once

#include "classifier.h"
#include "reply.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QStringList>
#include <QTimer>

#include <functional>

class QSslSocket;

namespace mailcaff::smtp {

/// Timeouts and identity of SMTP probe sessions.
struct SessionConfig
{
    QString heloName = QStringLiteral("mailcaff.invalid"); ///< EHLO argument: a host name the user owns
    QString mailFrom;                                      ///< envelope sender; empty: the null sender <>
    quint16 port = 25;
    int connectTimeoutMs = 8'000;
    int bannerTimeoutMs = 15'000; ///< a tarpit holds the banner back
    int commandTimeoutMs = 15'000;
    bool startTls = true;
    int maxConsecutiveRejections = 5; ///< receivers tarpit or drop after about ten; stop before that
    int maxErrorsPerSession = 8;      ///< any non-accepted RCPT; Postfix slows down after 10
};

/// Why a session could not give a reply for a recipient.
enum class Failure {
    None,
    ConnectFailed, ///< refused, unreachable, reset before the banner
    Timeout,       ///< connect, banner or a command took too long (tarpit, silent server)
    Refused,       ///< the server turned the session down: 5xx banner / EHLO / MAIL FROM, or our policy
    TryLater,      ///< 421 or another 4xx before RCPT: busy, rate limited, try later
    Dropped,       ///< the server closed the connection mid-dialogue
    TlsFailed,     ///< STARTTLS was offered but the handshake failed
    ProtocolError, ///< unparseable replies
    Unused,        ///< not attempted: the session stopped early (rejection limit) before this recipient
    Unsupported,   ///< the server cannot take this address (an internationalised one without SMTPUTF8)
    LocalLimit     ///< this machine could not open a connection (out of open files): not about the server
};
QString toString(Failure failure);

/// The answer for one recipient: the RCPT reply and its verdict, or why there is none.
struct RcptOutcome
{
    QString address;
    Failure failure = Failure::None;
    Reply reply; ///< the RCPT reply, or the reply that ended the session (code 0 when there was none)
    Verdict verdict = Verdict::Unknown;
    bool greeted = false;       ///< the server sent its 220 banner: an SMTP connection was made
    bool senderRefused = false; ///< the failure is a refused MAIL FROM
    bool replayed = false;      ///< repeated from a recent connection during a back-off, not our own
    bool tls = false;           ///< the dialogue ran over STARTTLS
    QStringList tlsErrors = {}; ///< certificate problems seen (recorded, not fatal)
    QString problem = {};       ///< for ProtocolError: what the server got wrong
};

/// One SMTP client connection to one mail server address, as a state machine over QSslSocket: connect,
/// multi-line banner, EHLO (HELO when EHLO is refused), STARTTLS when offered (EHLO again, anything
/// buffered before the handshake discarded, certificate problems recorded but not fatal), then
/// transactions of MAIL FROM + RCPT TO (pipelined when PIPELINING is offered), RSET between them, QUIT at
/// the end. Never DATA. Every step has a timeout; nothing blocks.
class Session : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Session)
public:
    Session(const QString &mxHost, const QHostAddress &address, const SessionConfig &config,
            QObject *parent = nullptr);
    ~Session() override;

    using Done = std::function<void(const QList<RcptOutcome> &)>;
    /// Runs one transaction for `recipients` (ASCII-domain addresses) on this connection, connecting first
    /// if needed. `done` gets one outcome per recipient, in order. One transaction at a time. `last`: the
    /// session ends after it; with PIPELINING its QUIT goes out behind the last RCPTs (RFC 2920 lets QUIT
    /// end a group), so the server's goodbye comes with the answers instead of a round trip later.
    void transaction(const QStringList &recipients, Done done, bool last = false);
    /// Sends QUIT (when connected) and closes; nothing more when the QUIT has gone already.
    void quit();

    QString mxHost() const { return m_mxHost; }
    QHostAddress address() const { return m_address; }
    bool isConnected() const { return m_state == State::Idle; }
    bool isBusy() const { return m_done != nullptr; }
    bool isClosed() const { return m_state == State::Closed; }
    bool usedTls() const { return m_tls; }
    QStringList tlsErrors() const { return m_tlsErrors; }
    bool supportsPipelining() const { return m_pipelining; }
    /// QUIT has gone out (with the last transaction, or by quit()): no more transactions here.
    bool quitSent() const { return m_quitSent || m_state == State::Quit; }
    int transactions() const { return m_transactions; }
    /// True after `maxConsecutiveRejections` rejected RCPTs in a row: use a fresh session for more.
    bool tooManyRejections() const
    {
        return m_consecutiveRejections >= m_config.maxConsecutiveRejections ||
               m_errors >= m_config.maxErrorsPerSession;
    }
    /// Recipients this session can still take in one transaction if all of them were refused, before it
    /// reaches its rejection limits: the most a transaction should carry.
    int rejectionBudget() const
    {
        return std::max(0, std::min(m_config.maxConsecutiveRejections - m_consecutiveRejections,
                                    m_config.maxErrorsPerSession - m_errors));
    }
    /// A policy block at RCPT: the server does not want our probes; stop this session.
    bool blocked() const { return m_blocked; }
    /// The server refused our MAIL FROM: about our sender, the same at every MX of the domain.
    bool senderRefused() const { return m_senderRefused; }
    /// How many RCPTs the server took before its "too many recipients" (valid when recipientLimitHit()).
    int recipientsBeforeLimit() const { return m_rcptsBeforeLimit; }
    /// The server answered "452 4.5.3 too many recipients" in this session.
    bool recipientLimitHit() const { return m_rcptLimitHit; }

Q_SIGNALS:
    void closed();

private:
    enum class State {
        Disconnected,
        Connecting,
        Banner,
        Ehlo,
        Helo,
        StartTls,
        Handshake,
        Idle,
        Mail,
        Rcpt,
        Rset,
        Quit,
        Closed
    };

    void connectNow();
    void onConnected();
    void onReadyRead();
    void onReply(const Reply &reply);
    void onSocketGone();
    void send(const QByteArray &line, int timeoutMs = -1);
    void sendEhlo();
    void beginTransaction();
    void sendNextRcpts();
    void finishTransaction();
    void fail(Failure failure, const Reply &reply = {});
    void close();

    QString m_mxHost;
    QHostAddress m_address;
    SessionConfig m_config;
    QSslSocket *m_socket = nullptr;
    ReplyParser m_parser;
    QTimer m_timer;
    State m_state = State::Disconnected;
    bool m_tls = false;
    bool m_pipelining = false;
    bool m_startTlsOffered = false;
    bool m_transactionUsed = false; ///< a transaction ran: RSET before the next
    bool m_rsetPending = false;     ///< a pipelined RSET's reply is due before the next one
    bool m_last = false;            ///< the transaction under way is the session's last
    bool m_quitSent = false;        ///< QUIT went out behind its last RCPTs
    QStringList m_tlsErrors;
    int m_consecutiveRejections = 0;
    bool m_rcptLimitHit = false;
    int m_rcptsBeforeLimit = 0;
    int m_errors = 0;
    bool m_blocked = false;
    bool m_senderRefused = false;
    bool m_smtpUtf8 = false;
    bool m_greeted = false;
    int m_transactions = 0;
    bool m_spokeUnasked = false; ///< replies were waiting when we wrote a command
    QString m_problem;           ///< why the dialogue is out of step (ProtocolError)

    // The transaction in progress.
    QStringList m_recipients;
    QList<RcptOutcome> m_outcomes;
    int m_sent = 0;     ///< RCPTs written
    int m_answered = 0; ///< RCPT replies read
    int m_discard = 0;  ///< replies still due for RCPTs past the server's recipient limit
    bool m_mailAccepted = false;
    Done m_done;
};

} // namespace mailcaff::smtp
