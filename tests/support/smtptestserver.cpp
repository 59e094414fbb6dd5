#include "smtptestserver.h"

#include "testcertificate.h"

#include <QNetworkProxy>
#include <QSslCertificate>
#include <QSslKey>
#include <QSslSocket>
#include <QTcpServer>
#include <QTimer>
#include <QUrl>

#include <algorithm>
#include <memory>
#include <optional>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

namespace {

// RFC 5321 section 4.5.3.1.4: a command line is at most 512 octets and a text line 1000, CRLF included;
// like Postfix (line_length_limit) we only refuse beyond the larger.
constexpr int MaxLine = 1000;
// What a session reads ahead of its replies; the socket's own buffer has the same cap, so a client that
// floods without reading is held back by TCP instead of filling memory.
constexpr qint64 MaxBuffer = 64 * 1024;
// A client that never reads its replies gets dropped rather than growing our write buffer.
constexpr qint64 MaxPendingWrite = 1024 * 1024;
constexpr int MaxGreylistEntries = 100000;
// Replies waiting for a delay: beyond this many, commands wait unread (and then TCP holds the client back).
constexpr qsizetype MaxQueuedReplies = 1000;

const auto DefaultHostName = u"mx.mailcaff.test"_s;

struct TlsIdentity
{
    QSslCertificate certificate;
    QSslKey key;
};

std::optional<TlsIdentity> makeTlsIdentity()
{
    TlsIdentity identity;
    if (!makeSelfSignedIdentity({DefaultHostName, u"localhost"_s}, &identity.certificate, &identity.key))
        return std::nullopt;
    return identity;
}

const std::optional<TlsIdentity> &tlsIdentity()
{
    static const std::optional<TlsIdentity> identity =
        QSslSocket::supportsSsl() ? makeTlsIdentity() : std::nullopt;
    return identity;
}

QString clientKey(QHostAddress address)
{
    bool ok = false;
    const quint32 v4 = address.toIPv4Address(&ok); // a v4-mapped v6 address counts as its v4 address
    if (ok)
        address = QHostAddress(v4);
    return address.toString();
}

/// The address inside "<...>" after "FROM:" / "TO:" (case-insensitive), without a source route
/// (RFC 5321 section 4.1.1.3). Like Postfix without strict_rfc821_envelopes, a bare address is accepted.
std::optional<QString> pathArgument(const QString &argument, QLatin1StringView keyword)
{
    if (!argument.startsWith(keyword, Qt::CaseInsensitive))
        return std::nullopt;
    QString rest = argument.mid(keyword.size()).trimmed();
    QString path;
    if (rest.startsWith(u'<')) {
        const auto end = rest.indexOf(u'>');
        if (end < 0)
            return std::nullopt;
        path = rest.mid(1, end - 1);
    } else {
        path = rest.section(u' ', 0, 0);
        if (path.isEmpty())
            return std::nullopt;
    }
    if (path.startsWith(u'@')) {
        const auto colon = path.indexOf(u':');
        if (colon < 0)
            return std::nullopt;
        path = path.mid(colon + 1);
    }
    return path;
}

} // namespace

class SmtpTestServer::Listener : public QTcpServer
{
public:
    explicit Listener(SmtpTestServer *server)
        : QTcpServer(server)
        , m_server(server)
    {
    }

protected:
    // Sessions need QSslSocket for STARTTLS, which QTcpServer's own QTcpSocket cannot upgrade.
    void incomingConnection(qintptr descriptor) override { m_server->accept(descriptor); }

private:
    SmtpTestServer *m_server;
};

class SmtpTestServer::Session : public QObject
{
public:
    enum class Kind { Normal, Refused, Tarpit };

    Session(SmtpTestServer *server, QSslSocket *socket, int id, Kind kind)
        : QObject(server)
        , m_server(server)
        , m_socket(socket)
        , m_id(id)
        , m_kind(kind)
        , m_client(socket->peerAddress())
    {
        socket->setParent(this);
        socket->setReadBufferSize(MaxBuffer);
        slot = int(m_server->m_rcptsPerSession.size());
        m_server->m_rcptsPerSession.append(0);
        connect(socket, &QSslSocket::readyRead, this, &Session::pump);
        connect(socket, &QSslSocket::disconnected, this, &Session::end);
        connect(socket, &QSslSocket::errorOccurred, this, [this] {
            if (m_socket->state() == QAbstractSocket::UnconnectedState)
                end();
        });
        connect(socket, &QSslSocket::encrypted, this, &Session::tlsReady);
        // Benchmarks measure with these delays: coarse timers would add up to 5 % of jitter.
        m_timer.setSingleShot(true);
        m_timer.setTimerType(Qt::PreciseTimer);
        connect(&m_timer, &QTimer::timeout, this, &Session::deliverDue);
    }

