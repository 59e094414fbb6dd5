#include "cli.h"

#include "apiserver.h"
#include "core/emailaddress.h"
#include "dns/resolver.h"
#include "engine.h"
#include "mainwindow.h"
#include "storage/settings.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QHostAddress>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSocketNotifier>
#include <QTextStream>

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;

namespace mailcaff::app {

namespace {

constexpr int ExitOk = 0;
constexpr int ExitFailure = 1;
constexpr int ExitUsage = 2;

QTextStream &out()
{
    static QTextStream s(stdout);
    return s;
}

QTextStream &err()
{
    static QTextStream s(stderr);
    return s;
}

int usageError(const QString &message)
{
    err() << "mailcaff: " << message << Qt::endl;
    return ExitUsage;
}

const char *const Description = R"(Email verification and email finding.

Usage:
  mailcaff [options]                 the window, with the API server in the same process
  mailcaff --headless [options]      only the API server (no display needed)
  mailcaff keys create --name NAME [--plan free|starter|growth|scale]
                                     create an API key; the key is the last line printed
  mailcaff keys list                 list API keys (prefixes only: keys are stored as hashes)
  mailcaff keys revoke ID            revoke a key
  mailcaff verify [--mode quick] ADDRESS...
                                     verify addresses, one JSON result per line

Without a display, `mailcaff` runs as with --headless.)";

struct Options
{
    EngineConfig engine;
    QHostAddress listen{QHostAddress::LocalHost};
    quint16 port = 8080;
};

bool isHostName(const QString &name)
{
    // LDH labels of 1–63 characters; the same rule SMTP's EHLO argument must follow (RFC 5321 4.1.1.1).
    static const QRegularExpression re(
        u"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"_s);
    return re.match(name).hasMatch();
}

/// The display check for "window where a display exists, otherwise the API server".
bool hasDisplay()
{
#if defined(Q_OS_LINUX) || defined(Q_OS_FREEBSD)
    return qEnvironmentVariableIsSet("DISPLAY") || qEnvironmentVariableIsSet("WAYLAND_DISPLAY") ||
           qEnvironmentVariableIsSet("QT_QPA_PLATFORM");
#else
    return true;
#endif
}

/// Ends the event loop on SIGINT/SIGTERM through a socket pair (the only safe thing a handler can do).
class SignalWatcher
{
public:
    SignalWatcher()
    {
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s_fds) != 0)
            return;
        m_notifier = std::make_unique<QSocketNotifier>(s_fds[1], QSocketNotifier::Read);
        QObject::connect(m_notifier.get(), &QSocketNotifier::activated, [] {
            char c;
            [[maybe_unused]] auto n = ::read(s_fds[1], &c, 1);
            QCoreApplication::quit();
        });
        std::signal(SIGINT, handler);
        std::signal(SIGTERM, handler);
    }

private:
    static void handler(int)
    {
        const char c = 1;
        [[maybe_unused]] auto n = ::write(s_fds[0], &c, 1);
    }
    static inline int s_fds[2] = {-1, -1};
    std::unique_ptr<QSocketNotifier> m_notifier;
};

void addServerOptions(QCommandLineParser &p)
{
    p.addOptions({
        {u"headless"_s, u"Run only the API server, without the window."_s},
        {u"data-dir"_s,
         u"Folder for the database and user lists (default: %1)."_s.arg(Engine::defaultDataDir()), u"DIR"_s},
        {u"listen"_s, u"Address the API server binds (default 127.0.0.1)."_s, u"ADDR"_s},
        {u"port"_s, u"API server port (default 8080; 0 picks a free one)."_s, u"N"_s},
        {u"dns-server"_s, u"DNS servers to use, IP[:PORT][,…] (default: the system's resolvers)."_s,
         u"IP[:PORT][,…]"_s},
        {u"helo-name"_s, u"Host name announced in SMTP EHLO (use a name you own)."_s, u"NAME"_s},
        {u"mail-from"_s, u"Envelope sender for SMTP probes."_s, u"ADDRESS"_s},
        {u"allow-private-targets"_s,
         u"Allow connections to loopback, private, link-local and metadata addresses found in DNS answers "
         "(off by default, so a shared server cannot be turned into a scanner of its own network)."_s},
        {u"name"_s, u"keys create: the key's name."_s, u"NAME"_s},
        {u"plan"_s, u"keys create: free, starter, growth or scale (default free)."_s, u"PLAN"_s},
        {u"mode"_s, u"verify: quick or power (default power)."_s, u"MODE"_s},
    });
}

