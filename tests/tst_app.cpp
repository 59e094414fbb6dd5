// The mailcaff program as a user runs it: options, errors and exit codes, key management, the `verify` verb,
// and --headless answering over HTTP. Runs the real binary with QProcess.
#include "dnstestserver.h"
#include "httptestclient.h"
#include "net/tlsidentity.h"
#include "smtptestserver.h"
#include "storage/database.h"
#include "storage/settings.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <sys/resource.h>

using namespace mailcaff::test;
using namespace Qt::StringLiterals;

/// The program under test: the build's, or another (MAILCAFF_BINARY=/usr/bin/mailcaff: the installed
/// package, as installers/linux/check-package runs it).
static QString binary()
{
    return qEnvironmentVariable("MAILCAFF_BINARY", QStringLiteral(MAILCAFF_BINARY));
}

class TestApp : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void help();
    void version();
    void usageErrors_data();
    void usageErrors();
    void keysLifecycle();
    void verifyVerb();
    void verifyFile();
    void verifyFileWithFewOpenFiles();
    void savedSettingsApplyAndCommandLineWins();
    void headlessServesTheApi();
    void headlessOverHttps();
    void noDisplayFallsBackToHeadless();
    void bulkJobSurvivesKill();
    void verifyFileSurvivesKill();
    void databaseFromOptionEnvironmentOrConfigFile();

private:
    struct Run
    {
        int exitCode = -1;
        QString out;
        QString err;
    };
    /// Runs mailcaff to completion while this process's event loop keeps serving DNS.
    Run run(const QStringList &args, int timeoutMs = 30000,
            const QProcessEnvironment &environment = QProcessEnvironment::systemEnvironment());
    QString createKey(const QString &dataDir);

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
};

void TestApp::initTestCase()
{
    QVERIFY(QFile::exists(binary()));
    QVERIFY(m_dns.listen());
    m_dns.addMx(u"example.com"_s, 10, u"mx.example.com"_s);
    m_dns.addNullMx(u"nomail.example"_s);
}

TestApp::Run TestApp::run(const QStringList &args, int timeoutMs, const QProcessEnvironment &environment)
{
    QProcess p;
    p.setProcessEnvironment(environment);
    p.start(binary(), args);
    Run r;
    if (!p.waitForStarted(10000))
        return r;
    if (!QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, timeoutMs))
        p.kill();
    p.waitForFinished(5000);
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

QString TestApp::createKey(const QString &dataDir)
{
    const Run r = run({u"keys"_s, u"create"_s, u"--name"_s, u"test"_s, u"--data-dir"_s, dataDir});
    if (r.exitCode != 0)
        return {};
    return r.out.trimmed().split(u'\n').last().trimmed();
}

void TestApp::help()
{
    const Run r = run({u"--help"_s});
    QCOMPARE(r.exitCode, 0);
    for (const char *option :
         {"--headless", "--data-dir", "--listen", "--port", "--dns-server", "--helo-name", "--mail-from",
          "--smtp-port", "--smtp-timeout", "--power-deadline", "--allow-private-targets", "keys create",
          "keys list", "keys revoke", "verify"})
        QVERIFY2(r.out.contains(QLatin1StringView(option)), option);
}

void TestApp::version()
{
    const Run r = run({u"--version"_s});
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.out.trimmed(), u"mailcaff "_s + QStringLiteral(MAILCAFF_VERSION));
}