    void start();
    void end();
    void abort() { m_socket->abort(); }

    const QHostAddress &client() const { return m_client; }
    Kind kind() const { return m_kind; }
    int id() const { return m_id; }

    int slot = -1; // index in m_rcptsPerSession, -1 once reset
    int rcpts = 0;

private:
    enum class Phase { Greeting, Command, Blocked, Tls, Closed };
    enum class After { None, Command, Blocked, Close, StartTls };

    struct Pending
    {
        qint64 due = 0; // m_server->m_clock ms
        QByteArray bytes;
        After after = After::None;
    };
    struct Line
    {
        QByteArray text;
        bool tooLong = false;
    };

    QByteArray format(const QString &text, QStringView defaultCode, const QString &address = {}) const;
    void respond(const QByteArray &reply, After after, int delay);
    void reply(const QString &text, After after = After::None, const QString &address = {});
    void finish(const QByteArray &reply, After after);
    void deliverDue();
    void pump();
    std::optional<Line> nextLine();
    void handle(const Line &line);
    void handleRcpt(const QString &argument);
    QString rcptReply(const QString &address);
    void tlsReady();

    SmtpTestServer *m_server;
    QSslSocket *m_socket;
    const int m_id;
    const Kind m_kind;
    const QHostAddress m_client;
    Phase m_phase = Phase::Greeting;
    QByteArray m_buffer;
    bool m_discarding = false;
    // Replies waiting for their delay, due times ascending. While one that changes the state (banner,
    // close, STARTTLS) waits, later commands wait in m_buffer.
    QList<Pending> m_queue;
    QTimer m_timer;
    bool m_busy = false;
    qint64 m_answeredAt = -1; ///< when the last reply due left (m_clock ms); -1 while one is due
    bool m_ended = false;
    bool m_helo = false;
    bool m_ehlo = false;
    bool m_pipelining = false;
    bool m_tls = false;
    bool m_mail = false;
    QString m_sender;
    int m_rejections = 0;
    int m_errors = 0;                ///< rejected RCPTs in this session (the tarpit's count)
    bool m_previousFollowed = false; ///< the previous command came with this one behind it
};

void SmtpTestServer::Session::start()
{
    const int delay = m_server->m_replyDelay;
    switch (m_kind) {
    case Kind::Tarpit:
        return; // reads are discarded in pump(); the client waits for a banner that never comes
    case Kind::Refused:
        respond(format(u"421 4.7.0 Too many connections, try again later"_s, u"421"), After::Close, delay);
        return;
    case Kind::Normal:
        break;
    }
    if (m_server->m_blockMode == BlockMode::AtBanner) {
        respond(format(m_server->m_blockReply, u"554"), After::Blocked, m_server->m_greetingDelay + delay);
        return;
    }
    respond(format(m_server->m_banner, u"220"),
            m_server->m_disconnectAfterBanner ? After::Close : After::Command,
            m_server->m_greetingDelay + delay);
}

void SmtpTestServer::Session::end()
{
    if (m_ended)
        return;
    m_ended = true;
    m_phase = Phase::Closed;
    m_server->sessionClosed(this);
    deleteLater();
}

QByteArray SmtpTestServer::Session::format(const QString &text, QStringView defaultCode,
                                           const QString &address) const
{
    QString expanded = text;
    const auto at = address.lastIndexOf(u'@');
    expanded.replace(u"{addr}"_s, address)
        .replace(u"{domain}"_s, at >= 0 ? address.mid(at + 1) : QString())
        .replace(u"{host}"_s, m_server->m_hostName)
        .replace(u"{client}"_s, clientKey(m_client));
    const QStringList lines = expanded.split(u'\n');
    QString code = defaultCode.toString();
    QByteArray out;
    for (qsizetype i = 0; i < lines.size(); ++i) {
        QString line = lines[i];
        if (line.endsWith(u'\r'))
            line.chop(1);
        const bool hasCode = line.size() >= 3 && line[0].isDigit() && line[1].isDigit() &&
                             line[2].isDigit() && (line.size() == 3 || line[3] == u' ' || line[3] == u'-');
        if (hasCode) {
            code = line.left(3);
            line = line.mid(4);
        }
        const QChar separator = i + 1 < lines.size() ? u'-' : u' ';
        out += (code + separator + line).toUtf8() + "\r\n";
    }
    return out;
}

