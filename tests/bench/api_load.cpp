// The API under load, as wrk would measure it: C keep-alive connections sending requests back to back for
// T seconds, against the real `mailcaff --headless`, first on /api/v1/health (the server's floor), then
// quick verifications with warm DNS. Prints requests/s, latency percentiles and errors, and the ratio of the
// two rates (the engine's overhead). Asserts nothing.
//
//   bench_api_load [connections=50] [seconds=10] [health|verify]
//
// A third argument measures one route alone (no ratio): for profiling the server, e.g. under callgrind.
#include "headlessserver.h"
#include "procstats.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using mailcaff::test::DnsTestServer;
using mailcaff::test::HeadlessServer;
using mailcaff::test::percentile;
namespace proc = mailcaff::test::proc;

namespace {

QTextStream out(stdout);

struct Figures
{
    qint64 requests = 0;
    qint64 errors = 0;
    QList<double> latenciesMs;
    double seconds = 0;
    double serverCpuSeconds = 0;
    QByteArray firstError; ///< the status line of the first answer other than 200
};

/// One keep-alive connection sending `request(i)` back to back and timing each answer.
class Client : public QObject
{
public:
    Client(const QString &host, quint16 port, std::function<QByteArray(qint64)> request, Figures &figures)
        : m_request(std::move(request))
        , m_figures(figures)
    {
        connect(&m_socket, &QTcpSocket::connected, this, [this] { sendNext(); });
        connect(&m_socket, &QTcpSocket::readyRead, this, [this] { onReadyRead(); });
        connect(&m_socket, &QTcpSocket::disconnected, this, [this] {
            if (m_running) {
                ++m_figures.errors;
                m_buffer.clear();
                m_socket.connectToHost(m_host, m_port);
            }
        });
        m_host = host;
        m_port = port;
        m_socket.connectToHost(host, port);
    }
    void stop() { m_running = false; }

private:
    void sendNext()
    {
        if (!m_running)
            return;
        m_clock.start();
        m_socket.write(m_request(m_figures.requests + m_figures.errors));
    }
    void onReadyRead()
    {
        m_buffer += m_socket.readAll();
        for (;;) {
            const qsizetype head = m_buffer.indexOf("\r\n\r\n");
            if (head < 0)
                return;
            static const QRegularExpression length(u"(?i)\r\ncontent-length:\\s*(\\d+)"_s);
            const auto m = length.match(QString::fromLatin1(m_buffer.left(head + 2)));
            const qsizetype body = m.hasMatch() ? m.captured(1).toLongLong() : 0;
            if (m_buffer.size() < head + 4 + body)
                return;
            const bool ok = m_buffer.startsWith("HTTP/1.1 200");
            if (!ok && m_figures.firstError.isEmpty())
                m_figures.firstError = m_buffer.left(m_buffer.indexOf("\r\n"));
            m_buffer.remove(0, head + 4 + body);
            if (!m_running)
                return;
            m_figures.latenciesMs.append(double(m_clock.nsecsElapsed()) / 1e6);
            ++(ok ? m_figures.requests : m_figures.errors);
            sendNext();
        }
    }

