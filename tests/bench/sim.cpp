// The benchmark's simulated internet, and its referee (tests/bench/run drives both).
//
//   bench_sim serve WORKDIR [--variant main|bigdomain|smalldomains] [--count N] [--seed S] [--latency MS]
//                           [--mx-limit N] [--hosts N] [--smtp-port P] [--dns-port P]
//       Writes WORKDIR/addresses.txt (one address a line) and WORKDIR/truth.csv (email,truth), then serves
//       DNS on 127.0.0.1:dns-port and SMTP on port smtp-port (25 by default: the peers cannot use another)
//       of 127.0.1.1 … 127.0.1.N, each reply after the latency, at most mx-limit sessions per host (421
//       beyond), Postfix's tarpit after 10 rejected RCPTs in a session. Prints "READY dns=IP:PORT", then
//       reads commands on stdin: "stats" (one JSON line of counters), "reset" (zero them), "limit" (the
//       RTT-bound time of the workload, in ms), "online" (average times in ms of verifiers that learn
//       each answer only when it comes: the best that never reaches the tarpit, the best that risks it, the
//       best under Mailcaff's own limits, then those limits: refused RCPTs in a row, refused in a session,
//       recipients a session), "quit".
//   bench_sim score WORKDIR/truth.csv RESULTS.csv
//       RESULTS.csv has a header with `email` and `status` columns (Mailcaff's export, the peers' drivers).
//       Prints one JSON line: per truth class, correct and total; false valid; false invalid.
//
// Truth classes: valid (the mailbox exists), invalid (it does not), catch_all (at a domain that accepts
// everything: its existence is unknowable, so `valid` is wrong and risky/unknown is right), disposable, bad
// (bad syntax or a domain that does not exist: invalid is right).
#include "core/csv.h"
#include "dnstestserver.h"
#include "engine.h"
#include "onlinelimit.h"
#include "smtp/session.h"
#include "smtptestserver.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QRandomGenerator>
#include <QSet>
#include <QSocketNotifier>
#include <QTextStream>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <sys/resource.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using mailcaff::bench::bestRcptsPerRoundTrip;
using mailcaff::bench::SessionRules;
using mailcaff::test::DnsTestServer;
using mailcaff::test::SmtpTestServer;