/// Reads the options into `o`, saved settings filling what the command line leaves out. Empty on
/// success, otherwise the one-line usage error.
QString readOptions(const QCommandLineParser &p, const storage::Settings *settings, Options &o)
{
    auto value = [&](const QString &name, const auto &setting) {
        if (p.isSet(name))
            return p.value(name);
        if (settings) {
            if constexpr (std::is_same_v<std::decay_t<decltype(setting.defaultValue)>, QString>)
                return settings->value(setting);
            else
                return QString::number(settings->value(setting));
        }
        if constexpr (std::is_same_v<std::decay_t<decltype(setting.defaultValue)>, QString>)
            return setting.defaultValue;
        else
            return QString::number(setting.defaultValue);
    };

    const QString listen = value(u"listen"_s, storage::setting::ListenAddress);
    if (listen == "localhost"_L1)
        o.listen = QHostAddress::LocalHost;
    else if ((!listen.contains(u':') && listen.count(u'.') != 3) || !o.listen.setAddress(listen))
        return u"--listen: '%1' is not an IP address"_s.arg(listen);

    bool ok = false;
    const QString portText = value(u"port"_s, storage::setting::Port);
    const uint port = portText.toUInt(&ok);
    if (!ok || port > 65535)
        return u"--port: '%1' is not a port number (0-65535)"_s.arg(portText);
    o.port = quint16(port);

    o.engine.dnsServers = value(u"dns-server"_s, storage::setting::DnsServers);
    {
        dns::Resolver check;
        QString error;
        if (!check.setServers(o.engine.dnsServers, &error))
            return u"--dns-server: %1"_s.arg(error);
    }
    o.engine.heloName = value(u"helo-name"_s, storage::setting::HeloName);
    if (!o.engine.heloName.isEmpty() && !isHostName(o.engine.heloName))
        return u"--helo-name: '%1' is not a host name"_s.arg(o.engine.heloName);
    o.engine.mailFrom = value(u"mail-from"_s, storage::setting::MailFrom);
    if (!o.engine.mailFrom.isEmpty()) {
        const auto address = core::EmailAddress::parse(o.engine.mailFrom);
        if (!address.isValid())
            return u"--mail-from: %1"_s.arg(address.errorText());
    }
    o.engine.allowPrivateTargets = p.isSet(u"allow-private-targets"_s) ||
                                   (settings && settings->value(storage::setting::AllowPrivateTargets));
    return {};
}

int runKeys(Engine &engine, const QCommandLineParser &p, const QStringList &args)
{
    const QString action = args.value(1);
    auto &keys = engine.apiKeys();
    if (action == "create"_L1) {
        if (args.size() > 2)
            return usageError(u"keys create: unexpected argument '%1'"_s.arg(args.at(2)));
        if (!p.isSet(u"name"_s))
            return usageError(u"keys create: --name NAME is required"_s);
        const auto plan = accounts::planFromString(p.isSet(u"plan"_s) ? p.value(u"plan"_s) : u"free"_s);
        if (!plan)
            return usageError(
                u"--plan: '%1' is not one of free, starter, growth, scale"_s.arg(p.value(u"plan"_s)));
        QString error;
        const auto created = keys.create(p.value(u"name"_s), *plan, &error);
        if (!created)
            return usageError(u"keys create: %1"_s.arg(error));
        out() << "Created API key " << created->info.id << " \"" << created->info.name << "\" on the "
              << accounts::toString(*plan) << " plan (" << accounts::monthlyCredits(*plan)
              << " credits a month).\nStore it now: it is shown only once.\n"
              << created->secret << Qt::endl;
        return ExitOk;
    }
    if (action == "list"_L1) {
        out() << qSetFieldWidth(0) << "ID\tPREFIX\tPLAN\tCREATED\tSTATUS\tNAME\n";
        for (const auto &k : keys.list()) {
            out() << k.id << '\t' << k.prefix << "…\t" << accounts::toString(k.plan) << '\t'
                  << k.createdAt.toString(Qt::ISODate) << '\t'
                  << (k.isRevoked() ? u"revoked %1"_s.arg(k.revokedAt.toString(Qt::ISODate)) : u"active"_s)
                  << '\t' << k.name << '\n';
        }
        out().flush();
        return ExitOk;
    }
    if (action == "revoke"_L1) {
        bool ok = false;
        const qint64 id = args.value(2).toLongLong(&ok);
        if (!ok || args.size() != 3)
            return usageError(u"keys revoke: give the key's ID (see `mailcaff keys list`)"_s);
        QString error;
        if (!keys.revoke(id, &error)) {
            err() << "mailcaff: keys revoke: " << error << Qt::endl;
            return ExitFailure;
        }
        out() << "Revoked API key " << id << "." << Qt::endl;
        return ExitOk;
    }
    return usageError(action.isEmpty() ? u"keys: say create, list or revoke"_s
                                       : u"keys: unknown action '%1' (create, list, revoke)"_s.arg(action));
}

