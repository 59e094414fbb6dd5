#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QStringList>

namespace mailcaff::test {

/// A scriptable SMTP server on loopback for tests and benchmarks. It plays the receiving side of the
/// dialogue the prober holds (banner, EHLO/HELO, STARTTLS, MAIL, RCPT, RSET, QUIT; never DATA) and
/// simulates what real MX hosts do to verifiers: unknown users, catch-all domains, full or disabled
/// mailboxes, relay denial, DNSBL blocks, greylisting, 421 busy, connection limits, tarpits, latency,
/// recipient limits and disconnects after too many errors. Everything runs on the caller's event loop with
/// QSslSocket, so STARTTLS uses a self-signed certificate generated at run time.
///
/// Reply texts may span lines (separated by '\n'; a line starting "NNN " or "NNN-" sets its own code, other
/// lines take the previous code) and may use the placeholders {addr} (the address of the command), {domain}
/// (its domain), {host} (the server's host name) and {client} (the client's IP address).
///
/// It also counts what a polite client must keep low (connections, concurrency, RCPTs per session, DATA,
/// pipelining without PIPELINING) so tests can assert the prober's manners.
///
/// Usage:
///     SmtpTestServer smtp;
///     QVERIFY(smtp.listen());
///     smtp.addMailbox(u"alice@example.com"_s);
///     smtp.setCatchAll(u"catchall.test"_s, true);
///     ... probe 127.0.0.1:smtp.port() ...
///     QCOMPARE(smtp.dataCount(), 0);
class SmtpTestServer : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SmtpTestServer)
public:
    /// Where a DNSBL-style block ("554 5.7.1 ... blocked using zen.spamhaus.org") is given.
    enum class BlockMode {
        None,
        AtBanner, ///< 554 instead of the 220 banner; then 503 to everything but QUIT (RFC 5321 section 3.1)
        AtRcpt    ///< every RCPT gets the block reply (Postfix reject_rbl_client in
                  ///< smtpd_recipient_restrictions)
    };
    Q_ENUM(BlockMode)

    explicit SmtpTestServer(QObject *parent = nullptr);
    ~SmtpTestServer() override;

    /// Port 0 picks a free ephemeral port. Loopback only: any 127.x.y.z or ::1, so several instances can
    /// play several MX hosts; other addresses are refused.
    bool listen(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    /// Stops listening and drops every open session.
    void close();
    bool isListening() const;
    QHostAddress address() const;
    quint16 port() const;
    QString errorString() const;

    // Domains and mailboxes. Domains match case-insensitively (and in either Unicode or ACE form), local
    // parts case-insensitively. RCPTs to other domains get the relay-denied reply.
    void addDomain(const QString &domain);
    /// `address` is "local@domain"; adds the domain if needed.
    void addMailbox(const QString &address);
    void addMailboxes(const QString &domain, const QStringList &localParts);
    /// Accept every recipient at `domain` (catch-all, or a gateway that accepts all at RCPT).
    void setCatchAll(const QString &domain, bool catchAll);
    /// A fixed reply for one address instead of the normal answer, e.g. mailboxFullReply().
    void setMailboxReply(const QString &address, const QString &reply);
    /// The reply to unknown users at `domain` (empty: the server default).
    void setUnknownUserReply(const QString &domain, const QString &reply);
    /// Every RCPT at `domain` gets the block reply.
    void setDomainBlocked(const QString &domain, bool blocked);
    void removeDomain(const QString &domain);
    void clearDomains();

    // Replies that are worth naming.
    static QString
    postfixUnknownUserReply(); ///< 550 5.1.1 <{addr}>: Recipient address rejected: User unknown...
    static QString
    gmailUnknownUserReply();           ///< Gmail's four-line 550-5.1.1 "The email account ... does not exist"
    static QString mailboxFullReply(); ///< 552 5.2.2 <{addr}>: Mailbox full
    static QString mailboxDisabledReply(); ///< 550 5.2.1 <{addr}>: Mailbox disabled, not accepting messages
    static QString spamhausBlockReply(); ///< 554 5.7.1 Service unavailable; Client host [{client}] blocked...

    // Server behaviours, global. Delays are in milliseconds.
    void setHostName(const QString &hostName);             ///< default "mx.mailcaff.test"
    void setBanner(const QString &text);                   ///< after "220 "; '\n' makes it multi-line
    void setDefaultUnknownUserReply(const QString &reply); ///< default postfixUnknownUserReply()
    void setRelayDeniedReply(const QString &reply); ///< default "554 5.7.1 <{addr}>: Relay access denied"
    void setBlockMode(BlockMode mode);              ///< default None
    void setBlockReply(const QString &reply);       ///< default spamhausBlockReply()
    void setGreetingDelay(int milliseconds);        ///< before the banner, default 0
    /// Latency, default 0: each reply leaves this long after its command arrived, so pipelined commands are
    /// answered together after one delay, as over a real round trip. The banner gets it too.
    void setReplyDelay(int milliseconds);
    void setBusy(bool busy);                        ///< 421 at the banner, then close
    void setMaxConnections(int count);              ///< beyond it new sessions get the 421; 0 = none
    void setTarpit(bool tarpit);                    ///< accept and never send the banner
    void setDisconnectAfterBanner(bool disconnect); ///< close right after the banner
    void setDisconnectAfterRcpts(int count);        ///< close after answering the Nth RCPT; 0 = never
    void setMaxRcptsPerSession(int count);          ///< beyond it "452 4.5.3 ..."; 0 = none
    void setMaxConsecutiveRejections(int count);    ///< then "421 4.7.0 Too many errors"; 0 = off
    /// Postfix's tarpit (smtpd_soft_error_limit, smtpd_error_sleep_time): once a session has had more than
    /// `afterErrors` rejected RCPTs, each further RCPT reply waits `sleepMs` more. 0 = off.
    void setErrorSleep(int afterErrors, int sleepMs);
    /// Greylist-once: the first RCPT of each (client IP, sender, recipient) triplet gets a 450; a retry after
    /// at least `minRetryMs` is answered normally (Postgrey's behaviour). Applies before the mailbox lookup.
    void setGreylisting(bool enabled, int minRetryMs = 0);
    void setEhloEnabled(bool enabled);   ///< false: 502 to EHLO (HELO-only server)
    void setPipelining(bool advertised); ///< default true (RFC 2920)
    /// Advertise STARTTLS (RFC 3207), default false. Returns false if no certificate could be made.
    bool setStartTls(bool advertised);
    void setCommandLogLimit(int lines); ///< default 1000, oldest lines dropped

    // Accounting.
    int connectionCount() const;    ///< TCP connections accepted, refused ones included
    int currentConnections() const; ///< open TCP connections now
    int peakConnections() const;    ///< most open at once
    int refusedCount() const;       ///< sessions refused with 421 at the banner (busy or over the limit)
    int rcptCount() const;
    int dataCount() const;     ///< DATA commands: a verifier must never send one
    int startTlsCount() const; ///< TLS handshakes completed
    int quitCount() const;
    /// Commands by verb ("EHLO", "RSET", ...), case-insensitive.
    int commandCount(const QString &verb) const;
    /// Commands of this verb that arrived with the next command already behind them (a pipelined group).
    int pipelinedCount(const QString &verb) const;
    /// Commands of this verb that came behind an earlier command in the same group.
    int pipelinedBehindCount(const QString &verb) const;
    /// RCPT commands of each session, in order of connection, including refused and current sessions.
    QList<int> rcptsPerSession() const;
    int connectionsFrom(const QHostAddress &client) const;
    /// Commands sent before the previous reply when PIPELINING was not advertised (RFC 2920 section 3.1).
    int pipeliningViolations() const;
    /// The command lines received, oldest first (bounded).
    QStringList commandLog() const;
    /// Timing, for benchmarks (bounded, since the last resetCounters()): how late each delayed reply left
    /// against its due time, and how long clients took to send their next command once every reply due had
    /// left (their reaction time: reading, deciding, writing), in ms.
    QList<int> replyLateness() const { return m_lateness; }
    QList<int> clientWaits() const { return m_clientWaits; }
    /// Zeroes the counters and the log; peak starts again from the current connections.
    void resetCounters();
    /// Forgets the greylisting triplets.
    void resetGreylist();

Q_SIGNALS:
    void sessionStarted(int session, const QHostAddress &client);
    void sessionEnded(int session);
    void commandReceived(int session, const QString &line);

private:
    class Listener;
    class Session;
    friend class Session;

    struct Domain
    {
        QSet<QString> mailboxes;
        QHash<QString, QString> replies;
        QString unknownUserReply;
        bool catchAll = false;
        bool blocked = false;
    };

    static QString domainKey(const QString &domain);
    Domain &domain(const QString &name);
    void accept(qintptr descriptor);
    void sessionClosed(Session *session);
    void logCommand(int session, const QString &line);
    static void recordTiming(QList<int> &into, qint64 ms);

    Listener *m_listener = nullptr;
    QString m_error;
    QSet<Session *> m_sessions;
    int m_nextSession = 0;
    QElapsedTimer m_clock;

    QHash<QString, Domain> m_domains;
    QHash<QString, qint64> m_greylist; // "client|sender|recipient" -> first seen, m_clock ms

    QString m_hostName;
    QString m_banner;
    QString m_unknownUserReply;
    QString m_relayDeniedReply;
    QString m_blockReply;
    BlockMode m_blockMode = BlockMode::None;
    int m_greetingDelay = 0;
    int m_replyDelay = 0;
    bool m_busy = false;
    int m_maxConnections = 0;
    bool m_tarpit = false;
    bool m_disconnectAfterBanner = false;
    int m_disconnectAfterRcpts = 0;
    int m_maxRcpts = 0;
    int m_maxRejections = 0;
    int m_errorSleepAfter = 0;
    int m_errorSleepMs = 0;
    bool m_greylisting = false;
    int m_greylistRetry = 0;
    bool m_ehlo = true;
    bool m_pipelining = true;
    bool m_startTls = false;
    int m_logLimit = 1000;

    int m_connections = 0;
    int m_current = 0;
    int m_peak = 0;
    int m_served = 0; // open sessions that got (or wait for) a banner: what the connection limit counts
    int m_refused = 0;
    int m_startTlsDone = 0;
    int m_pipeliningViolations = 0;
    QList<int> m_lateness;
    QList<int> m_clientWaits;
    QHash<QString, int> m_verbs;
    QHash<QString, int> m_pipelinedVerbs;
    QHash<QString, int> m_behindVerbs;
    QHash<QString, int> m_clients;
    QList<int> m_rcptsPerSession;
    QStringList m_log;
};

} // namespace mailcaff::test
