// Soak: a real headless server under mixed API traffic (quick verifications, bulk submissions, polls,
// health and account reads, 20 requests in flight) for a while, its resident memory and open file
// descriptors sampled as it goes. It must answer everything (no 5xx, no dropped connection; 429 only
// once the key's monthly credits are spent), keep its
// memory flat once warm, and give back every socket when the clients go.
//
// 20 s in the test suite; MAILCAFF_SOAK_SECONDS=600 build/tests/tst_app_soak for the 10-minute run (it
// samples every 10 s then, every 2 s otherwise).
#include "dnstestserver.h"
#include "headlessserver.h"
#include "httptestclient.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRandomGenerator>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestSoak : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void mixedTrafficLeavesNothingBehind();
};

void TestSoak::mixedTrafficLeavesNothingBehind()
{
    const int seconds = qEnvironmentVariableIsSet("MAILCAFF_SOAK_SECONDS")
                            ? qEnvironmentVariableIntValue("MAILCAFF_SOAK_SECONDS")
                            : 20;
    const int sampleMs = seconds >= 120 ? 10'000 : 2'000;
    DnsTestServer dns;
    QVERIFY(dns.listen());
    for (int d = 0; d < 200; ++d)
        dns.addMx(u"s%1.test"_s.arg(d), 10, u"mx.s%1.test"_s.arg(d));
    dns.setDefaultDelay(5);
    HeadlessServer server;
    QString error;
    QVERIFY2(server.start(QStringLiteral(MAILCAFF_BINARY), {u"--dns-server"_s, dns.serverString()}, &error),
             qPrintable(error));
    // Warm up (the resolver opens its sockets on its first queries, the database its files), then count
    // the sockets the server holds with no client connected: the end must come back to that.
    {
        ApiClient warm(server.base());
        for (int i = 0; i < 20; ++i)
            QCOMPARE(warm.post(u"/api/v1/verify"_s,
                               QJsonObject{{u"email"_s, u"w%1@s%1.test"_s.arg(i)}, {u"mode"_s, u"quick"_s}},
                               server.key())
                         .status,
                     200);
    }
    // Settled: the same count three readings in a row (the warm-up's connections take a moment to close),
    // or whatever it is after 5 s. (A QTRY over a reading with side effects failed when a socket closed
    // between its last two evaluations.)
    int socketsAtStart = server.openSockets();
    for (int same = 0, waited = 0; same < 3 && waited < 5000; waited += 100) {
        QTest::qWait(100);
        const int now = server.openSockets();
        same = now == socketsAtStart ? same + 1 : 0;
        socketsAtStart = now;
    }
    QTest::qWait(500);
    socketsAtStart = server.openSockets();

    auto nam = std::make_unique<QNetworkAccessManager>();
    QRandomGenerator random(42);
    QStringList jobs;
    QMap<QString, int> outcomes; // "verify 200", "bulk 202", "network error" …
    int inFlight = 0;
    qint64 sent = 0;
    QElapsedTimer clock;
    clock.start();
    auto request = [&](const QString &path) {
        QUrl url = server.base();
        url.setPath(path);
        QNetworkRequest r(url);
        r.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        r.setRawHeader("Authorization", "Bearer " + server.key());
        return r;
    };
    std::function<void()> next = [&] {
        if (clock.elapsed() >= qint64(seconds) * 1000)
            return;
        const int pick = int(random.bounded(100));
        QNetworkReply *reply = nullptr;
        QString kind;
        if (pick < 65) {
            kind = u"verify"_s;
            const QJsonObject body{{u"email"_s, u"u%1@s%2.test"_s.arg(sent).arg(random.bounded(200))},
                                   {u"mode"_s, u"quick"_s}};
            reply = nam->post(request(u"/api/v1/verify"_s), QJsonDocument(body).toJson());
        } else if (pick < 72) {
            kind = u"bulk"_s;
            QJsonArray emails;
            for (int i = 0; i < 50; ++i)
                emails.append(u"b%1.%2@s%3.test"_s.arg(sent).arg(i).arg(random.bounded(200)));
            reply = nam->post(
                request(u"/api/v1/verify/bulk"_s),
                QJsonDocument(QJsonObject{{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}}).toJson());
        } else if (pick < 90 && !jobs.isEmpty()) {
            kind = u"poll"_s;
            reply = nam->get(request(u"/api/v1/verify/bulk/"_s + jobs.at(random.bounded(jobs.size()))));
        } else if (pick < 95) {
            kind = u"account"_s;
            reply = nam->get(request(u"/api/v1/account"_s));
        } else {
            kind = u"health"_s;
            reply = nam->get(request(u"/api/v1/health"_s));
        }
        ++sent;
        ++inFlight;
        QObject::connect(reply, &QNetworkReply::finished, reply, [&, reply, kind] {
            --inFlight;
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            if (reply->error() != QNetworkReply::NoError && status == 0)
                ++outcomes[u"network error: "_s + reply->errorString()];
            else
                ++outcomes[kind + u' ' + QString::number(status)];
            if (kind == "bulk"_L1 && status == 202)
                jobs.append(QJsonDocument::fromJson(reply->readAll()).object().value(u"job_id"_s).toString());
            reply->deleteLater();
            next();
        });
    };
    for (int i = 0; i < 20; ++i)
        next();
    struct Sample
    {
        qint64 atMs;
        qint64 rssKb;
        int files;
    };
    QList<Sample> samples;
    while (clock.elapsed() < qint64(seconds) * 1000 || inFlight > 0) {
        QTest::qWait(qMin<qint64>(sampleMs, qMax<qint64>(50, qint64(seconds) * 1000 - clock.elapsed())));
        samples.append({clock.elapsed(), server.residentKb(), server.openFiles()});
        QVERIFY2(clock.elapsed() < qint64(seconds) * 1000 + 60'000, "the last answers never came");
    }
    // The clients go: every socket the server held for them is closed. (Files come and go with the
    // worker threads' database connections, which end with their threads: sockets are what would leak.)
    nam.reset();
    QTRY_VERIFY2_WITH_TIMEOUT(
        server.openSockets() <= socketsAtStart + 1,
        qPrintable(u"%1 sockets open, %2 before the traffic"_s.arg(server.openSockets()).arg(socketsAtStart)),
        15000);

    QStringList curve;
    for (const Sample &s : std::as_const(samples))
        curve.append(u"%1s:%2MiB/%3fd"_s.arg(s.atMs / 1000).arg(s.rssKb / 1024).arg(s.files));
    qInfo("%lld requests in %d s (%.0f/s); RSS and open files: %s", sent, seconds, double(sent) / seconds,
          qPrintable(curve.join(u' ')));
    for (auto it = outcomes.cbegin(); it != outcomes.cend(); ++it)
        qInfo("  %s: %d", qPrintable(it.key()), it.value());
    // Answered, every one: a 2xx, or 429 once a long run has spent the key's monthly credits (the scale
    // plan's 250,000 last about four minutes here). Never a 5xx, another 4xx or a dropped connection.
    for (auto it = outcomes.cbegin(); it != outcomes.cend(); ++it)
        QVERIFY2(it.key().endsWith(u" 200"_s) || it.key().endsWith(u" 202"_s) ||
                     ((it.key().startsWith(u"verify "_s) || it.key().startsWith(u"bulk "_s)) &&
                      it.key().endsWith(u" 429"_s)),
                 qPrintable(it.key()));
    // Flat once warm: the second half's peak within 32 MiB of the first half's (caches fill, then stop).
    // (Not under AddressSanitizer, whose quarantine keeps freed memory on purpose: it grew 33 MiB there.)
    QVERIFY(samples.size() >= 4);
    qint64 firstHalf = 0, secondHalf = 0;
    for (qsizetype i = 0; i < samples.size(); ++i)
        (i < samples.size() / 2 ? firstHalf : secondHalf) =
            qMax(i < samples.size() / 2 ? firstHalf : secondHalf, samples.at(i).rssKb);
#if !defined(__SANITIZE_ADDRESS__)
    QVERIFY2(secondHalf <= firstHalf + 32 * 1024,
             qPrintable(u"RSS grew from %1 to %2 KiB"_s.arg(firstHalf).arg(secondHalf)));
#else
    Q_UNUSED(firstHalf);
    Q_UNUSED(secondHalf);
#endif
}

int main(int argc, char **argv)
{
    // The long runs outlast QTest's five minutes per test function.
    if (!qEnvironmentVariableIsSet("QTEST_FUNCTION_TIMEOUT"))
        qputenv("QTEST_FUNCTION_TIMEOUT", "7200000");
    QCoreApplication app(argc, argv);
    TestSoak test;
    return QTest::qExec(&test, argc, argv);
}
#include "tst_app_soak.moc"
