// The HTTP server under abuse, as a real headless process: 1,000 idle connections, slowloris on top of them
// (more connections than the server takes), a 100 MB body, 10,000 requests with bad keys, a burst of
// pipelined requests. Throughout, a prober on its own thread asks /api/v1/health every 50 ms on a fresh
// connection: every probe must be answered (its latencies are printed; the liveness bound asserted is
// generous, a loaded 2-core CI machine is not a benchmark). Afterwards the server holds no more sockets
// than before and its memory has not grown with what it was sent.
#include "apiserver.h"
#include "dnstestserver.h"
#include "headlessserver.h"
#include "net/descriptors.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <mutex>
#include <thread>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

namespace {

/// A blocking TCP connection to 127.0.0.1:port with a receive timeout; -1 on failure.
int connectTo(quint16 port, int timeoutMs = 15000)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool sendAll(int fd, const QByteArray &data)
{
    qsizetype sent = 0;
    while (sent < data.size()) {
        const ssize_t n = ::send(fd, data.constData() + sent, size_t(data.size() - sent), MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        sent += n;
    }
    return true;
}

/// Reads one response (headers, then Content-Length bytes of body); its status, or 0.
int readResponse(int fd, QByteArray *buffer)
{
    char chunk[16384];
    for (;;) {
        const qsizetype end = buffer->indexOf("\r\n\r\n");
        if (end >= 0) {
            const QByteArray head = buffer->left(end);
            qsizetype length = 0;
            for (const QByteArray &line : head.split('\n'))
                if (line.toLower().startsWith("content-length:"))
                    length = line.mid(15).trimmed().toLongLong();
            if (buffer->size() >= end + 4 + length) {
                const int status = head.mid(9, 3).toInt();
                buffer->remove(0, end + 4 + length);
                return status;
            }
        }
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0)
            return 0;
        buffer->append(chunk, n);
    }
}

/// TCP connections whose local end is `port` (the server's side of its clients' connections), from the
/// kernel's tables: exact whatever else the process has open (its DNS sockets come and go).
int connectionsTo(quint16 port)
{
    int count = 0;
    for (const char *table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        QFile f(QString::fromLatin1(table));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        const QList<QByteArray> lines = f.readAll().split('\n');
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QList<QByteArray> fields = lines.at(i).simplified().split(' ');
            if (fields.size() < 4)
                continue;
            const quint16 local = quint16(fields.at(1).split(':').value(1).toUInt(nullptr, 16));
            const QByteArray state = fields.at(3);
            // Not the listening socket, nor what the kernel keeps alone after a close (TIME_WAIT, CLOSE).
            if (local == port && state != "0A" && state != "06" && state != "07")
                ++count;
        }
    }
    return count;
}

/// GET /api/v1/health on a fresh connection, as a monitoring check would.
struct Probe
{
    int status = 0;
    double ms = 0;
};

Probe probeHealth(quint16 port)
{
    QElapsedTimer t;
    t.start();
    Probe p;
    const int fd = connectTo(port);
    if (fd >= 0) {
        QByteArray buffer;
        if (sendAll(fd, "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
            p.status = readResponse(fd, &buffer);
        ::close(fd);
    }
    p.ms = double(t.nsecsElapsed()) / 1e6;
    return p;
}

} // namespace

class TestAbuse : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void cleanup();
    void idleConnections();
    void slowlorisBeyondTheCap();
    void hundredMegabyteBody();
    void tenThousandBadKeys();
    void pipelinedBurst();
    void nothingLeftBehind();

private:
    void startProbing(const char *phase);
    void stopProbing();
    void closeAll();

    DnsTestServer m_dns;
    HeadlessServer m_server;
    quint16 m_port = 0;
    int m_baselineSockets = 0;
    qint64 m_baselineRssKb = 0;
    std::vector<int> m_held; ///< connections this test keeps open
    std::thread m_prober;
    std::atomic<bool> m_probing{false};
    std::mutex m_probesMutex;
    QList<Probe> m_probes;
    QByteArray m_phase;
};

void TestAbuse::initTestCase()
{
    std::signal(SIGPIPE, SIG_IGN);
    // This process holds over a thousand connections too.
    if (net::raiseDescriptorLimit() < 2048)
        QSKIP("this test needs 2,048 open files and the system allows fewer (ulimit -Hn)");
    QVERIFY(m_dns.listen());
    QString error;
    QVERIFY2(
        m_server.start(QStringLiteral(MAILCAFF_BINARY), {u"--dns-server"_s, m_dns.serverString()}, &error),
        qPrintable(error));
    m_port = m_server.port();
    QCOMPARE(probeHealth(m_port).status, 200);
    m_baselineSockets = m_server.openSockets();
    m_baselineRssKb = m_server.residentKb();
    qInfo("server: %d sockets, %lld KiB resident before", m_baselineSockets, m_baselineRssKb);
}