// The delay models a distant server: each reply leaves `delay` ms after its command arrived, and commands
// that arrive together (PIPELINING) are answered together, as over a real round trip, not one after another.
void SmtpTestServer::Session::respond(const QByteArray &replyBytes, After after, int delay)
{
    if (after != After::None)
        m_busy = true; // the state after this reply decides how later commands are read
    if (delay <= 0 && m_queue.isEmpty()) {
        m_busy = false;
        finish(replyBytes, after);
        return;
    }
    m_answeredAt = -1; // a reply is due: the client is not the one waited for
    m_queue.append({m_server->m_clock.elapsed() + delay, replyBytes, after});
    if (!m_timer.isActive())
        m_timer.start(int(std::max<qint64>(0, m_queue.first().due - m_server->m_clock.elapsed())));
}

void SmtpTestServer::Session::deliverDue()
{
    const qint64 now = m_server->m_clock.elapsed();
    while (!m_ended && !m_queue.isEmpty() && m_queue.first().due <= now) {
        const Pending next = m_queue.takeFirst();
        if (next.after != After::None)
            m_busy = false;
        m_server->recordTiming(m_server->m_lateness, now - next.due);
        finish(next.bytes, next.after);
    }
    if (m_ended)
        return;
    if (m_queue.isEmpty())
        m_answeredAt = now;
    if (!m_queue.isEmpty())
        m_timer.start(int(std::max<qint64>(0, m_queue.first().due - now)));
    pump();
}

void SmtpTestServer::Session::reply(const QString &text, After after, const QString &address)
{
    respond(format(text, u"250", address), after, m_server->m_replyDelay);
}

void SmtpTestServer::Session::finish(const QByteArray &replyBytes, After after)
{
    if (m_ended || m_phase == Phase::Closed)
        return;
    m_socket->write(replyBytes);
    if (m_socket->bytesToWrite() > MaxPendingWrite)
        after = After::Close;
    switch (after) {
    case After::None:
        break;
    case After::Command:
        m_phase = Phase::Command;
        break;
    case After::Blocked:
        m_phase = Phase::Blocked;
        break;
    case After::Close:
        // Graceful: the reply is flushed before the FIN. May emit disconnected() (and so end()) at once.
        m_phase = Phase::Closed;
        m_socket->disconnectFromHost();
        break;
    case After::StartTls:
        // RFC 3207 section 4.2: whatever the client sent after STARTTLS in plaintext is discarded (the
        // command injection of CVE-2011-0411 relies on servers that keep it).
        m_phase = Phase::Tls;
        m_buffer.clear();
        m_discarding = false;
        if (const auto &identity = tlsIdentity()) {
            m_socket->setLocalCertificate(identity->certificate);
            m_socket->setPrivateKey(identity->key);
        }
        m_socket->setPeerVerifyMode(QSslSocket::VerifyNone);
        m_socket->startServerEncryption();
        break;
    }
}

void SmtpTestServer::Session::tlsReady()
{
    ++m_server->m_startTlsDone;
    // RFC 3207 section 4.2: the server forgets everything learnt before, so the client must EHLO again.
    m_tls = true;
    m_helo = m_ehlo = m_mail = false;
    m_phase = Phase::Command;
    pump();
}

void SmtpTestServer::Session::pump()
{
    if (m_kind == Kind::Tarpit || m_phase == Phase::Closed) {
        if (!m_ended)
            m_socket->readAll();
        return;
    }
    while (!m_ended && !m_busy && m_queue.size() < MaxQueuedReplies &&
           (m_phase == Phase::Command || m_phase == Phase::Blocked)) {
        if (const auto line = nextLine()) {
            handle(*line);
            continue;
        }
        const QByteArray more = m_socket->read(MaxBuffer - m_buffer.size());
        if (more.isEmpty())
            break;
        m_buffer += more;
    }
    // Read ahead while greeting or busy, up to the cap, so the next readyRead is not lost.
    if (!m_ended && m_phase != Phase::Tls && m_buffer.size() < MaxBuffer)
        m_buffer += m_socket->read(MaxBuffer - m_buffer.size());
}

