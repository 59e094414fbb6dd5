// Quick-mode latency over real HTTP: the real `mailcaff --headless` process, a loopback DNS server, N
// requests sequentially on one keep-alive connection (latency percentiles) and then with C in flight
// (throughput). Prints figures; asserts nothing. Usage: bench_quick_latency [requests=1000] [concurrency=8]
#include "headlessserver.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTest>
#include <QTextStream>
#include <QTimer>

#include <algorithm>
#include <cstdio>

using namespace Qt::StringLiterals;
using mailcaff::test::DnsTestServer;
using mailcaff::test::HeadlessServer;
using mailcaff::test::percentile;

namespace {

QTextStream out(stdout);

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int requests = argc > 1 ? std::atoi(argv[1]) : 1000;
    const int concurrency = argc > 2 ? std::atoi(argv[2]) : 8;
    const int domains = 200;

    HeadlessServer server;
    QString error;
    if (!server.startWithDomains(QStringLiteral(MAILCAFF_BINARY), u"bench"_s, domains, &error)) {
        out << error << "\n";
        return 1;
    }
    const QByteArray key = server.key();
    const QUrl base(server.base().toString() + u"/api/v1/verify"_s);

    QNetworkAccessManager nam;
    auto send = [&](int i, const std::function<void(double ms, bool ok)> &done) {
        QNetworkRequest req(base);
        req.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        req.setRawHeader("Authorization", "Bearer " + key);
        const QByteArray body =
            QJsonDocument(QJsonObject{{u"email"_s, u"user%1@bench%2.test"_s.arg(i).arg(i % domains)},
                                      {u"mode"_s, u"quick"_s}})
                .toJson(QJsonDocument::Compact);
        auto *timer = new QElapsedTimer;
        timer->start();
        QNetworkReply *reply = nam.post(req, body);
        QObject::connect(reply, &QNetworkReply::finished, reply, [reply, timer, done] {
            const double ms = double(timer->nsecsElapsed()) / 1e6;
            delete timer;
            const bool ok = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 200;
            reply->deleteLater();
            done(ms, ok);
        });
    };

    // Warm-up: every domain once, so the figures below are for cached DNS.
    {
        QEventLoop loop;
        int left = domains;
        for (int d = 0; d < domains; ++d)
            send(d, [&](double, bool) {
                if (--left == 0)
                    loop.quit();
            });
        loop.exec();
    }

    // Sequential: one request at a time on a kept-alive connection.
    QList<double> latencies;
    int failures = 0;
    {
        QEventLoop loop;
        std::function<void(int)> next = [&](int i) {
            if (i == requests) {
                loop.quit();
                return;
            }
            send(i, [&, i](double ms, bool ok) {
                latencies.append(ms);
                failures += ok ? 0 : 1;
                next(i + 1);
            });
        };
        QElapsedTimer total;
        total.start();
        next(0);
        loop.exec();
        out << "sequential: " << requests << " quick verifications over HTTP, cached DNS, "
            << QString::number(double(requests) / (double(total.elapsed()) / 1000.0), 'f', 0) << " req/s\n";
    }
    out << "  latency ms: p50 " << QString::number(percentile(latencies, 50), 'f', 2) << "  p90 "
        << QString::number(percentile(latencies, 90), 'f', 2) << "  p99 "
        << QString::number(percentile(latencies, 99), 'f', 2) << "  max "
        << QString::number(percentile(latencies, 100), 'f', 2) << "  failures " << failures << "\n";

    // Concurrent: `concurrency` requests in flight (QNAM opens up to 6 connections per host).
    {
        QList<double> concurrent;
        QEventLoop loop;
        int started = 0;
        int finished = 0;
        std::function<void()> launch = [&] {
            if (started == requests)
                return;
            send(started++, [&](double ms, bool) {
                concurrent.append(ms);
                if (++finished == requests)
                    loop.quit();
                else
                    launch();
            });
        };
        QElapsedTimer total;
        total.start();
        for (int c = 0; c < concurrency; ++c)
            launch();
        loop.exec();
        out << "concurrent (" << concurrency << " in flight): "
            << QString::number(double(requests) / (double(total.elapsed()) / 1000.0), 'f', 0)
            << " req/s, p50 " << QString::number(percentile(concurrent, 50), 'f', 2) << " ms, p99 "
            << QString::number(percentile(concurrent, 99), 'f', 2) << " ms\n";
    }
    // A 500-address bulk job in quick mode, from 202 to "completed" (polled every 5 ms).
    {
        QJsonArray emails;
        for (int i = 0; i < 500; ++i)
            emails.append(u"bulk%1@bench%2.test"_s.arg(i).arg(i % domains));
        QUrl bulkUrl = base;
        bulkUrl.setPath(u"/api/v1/verify/bulk"_s);
        QNetworkRequest req(bulkUrl);
        req.setHeader(QNetworkRequest::ContentTypeHeader, u"application/json"_s);
        req.setRawHeader("Authorization", "Bearer " + key);
        QElapsedTimer total;
        total.start();
        QEventLoop loop;
        QString jobId;
        QNetworkReply *submit =
            nam.post(req, QJsonDocument(QJsonObject{{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}})
                              .toJson(QJsonDocument::Compact));
        QObject::connect(submit, &QNetworkReply::finished, &loop, [&] {
            jobId = QJsonDocument::fromJson(submit->readAll()).object().value(u"job_id"_s).toString();
            submit->deleteLater();
            loop.quit();
        });
        loop.exec();
        const qint64 accepted = total.elapsed();
        bool completed = false;
        while (!completed && total.elapsed() < 60000) {
            QUrl statusUrl = base;
            statusUrl.setPath(u"/api/v1/verify/bulk/"_s + jobId);
            QNetworkRequest get(statusUrl);
            get.setRawHeader("Authorization", "Bearer " + key);
            QNetworkReply *poll = nam.get(get);
            QObject::connect(poll, &QNetworkReply::finished, &loop, [&] {
                completed = QJsonDocument::fromJson(poll->readAll()).object().value(u"status"_s).toString() ==
                            u"completed"_s;
                poll->deleteLater();
                loop.quit();
            });
            loop.exec();
            if (!completed)
                QTest::qWait(5);
        }
        const double seconds = double(total.elapsed()) / 1000.0;
        out << "bulk: 500 quick-mode addresses, 202 after " << accepted << " ms, completed after "
            << QString::number(seconds * 1000, 'f', 0) << " ms (" << QString::number(500 / seconds, 'f', 0)
            << " addresses/s)" << (completed ? "" : " NOT COMPLETED") << "\n";
    }
    out << "server peak RSS: " << server.peakRssKb() / 1024 << " MiB\n";
    out << "DNS queries served: " << server.dns().totalQueries() << " (for " << requests * 2 + domains
        << " requests)\n";
    out.flush();
    return 0;
}