void TestApp::usageErrors_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("names");
    QTest::addRow("unknown option") << QStringList{u"--bogus"_s} << "bogus";
    QTest::addRow("port not a number") << QStringList{u"--headless"_s, u"--port"_s, u"abc"_s} << "--port";
    QTest::addRow("port out of range") << QStringList{u"--headless"_s, u"--port"_s, u"70000"_s} << "--port";
    QTest::addRow("listen shorthand address")
        << QStringList{u"--headless"_s, u"--listen"_s, u"127.1"_s} << "--listen";
    QTest::addRow("listen not an address")
        << QStringList{u"--headless"_s, u"--listen"_s, u"not-an-ip"_s} << "--listen";
    QTest::addRow("dns server malformed")
        << QStringList{u"--headless"_s, u"--dns-server"_s, u"1.2.3"_s} << "--dns-server";
    QTest::addRow("dns server bad port")
        << QStringList{u"--headless"_s, u"--dns-server"_s, u"127.0.0.1:99999"_s} << "--dns-server";
    QTest::addRow("helo name with space")
        << QStringList{u"--headless"_s, u"--helo-name"_s, u"bad name"_s} << "--helo-name";
    QTest::addRow("mail from not an address")
        << QStringList{u"--headless"_s, u"--mail-from"_s, u"nobody"_s} << "--mail-from";
    QTest::addRow("unknown verb") << QStringList{u"frobnicate"_s} << "frobnicate";
    QTest::addRow("keys without action") << QStringList{u"keys"_s} << "keys";
    QTest::addRow("keys create without name") << QStringList{u"keys"_s, u"create"_s} << "--name";
    QTest::addRow("keys create bad plan")
        << QStringList{u"keys"_s, u"create"_s, u"--name"_s, u"x"_s, u"--plan"_s, u"platinum"_s} << "--plan";
    QTest::addRow("keys revoke without id") << QStringList{u"keys"_s, u"revoke"_s} << "revoke";
    QTest::addRow("verify bad mode") << QStringList{u"verify"_s, u"--mode"_s, u"slow"_s, u"a@b.c"_s}
                                     << "--mode";
    QTest::addRow("server option on keys list")
        << QStringList{u"keys"_s, u"list"_s, u"--port"_s, u"9"_s} << "--port";
    QTest::addRow("verify option on the server")
        << QStringList{u"--headless"_s, u"--mode"_s, u"quick"_s} << "--mode";
    QTest::addRow("key name outside keys create")
        << QStringList{u"verify"_s, u"--name"_s, u"x"_s, u"a@b.c"_s} << "--name";
    QTest::addRow("smtp port zero") << QStringList{u"--headless"_s, u"--smtp-port"_s, u"0"_s}
                                    << "--smtp-port";
    QTest::addRow("smtp timeout not a number")
        << QStringList{u"--headless"_s, u"--smtp-timeout"_s, u"soon"_s} << "--smtp-timeout";
    QTest::addRow("negative cache days")
        << QStringList{u"--headless"_s, u"--cache-valid-days"_s, u"-1"_s} << "--cache-valid-days";
    QTest::addRow("power deadline too long")
        << QStringList{u"--headless"_s, u"--power-deadline"_s, u"9999"_s} << "--power-deadline";
    QTest::addRow("maintenance without state") << QStringList{u"maintenance"_s} << "maintenance";
    QTest::addRow("maintenance bad retry-after")
        << QStringList{u"maintenance"_s, u"on"_s, u"--retry-after"_s, u"0"_s} << "--retry-after";
    QTest::addRow("retry-after on maintenance off")
        << QStringList{u"maintenance"_s, u"off"_s, u"--retry-after"_s, u"5"_s} << "--retry-after";
    QTest::addRow("option missing its value") << QStringList{u"--port"_s} << "port";
    QTest::addRow("sessions per mx out of range")
        << QStringList{u"--headless"_s, u"--sessions-per-mx"_s, u"0"_s} << "--sessions-per-mx";
    QTest::addRow("tls certificate without key")
        << QStringList{u"--headless"_s, u"--tls-cert"_s, u"/nonexistent.pem"_s} << "--tls";
    QTest::addRow("tls files missing") << QStringList{u"--headless"_s, u"--tls-cert"_s, u"/nonexistent.pem"_s,
                                                      u"--tls-key"_s, u"/nonexistent.key"_s}
                                       << "--tls-cert";
    QTest::addRow("allow-target not an address")
        << QStringList{u"--headless"_s, u"--allow-target"_s, u"mail.internal"_s} << "--allow-target";
    QTest::addRow("tls on keys list")
        << QStringList{u"keys"_s, u"list"_s, u"--tls-key"_s, u"k"_s} << "--tls-key";
}

void TestApp::usageErrors()
{
    QFETCH(QStringList, args);
    QFETCH(QString, names);
    QTemporaryDir data;
    const Run r = run(QStringList{u"--data-dir"_s, data.path()} + args);
    QCOMPARE(r.exitCode, 2);
    const QString err = r.err.trimmed();
    QVERIFY2(!err.contains(u'\n'), qPrintable(err)); // one line
    QVERIFY2(err.contains(names), qPrintable(err));
}