std::optional<SmtpTestServer::Session::Line> SmtpTestServer::Session::nextLine()
{
    const auto lf = m_buffer.indexOf('\n');
    if (m_discarding) {
        if (lf < 0) {
            m_buffer.clear();
            return std::nullopt;
        }
        m_buffer.remove(0, lf + 1);
        m_discarding = false;
        return Line{{}, true};
    }
    if (lf < 0) {
        if (m_buffer.size() > MaxLine) {
            m_discarding = true;
            m_buffer.clear();
        }
        return std::nullopt;
    }
    Line line{m_buffer.left(lf), lf + 1 > MaxLine};
    m_buffer.remove(0, lf + 1);
    if (line.text.endsWith('\r'))
        line.text.chop(1);
    if (line.tooLong)
        line.text.clear();
    return line;
}

void SmtpTestServer::Session::handle(const Line &line)
{
    // RFC 2920 section 3.1: without PIPELINING a client waits for each reply before the next command; a
    // further complete line already here was sent before this command's reply.
    const bool followed = m_buffer.contains('\n'); // the next command is already here
    if (m_helo && !m_pipelining && followed)
        ++m_server->m_pipeliningViolations;

    if (m_answeredAt >= 0) {
        m_server->recordTiming(m_server->m_clientWaits, m_server->m_clock.elapsed() - m_answeredAt);
        m_answeredAt = -1;
    }
    const QString text = line.tooLong ? u"<line too long>"_s : QString::fromUtf8(line.text);
    m_server->logCommand(m_id, text);
    if (line.tooLong) {
        reply(u"500 5.5.2 line too long"_s);
        return;
    }
    const auto space = text.indexOf(u' ');
    QString verb = (space < 0 ? text : text.left(space)).toUpper();
    const QString argument = space < 0 ? QString() : text.mid(space + 1).trimmed();
    if (verb.size() > 16)
        verb = u"?"_s; // keeps the per-verb counts bounded whatever the client sends
    ++m_server->m_verbs[verb];
    if (followed)
        ++m_server->m_pipelinedVerbs[verb];
    if (m_previousFollowed)
        ++m_server->m_behindVerbs[verb];
    m_previousFollowed = followed;

    if (m_phase == Phase::Blocked) {
        // RFC 5321 section 3.1: after a 554 greeting the server waits for QUIT, answering 503 meanwhile.
        if (verb == u"QUIT")
            reply(u"221 2.0.0 Bye"_s, After::Close);
        else
            reply(u"503 5.5.1 Error: bad sequence of commands"_s);
        return;
    }

    if (verb == u"EHLO" || verb == u"HELO") {
        if (verb == u"EHLO" && !m_server->m_ehlo) {
            reply(u"502 5.5.2 Error: command not recognized"_s);
            return;
        }
        if (argument.isEmpty()) {
            reply(u"501 5.5.4 Syntax: %1 hostname"_s.arg(verb));
            return;
        }
        // RFC 5321 section 4.1.4: EHLO/HELO also resets any transaction.
        m_helo = true;
        m_ehlo = verb == u"EHLO";
        m_mail = false;
        if (!m_ehlo) {
            m_pipelining = false;
            reply(u"250 {host}"_s);
            return;
        }
        m_pipelining = m_server->m_pipelining;
        QStringList lines{u"250-{host}"_s};
        if (m_pipelining)
            lines << u"PIPELINING"_s;
        lines << u"SIZE 10240000"_s << u"VRFY"_s << u"ETRN"_s;
        // RFC 3207 section 4.2: not offered again once TLS is on.
        if (m_server->m_startTls && !m_tls && tlsIdentity())
            lines << u"STARTTLS"_s;
        lines << u"ENHANCEDSTATUSCODES"_s << u"8BITMIME"_s << u"DSN"_s << u"SMTPUTF8"_s << u"CHUNKING"_s;
        reply(lines.join(u'\n'));
        return;
    }
    if (verb == u"NOOP") {
        reply(u"250 2.0.0 Ok"_s);
        return;
    }
    if (verb == u"RSET") {
        m_mail = false;
        reply(u"250 2.0.0 Ok"_s);
        return;
    }
    if (verb == u"QUIT") {
        reply(u"221 2.0.0 Bye"_s, After::Close);
        return;
    }
    if (verb == u"VRFY") {
        reply(u"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery"_s);
        return;
    }
    if (verb == u"DATA") {
        // The prober must never send DATA: counted (dataCount()) and refused as Postfix does without RCPT.
        reply(u"554 5.5.1 Error: no valid recipients"_s);
        return;
    }
    if (verb == u"STARTTLS") {
        if (!m_server->m_startTls || !tlsIdentity())
            reply(u"502 5.5.1 Error: command not implemented"_s);
        else if (m_tls)
            reply(u"554 5.5.1 Error: TLS already active"_s);
        else if (!argument.isEmpty())
            reply(u"501 5.5.4 Syntax: STARTTLS"_s);
        else if (!m_ehlo)
            reply(u"503 5.5.1 Error: send EHLO first"_s);
        else
            reply(u"220 2.0.0 Ready to start TLS"_s, After::StartTls);
        return;
    }
    if (verb == u"MAIL") {
        if (!m_helo) {
            reply(u"503 5.5.1 Error: send HELO/EHLO first"_s);
            return;
        }
        if (m_mail) {
            reply(u"503 5.5.1 Error: nested MAIL command"_s);
            return;
        }
        const auto sender = pathArgument(argument, "FROM:"_L1);
        if (!sender) {
            reply(u"501 5.5.4 Syntax: MAIL FROM:<address>"_s);
            return;
        }
        m_mail = true;
        m_sender = sender->toLower();
        reply(u"250 2.1.0 Ok"_s);
        return;
    }
    if (verb == u"RCPT") {
        handleRcpt(argument);
        return;
    }
    reply(u"502 5.5.2 Error: command not recognized"_s);
}