    QTcpSocket m_socket;
    QString m_host;
    quint16 m_port = 0;
    std::function<QByteArray(qint64)> m_request;
    Figures &m_figures;
    QByteArray m_buffer;
    QElapsedTimer m_clock;
    bool m_running = true;
};

Figures load(const HeadlessServer &server, int connections, int seconds,
             const std::function<QByteArray(qint64)> &request)
{
    Figures f;
    const double cpuBefore = proc::cpuSeconds(server.pid());
    std::vector<std::unique_ptr<Client>> clients;
    for (int c = 0; c < connections; ++c)
        clients.push_back(std::make_unique<Client>(u"127.0.0.1"_s, server.port(), request, f));
    QElapsedTimer clock;
    clock.start();
    QEventLoop loop;
    QTimer::singleShot(seconds * 1000, &loop, &QEventLoop::quit);
    loop.exec();
    for (auto &c : clients)
        c->stop();
    f.seconds = double(clock.elapsed()) / 1000.0;
    f.serverCpuSeconds = proc::cpuSeconds(server.pid()) - cpuBefore;
    return f;
}

/// The server's CPU time per answered request: steadier than requests/s on a shared machine.
double serverCpuUs(const Figures &f)
{
    return f.requests > 0 ? f.serverCpuSeconds * 1e6 / double(f.requests) : 0;
}

void report(const char *what, const Figures &f)
{
    out << what << ": " << QString::number(double(f.requests) / f.seconds, 'f', 0) << " req/s, p50 "
        << QString::number(percentile(f.latenciesMs, 50), 'f', 2) << " ms, p99 "
        << QString::number(percentile(f.latenciesMs, 99), 'f', 2) << " ms, p99.9 "
        << QString::number(percentile(f.latenciesMs, 99.9), 'f', 2) << " ms, errors " << f.errors << " ("
        << f.requests << " answered in " << QString::number(f.seconds, 'f', 1) << " s), server CPU "
        << QString::number(serverCpuUs(f), 'f', 1) << " µs per request"
        << (f.firstError.isEmpty() ? QString()
                                   : u" (first error: "_s + QString::fromLatin1(f.firstError) + u')')
        << Qt::endl;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int connections = argc > 1 ? std::atoi(argv[1]) : 50;
    const int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
    const QByteArray only = argc > 3 ? QByteArray(argv[3]) : QByteArray();
    if (!only.isEmpty() && only != "health" && only != "verify") {
        out << "bench_api_load [connections] [seconds] [health|verify]" << Qt::endl;
        return 2;
    }
    constexpr int Domains = 200;
    HeadlessServer server;
    QString error;
    if (!server.startWithDomains(QStringLiteral(MAILCAFF_BINARY), u"load"_s, Domains, &error)) {
        out << error << Qt::endl;
        return 1;
    }
    // A scale-plan key has 250,000 credits a month, fewer than a fast machine answers in 10 s: the measured
    // run moves to a fresh key every 200,000 requests (a switch costs one more balance read, once), and
    // the warm-up has a key of its own.
    constexpr qint64 RequestsPerKey = 200'000;
    QList<QByteArray> keys;
    while (keys.size() < 1 + seconds * 100'000 / RequestsPerKey) {
        const QByteArray more = server.createKey(QStringLiteral(MAILCAFF_BINARY), &error);
        if (more.isEmpty()) {
            out << error << Qt::endl;
            return 1;
        }
        keys.append(more);
    }

    const auto health = [](qint64) {
        return QByteArray("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    };
    const auto verifyWith = [](const QByteArray &key, qint64 i) -> QByteArray {
        const QByteArray body =
            QJsonDocument(QJsonObject{{u"email"_s, u"user%1@load%2.test"_s.arg(i).arg(i % Domains)},
                                      {u"mode"_s, u"quick"_s}})
                .toJson(QJsonDocument::Compact);
        return "POST /api/v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
               "\r\nContent-Type: application/json\r\nContent-Length: " + QByteArray::number(body.size()) +
               "\r\n\r\n" + body;
    };
    const auto verify = [&](qint64 i) {
        return verifyWith(keys.at(std::min<qint64>(i / RequestsPerKey, keys.size() - 1)), i);
    };
    // Warm DNS: every domain once.
    load(server, 10, 2, [key = server.key(), &verifyWith](qint64 i) { return verifyWith(key, i); });

    out << "API load: " << connections << " keep-alive connections, " << seconds << " s each" << Qt::endl;
    if (only == "verify") {
        report("  POST /api/v1/verify (quick, warm DNS)", load(server, connections, seconds, verify));
        return 0;
    }
    const Figures h = load(server, connections, seconds, health);
    report("  GET /api/v1/health", h);
    if (only == "health")
        return 0;
    const Figures v = load(server, connections, seconds, verify);
    report("  POST /api/v1/verify (quick, warm DNS)", v);
    out << "  quick verification at "
        << QString::number(
               100.0 * double(v.requests) / v.seconds / std::max(1.0, double(h.requests) / h.seconds), 'f', 0)
        << "% of the health route's rate (client and server share this machine's cores); the engine's "
        << QString::number(serverCpuUs(v) - serverCpuUs(h), 'f', 1) << " µs per request beyond the route's"
        << Qt::endl;
    return 0;
}