void TestApp::keysLifecycle()
{
    QTemporaryDir data;
    const Run created = run({u"keys"_s, u"create"_s, u"--name"_s, u"CRM sync"_s, u"--plan"_s, u"growth"_s,
                             u"--data-dir"_s, data.path()});
    QCOMPARE(created.exitCode, 0);
    const QString key = created.out.trimmed().split(u'\n').last();
    QVERIFY2(QRegularExpression(u"^mc_[0-9A-Za-z]{40}$"_s).match(key).hasMatch(), qPrintable(key));

    Run listed = run({u"keys"_s, u"list"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(listed.exitCode, 0);
    QVERIFY(listed.out.contains(u"CRM sync"_s));
    QVERIFY(listed.out.contains(key.left(11)));
    QVERIFY(!listed.out.contains(key)); // never the whole key again
    QVERIFY(listed.out.contains(u"growth"_s));
    QVERIFY(listed.out.contains(u"active"_s));

    // A webhook for the key: HTTPS only, the secret printed once.
    Run hook =
        run({u"keys"_s, u"webhook"_s, u"1"_s, u"http://hooks.example/x"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(hook.exitCode, 2);
    QVERIFY2(hook.err.contains(u"HTTPS"_s, Qt::CaseInsensitive), qPrintable(hook.err));
    hook = run({u"keys"_s, u"webhook"_s, u"1"_s, u"https://hooks.example/x"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(hook.exitCode, 0);
    QVERIFY(hook.out.trimmed().split(u'\n').last().startsWith(u"whsec_"_s));
    QCOMPARE(run({u"keys"_s, u"webhook"_s, u"1"_s, u"off"_s, u"--data-dir"_s, data.path()}).exitCode, 0);
    QCOMPARE(run({u"keys"_s, u"webhook"_s, u"99"_s, u"off"_s, u"--data-dir"_s, data.path()}).exitCode, 2);

    // Another plan from this month on.
    const Run moved = run({u"keys"_s, u"plan"_s, u"1"_s, u"scale"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(moved.exitCode, 0);
    QVERIFY2(moved.out.contains(u"250000 of 250000"_s), qPrintable(moved.out));
    QVERIFY(run({u"keys"_s, u"list"_s, u"--data-dir"_s, data.path()}).out.contains(u"scale"_s));
    const Run badPlan = run({u"keys"_s, u"plan"_s, u"1"_s, u"platinum"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(badPlan.exitCode, 2);
    QVERIFY2(badPlan.err.contains(u"platinum"_s), qPrintable(badPlan.err));
    QCOMPARE(run({u"keys"_s, u"plan"_s, u"99"_s, u"free"_s, u"--data-dir"_s, data.path()}).exitCode, 2);

    const Run revoked = run({u"keys"_s, u"revoke"_s, u"1"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(revoked.exitCode, 0);
    listed = run({u"keys"_s, u"list"_s, u"--data-dir"_s, data.path()});
    QVERIFY(listed.out.contains(u"revoked"_s));
    const Run again = run({u"keys"_s, u"revoke"_s, u"1"_s, u"--data-dir"_s, data.path()});
    QCOMPARE(again.exitCode, 1);
    QVERIFY(!again.err.isEmpty());
}

void TestApp::verifyVerb()
{
    QTemporaryDir data;
    const Run r =
        run({u"verify"_s, u"--mode"_s, u"quick"_s, u"--dns-server"_s, m_dns.serverString(), u"--data-dir"_s,
             data.path(), u"user@example.com"_s, u"bad@@x"_s, u"a@nomail.example"_s});
    QCOMPARE(r.exitCode, 0);
    const QStringList lines = r.out.trimmed().split(u'\n');
    QCOMPARE(lines.size(), 3);
    const auto first = QJsonDocument::fromJson(lines[0].toUtf8()).object();
    QCOMPARE(first.value(u"email"_s).toString(), u"user@example.com"_s);
    QCOMPARE(first.value(u"status"_s).toString(), u"risky"_s);
    QCOMPARE(QJsonDocument::fromJson(lines[1].toUtf8()).object().value(u"reason"_s).toString(),
             u"invalid_syntax"_s);
    QCOMPARE(QJsonDocument::fromJson(lines[2].toUtf8()).object().value(u"reason"_s).toString(), u"null_mx"_s);

    // Power mode is the default. The test DNS has no address for mx.example.com: nowhere to connect to.
    const Run power = run({u"verify"_s, u"--data-dir"_s, data.path(), u"--dns-server"_s, m_dns.serverString(),
                           u"user@example.com"_s});
    QCOMPARE(power.exitCode, 0);
    const auto powered = QJsonDocument::fromJson(power.out.toUtf8()).object();
    QCOMPARE(powered.value(u"mode"_s).toString(), u"power"_s);
    QCOMPARE(powered.value(u"status"_s).toString(), u"unknown"_s);
    QCOMPARE(powered.value(u"reason"_s).toString(), u"smtp_connect_failed"_s);
}

void TestApp::verifyFile()
{
    QTemporaryDir data;
    QTemporaryDir work;
    const QString list = work.filePath(u"list.csv"_s);
    QFile f(list);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("Name,Email\nAnn,user@example.com\nBob,bad@@x\nNobody,\n");
    f.close();
    const QStringList common{u"--mode"_s,          u"quick"_s,      u"--dns-server"_s,
                             m_dns.serverString(), u"--data-dir"_s, data.path()};
    Run r = run(QStringList{u"verify"_s, list} + common);
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains(u"3 rows written to"_s), qPrintable(r.err));
    QFile out(work.filePath(u"list.results.csv"_s));
    QVERIFY(out.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = out.readAll().mid(3).trimmed().split('\n'); // after the BOM
    QCOMPARE(lines.size(), 4);
    QVERIFY2(lines.at(0).startsWith("Name,Email,email,status,quality_score,reason"), lines.at(0).constData());
    QVERIFY2(lines.at(1).startsWith("Ann,user@example.com,user@example.com,risky,"), lines.at(1).constData());
    QVERIFY2(lines.at(2).startsWith("Bob,bad@@x,bad@@x,invalid,"), lines.at(2).constData());
    QVERIFY2(lines.at(3).startsWith("Nobody,,,error,0,"), lines.at(3).constData());
    out.close();

    // Started again with the same file and output: the same list, nothing verified twice.
    r = run(QStringList{u"verify"_s, list} + common);
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains(u"going on with the earlier run"_s), qPrintable(r.err));

    // A chosen output and column; and the errors.
    const QString custom = work.filePath(u"out.csv"_s);
    r = run(QStringList{u"verify"_s, list, u"-o"_s, custom, u"--column"_s, u"email"_s} + common);
    QCOMPARE(r.exitCode, 0);
    QVERIFY(QFile::exists(custom));
    r = run(QStringList{u"verify"_s, list, u"--column"_s, u"Phone"_s} + common);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains(u"--column"_s) && r.err.contains(u"Phone"_s), qPrintable(r.err));
    r = run(QStringList{u"verify"_s, u"someone@example.com"_s, u"-o"_s, custom} + common);
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains(u"--output"_s), qPrintable(r.err));
}

void TestApp::verifyFileWithFewOpenFiles()
{
    // A machine whose hard limit on open files is low: mailcaff cannot raise it, and 12 mail servers with
    // 4 connections each would want more sockets than it has. It keeps its connections under the limit
    // and every address gets its real answer; told to open more than the system allows, it learns the
    // limit when a socket is refused and never blames a server for it (no valid or invalid from that).
    std::vector<std::unique_ptr<SmtpTestServer>> servers;
    quint16 port = 0;
    QHash<QString, QString> truth;
    QByteArray list = "email\n";
    for (int h = 0; h < 12; ++h) {
        auto s = std::make_unique<SmtpTestServer>();
        const QString ip = u"127.0.2.%1"_s.arg(h + 1);
        QVERIFY2(s->listen(QHostAddress(ip), port), qPrintable(s->errorString()));
        port = s->port();
        s->setReplyDelay(10);
        for (int d = 0; d < 5; ++d) {
            const QString domain = u"few%1-%2.test"_s.arg(h).arg(d);
            m_dns.addMx(domain, 10, u"mx."_s + domain);
            m_dns.addA(u"mx."_s + domain, ip);
            for (int a = 0; a < 2; ++a) {
                const QString email = u"person%1@%2"_s.arg(a).arg(domain);
                list += email.toUtf8() + '\n';
                truth.insert(email, a == 0 ? u"valid"_s : u"invalid"_s);
                if (a == 0)
                    s->addMailbox(email);
            }
        }
        servers.push_back(std::move(s));
    }
    QTemporaryDir work;
    const QString input = work.filePath(u"list.csv"_s);
    QFile f(input);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(list);
    f.close();

    auto verify = [&](int openFiles, const QStringList &extra) -> QHash<QString, QString> {
        QTemporaryDir data;
        const QString output = work.filePath(u"out-%1.csv"_s.arg(openFiles));
        QProcess p;
        p.setChildProcessModifier([openFiles] {
            const rlimit limit{rlim_t(openFiles), rlim_t(openFiles)};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        });
        p.start(binary(),
                QStringList{u"verify"_s, input, u"-o"_s, output, u"--mode"_s, u"power"_s, u"--dns-server"_s,
                            m_dns.serverString(), u"--data-dir"_s, data.path(), u"--allow-private-targets"_s,
                            u"--smtp-port"_s, QString::number(port), u"--sessions-per-mx"_s, u"4"_s,
                            u"--mail-from"_s, u"probe@mailcaff.test"_s} +
                    extra);
        if (!p.waitForStarted(10'000) ||
            !QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, 120'000)) {
            p.kill();
            p.waitForFinished(5000);
            qWarning("verify did not finish: %s", p.readAllStandardError().constData());
            return {};
        }
        const QByteArray err = p.readAllStandardError();
        if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
            qWarning("verify failed (%d): %s", p.exitCode(), err.constData());
            return {};
        }
        QHash<QString, QString> statuses;
        QFile out(output);
        if (!out.open(QIODevice::ReadOnly))
            return {};
        const QList<QByteArray> lines = out.readAll().mid(3).trimmed().split('\n'); // after the BOM
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QList<QByteArray> cells = lines.at(i).trimmed().split(',');
            // email (the input's column), email, status, quality_score, reason, ...
            statuses.insert(QString::fromUtf8(cells.value(1)),
                            QString::fromUtf8(cells.value(2) + '/' + cells.value(4)));
        }
        return statuses;
    };

    // 64 open files, about 20 of them the program's own: 16 connections at most, and every answer right.
    QHash<QString, QString> statuses = verify(64, {});
    QCOMPARE(statuses.size(), truth.size());
    for (auto it = truth.cbegin(); it != truth.cend(); ++it)
        QVERIFY2(statuses.value(it.key()).startsWith(it.value() + u'/'),
                 qPrintable(it.key() + u": "_s + statuses.value(it.key())));

    // 40 open files and 100 connections asked for: sockets are refused. Nothing is called valid or invalid
    // unless it is; what could not be asked is unknown, and every row is written.
    statuses = verify(40, {u"--smtp-connections"_s, u"100"_s});
    QCOMPARE(statuses.size(), truth.size());
    int right = 0;
    for (auto it = truth.cbegin(); it != truth.cend(); ++it) {
        const QString status = statuses.value(it.key());
        right += status.startsWith(it.value() + u'/');
        // Unknown only when DNS could not be asked (c-ares gets no socket either): never for the SMTP side.
        QVERIFY2(status.startsWith(it.value() + u'/') || status == u"unknown/dns_error"_s,
                 qPrintable(it.key() + u": "_s + status));
    }
    qInfo("40 open files, 100 connections asked for: %d of %d answered for real", right, int(truth.size()));
    for (const auto &s : servers)
        QCOMPARE(s->dataCount(), 0);
}

void TestApp::savedSettingsApplyAndCommandLineWins()
{
    QTemporaryDir data;
    {
        mailcaff::storage::Database db;
        QVERIFY(db.open(data.filePath(u"mailcaff.sqlite"_s), nullptr));
        mailcaff::storage::Settings settings(db);
        QVERIFY(settings.setValue(mailcaff::storage::setting::DnsServers, m_dns.serverString()));
    }
    // The saved DNS server answers for example.com...
    Run r = run({u"verify"_s, u"--mode"_s, u"quick"_s, u"--data-dir"_s, data.path(), u"user@example.com"_s});
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object().value(u"mx_accepts_mail"_s).toBool(), true);
    // ...and --dns-server overrides it (nothing listens on port 9 of 127.0.0.2: a DNS error, so unknown).
    r = run({u"verify"_s, u"--mode"_s, u"quick"_s, u"--data-dir"_s, data.path(), u"--dns-server"_s,
             u"127.0.0.2:9"_s, u"user@example.com"_s});
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object().value(u"status"_s).toString(), u"unknown"_s);
}

void TestApp::headlessServesTheApi()
{
    QTemporaryDir data;
    const QString key = createKey(data.path());
    QVERIFY(!key.isEmpty());
    QProcess p;
    p.start(binary(), {u"--headless"_s, u"--port"_s, u"0"_s, u"--data-dir"_s, data.path(), u"--dns-server"_s,
                       m_dns.serverString(), u"--allow-private-targets"_s});
    QVERIFY(p.waitForStarted());
    QString out;
    const QRegularExpression listening(u"listening on (http://127\\.0\\.0\\.1:\\d+)/api/v1"_s);
    QTRY_VERIFY_WITH_TIMEOUT(
        (out += QString::fromUtf8(p.readAllStandardOutput()), listening.match(out).hasMatch()), 15000);
    ApiClient client(QUrl(listening.match(out).captured(1)));
    const auto health = client.get(u"/api/v1/health"_s);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json.value(u"version"_s).toString(), QStringLiteral(MAILCAFF_VERSION));
    const auto r = client.post(
        u"/api/v1/verify"_s, {{u"email"_s, u"user@example.com"_s}, {u"mode"_s, u"quick"_s}}, key.toLatin1());
    QCOMPARE(r.status, 200);
    QCOMPARE(r.json.value(u"status"_s).toString(), u"risky"_s);
    QCOMPARE(r.json.value(u"mx_accepts_mail"_s).toBool(), true);
    // Maintenance switched on from another process reaches the running server at once.
    QCOMPARE(
        run({u"maintenance"_s, u"on"_s, u"--retry-after"_s, u"120"_s, u"--data-dir"_s, data.path()}).exitCode,
        0);
    const auto down = client.post(
        u"/api/v1/verify"_s, {{u"email"_s, u"user@example.com"_s}, {u"mode"_s, u"quick"_s}}, key.toLatin1());
    QCOMPARE(down.status, 503);
    QCOMPARE(down.json.value(u"retry_after"_s).toInt(), 120);
    QCOMPARE(run({u"maintenance"_s, u"off"_s, u"--data-dir"_s, data.path()}).exitCode, 0);
    QCOMPARE(client.get(u"/api/v1/account"_s, key.toLatin1()).status, 200);

    p.terminate(); // SIGTERM: a clean stop
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitStatus(), QProcess::NormalExit);
    QCOMPARE(p.exitCode(), 0);
    // The access log names requests by key prefix, never by key.
    const QString log = QString::fromUtf8(p.readAllStandardError());
    QVERIFY2(log.contains(u"POST /api/v1/verify"_s), qPrintable(log));
    QVERIFY(log.contains(key.left(11)));
    QVERIFY(!log.contains(key));
}

void TestApp::headlessOverHttps()
{
    QTemporaryDir data;
    QSslCertificate certificate;
    QSslKey privateKey;
    QVERIFY(mailcaff::net::makeSelfSignedIdentity({u"localhost"_s}, 1, &certificate, &privateKey));
    const QString cert = data.filePath(u"server.crt"_s);
    const QString keyFile = data.filePath(u"server.key"_s);
    QCOMPARE(mailcaff::net::writeTlsIdentity(certificate, privateKey, cert, keyFile), QString());
    QProcess p;
    p.start(binary(), {u"--headless"_s, u"--port"_s, u"0"_s, u"--data-dir"_s, data.path(), u"--dns-server"_s,
                       m_dns.serverString(), u"--tls-cert"_s, cert, u"--tls-key"_s, keyFile});
    QVERIFY(p.waitForStarted());
    QString out;
    const QRegularExpression listening(u"listening on (https://127\\.0\\.0\\.1:\\d+)/api/v1"_s);
    QTRY_VERIFY_WITH_TIMEOUT(
        (out += QString::fromUtf8(p.readAllStandardOutput()), listening.match(out).hasMatch()), 15000);
    ApiClient client(QUrl(listening.match(out).captured(1)));
    client.setCaCertificates({certificate});
    const auto health = client.get(u"/api/v1/health"_s);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json.value(u"status"_s).toString(), u"ok"_s);
    // Without trusting the certificate, a client refuses it: it is the server's own, not a CA's.
    ApiClient untrusting(QUrl(listening.match(out).captured(1)));
    QCOMPARE(untrusting.get(u"/api/v1/health"_s).status, 0);
    p.terminate();
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 0);
}

void TestApp::noDisplayFallsBackToHeadless()
{
    QTemporaryDir data;
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    for (const char *name : {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"})
        env.remove(QLatin1StringView(name));
    p.setProcessEnvironment(env);
    p.start(binary(), {u"--port"_s, u"0"_s, u"--data-dir"_s, data.path()});
    QVERIFY(p.waitForStarted());
    QString out;
    QTRY_VERIFY_WITH_TIMEOUT(
        (out += QString::fromUtf8(p.readAllStandardOutput()), out.contains(u"listening on"_s)), 15000);
    QVERIFY(QString::fromUtf8(p.readAllStandardError()).contains(u"no display"_s));
    p.terminate();
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 0);
}

/// Starts `mailcaff --headless` on a free port; returns its API base URL (empty on failure).
static QUrl startHeadless(QProcess &p, const QStringList &args)
{
    p.start(binary(), QStringList{u"--headless"_s, u"--port"_s, u"0"_s} + args);
    if (!p.waitForStarted())
        return {};
    QString out;
    const QRegularExpression listening(u"listening on (http://127\\.0\\.0\\.1:\\d+)/api/v1"_s);
    if (!QTest::qWaitFor(
            [&] {
                out += QString::fromUtf8(p.readAllStandardOutput());
                return listening.match(out).hasMatch();
            },
            15000))
        return {};
    return QUrl(listening.match(out).captured(1));
}

void TestApp::bulkJobSurvivesKill()
{
    // 500 addresses: 250 at domains that answer, 250 at domains whose DNS stays silent until the restart,
    // so the kill always lands with work done, work in flight (leased) and work queued.
    DnsTestServer dns;
    QVERIFY(dns.listen());
    QJsonArray emails;
    for (int i = 0; i < 250; ++i) {
        dns.addMx(u"a%1.test"_s.arg(i), 10, u"mx.a%1.test"_s.arg(i));
        emails.append(u"user%1@a%1.test"_s.arg(i));
    }
    for (int i = 0; i < 250; ++i) {
        dns.addMx(u"z%1.test"_s.arg(i), 10, u"mx.z%1.test"_s.arg(i));
        dns.setBehaviour(u"z%1.test"_s.arg(i), DnsTestServer::Behaviour::Silent);
        emails.append(u"user%1@z%1.test"_s.arg(i));
    }
    QTemporaryDir data;
    const QString key = createKey(data.path());
    QVERIFY(!key.isEmpty());
    const QStringList args{u"--data-dir"_s, data.path(), u"--dns-server"_s, dns.serverString()};

    QProcess first;
    const QUrl base = startHeadless(first, args);
    QVERIFY(base.isValid());
    ApiClient client(base);
    const auto accepted = client.post(u"/api/v1/verify/bulk"_s,
                                      {{u"emails"_s, emails}, {u"mode"_s, u"quick"_s}}, key.toLatin1());
    QCOMPARE(accepted.status, 202);
    const QString id = accepted.json.value(u"job_id"_s).toString();
    QTRY_VERIFY_WITH_TIMEOUT(
        client.get(u"/api/v1/verify/bulk/"_s + id, key.toLatin1()).json.value(u"processed"_s).toInt() >= 250,
        20000);
    const auto before = client.get(u"/api/v1/verify/bulk/"_s + id, key.toLatin1()).json;
    first.kill(); // SIGKILL: no chance to clean up
    QVERIFY(first.waitForFinished(5000));
    qInfo("killed with %d of 500 processed", before.value(u"processed"_s).toInt());

    for (int i = 0; i < 250; ++i)
        dns.setBehaviour(u"z%1.test"_s.arg(i), DnsTestServer::Behaviour::Normal);
    QProcess second;
    const QUrl base2 = startHeadless(second, args);
    QVERIFY(base2.isValid());
    ApiClient client2(base2);
    ApiClient::Response job;
    QTRY_VERIFY_WITH_TIMEOUT((job = client2.get(u"/api/v1/verify/bulk/"_s + id, key.toLatin1()),
                              job.json.value(u"status"_s).toString() == u"completed"_s),
                             30000);
    QCOMPARE(job.json.value(u"total"_s).toInt(), 500);
    QCOMPARE(job.json.value(u"processed"_s).toInt(), 500);
    const QJsonArray results = job.json.value(u"results"_s).toArray();
    QCOMPARE(results.size(), 500);
    for (int i = 0; i < 500; ++i)
        QCOMPARE(results.at(i).toObject().value(u"email"_s).toString(), emails.at(i).toString());
    QCOMPARE(job.json.value(u"risky_count"_s).toInt(), 500); // every domain answered in the end
    // Charged exactly once: 500 credits, whatever happened in between.
    QCOMPARE(client2.get(u"/api/v1/account"_s, key.toLatin1()).json.value(u"monthly_used"_s).toInt(), 500);
    second.terminate();
    QVERIFY(second.waitForFinished(10000));
}

void TestApp::verifyFileSurvivesKill()
{
    // 200 rows: 100 at domains that answer, 100 at domains whose DNS stays silent until the second run.
    DnsTestServer dns;
    QVERIFY(dns.listen());
    QTemporaryDir data;
    QTemporaryDir work;
    const QString list = work.filePath(u"big.csv"_s);
    QFile f(list);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("email\n");
    for (int i = 0; i < 100; ++i) {
        dns.addMx(u"a%1.test"_s.arg(i), 10, u"mx.a%1.test"_s.arg(i));
        f.write(u"user%1@a%1.test\n"_s.arg(i).toLatin1());
    }
    for (int i = 0; i < 100; ++i) {
        dns.addMx(u"z%1.test"_s.arg(i), 10, u"mx.z%1.test"_s.arg(i));
        dns.setBehaviour(u"z%1.test"_s.arg(i), DnsTestServer::Behaviour::Silent);
        f.write(u"user%1@z%1.test\n"_s.arg(i).toLatin1());
    }
    f.close();
    const QStringList args{u"verify"_s,     list,        u"--mode"_s,       u"quick"_s,
                           u"--data-dir"_s, data.path(), u"--dns-server"_s, dns.serverString()};

    QProcess first;
    first.start(binary(), args);
    QVERIFY(first.waitForStarted(10000));
    QByteArray progress;
    static const QRegularExpression done(u"(\\d+)/200 checked"_s);
    auto checked = [&] {
        progress += first.readAllStandardError();
        int n = 0;
        for (auto it = done.globalMatch(QString::fromLatin1(progress)); it.hasNext();)
            n = it.next().captured(1).toInt();
        return n;
    };
    QVERIFY(QTest::qWaitFor([&] { return checked() >= 100; }, 20000));
    QVERIFY(checked() < 200);
    first.kill(); // SIGKILL: no chance to clean up
    QVERIFY(first.waitForFinished(5000));

    for (int i = 0; i < 100; ++i)
        dns.setBehaviour(u"z%1.test"_s.arg(i), DnsTestServer::Behaviour::Normal);
    const Run second = run(args, 60000);
    QCOMPARE(second.exitCode, 0);
    QVERIFY2(second.err.contains(u"going on with the earlier run"_s), qPrintable(second.err));
    QFile out(work.filePath(u"big.results.csv"_s));
    QVERIFY(out.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = out.readAll().mid(3).trimmed().split('\n');
    QCOMPARE(lines.size(), 201); // the header and every row, once
    for (int i = 1; i < lines.size(); ++i)
        QVERIFY2(lines.at(i).contains(",risky,"), lines.at(i).constData()); // all answered in the end
}

void TestApp::databaseFromOptionEnvironmentOrConfigFile()
{
    // --database, else MAILCAFF_DATABASE, else database= in the config file, else the data folder's file.
    QTemporaryDir dir;
    const QString data = dir.filePath(u"data"_s);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(u"MAILCAFF_DATABASE"_s);
    env.insert(u"XDG_CONFIG_HOME"_s, dir.filePath(u"config"_s));
    auto names = [&](const QStringList &extra, const QProcessEnvironment &e) {
        const Run r = run(QStringList{u"keys"_s, u"list"_s, u"--data-dir"_s, data} + extra, 30000, e);
        return r.exitCode == 0 ? r.out : u"exit %1: %2"_s.arg(r.exitCode).arg(r.err);
    };
    const QString option = u"sqlite:"_s + dir.filePath(u"option.sqlite"_s);
    QCOMPARE(run({u"keys"_s, u"create"_s, u"--name"_s, u"in-option"_s, u"--database"_s, option,
                  u"--data-dir"_s, data},
                 30000, env)
                 .exitCode,
             0);
    QVERIFY(QFile::exists(dir.filePath(u"option.sqlite"_s)));
    QVERIFY(names({u"--database"_s, option}, env).contains(u"in-option"_s));
    QVERIFY(!names({}, env).contains(u"in-option"_s)); // the data folder's own database is another

    QProcessEnvironment withVariable = env;
    withVariable.insert(u"MAILCAFF_DATABASE"_s, option);
    QVERIFY(names({}, withVariable).contains(u"in-option"_s));

    QVERIFY(QDir().mkpath(dir.filePath(u"config/Mailcaff"_s)));
    QFile conf(dir.filePath(u"config/Mailcaff/Mailcaff.conf"_s));
    QVERIFY(conf.open(QIODevice::WriteOnly));
    conf.write("[General]\ndatabase=" + option.toUtf8() + "\n");
    conf.close();
    QVERIFY(names({}, env).contains(u"in-option"_s));
    // The option wins over the file.
    QVERIFY(!names({u"--database"_s, u"sqlite:"_s + dir.filePath(u"other.sqlite"_s)}, env)
                 .contains(u"in-option"_s));

    // A database that cannot be opened: a one-line error that names it, never its password.
    const Run bad = run(
        {u"keys"_s, u"list"_s, u"--database"_s, u"postgresql://ops:hunter2@127.0.0.54:1/mc"_s}, 30000, env);
    QCOMPARE(bad.exitCode, 1);
    QVERIFY2(bad.err.contains(u"postgresql://ops@127.0.0.54:1/mc"_s), qPrintable(bad.err));
    QVERIFY2(!bad.err.contains(u"hunter2"_s), qPrintable(bad.err));
    const Run unknown = run({u"keys"_s, u"list"_s, u"--database"_s, u"mysql://root@h/x"_s}, 30000, env);
    QCOMPARE(unknown.exitCode, 1);
    QVERIFY2(unknown.err.contains(u"unknown database"_s), qPrintable(unknown.err));
}

QTEST_GUILESS_MAIN(TestApp)
#include "tst_app.moc"