void SmtpTestServer::Session::handleRcpt(const QString &argument)
{
    if (!m_helo) {
        reply(u"503 5.5.1 Error: send HELO/EHLO first"_s);
        return;
    }
    if (!m_mail) {
        reply(u"503 5.5.1 Error: need MAIL command"_s);
        return;
    }
    ++rcpts;
    if (slot >= 0)
        ++m_server->m_rcptsPerSession[slot];

    QString text;
    QString address;
    if (const auto path = pathArgument(argument, "TO:"_L1); !path) {
        text = u"501 5.5.4 Syntax: RCPT TO:<address>"_s;
    } else if (!path->contains(u'@')) {
        text = u"501 5.1.3 Bad recipient address syntax"_s;
    } else {
        address = *path;
        text = rcptReply(address);
    }

    // Postfix smtpd_hard_error_limit: once the count of errors reaches the limit the server says 421 right
    // after the reply and hangs up. Here only consecutive rejected RCPTs count; an accepted one resets it.
    const bool rejected = !text.startsWith(u'2');
    m_rejections = rejected ? m_rejections + 1 : 0;
    m_errors += rejected ? 1 : 0;
    QByteArray bytes = format(text, u"250", address);
    After after = After::None;
    if (rejected && m_server->m_maxRejections > 0 && m_rejections >= m_server->m_maxRejections) {
        bytes += format(u"421 4.7.0 Too many errors"_s, u"421");
        after = After::Close;
    } else if (m_server->m_disconnectAfterRcpts > 0 && rcpts >= m_server->m_disconnectAfterRcpts) {
        after = After::Close;
    }
    const bool tarpit = m_server->m_errorSleepAfter > 0 && m_errors > m_server->m_errorSleepAfter;
    respond(bytes, after, m_server->m_replyDelay + (tarpit ? m_server->m_errorSleepMs : 0));
}