void TestAbuse::cleanupTestCase()
{
    stopProbing();
    closeAll();
}

void TestAbuse::cleanup()
{
    // A case that failed half-way leaves its prober running: end it before the next case starts one.
    if (m_prober.joinable()) {
        m_probing = false;
        m_prober.join();
    }
}

void TestAbuse::startProbing(const char *phase)
{
    m_phase = phase;
    {
        std::lock_guard lock(m_probesMutex);
        m_probes.clear();
    }
    m_probing = true;
    m_prober = std::thread([this] {
        while (m_probing) {
            const Probe p = probeHealth(m_port);
            {
                std::lock_guard lock(m_probesMutex);
                m_probes.append(p);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
}

void TestAbuse::stopProbing()
{
    if (!m_prober.joinable())
        return;
    m_probing = false;
    m_prober.join();
    std::lock_guard lock(m_probesMutex);
    m_probes.append(probeHealth(m_port)); // and one as the phase ends, however short it was
    QList<double> ms;
    int failed = 0;
    for (const Probe &p : std::as_const(m_probes)) {
        ms.append(p.ms);
        failed += p.status != 200;
    }
    qInfo("%s: %lld health probes, %d failed; latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
          m_phase.constData(), qsizetype(m_probes.size()), failed, percentile(ms, 50), percentile(ms, 99),
          percentile(ms, 100));
    QVERIFY(!m_probes.isEmpty());
    for (const Probe &p : std::as_const(m_probes)) {
        QCOMPARE(p.status, 200);
        QVERIFY2(p.ms < 1000, qPrintable(u"a health probe took %1 ms"_s.arg(p.ms)));
    }
}

void TestAbuse::closeAll()
{
    for (int fd : m_held)
        ::close(fd);
    m_held.clear();
}

void TestAbuse::idleConnections()
{
    startProbing("1,000 idle connections");
    for (int i = 0; i < 1000; ++i) {
        const int fd = connectTo(m_port);
        QVERIFY(fd >= 0);
        m_held.push_back(fd);
    }
    QTRY_VERIFY2_WITH_TIMEOUT(connectionsTo(m_port) >= 1000, // and the prober's, when it is there
                              qPrintable(u"the server holds %1 connections"_s.arg(connectionsTo(m_port))),
                              60000);
    QTest::qWait(2000);
    stopProbing();
    if (QTest::currentTestFailed())
        return;
    qInfo("server: %d sockets with 1,000 idle clients", m_server.openSockets());
    QVERIFY(m_server.openSockets() >= 1000);
    // The connections are still usable: a request on the last one is answered.
    QByteArray buffer;
    QVERIFY(sendAll(m_held.back(), "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"));
    QCOMPARE(readResponse(m_held.back(), &buffer), 200);
}

void TestAbuse::slowlorisBeyondTheCap()
{
    // 400 more, each sending its request one byte a second, on top of the 1,000 idle ones: 1,400 clients
    // for a server that takes 1,024 connections at once. The ones silent the longest make room.
    startProbing("slowloris, 1,400 connections");
    const QByteArray request =
        "GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    std::vector<int> slow;
    for (int i = 0; i < 400; ++i) {
        const int fd = connectTo(m_port);
        QVERIFY(fd >= 0);
        slow.push_back(fd);
    }
    int stillOpen = 0;
    for (int second = 0; second < 5; ++second) {
        stillOpen = 0;
        for (int fd : slow)
            stillOpen += ::send(fd, request.constData() + second, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
        QTest::qWait(1000);
    }
    stopProbing();
    qInfo("slowloris: %d of 400 trickling connections still open after 5 s; server holds %d sockets",
          stillOpen, m_server.openSockets());
    m_held.insert(m_held.end(), slow.begin(), slow.end());
    closeAll();
    QTRY_COMPARE_WITH_TIMEOUT(connectionsTo(m_port), 0, 30000);
    // Its own sockets (DNS, the listener) may be one fewer than before, never more.
    QTRY_VERIFY_WITH_TIMEOUT(m_server.openSockets() <= m_baselineSockets, 10000);
}

void TestAbuse::hundredMegabyteBody()
{
    startProbing("100 MB body");
    const int fd = connectTo(m_port);
    QVERIFY(fd >= 0);
    const qint64 total = 100 * 1024 * 1024;
    QVERIFY(sendAll(fd, "POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Authorization: Bearer " +
                            m_server.key() + "\r\nContent-Length: " + QByteArray::number(total) +
                            "\r\n\r\n"));
    const QByteArray piece(64 * 1024, ' ');
    qint64 sent = 0;
    while (sent < total) {
        const ssize_t n = ::send(fd, piece.constData(), size_t(piece.size()), MSG_NOSIGNAL);
        if (n <= 0)
            break; // the server hung up: it will not read 100 MB
        sent += n;
    }
    QByteArray buffer;
    const int status = readResponse(fd, &buffer);
    ::close(fd);
    stopProbing();
    qInfo("100 MB body: %lld bytes sent before the server closed; answered %d", sent, status);
    QCOMPARE(status, 413);
    QVERIFY(sent < total);
}

void TestAbuse::tenThousandBadKeys()
{
    startProbing("10,000 bad keys");
    (void)m_server.takeLog();
    QElapsedTimer took;
    took.start();
    QMap<int, int> statuses;
    for (int c = 0; c < 10; ++c) {
        const int fd = connectTo(m_port);
        QVERIFY(fd >= 0);
        QByteArray buffer;
        for (int i = 0; i < 1000; ++i) {
            const QByteArray request =
                "GET /api/v1/account HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mc_live_guess" +
                QByteArray::number(c * 1000 + i) + "\r\n\r\n";
            int status = sendAll(fd, request) ? readResponse(fd, &buffer) : 0;
            ++statuses[status];
        }
        ::close(fd);
    }
    stopProbing();
    qInfo("10,000 bad keys: %d × 401, %d × 429, %d other", statuses.value(401), statuses.value(429),
          10000 - statuses.value(401) - statuses.value(429));
    // The first 100 within the minute are looked at; then the address waits, without a lookup per request.
    // Logged once per minute, not per request. (A machine too slow for 10,000 requests in a minute starts
    // a second window.)
    const int windows = int(took.elapsed() / 60'000) + 1;
    QCOMPARE(statuses.value(401) + statuses.value(429), 10000);
    QVERIFY(statuses.value(401) >= 100 && statuses.value(401) <= 100 * windows);
    QTest::qWait(200);
    const qsizetype logged = m_server.takeLog().count(u"bad API key"_s);
    QVERIFY(logged >= 1 && logged <= windows);
}

void TestAbuse::pipelinedBurst()
{
    // 50 requests in one write. Qt 6.4's parser would merge them, so the server answers what it can tell
    // apart in order and refuses the rest cleanly: some 200s, then at most one 400, then the connection
    // closes (RFC 9112 9.3.2 lets the client retry what was not answered). Never an answer out of order.
    const int fd = connectTo(m_port);
    QVERIFY(fd >= 0);
    QByteArray burst;
    for (int i = 0; i < 50; ++i)
        burst += "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
    QVERIFY(sendAll(fd, burst));
    QByteArray buffer;
    QList<int> answers;
    for (int status = readResponse(fd, &buffer); status != 0; status = readResponse(fd, &buffer))
        answers.append(status);
    ::close(fd);
    qInfo("50 pipelined requests: answers %s", qPrintable([&] {
              QStringList l;
              for (int a : answers)
                  l.append(QString::number(a));
              return l.join(u' ');
          }()));
    QVERIFY(!answers.isEmpty());
    QVERIFY(answers.size() < 50 || !answers.contains(400));
    for (qsizetype i = 0; i < answers.size(); ++i)
        QCOMPARE(answers.at(i), i + 1 == answers.size() ? answers.last() : 200);
    QVERIFY(answers.last() == 200 || answers.last() == 400);
    QCOMPARE(probeHealth(m_port).status, 200);
}

void TestAbuse::nothingLeftBehind()
{
    closeAll();
    QTRY_COMPARE_WITH_TIMEOUT(connectionsTo(m_port), 0, 30000);
    // Its own sockets (DNS, the listener) may be one fewer than before, never more.
    QTRY_VERIFY_WITH_TIMEOUT(m_server.openSockets() <= m_baselineSockets, 10000);
    const qint64 rss = m_server.residentKb();
    qInfo("server: %d sockets, %lld KiB resident after (peak %lld KiB)", m_server.openSockets(), rss,
          m_server.peakRssKb());
    // What it was sent (100 MB, 10,000 requests, 1,400 connections) did not stay in memory. (Not under
    // AddressSanitizer, whose quarantine keeps freed memory on purpose.)
#if !defined(__SANITIZE_ADDRESS__)
    QVERIFY2(rss - m_baselineRssKb < 64 * 1024,
             qPrintable(u"%1 KiB -> %2 KiB"_s.arg(m_baselineRssKb).arg(rss)));
#endif
}

QTEST_GUILESS_MAIN(TestAbuse)
#include "tst_app_abuse.moc"