int runVerify(Engine &engine, const QCommandLineParser &p, const QStringList &addresses)
{
    core::Mode mode = core::Mode::Power;
    if (p.isSet(u"mode"_s)) {
        const auto parsed = core::modeFromString(p.value(u"mode"_s));
        if (!parsed)
            return usageError(u"--mode: '%1' is not quick or power"_s.arg(p.value(u"mode"_s)));
        mode = *parsed;
    }
    if (addresses.isEmpty())
        return usageError(u"verify: give one or more addresses"_s);
    if (!Engine::supports(mode)) {
        err() << "mailcaff: verify: power mode is not available yet; use --mode quick" << Qt::endl;
        return ExitFailure;
    }
    // Results print in input order as they complete; the loop ends after the last one.
    QList<std::optional<QByteArray>> lines(addresses.size());
    qsizetype next = 0;
    QObject context;
    for (qsizetype i = 0; i < addresses.size(); ++i) {
        engine.verify(addresses.at(i), mode, &context, [&, i](const core::VerificationResult &r) {
            lines[i] = QJsonDocument(r.toJson()).toJson(QJsonDocument::Compact);
            while (next < lines.size() && lines[next]) {
                out() << *lines[next] << '\n';
                ++next;
            }
            out().flush();
            if (next == lines.size())
                QCoreApplication::quit();
        });
    }
    QCoreApplication::exec();
    return ExitOk;
}

} // namespace

int run(int argc, char **argv)
{
    QStringList args;
    for (int i = 0; i < argc; ++i)
        args.append(QString::fromLocal8Bit(argv[i]));

    QCoreApplication::setOrganizationName(u"Mailcaff"_s);
    QCoreApplication::setApplicationName(u"Mailcaff"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(MAILCAFF_VERSION));

    QCommandLineParser parser;
    parser.setApplicationDescription(QString::fromUtf8(Description));
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help = parser.addHelpOption();
    const QCommandLineOption version = parser.addVersionOption();
    addServerOptions(parser);
    parser.addPositionalArgument(u"verb"_s, u"keys or verify (optional)."_s, u"[verb [arguments]]"_s);
    if (!parser.parse(args))
        return usageError(parser.errorText());
    if (parser.isSet(help)) {
        out() << parser.helpText() << Qt::endl;
        return ExitOk;
    }
    if (parser.isSet(version)) {
        out() << "mailcaff " << MAILCAFF_VERSION << Qt::endl;
        return ExitOk;
    }

    const QStringList positional = parser.positionalArguments();
    const QString verb = positional.value(0);
    if (!verb.isEmpty() && verb != "keys"_L1 && verb != "verify"_L1)
        return usageError(u"unknown command '%1' (keys, verify; see --help)"_s.arg(verb));

    const bool windowed = verb.isEmpty() && !parser.isSet(u"headless"_s) && hasDisplay();
    std::unique_ptr<QCoreApplication> app;
    if (windowed)
        app = std::make_unique<QApplication>(argc, argv);
    else
        app = std::make_unique<QCoreApplication>(argc, argv);

    Engine engine;
    QString error;
    if (!engine.openStorage(parser.value(u"data-dir"_s), &error)) {
        err() << "mailcaff: " << error << Qt::endl;
        return ExitFailure;
    }
    if (verb == "keys"_L1)
        return runKeys(engine, parser, positional);

    storage::Settings settings(engine.database());
    Options options;
    if (const QString bad = readOptions(parser, &settings, options); !bad.isEmpty())
        return usageError(bad);
    options.engine.dataDir = engine.config().dataDir;
    if (!engine.start(options.engine, &error)) {
        err() << "mailcaff: " << error << Qt::endl;
        return ExitFailure;
    }
    if (verb == "verify"_L1)
        return runVerify(engine, parser, positional.mid(1));

    if (verb.isEmpty() && !parser.isSet(u"headless"_s) && !windowed)
        err() << "mailcaff: no display found; running the API server only (--headless)." << Qt::endl;

    server::ApiServer api(engine);
    if (!api.listen(options.listen, options.port, &error)) {
        err() << "mailcaff: " << error << Qt::endl;
        return ExitFailure;
    }
    out() << "Mailcaff " << MAILCAFF_VERSION << " API listening on " << api.url().toString() << Qt::endl;
    out() << "Data folder: " << engine.config().dataDir << Qt::endl;

    SignalWatcher signalWatcher;
    std::unique_ptr<ui::MainWindow> window;
    if (windowed) {
        window = std::make_unique<ui::MainWindow>(engine, api.url(), api.isListening());
        window->show();
    }
    const int code = QCoreApplication::exec();
    window.reset();
    engine.stop();
    return code;
}

} // namespace mailcaff::app