QString SmtpTestServer::Session::rcptReply(const QString &address)
{
    if (m_server->m_maxRcpts > 0 && rcpts > m_server->m_maxRcpts)
        return u"452 4.5.3 Too many recipients"_s;
    const auto at = address.lastIndexOf(u'@');
    const QString local = address.left(at).toLower();
    const auto it = m_server->m_domains.constFind(domainKey(address.mid(at + 1)));
    if (m_server->m_blockMode == BlockMode::AtRcpt || (it != m_server->m_domains.cend() && it->blocked))
        return m_server->m_blockReply;
    if (it == m_server->m_domains.cend())
        return m_server->m_relayDeniedReply;

    if (m_server->m_greylisting) {
        const QString key = clientKey(m_client) + u'|' + m_sender + u'|' + address.toLower();
        const qint64 now = m_server->m_clock.elapsed();
        auto seen = m_server->m_greylist.constFind(key);
        if (seen == m_server->m_greylist.cend()) {
            if (m_server->m_greylist.size() >= MaxGreylistEntries)
                m_server->m_greylist.clear();
            m_server->m_greylist.insert(key, now);
            return u"450 4.2.0 <{addr}>: Recipient address rejected: Greylisted, see "
                   u"http://postgrey.schweikert.ch/help/{domain}.html"_s;
        }
        if (now - *seen < m_server->m_greylistRetry)
            return u"450 4.2.0 <{addr}>: Recipient address rejected: Greylisted, retry later"_s;
    }

    if (const auto special = it->replies.constFind(local); special != it->replies.cend())
        return *special;
    if (it->catchAll || it->mailboxes.contains(local))
        return u"250 2.1.5 Ok"_s;
    return it->unknownUserReply.isEmpty() ? m_server->m_unknownUserReply : it->unknownUserReply;
}

SmtpTestServer::SmtpTestServer(QObject *parent)
    : QObject(parent)
    , m_hostName(DefaultHostName)
    , m_banner(u"{host} ESMTP Postfix (Debian/GNU)"_s)
    , m_unknownUserReply(postfixUnknownUserReply())
    , m_relayDeniedReply(u"554 5.7.1 <{addr}>: Relay access denied"_s)
    , m_blockReply(spamhausBlockReply())
{
    m_clock.start();
}

SmtpTestServer::~SmtpTestServer()
{
    close();
}

bool SmtpTestServer::listen(const QHostAddress &address, quint16 port)
{
    close();
    if (!address.isLoopback()) {
        m_error = u"SmtpTestServer listens on loopback only, not %1"_s.arg(address.toString());
        return false;
    }
    auto listener = std::make_unique<Listener>(this);
    listener->setProxy(QNetworkProxy::NoProxy); // loopback: never through a proxy from the environment
    if (!listener->listen(address, port)) {
        m_error = listener->errorString();
        return false;
    }
    m_listener = listener.release();
    m_error.clear();
    return true;
}

void SmtpTestServer::close()
{
    delete m_listener;
    m_listener = nullptr;
    // abort() ends each session through disconnected(); iterate over a copy since that edits the set.
    const auto sessions = m_sessions;
    for (Session *session : sessions)
        session->abort();
    for (Session *session : sessions)
        session->end(); // in case the socket was not connected any more and emitted nothing
}

bool SmtpTestServer::isListening() const
{
    return m_listener && m_listener->isListening();
}

QHostAddress SmtpTestServer::address() const
{
    return m_listener ? m_listener->serverAddress() : QHostAddress();
}

quint16 SmtpTestServer::port() const
{
    return m_listener ? m_listener->serverPort() : 0;
}

QString SmtpTestServer::errorString() const
{
    return m_error;
}

void SmtpTestServer::accept(qintptr descriptor)
{
    auto socket = std::make_unique<QSslSocket>();
    socket->setProxy(QNetworkProxy::NoProxy);
    if (!socket->setSocketDescriptor(descriptor))
        return;
    ++m_connections;
    m_peak = std::max(m_peak, ++m_current);
    ++m_clients[clientKey(socket->peerAddress())];

    auto kind = Session::Kind::Normal;
    if (m_tarpit)
        kind = Session::Kind::Tarpit;
    else if (m_busy || (m_maxConnections > 0 && m_served >= m_maxConnections))
        kind = Session::Kind::Refused;
    if (kind == Session::Kind::Refused)
        ++m_refused;
    else
        ++m_served;

    auto *session = new Session(this, socket.release(), m_nextSession++, kind);
    m_sessions.insert(session);
    Q_EMIT sessionStarted(session->id(), session->client());
    session->start();
}

void SmtpTestServer::sessionClosed(Session *session)
{
    if (!m_sessions.remove(session))
        return;
    --m_current;
    if (session->kind() != Session::Kind::Refused)
        --m_served;
    Q_EMIT sessionEnded(session->id());
}

