// The SMTP session (smtp/session.h) against a mail server that says whatever the input says: the input is
// the server's side of the dialogue, in segments separated by NUL bytes; the first is sent on connect (the
// banner), each next one after each line the client sends; when they run out the server hangs up. Over a
// real loopback connection, as in production. Whatever it hears, the session must end (every step has a
// timeout), answer each recipient once and in order, call a mailbox accepted only on a 2xx to its RCPT,
// and never send DATA.
#include "smtp/session.h"

#include <QCoreApplication>
#include <QEventLoop>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>

using namespace mailcaff;

namespace {

QCoreApplication *app = nullptr;
QTcpServer *server = nullptr;

struct Script
{
    QList<QByteArray> segments;
    qsizetype next = 0;
    QList<QByteArray> clientLines;
    int open = 0; ///< server-side connections not yet gone
};
Script *script = nullptr;

void serve(QTcpSocket *socket)
{
    ++script->open;
    socket->setSocketOption(QAbstractSocket::LowDelayOption, 1); // no Nagle pauses between segments
    QObject::connect(socket, &QTcpSocket::disconnected, socket, [socket] {
        --script->open;
        socket->deleteLater();
    });
    auto sendNext = [socket] {
        if (script->next < script->segments.size())
            socket->write(script->segments.at(script->next++));
        else
            socket->disconnectFromHost();
    };
    QObject::connect(socket, &QTcpSocket::readyRead, socket, [socket, sendNext] {
        while (socket->canReadLine()) {
            script->clientLines.append(socket->readLine());
            sendNext();
        }
        // A TLS ClientHello (after STARTTLS) is not lines: answer it too, or the handshake waits forever.
        if (socket->bytesAvailable() > 0 && !socket->canReadLine()) {
            socket->readAll();
            sendNext();
        }
    });
    sendNext();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    app = new QCoreApplication(*argc, *argv);
    server = new QTcpServer;
    if (!server->listen(QHostAddress::LocalHost, 0))
        __builtin_trap();
    QObject::connect(server, &QTcpServer::newConnection, [] {
        while (QTcpSocket *s = server->nextPendingConnection())
            serve(s);
    });
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Script current;
    current.segments = QByteArray(reinterpret_cast<const char *>(data), qsizetype(size)).split('\0');
    script = &current;

    smtp::SessionConfig config;
    config.heloName = QStringLiteral("fuzz.mailcaff.test");
    config.port = server->serverPort();
    config.connectTimeoutMs = 1000;
    config.bannerTimeoutMs = 20;
    config.commandTimeoutMs = 20;
    const QStringList recipients{QStringLiteral("ann@example.com"), QStringLiteral("bob@example.com"),
                                 QStringLiteral("eve@example.com")};
    auto *session = new smtp::Session(QStringLiteral("mx.example.com"), QHostAddress::LocalHost, config);
    int calls = 0;
    QList<smtp::RcptOutcome> outcomes;
    QEventLoop loop;
    session->transaction(
        recipients,
        [&](const QList<smtp::RcptOutcome> &o) {
            ++calls;
            outcomes = o;
            loop.quit();
        },
        size % 2 == 0);
    QTimer hang;
    hang.setSingleShot(true);
    QObject::connect(&hang, &QTimer::timeout, &loop, &QEventLoop::quit);
    hang.start(10000); // far beyond its timeouts: only a session that never ends gets here
    if (calls == 0)
        loop.exec();
    if (calls != 1)
        __builtin_trap(); // the session never ended
    if (outcomes.size() != recipients.size())
        __builtin_trap();
    for (qsizetype i = 0; i < outcomes.size(); ++i) {
        const smtp::RcptOutcome &o = outcomes.at(i);
        if (o.address != recipients.at(i))
            __builtin_trap();
        if (o.verdict == smtp::Verdict::Accepted &&
            (o.failure != smtp::Failure::None || o.reply.code < 200 || o.reply.code > 299))
            __builtin_trap(); // accepted without a 2xx of its own
    }
    (void)smtp::toString(outcomes.constFirst().failure);

    // Gone, and its connection with it, before the next input.
    session->quit();
    delete session;
    QTimer settle;
    settle.setSingleShot(true);
    settle.start(3000);
    while (script->open > 0 && settle.isActive())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (script->open > 0)
        __builtin_trap(); // a connection left open
    for (const QByteArray &line : std::as_const(current.clientLines))
        if (line.trimmed().toUpper().startsWith("DATA"))
            __builtin_trap(); // never DATA
    script = nullptr;
    return 0;
}