namespace {

/// Rejected RCPTs a session may have before the simulator's tarpit slows it (Postfix's soft error limit).
constexpr int TarpitAfter = 10;
constexpr int TarpitMs = 1000;  ///< how late each reply comes past it (Postfix's error sleep)
constexpr int HangUpInRow = 20; ///< refused RCPTs in a row that make the server hang up

struct Domain
{
    QString name;
    enum Kind { Normal, CatchAll, Disposable, Dead } kind = Normal;
    int host = 0; ///< index of its MX host
};

struct Entry
{
    QString email;
    QString truth;
    int domain = -1; ///< index into the domains, -1 for bad syntax
};

struct Workload
{
    QList<Domain> domains;
    QList<Entry> entries;
};

const QStringList DisposableDomains{u"mailinator.com"_s, u"guerrillamail.com"_s, u"10minutemail.com"_s,
                                    u"yopmail.com"_s,    u"trashmail.com"_s,     u"sharklasers.com"_s,
                                    u"temp-mail.org"_s,  u"throwawaymail.com"_s, u"getnada.com"_s,
                                    u"maildrop.cc"_s};
const QStringList BadSyntax{u"plainaddress"_s, u"two..dots@%1"_s, u"@%1"_s,
                            u"name@"_s,        u"sp ace@%1"_s,    u"trailing.@%1"_s};

/// The seeded workload. main: `count` addresses over 200 domains, 60% existing mailboxes, 30% unknown, 5% at
/// catch-all domains, 3% disposable, 2% bad syntax or dead domains. bigdomain: `count` at one domain (2/3
/// existing). smalldomains: `count / 2` domains of two addresses each (one existing, one not).
Workload generate(const QString &variant, int count, quint32 seed, int hosts)
{
    QRandomGenerator random(seed);
    Workload w;
    auto addDomain = [&](const QString &name, Domain::Kind kind) {
        w.domains.append({name, kind, int(w.domains.size()) % hosts});
        return int(w.domains.size()) - 1;
    };
    int serial = 0;
    auto local = [&](bool exists) {
        static const QStringList first{u"anna"_s,  u"ben"_s,   u"carla"_s, u"dev"_s,  u"emma"_s,
                                       u"felix"_s, u"greta"_s, u"hugo"_s,  u"ines"_s, u"jon"_s};
        const QString name = first.at(int(random.bounded(first.size())));
        Q_UNUSED(exists) // nothing in the name tells: only the mailbox table does
        return u"%1.%2"_s.arg(name).arg(++serial * 7 + int(random.bounded(7)));
    };
    auto add = [&](int domain, const QString &truth, bool exists) {
        w.entries.append({local(exists) + u'@' + w.domains.at(domain).name, truth, domain});
    };
    if (variant == "bigdomain"_L1) {
        const int d = addDomain(u"bigcorp.com"_s, Domain::Normal);
        for (int i = 0; i < count; ++i)
            add(d, i % 3 == 2 ? u"invalid"_s : u"valid"_s, i % 3 != 2);
    } else if (variant == "smalldomains"_L1) {
        for (int i = 0; i < count / 2; ++i) {
            const int d = addDomain(u"small%1.com"_s.arg(i, 4, 10, QChar(u'0')), Domain::Normal);
            add(d, u"valid"_s, true);
            add(d, u"invalid"_s, false);
        }
    } else {
        QList<int> normal, catchAll, disposable, dead;
        for (int i = 0; i < 175; ++i)
            normal.append(addDomain(u"company%1.com"_s.arg(i, 3, 10, QChar(u'0')), Domain::Normal));
        for (int i = 0; i < 10; ++i)
            catchAll.append(addDomain(u"catchall%1.com"_s.arg(i, 2, 10, QChar(u'0')), Domain::CatchAll));
        for (const QString &name : DisposableDomains)
            disposable.append(addDomain(name, Domain::Disposable));
        for (int i = 0; i < 5; ++i)
            dead.append(addDomain(u"gone%1.com"_s.arg(i, 2, 10, QChar(u'0')), Domain::Dead));
        const int valid = count * 60 / 100, invalid = count * 30 / 100, catchAllCount = count * 5 / 100,
                  disposableCount = count * 3 / 100;
        const int bad = count - valid - invalid - catchAllCount - disposableCount;
        auto pick = [&](const QList<int> &from) { return from.at(int(random.bounded(from.size()))); };
        for (int i = 0; i < valid; ++i)
            add(pick(normal), u"valid"_s, true);
        for (int i = 0; i < invalid; ++i)
            add(pick(normal), u"invalid"_s, false);
        for (int i = 0; i < catchAllCount; ++i)
            add(pick(catchAll), u"catch_all"_s, true);
        for (int i = 0; i < disposableCount; ++i)
            add(pick(disposable), u"disposable"_s, true);
        for (int i = 0; i < bad; ++i) {
            if (i % 2 == 0) {
                add(pick(dead), u"bad"_s, true);
            } else {
                const QString pattern = BadSyntax.at(i / 2 % BadSyntax.size());
                w.entries.append(
                    {pattern.contains(u"%1"_s) ? pattern.arg(w.domains.at(pick(normal)).name) : pattern,
                     u"bad"_s, -1});
            }
        }
        std::shuffle(w.entries.begin(), w.entries.end(), random);
    }
    return w;
}

bool writeWorkload(const QString &dir, const Workload &w)
{
    QFile addresses(QDir(dir).filePath(u"addresses.txt"_s));
    QFile truth(QDir(dir).filePath(u"truth.csv"_s));
    if (!addresses.open(QIODevice::WriteOnly) || !truth.open(QIODevice::WriteOnly))
        return false;
    truth.write("email,truth\n");
    for (const Entry &e : w.entries) {
        addresses.write(e.email.toUtf8() + '\n');
        truth.write(mailcaff::core::csv::record({e.email, e.truth}).toUtf8());
    }
    return true;
}

/// This process's CPU time: the simulator must not be what limits a contender.
double cpuSeconds()
{
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/// The least time any verifier can take on this workload, from the simulator's limits alone. A session
/// costs at least three round trips (banner, EHLO, then MAIL and every RCPT pipelined in one go) and can
/// take at most 10 rejected RCPTs before the tarpit slows it (accepted ones ride along for free); a host
/// allows `mxLimit` sessions at once. So each host needs ceil(rejections / 10) sessions, run mxLimit at a
/// time, after two DNS round trips (MX, A). Rejections: the unknown mailboxes, and one catch-all probe per
/// domain that rejects unknown users. The slowest host sets the time.
qint64 rttBoundMs(const Workload &w, int hosts, int latencyMs, int mxLimit)
{
    QList<qint64> rejections(hosts, 0);
    QSet<int> domainsSeen;
    for (const Entry &e : w.entries) {
        if (e.domain < 0)
            continue;
        const Domain &d = w.domains.at(e.domain);
        if (d.kind != Domain::Normal)
            continue; // dead (DNS says so), disposable (a list says so), catch-all (nothing is rejected)
        rejections[d.host] += e.truth == "invalid"_L1;
        if (!domainsSeen.contains(e.domain)) {
            domainsSeen.insert(e.domain);
            ++rejections[d.host]; // the catch-all probe
        }
    }
    qint64 worst = 0;
    for (qint64 r : rejections) {
        const qint64 sessions = std::max<qint64>(1, (r + 9) / 10);
        worst = std::max(worst, (sessions + mxLimit - 1) / mxLimit * 3);
    }
    return (worst + 2) * latencyMs;
}

/// The least time on average a verifier that learns each answer only when it comes can take on this
/// workload, keeping `rules` in every session. It sends only the RCPTs it cannot do without: the addresses
/// at domains that reject unknown users, a catch-all probe only where none of a domain's addresses is
/// refused (a refusal already says the domain is no catch-all), and at a catch-all domain the probe alone
/// (its answer is every address's). A host's `mxLimit` slots each get bestRcptsPerRoundTrip() RCPTs answered
/// a round trip, after two DNS round trips, less the one round trip a slot's unfinished last session may
/// save (no QUIT to wait for); the slowest host sets the time, and nothing beats rttBoundMs. An average,
/// not a floor: a verifier may be luckier than its odds.
qint64 onlineLimitMs(const Workload &w, int hosts, int latencyMs, int mxLimit, SessionRules rules)
{
    QList<qint64> rcpts(hosts, 0), refused(hosts, 0);
    QList<int> refusedAt(w.domains.size(), 0);
    QSet<int> mailed; // domains that take mail, with at least one address here
    for (const Entry &e : w.entries) {
        if (e.domain < 0)
            continue;
        const Domain &d = w.domains.at(e.domain);
        if (d.kind != Domain::Normal && d.kind != Domain::CatchAll)
            continue; // dead (DNS says so), disposable (a list says so)
        mailed.insert(e.domain);
        if (d.kind == Domain::Normal) {
            ++rcpts[d.host];
            if (e.truth == "invalid"_L1) {
                ++refused[d.host];
                ++refusedAt[e.domain];
            }
        }
    }
    for (const int domain : std::as_const(mailed)) {
        const Domain &d = w.domains.at(domain);
        if (d.kind == Domain::CatchAll || refusedAt.at(domain) == 0) {
            ++rcpts[d.host]; // the catch-all probe
            refused[d.host] += d.kind == Domain::Normal;
        }
    }
    QHash<qint64, double> rates; // by refusals per million RCPTs: hosts alike share one computation
    double worst = 0;
    for (int h = 0; h < hosts; ++h) {
        if (rcpts.at(h) == 0)
            continue;
        const qint64 ppm = refused.at(h) * 1'000'000 / rcpts.at(h);
        if (!rates.contains(ppm))
            rates.insert(ppm, bestRcptsPerRoundTrip(double(ppm) / 1e6, rules));
        worst = std::max(worst, double(rcpts.at(h)) / (mxLimit * rates.value(ppm)));
    }
    return std::max(qint64(std::ceil((worst + 1) * latencyMs)), rttBoundMs(w, hosts, latencyMs, mxLimit));
}

int serve(const QStringList &args)
{
    auto option = [&](const QString &name, const QString &fallback) {
        const qsizetype i = args.indexOf(u"--"_s + name);
        return i >= 0 && i + 1 < args.size() ? args.at(i + 1) : fallback;
    };
    const QString dir = args.value(0);
    const QString variant = option(u"variant"_s, u"main"_s);
    const int count = option(u"count"_s, u"10000"_s).toInt();
    const quint32 seed = option(u"seed"_s, u"42"_s).toUInt();
    const int latency = option(u"latency"_s, u"50"_s).toInt();
    const int mxLimit = option(u"mx-limit"_s, u"10"_s).toInt();
    const int hosts = std::clamp(option(u"hosts"_s, u"20"_s).toInt(), 1, 250);
    const quint16 smtpPort = quint16(option(u"smtp-port"_s, u"25"_s).toUInt());
    const quint16 dnsPort = quint16(option(u"dns-port"_s, u"0"_s).toUInt());
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (dir.isEmpty() || !QDir().mkpath(dir)) {
        err << "bench_sim serve: give a work folder" << Qt::endl;
        return 2;
    }
    const Workload w = generate(variant, count, seed, hosts);
    if (!writeWorkload(dir, w)) {
        err << "bench_sim: cannot write the workload into " << dir << Qt::endl;
        return 1;
    }

    DnsTestServer dns;
    if (!dns.listen(QHostAddress::LocalHost, dnsPort)) {
        err << "bench_sim: DNS cannot listen: " << dns.errorString() << Qt::endl;
        return 1;
    }
    dns.setDefaultDelay(latency);
    std::vector<std::unique_ptr<SmtpTestServer>> smtp;
    for (int h = 0; h < hosts; ++h) {
        auto server = std::make_unique<SmtpTestServer>();
        const QString ip = u"127.0.1.%1"_s.arg(h + 1);
        if (!server->listen(QHostAddress(ip), smtpPort)) {
            err << "bench_sim: SMTP cannot listen on " << ip << ":" << smtpPort
                << (smtpPort < 1024 ? " (ports below 1024 need root)" : "") << Qt::endl;
            return 1;
        }
        server->setHostName(u"mx%1.sim.test"_s.arg(h + 1));
        server->setReplyDelay(latency);
        server->setMaxConnections(mxLimit);
        server->setErrorSleep(TarpitAfter, TarpitMs); // Postfix: smtpd_soft_error_limit 10, error sleep 1 s
        server->setMaxConsecutiveRejections(HangUpInRow); // and smtpd_hard_error_limit 20
        smtp.push_back(std::move(server));
    }
    // What happened when, for `timeline`: where a contender's time goes (sessions open, RCPTs asked).
    struct Event
    {
        qint64 ms;
        int delta;        ///< +1 session opened, -1 closed, 0 a command
        QString verb;     ///< for commands
        int host = 0;     ///< which MX host
        int session = -1; ///< for commands: the server's session number
    };
    std::vector<Event> events;
    QStringList traced;
    int firstTraced = -1;
    double cpuAtReset = cpuSeconds();
    QElapsedTimer clock;
    clock.start();
    for (int h = 0; h < hosts; ++h) {
        SmtpTestServer *raw = smtp.at(h).get();
        QObject::connect(raw, &SmtpTestServer::sessionStarted, [&, h] {
            events.push_back({clock.elapsed(), +1, {}, h});
        });
        QObject::connect(raw, &SmtpTestServer::sessionEnded, [&, h] {
            events.push_back({clock.elapsed(), -1, {}, h});
        });
        QObject::connect(raw, &SmtpTestServer::commandReceived,
                         [&, raw, h](int session, const QString &line) {
                             const QString verb = line.section(u' ', 0, 0).section(u':', 0, 0).toUpper();
                             events.push_back({clock.elapsed(), 0, verb, h, session});
                             // One session in the middle, step by step: the 21st at the first host since the
                             // reset.
                             if (raw == smtp.front().get()) {
                                 if (firstTraced < 0)
                                     firstTraced = session;
                                 if (session == firstTraced + 20)
                                     traced.append(u"%1 %2"_s.arg(clock.elapsed()).arg(verb));
                             }
                         });
    }
    for (const Domain &d : w.domains) {
        if (d.kind == Domain::Dead)
            continue; // NXDOMAIN
        const QString mx = u"mx."_s + d.name;
        dns.addMx(d.name, 10, mx);
        dns.addA(mx, u"127.0.1.%1"_s.arg(d.host + 1));
        SmtpTestServer &server = *smtp.at(d.host);
        server.addDomain(d.name);
        if (d.kind == Domain::CatchAll || d.kind == Domain::Disposable)
            server.setCatchAll(d.name, true);
    }
    for (const Entry &e : w.entries)
        if (e.domain >= 0 && e.truth == "valid"_L1)
            smtp.at(w.domains.at(e.domain).host)->addMailbox(e.email);

    out << "READY dns=" << dns.serverString() << " hosts=" << hosts << " addresses=" << w.entries.size()
        << Qt::endl;

    QSocketNotifier input(STDIN_FILENO, QSocketNotifier::Read);
    QByteArray pending;
    QObject::connect(&input, &QSocketNotifier::activated, [&] {
        char buffer[256];
        const ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
        if (n <= 0) {
            QCoreApplication::quit();
            return;
        }
        pending.append(buffer, n);
        qsizetype nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
            const QByteArray command = pending.left(nl).trimmed();
            pending.remove(0, nl + 1);
            if (command == "quit") {
                QCoreApplication::quit();
            } else if (command == "reset") {
                for (auto &s : smtp) {
                    s->resetCounters();
                    s->resetGreylist();
                }
                events.clear();
                traced.clear();
                firstTraced = -1;
                clock.restart();
                cpuAtReset = cpuSeconds();
                out << "OK" << Qt::endl;
            } else if (command == "timeline") {
                // Per 250 ms since the last reset: sessions open at its end, sessions opened, and commands.
                int open = 0;
                std::size_t i = 0;
                for (qint64 t = 250; i < events.size(); t += 250) {
                    int opened = 0;
                    QMap<QString, int> verbs;
                    for (; i < events.size() && events[i].ms < t; ++i) {
                        open += events[i].delta;
                        opened += events[i].delta > 0;
                        if (events[i].delta == 0)
                            ++verbs[events[i].verb];
                    }
                    QStringList parts;
                    for (auto it = verbs.cbegin(); it != verbs.cend(); ++it)
                        parts << u"%1 %2"_s.arg(it.key()).arg(it.value());
                    out << u"%1 ms: open %2, opened %3; %4; "_s.arg(t, 6).arg(open, 3).arg(opened, 3).arg(
                        parts.join(u", "_s));
                }
                if (!events.empty()) {
                    qint64 lastRcpt = 0;
                    for (const Event &e : events)
                        if (e.verb == "RCPT"_L1)
                            lastRcpt = e.ms;
                    out << "first connection at " << events.front().ms << " ms, last RCPT at " << lastRcpt
                        << " ms, last session closed at " << events.back().ms << " ms; ";
                    // Per host: the busiest decide the wall time.
                    QList<int> sessions(hosts, 0), rcpts(hosts, 0);
                    QList<qint64> last(hosts, 0);
                    for (const Event &e : events) {
                        sessions[e.host] += e.delta > 0;
                        if (e.verb == "RCPT"_L1) {
                            ++rcpts[e.host];
                            last[e.host] = e.ms;
                        }
                    }
                    QStringList perHost;
                    for (int h = 0; h < hosts; ++h)
                        perHost << u"%1: %2 sessions %3 RCPTs last %4 ms"_s.arg(h + 1)
                                       .arg(sessions[h])
                                       .arg(rcpts[h])
                                       .arg(last[h]);
                    out << "per host: " << perHost.join(u"; "_s) << "; ";
                    // The busiest host, whose last answer ends the run: how full its sessions' rounds
                    // were (RCPTs of a session arriving together) and how much of the time its slots
                    // were in use, from its first connection to its last RCPT.
                    const int busiest = int(std::max_element(rcpts.cbegin(), rcpts.cend()) - rcpts.cbegin());
                    QSet<std::pair<int, qint64>> rounds;
                    qint64 first = -1, slotMs = 0, since = 0;
                    int busy = 0;
                    for (const Event &e : events) {
                        if (e.host != busiest || (first >= 0 && e.ms > last[busiest]))
                            continue;
                        if (e.verb == "RCPT"_L1)
                            rounds.insert({e.session, e.ms});
                        if (e.delta != 0) {
                            if (first < 0)
                                first = since = e.ms;
                            slotMs += busy * (e.ms - since);
                            since = e.ms;
                            busy += e.delta;
                        }
                    }
                    slotMs += busy * (last[busiest] - since);
                    const qint64 span = std::max<qint64>(1, last[busiest] - first);
                    out << u"busiest host %1: %2 RCPTs in %3 sessions (%4 a session), %5 rounds (%6 RCPTs a "
                           "round), its %7 slots in use %8% of the %9 ms from its first connection to its "
                           "last "
                           "RCPT; "_s.arg(busiest + 1)
                               .arg(rcpts[busiest])
                               .arg(sessions[busiest])
                               .arg(double(rcpts[busiest]) / std::max(1, sessions[busiest]), 0, 'f', 1)
                               .arg(rounds.size())
                               .arg(double(rcpts[busiest]) / std::max<qsizetype>(1, rounds.size()), 0, 'f', 2)
                               .arg(mxLimit)
                               .arg(100.0 * double(slotMs) / double(mxLimit * span), 0, 'f', 0)
                               .arg(span);
                    // Whose time is it: replies leaving late (the simulator's) or clients slow to answer.
                    QList<int> lateness, waits;
                    for (const auto &server : smtp) {
                        lateness += server->replyLateness();
                        waits += server->clientWaits();
                    }
                    auto percentiles = [](QList<int> v) {
                        if (v.isEmpty())
                            return u"none"_s;
                        std::sort(v.begin(), v.end());
                        const double sum = std::accumulate(v.cbegin(), v.cend(), 0.0);
                        auto at = [&](double p) { return v.at(qsizetype(p * double(v.size() - 1))); };
                        return u"n %1, mean %2, p50 %3, p90 %4, p99 %5, max %6 ms"_s.arg(v.size())
                            .arg(sum / double(v.size()), 0, 'f', 1)
                            .arg(at(0.5))
                            .arg(at(0.9))
                            .arg(at(0.99))
                            .arg(v.last());
                    };
                    out << "replies late: " << percentiles(lateness)
                        << "; client reaction: " << percentiles(waits) << "; ";
                }
                out << "the 21st session at the first host: " << traced.join(u", "_s) << Qt::endl;
            } else if (command == "limit") {
                out << rttBoundMs(w, hosts, latency, mxLimit) << Qt::endl;
            } else if (command == "online") {
                // Never reaching the tarpit, then risking it (a round past it has its answers late and
                // ends the session, never a run that makes the server hang up), then Mailcaff's own
                // limits (its defaults) and those limits.
                const mailcaff::smtp::SessionConfig session;
                const SessionRules ours{session.maxConsecutiveRejections, session.maxErrorsPerSession,
                                        mailcaff::EngineConfig{}.maxRcptsPerSession};
                const SessionRules risking{HangUpInRow - 1, TarpitAfter, 0,
                                           (TarpitMs + latency - 1) / std::max(1, latency)};
                out << onlineLimitMs(w, hosts, latency, mxLimit, {TarpitAfter, TarpitAfter, 0}) << ' '
                    << onlineLimitMs(w, hosts, latency, mxLimit, risking) << ' '
                    << onlineLimitMs(w, hosts, latency, mxLimit, ours) << ' ' << ours.inRow << ' '
                    << ours.refused << ' ' << ours.recipients << Qt::endl;
            } else if (command == "stats") {
                int connections = 0, refused = 0, rcpts = 0, data = 0, peak = 0;
                for (auto &s : smtp) {
                    connections += s->connectionCount();
                    refused += s->refusedCount();
                    rcpts += s->rcptCount();
                    data += s->dataCount();
                    peak = std::max(peak, s->peakConnections());
                }
                out << QJsonDocument(QJsonObject{{u"connections"_s, connections},
                                                 {u"refused_421"_s, refused},
                                                 {u"rcpts"_s, rcpts},
                                                 {u"data"_s, data},
                                                 {u"peak_sessions_per_host"_s, peak},
                                                 {u"simulator_cpu_s"_s,
                                                  std::round((cpuSeconds() - cpuAtReset) * 100) / 100}})
                           .toJson(QJsonDocument::Compact)
                    << Qt::endl;
            }
        }
    });
    return QCoreApplication::exec();
}

int score(const QStringList &args)
{
    QTextStream out(stdout);
    QString error;
    const QList<QStringList> truth = mailcaff::core::csv::readFile(args.value(0), &error);
    const QList<QStringList> results = mailcaff::core::csv::readFile(args.value(1), &error);
    if (truth.size() < 2 || results.isEmpty()) {
        QTextStream(stderr) << "bench_sim score: cannot read " << args.join(u' ') << ": " << error
                            << Qt::endl;
        return 1;
    }
    const int emailColumn = int(results.first().indexOf(u"email"_s));
    const int statusColumn = int(results.first().indexOf(u"status"_s));
    if (emailColumn < 0 || statusColumn < 0) {
        QTextStream(stderr) << "bench_sim score: " << args.value(1) << " has no email and status columns"
                            << Qt::endl;
        return 1;
    }
    // CSV exports neutralise cells a spreadsheet would run as a formula ("@x" is written "'@x"): compare
    // the addresses as they were.
    auto plain = [](QString cell) {
        if (cell.size() > 1 && cell.front() == u'\'' && QStringView(u"=+-@\t\r").contains(cell.at(1)))
            cell.remove(0, 1);
        return cell;
    };
    QHash<QString, QString> verdicts;
    for (qsizetype i = 1; i < results.size(); ++i)
        verdicts.insert(plain(results.at(i).value(emailColumn)), results.at(i).value(statusColumn));
    // What each truth class should be called.
    auto right = [](const QString &truthClass, const QString &status) {
        if (truthClass == "valid"_L1)
            return status == "valid"_L1;
        if (truthClass == "invalid"_L1 || truthClass == "bad"_L1)
            return status == "invalid"_L1;
        if (truthClass == "disposable"_L1)
            return status == "disposable"_L1;
        return status == "risky"_L1 || status == "unknown"_L1; // catch_all
    };
    QJsonObject classes;
    int correct = 0, missing = 0, falseValid = 0, falseInvalid = 0;
    for (qsizetype i = 1; i < truth.size(); ++i) {
        const QString email = plain(truth.at(i).value(0));
        const QString truthClass = truth.at(i).value(1);
        const auto found = verdicts.constFind(email);
        const QString status = found == verdicts.constEnd() ? QString() : *found;
        missing += found == verdicts.constEnd();
        const bool ok = right(truthClass, status);
        correct += ok;
        falseValid += status == "valid"_L1 && truthClass != "valid"_L1;
        falseInvalid += status == "invalid"_L1 && truthClass == "valid"_L1;
        QJsonObject c = classes.value(truthClass).toObject();
        c.insert(u"total"_s, c.value(u"total"_s).toInt() + 1);
        c.insert(u"correct"_s, c.value(u"correct"_s).toInt() + (ok ? 1 : 0));
        classes.insert(truthClass, c);
    }
    out << QJsonDocument(QJsonObject{{u"total"_s, int(truth.size() - 1)},
                                     {u"correct"_s, correct},
                                     {u"missing"_s, missing},
                                     {u"false_valid"_s, falseValid},
                                     {u"false_invalid"_s, falseInvalid},
                                     {u"classes"_s, classes}})
               .toJson(QJsonDocument::Compact)
        << Qt::endl;
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList args = app.arguments().mid(1);
    const QString command = args.value(0);
    if (!args.isEmpty())
        args.removeFirst();
    if (command == "serve"_L1)
        return serve(args);
    if (command == "score"_L1)
        return score(args);
    std::fputs("usage: bench_sim serve WORKDIR [options] | bench_sim score TRUTH.csv RESULTS.csv\n", stderr);
    return 2;
}