void SmtpTestServer::recordTiming(QList<int> &into, qint64 ms)
{
    if (into.size() < 1'000'000)
        into.append(int(ms));
}

void SmtpTestServer::logCommand(int session, const QString &line)
{
    if (m_logLimit > 0) {
        if (m_log.size() >= m_logLimit)
            m_log.removeFirst();
        m_log.append(line);
    }
    Q_EMIT commandReceived(session, line);
}

QString SmtpTestServer::domainKey(const QString &domain)
{
    QString name = domain.trimmed().toLower();
    if (name.endsWith(u'.'))
        name.chop(1);
    // IDN: the Unicode and the ACE (xn--) form of a domain are the same domain.
    const QByteArray ace = QUrl::toAce(name);
    return ace.isEmpty() ? name : QString::fromLatin1(ace).toLower();
}

SmtpTestServer::Domain &SmtpTestServer::domain(const QString &name)
{
    return m_domains[domainKey(name)];
}

void SmtpTestServer::addDomain(const QString &name)
{
    domain(name);
}

void SmtpTestServer::addMailbox(const QString &address)
{
    const auto at = address.lastIndexOf(u'@');
    domain(address.mid(at + 1)).mailboxes.insert(address.left(at).toLower());
}

void SmtpTestServer::addMailboxes(const QString &name, const QStringList &localParts)
{
    Domain &d = domain(name);
    for (const QString &local : localParts)
        d.mailboxes.insert(local.toLower());
}

void SmtpTestServer::setCatchAll(const QString &name, bool catchAll)
{
    domain(name).catchAll = catchAll;
}

void SmtpTestServer::setMailboxReply(const QString &address, const QString &reply)
{
    const auto at = address.lastIndexOf(u'@');
    domain(address.mid(at + 1)).replies.insert(address.left(at).toLower(), reply);
}

void SmtpTestServer::setUnknownUserReply(const QString &name, const QString &reply)
{
    domain(name).unknownUserReply = reply;
}

void SmtpTestServer::setDomainBlocked(const QString &name, bool blocked)
{
    domain(name).blocked = blocked;
}

void SmtpTestServer::removeDomain(const QString &name)
{
    m_domains.remove(domainKey(name));
}

void SmtpTestServer::clearDomains()
{
    m_domains.clear();
}

QString SmtpTestServer::postfixUnknownUserReply()
{
    return u"550 5.1.1 <{addr}>: Recipient address rejected: User unknown in virtual mailbox table"_s;
}

QString SmtpTestServer::gmailUnknownUserReply()
{
    return u"550-5.1.1 The email account that you tried to reach does not exist. Please try\n"
           u"550-5.1.1 double-checking the recipient's email address for typos or\n"
           u"550-5.1.1 unnecessary spaces. Learn more at\n"
           u"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a1-20020a170906b7c100b00a1b2c3d4e5fsi123 - gsmtp"_s;
}

QString SmtpTestServer::mailboxFullReply()
{
    return u"552 5.2.2 <{addr}>: Mailbox full"_s;
}

QString SmtpTestServer::mailboxDisabledReply()
{
    return u"550 5.2.1 <{addr}>: Mailbox disabled, not accepting messages"_s;
}

QString SmtpTestServer::spamhausBlockReply()
{
    return u"554 5.7.1 Service unavailable; Client host [{client}] blocked using zen.spamhaus.org; "
           u"https://www.spamhaus.org/query/ip/{client}"_s;
}

void SmtpTestServer::setHostName(const QString &hostName)
{
    m_hostName = hostName;
}

void SmtpTestServer::setBanner(const QString &text)
{
    m_banner = text;
}

void SmtpTestServer::setDefaultUnknownUserReply(const QString &reply)
{
    m_unknownUserReply = reply;
}

void SmtpTestServer::setRelayDeniedReply(const QString &reply)
{
    m_relayDeniedReply = reply;
}

void SmtpTestServer::setBlockMode(BlockMode mode)
{
    m_blockMode = mode;
}

void SmtpTestServer::setBlockReply(const QString &reply)
{
    m_blockReply = reply;
}

void SmtpTestServer::setGreetingDelay(int milliseconds)
{
    m_greetingDelay = std::max(0, milliseconds);
}

void SmtpTestServer::setReplyDelay(int milliseconds)
{
    m_replyDelay = std::max(0, milliseconds);
}

void SmtpTestServer::setBusy(bool busy)
{
    m_busy = busy;
}

void SmtpTestServer::setMaxConnections(int count)
{
    m_maxConnections = std::max(0, count);
}

void SmtpTestServer::setTarpit(bool tarpit)
{
    m_tarpit = tarpit;
}

void SmtpTestServer::setDisconnectAfterBanner(bool disconnect)
{
    m_disconnectAfterBanner = disconnect;
}

void SmtpTestServer::setDisconnectAfterRcpts(int count)
{
    m_disconnectAfterRcpts = std::max(0, count);
}

void SmtpTestServer::setMaxRcptsPerSession(int count)
{
    m_maxRcpts = std::max(0, count);
}

void SmtpTestServer::setErrorSleep(int afterErrors, int sleepMs)
{
    m_errorSleepAfter = std::max(0, afterErrors);
    m_errorSleepMs = std::max(0, sleepMs);
}

void SmtpTestServer::setMaxConsecutiveRejections(int count)
{
    m_maxRejections = std::max(0, count);
}

void SmtpTestServer::setGreylisting(bool enabled, int minRetryMs)
{
    m_greylisting = enabled;
    m_greylistRetry = std::max(0, minRetryMs);
}

void SmtpTestServer::setEhloEnabled(bool enabled)
{
    m_ehlo = enabled;
}

void SmtpTestServer::setPipelining(bool advertised)
{
    m_pipelining = advertised;
}

bool SmtpTestServer::setStartTls(bool advertised)
{
    m_startTls = advertised;
    return !advertised || tlsIdentity().has_value();
}

void SmtpTestServer::setCommandLogLimit(int lines)
{
    m_logLimit = std::max(0, lines);
    while (m_log.size() > m_logLimit)
        m_log.removeFirst();
}

int SmtpTestServer::connectionCount() const
{
    return m_connections;
}

int SmtpTestServer::currentConnections() const
{
    return m_current;
}

int SmtpTestServer::peakConnections() const
{
    return m_peak;
}

int SmtpTestServer::refusedCount() const
{
    return m_refused;
}

int SmtpTestServer::rcptCount() const
{
    return commandCount(u"RCPT"_s);
}

int SmtpTestServer::dataCount() const
{
    return commandCount(u"DATA"_s);
}

int SmtpTestServer::startTlsCount() const
{
    return m_startTlsDone;
}

int SmtpTestServer::quitCount() const
{
    return commandCount(u"QUIT"_s);
}

int SmtpTestServer::commandCount(const QString &verb) const
{
    return m_verbs.value(verb.toUpper());
}

int SmtpTestServer::pipelinedCount(const QString &verb) const
{
    return m_pipelinedVerbs.value(verb.toUpper());
}

int SmtpTestServer::pipelinedBehindCount(const QString &verb) const
{
    return m_behindVerbs.value(verb.toUpper());
}

QList<int> SmtpTestServer::rcptsPerSession() const
{
    return m_rcptsPerSession;
}

int SmtpTestServer::connectionsFrom(const QHostAddress &client) const
{
    return m_clients.value(clientKey(client));
}

int SmtpTestServer::pipeliningViolations() const
{
    return m_pipeliningViolations;
}

QStringList SmtpTestServer::commandLog() const
{
    return m_log;
}

void SmtpTestServer::resetCounters()
{
    m_connections = 0;
    m_peak = m_current;
    m_refused = 0;
    m_startTlsDone = 0;
    m_pipeliningViolations = 0;
    m_lateness.clear();
    m_clientWaits.clear();
    m_verbs.clear();
    m_pipelinedVerbs.clear();
    m_behindVerbs.clear();
    m_clients.clear();
    m_log.clear();
    // Open sessions keep being counted, from zero, in new slots.
    m_rcptsPerSession.clear();
    QList<Session *> open(m_sessions.cbegin(), m_sessions.cend());
    std::sort(open.begin(), open.end(), [](Session *a, Session *b) { return a->id() < b->id(); });
    for (Session *session : std::as_const(open)) {
        session->slot = int(m_rcptsPerSession.size());
        m_rcptsPerSession.append(0);
    }
}

void SmtpTestServer::resetGreylist()
{
    m_greylist.clear();
}

} // namespace mailcaff::test
