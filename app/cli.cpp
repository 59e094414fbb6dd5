#include "cli.h"

#include "apiservercontrol.h"
#include "core/csv.h"
#include "core/emailaddress.h"
#include "engine.h"
#include "mainwindow.h"
#include "net/tlsidentity.h"
#include "storage/copy.h"
#include "storage/database.h"
#include "storage/settings.h"
#include "storage/validate.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QHostAddress>
#include <QIcon>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSettings>
#include <QSocketNotifier>
#include <QSslCertificate>
#include <QTextStream>
#include <QTimer>

#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

using namespace Qt::StringLiterals;

// Q_INIT_RESOURCE must be used from the global namespace; it keeps the icons of this static library.
static void initIconResources()
{
    Q_INIT_RESOURCE(app_icons);
}

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
  mailcaff keys webhook ID URL|off   set (HTTPS only; prints the signing secret once) or remove a key's webhook
  mailcaff keys plan ID PLAN         move a key to another plan from this month on (free, starter, growth, scale)
  mailcaff verify [--mode quick] ADDRESS...
                                     verify addresses, one JSON result per line
  mailcaff verify FILE [-o OUT.csv] [--mode quick|power] [--column NAME]
                                     verify a CSV or text list, progress on stderr, results to OUT.csv
                                     (default FILE.results.csv); started again, it goes on where it stopped
  mailcaff maintenance on|off [--retry-after S]
                                     switch maintenance mode (API answers 503) for running servers
  mailcaff db migrate --to postgresql://USER@HOST/DB [--from sqlite:PATH]
                                     copy keys, credits, jobs, lists, webhooks and caches into a new,
                                     empty database (default --from: the data folder's database)

Without a display, `mailcaff` runs as with --headless.)";

struct Options
{
    EngineConfig engine;
    QHostAddress listen{QHostAddress::LocalHost};
    quint16 port = 8080;
    net::TlsIdentity tls; ///< null: plain HTTP
};

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
    /// `onSignal` runs on the event loop when SIGINT or SIGTERM arrives (default: quit the event loop).
    explicit SignalWatcher(std::function<void()> onSignal = {})
    {
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, s_fds) != 0)
            return;
        m_notifier = std::make_unique<QSocketNotifier>(s_fds[1], QSocketNotifier::Read);
        QObject::connect(m_notifier.get(), &QSocketNotifier::activated, [onSignal = std::move(onSignal)] {
            char c;
            [[maybe_unused]] auto n = ::read(s_fds[1], &c, 1);
            if (onSignal)
                onSignal();
            else
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
        {u"database"_s,
         u"The database: a SQLite file (default: mailcaff.sqlite in the data folder) or "
         u"postgresql://USER@HOST[:PORT]/DBNAME, shared by several servers (default: $MAILCAFF_DATABASE, "
         u"else database= in ~/.config/Mailcaff/Mailcaff.conf; "
         u"passwords from PGPASSWORD or ~/.pgpass rather than the command line)."_s,
         u"URL"_s},
        {u"listen"_s, u"Address the API server binds (default 127.0.0.1)."_s, u"ADDR"_s},
        {u"port"_s, u"API server port (default 8080; 0 picks a free one)."_s, u"N"_s},
        {u"tls-cert"_s, u"Serve the API over HTTPS with this PEM certificate (chain) file."_s, u"FILE"_s},
        {u"tls-key"_s, u"The PEM private key of --tls-cert (unencrypted)."_s, u"FILE"_s},
        {u"dns-server"_s, u"DNS servers to use, IP[:PORT][,…] (default: the system's resolvers)."_s,
         u"IP[:PORT][,…]"_s},
        {u"helo-name"_s, u"Host name announced in SMTP EHLO (use a name you own)."_s, u"NAME"_s},
        {u"mail-from"_s, u"Envelope sender for SMTP probes (default: the null sender <>)."_s, u"ADDRESS"_s},
        {u"smtp-port"_s, u"Port of the mail servers to probe (default 25)."_s, u"N"_s},
        {u"power-deadline"_s, u"Seconds a power verification may take at most (default 60)."_s, u"SECONDS"_s},
        {u"cache-valid-days"_s, u"Days a valid power result is reused (default 30; 0: never)."_s, u"DAYS"_s},
        {u"cache-invalid-days"_s, u"Days an invalid or risky power result is reused (default 7; 0: never)."_s,
         u"DAYS"_s},
        {u"smtp-timeout"_s,
         u"Seconds to wait for a mail server's connection and for each reply (default 8 and 15)."_s,
         u"SECONDS"_s},
        {u"sessions-per-mx"_s,
         u"Connections to one mail server at once (default 2; more risks being blocked)."_s, u"N"_s},
        {u"shared-mx-limits"_s,
         u"--sessions-per-mx counts the connections of every server sharing the database (set the same "
         u"value on each), not this server's alone."_s},
        {u"smtp-connections"_s,
         u"SMTP connections open at once to all mail servers together (default: a quarter of the open files "
         u"this process may have, see ulimit -n)."_s,
         u"N"_s},
        {u"job-concurrency"_s,
         u"Bulk job items this server works on at once (default 1000; in power mode, more of a domain "
         u"already being worked on join it, up to four times as many); servers sharing a database each "
         u"take their own."_s,
         u"N"_s},
        {u"webhook-ca"_s,
         u"Also trust the CA certificates in this PEM file for webhook receivers (an internal CA)."_s,
         u"FILE"_s},
        {u"allow-target"_s,
         u"Allow connections to this private address or network (ADDRESS or ADDRESS/BITS, comma-separated or "
         u"repeated): an internal mail server, say, without --allow-private-targets' everything."_s,
         u"NETWORK"_s},
        {u"allow-private-targets"_s,
         u"Allow connections to loopback, private, link-local and metadata addresses found in DNS answers "
         "(off by default, so a shared server cannot be turned into a scanner of its own network)."_s},
        {u"name"_s, u"keys create: the key's name."_s, u"NAME"_s},
        {u"plan"_s, u"keys create: free, starter, growth or scale (default free)."_s, u"PLAN"_s},
        {u"mode"_s, u"verify: quick or power (default power)."_s, u"MODE"_s},
        {{u"o"_s, u"output"_s},
         u"verify FILE: where the results CSV goes (default FILE.results.csv)."_s,
         u"OUT"_s},
        {u"column"_s,
         u"verify FILE: the column holding the addresses, by header name or number (default: guessed)."_s,
         u"NAME"_s},
        {u"retry-after"_s, u"maintenance on: seconds clients are told to wait (default 600)."_s,
         u"SECONDS"_s},
        {u"from"_s, u"db migrate: the database to copy (default: the data folder's)."_s, u"URL"_s},
        {u"to"_s, u"db migrate: the new, empty database to copy into."_s, u"URL"_s},
    });
}

/// Reads the options into `o`, saved settings filling what the command line leaves out (the API server's
/// address only when `server`). Empty on success, otherwise the one-line usage error naming the option.
QString readOptions(const QCommandLineParser &p, const storage::Settings &settings, bool server, Options &o)
{
    auto value = [&](const QString &name, const auto &setting) -> QString {
        if (p.isSet(name))
            return p.value(name);
        if constexpr (std::is_same_v<std::decay_t<decltype(setting.defaultValue)>, QString>)
            return settings.value(setting);
        else
            return QString::number(settings.value(setting));
    };
    // A bad saved value is reported as such: the user did not type it on this command line.
    auto problem = [&](const QString &name, const QString &bad) {
        return p.isSet(name)
                   ? u"--%1: %2"_s.arg(name, bad)
                   : u"saved setting for --%1 (change it in Settings or give --%1): %2"_s.arg(name, bad);
    };
    namespace v = storage::validate;
    if (server) {
        if (const QString bad =
                v::listenAddress(value(u"listen"_s, storage::setting::ListenAddress), &o.listen);
            !bad.isEmpty())
            return problem(u"listen"_s, bad);
        if (const QString bad = v::port(value(u"port"_s, storage::setting::Port), &o.port); !bad.isEmpty())
            return problem(u"port"_s, bad);
        const QString cert = value(u"tls-cert"_s, storage::setting::TlsCertificate).trimmed();
        const QString key = value(u"tls-key"_s, storage::setting::TlsKey).trimmed();
        if (cert.isEmpty() != key.isEmpty())
            return problem(cert.isEmpty() ? u"tls-cert"_s : u"tls-key"_s,
                           u"--tls-cert and --tls-key go together"_s);
        if (!cert.isEmpty()) {
            if (const QString bad = net::loadTlsIdentity(cert, key, &o.tls); !bad.isEmpty())
                return problem(
                    p.isSet(u"tls-key"_s) && !p.isSet(u"tls-cert"_s) ? u"tls-key"_s : u"tls-cert"_s, bad);
        }
    }
    o.engine.dnsServers = value(u"dns-server"_s, storage::setting::DnsServers);
    if (const QString bad = v::dnsServers(o.engine.dnsServers); !bad.isEmpty())
        return problem(u"dns-server"_s, bad);
    o.engine.heloName = value(u"helo-name"_s, storage::setting::HeloName);
    if (const QString bad = v::heloName(o.engine.heloName); !bad.isEmpty())
        return problem(u"helo-name"_s, bad);
    if (p.isSet(u"webhook-ca"_s)) {
        const QString file = p.value(u"webhook-ca"_s);
        if (!QFileInfo(file).isReadable())
            return u"--webhook-ca: cannot read %1"_s.arg(file);
        o.engine.webhookExtraCa = QSslCertificate::fromPath(file, QSsl::Pem);
        if (o.engine.webhookExtraCa.isEmpty())
            return u"--webhook-ca: %1 holds no PEM certificate"_s.arg(file);
    }
    if (p.isSet(u"allow-target"_s)) {
        QString bad;
        const auto subnets = net::TargetPolicy::parseSubnets(p.values(u"allow-target"_s).join(u','), &bad);
        if (!subnets)
            return u"--allow-target: "_s + bad;
        o.engine.allowedTargets = *subnets;
    }
    o.engine.mailFrom = value(u"mail-from"_s, storage::setting::MailFrom);
    if (const QString bad = v::mailFrom(o.engine.mailFrom); !bad.isEmpty())
        return problem(u"mail-from"_s, bad);
    if (p.isSet(u"smtp-port"_s)) {
        quint16 port = 0;
        if (const QString bad = v::port(p.value(u"smtp-port"_s), &port); !bad.isEmpty() || port == 0)
            return u"--smtp-port: "_s + (bad.isEmpty() ? u"'0' is not a usable port"_s : bad);
        o.engine.smtpPort = port;
    }
    // Whole-number options with their ranges: value × scale goes to the engine's field.
    struct NumberOption
    {
        QString name;
        int min;
        int max;
        const char *unit;
        int scale;
        QList<int *> targets;
        const storage::Setting<int> *setting = nullptr; ///< the saved value when the option is not given
    };
    const QList<NumberOption> numbers{
        {u"cache-valid-days"_s, 0, 3650, "days", 1, {&o.engine.cacheValidDays}},
        {u"cache-invalid-days"_s, 0, 3650, "days", 1, {&o.engine.cacheInvalidDays}},
        {u"smtp-timeout"_s,
         1,
         300,
         "seconds",
         1000,
         {&o.engine.smtpConnectTimeoutMs, &o.engine.smtpCommandTimeoutMs},
         &storage::setting::SmtpTimeoutSeconds},
        {u"power-deadline"_s,
         5,
         600,
         "seconds",
         1000,
         {&o.engine.powerDeadlineMs},
         &storage::setting::PowerDeadlineSeconds},
        {u"sessions-per-mx"_s,
         1,
         10,
         "connections",
         1,
         {&o.engine.maxSessionsPerMx},
         &storage::setting::SessionsPerMx},
        {u"smtp-connections"_s, 1, 100'000, "connections", 1, {&o.engine.maxSmtpSessions}},
        {u"job-concurrency"_s, 1, 100'000, "items", 1, {&o.engine.jobConcurrency}},
    };
    for (const NumberOption &n : numbers) {
        QString text;
        if (p.isSet(n.name)) {
            text = p.value(n.name);
        } else if (n.setting && settings.value(*n.setting) != 0 &&
                   settings.value(*n.setting) != n.setting->defaultValue) {
            text = QString::number(settings.value(*n.setting));
        } else {
            continue;
        }
        bool ok = false;
        const int number = text.toInt(&ok);
        if (!ok || number < n.min || number > n.max)
            return problem(
                n.name, u"'%1' is not a number of %2 from %3 to %4"_s.arg(text, QString::fromLatin1(n.unit))
                            .arg(n.min)
                            .arg(n.max));
        for (int *target : n.targets)
            *target = number * n.scale;
    }
    o.engine.jobRetentionDays = std::max(1, settings.value(storage::setting::JobRetentionDays));
    o.engine.domainCacheHours = std::max(0, settings.value(storage::setting::DomainCacheHours));
    o.engine.finderGravatar = settings.value(storage::setting::FinderGravatar);
    o.engine.finderScrape = settings.value(storage::setting::FinderScrape);
    o.engine.finderBestGuess = settings.value(storage::setting::FinderBestGuess);
    o.engine.allowPrivateTargets =
        p.isSet(u"allow-private-targets"_s) || settings.value(storage::setting::AllowPrivateTargets);
    o.engine.sharedMxLimits = p.isSet(u"shared-mx-limits"_s);
    return {};
}

/// Options a command takes; any other given option is a usage error rather than silently ignored.
QString checkApplicable(const QCommandLineParser &p, const QString &verb, const QString &action)
{
    QStringList allowed{u"data-dir"_s, u"database"_s};
    const QStringList engineOptions{u"dns-server"_s,         u"helo-name"_s,
                                    u"mail-from"_s,          u"smtp-port"_s,
                                    u"smtp-timeout"_s,       u"power-deadline"_s,
                                    u"sessions-per-mx"_s,    u"cache-valid-days"_s,
                                    u"cache-invalid-days"_s, u"allow-private-targets"_s,
                                    u"allow-target"_s,       u"job-concurrency"_s,
                                    u"webhook-ca"_s,         u"shared-mx-limits"_s,
                                    u"smtp-connections"_s};
    if (verb == "keys"_L1) {
        if (action == "create"_L1)
            allowed << u"name"_s << u"plan"_s;
    } else if (verb == "maintenance"_L1) {
        if (action == "on"_L1)
            allowed << u"retry-after"_s;
    } else if (verb == "db"_L1) {
        allowed.removeAll(u"database"_s);
        allowed << u"from"_s << u"to"_s;
    } else if (verb == "verify"_L1) {
        allowed << engineOptions << u"mode"_s << u"output"_s << u"column"_s;
    } else {
        allowed << engineOptions << u"headless"_s << u"listen"_s << u"port"_s << u"tls-cert"_s
                << u"tls-key"_s;
    }
    for (const QString &name : p.optionNames()) {
        const QString longName = name.size() == 1 ? QString() : name;
        if (!longName.isEmpty() && !allowed.contains(longName)) {
            const QString where =
                verb.isEmpty() ? u"the window or --headless"_s
                               : (u"`"_s + verb + (action.isEmpty() ? QString() : u' ' + action) + u'`');
            return u"--%1 does not apply to %2"_s.arg(longName, where);
        }
    }
    return {};
}

std::optional<accounts::ApiKeyInfo> activeKey(const accounts::ApiKeys &keys, qint64 id)
{
    const auto list = keys.list();
    if (list) {
        for (const accounts::ApiKeyInfo &k : *list)
            if (k.id == id && !k.isRevoked())
                return k;
    }
    return std::nullopt;
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
        const QString name = p.value(u"name"_s).trimmed();
        if (name.isEmpty() || name.size() > 100)
            return usageError(u"--name: a key name must have 1 to 100 characters"_s);
        QString error;
        const auto created = keys.create(name, *plan, &error);
        if (!created) {
            err() << "mailcaff: keys create: " << error << Qt::endl;
            return ExitFailure;
        }
        out() << "Created API key " << created->info.id << " \"" << created->info.name << "\" on the "
              << accounts::toString(*plan) << " plan (" << accounts::monthlyCredits(*plan)
              << " credits a month).\nStore it now: it is shown only once.\n"
              << created->secret << Qt::endl;
        return ExitOk;
    }
    if (action == "list"_L1) {
        QString error;
        const auto list = keys.list(&error);
        if (!list) {
            err() << "mailcaff: keys list: " << error << Qt::endl;
            return ExitFailure;
        }
        out() << "ID\tPREFIX\tPLAN\tCREATED\tSTATUS\tNAME\n";
        for (const auto &k : *list) {
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
    if (action == "plan"_L1) {
        bool ok = false;
        const qint64 id = args.value(2).toLongLong(&ok);
        if (!ok || args.size() != 4)
            return usageError(u"keys plan: give the key's ID and a plan: free, starter, growth or scale"_s);
        const auto plan = accounts::planFromString(args.at(3));
        if (!plan)
            return usageError(
                u"keys plan: '%1' is not one of free, starter, growth, scale"_s.arg(args.at(3)));
        const auto key = activeKey(keys, id);
        if (!key)
            return usageError(u"keys plan: no active key with ID %1"_s.arg(id));
        if (!engine.credits().changePlan(*key, *plan)) {
            err() << "mailcaff: keys plan: the database could not be updated" << Qt::endl;
            return ExitFailure;
        }
        const auto usage = engine.credits().usage(*key);
        out() << "API key " << id << " is on the " << accounts::toString(*plan)
              << " plan from this month: " << (usage ? usage->remaining : 0) << " of "
              << (usage ? usage->monthlyLimit : 0) << " credits left this month." << Qt::endl;
        return ExitOk;
    }
    if (action == "webhook"_L1) {
        bool ok = false;
        const qint64 id = args.value(2).toLongLong(&ok);
        if (!ok || args.size() != 4)
            return usageError(u"keys webhook: give the key's ID and an https:// URL, or off"_s);
        if (!activeKey(keys, id))
            return usageError(u"keys webhook: no active key with ID %1"_s.arg(id));
        if (args.at(3) == "off"_L1) {
            engine.webhooks().removeEndpoint(id);
            out() << "Removed the webhook of API key " << id << "." << Qt::endl;
            return ExitOk;
        }
        const webhooks::SetEndpointResult set = engine.webhooks().setEndpoint(id, args.at(3));
        if (!set.ok())
            return usageError(u"keys webhook: %1"_s.arg(set.error));
        out() << "Webhook of API key " << id << " set to " << args.at(3)
              << ".\nSigning secret (shown once):\n"
              << QString::fromLatin1(set.secret) << Qt::endl;
        return ExitOk;
    }
    return usageError(action.isEmpty()
                          ? u"keys: say create, list, revoke, plan or webhook"_s
                          : u"keys: unknown action '%1' (create, list, revoke, webhook)"_s.arg(action));
}

int runMaintenance(Engine &engine, const QCommandLineParser &p, const QStringList &args)
{
    const QString state = args.value(1);
    if ((state != "on"_L1 && state != "off"_L1) || args.size() != 2)
        return usageError(u"maintenance: say on or off"_s);
    storage::Settings settings(engine.database());
    int retryAfter = 600;
    if (p.isSet(u"retry-after"_s)) {
        bool ok = false;
        retryAfter = p.value(u"retry-after"_s).toInt(&ok);
        if (!ok || retryAfter < 1 || retryAfter > 86400)
            return usageError(u"--retry-after: '%1' is not a number of seconds from 1 to 86400"_s.arg(
                p.value(u"retry-after"_s)));
    }
    // Running servers read the setting on every request: no restart needed.
    const bool on = state == "on"_L1;
    if (!settings.setValue(storage::setting::Maintenance, on) ||
        (on && !settings.setValue(storage::setting::MaintenanceRetryAfter, retryAfter))) {
        err() << "mailcaff: maintenance: the database could not be written" << Qt::endl;
        return ExitFailure;
    }
    out() << (on ? u"Maintenance mode on: the API answers 503 (Retry-After: %1 s)."_s.arg(retryAfter)
                 : u"Maintenance mode off."_s)
          << Qt::endl;
    return ExitOk;
}

/// Where the database is: --database, else $MAILCAFF_DATABASE, else the `database` key of the config file
/// (~/.config/Mailcaff/Mailcaff.conf), else empty (SQLite in the data folder).
QString databaseLocation(const QCommandLineParser &p)
{
    if (p.isSet(u"database"_s))
        return p.value(u"database"_s);
    if (const QString env = qEnvironmentVariable("MAILCAFF_DATABASE"); !env.isEmpty())
        return env;
    return QSettings().value(u"database"_s).toString().trimmed();
}

/// `db migrate`: everything the data folder's database (or --from) holds, copied into --to.
int runDb(const QCommandLineParser &p, const QStringList &args)
{
    if (args.value(1) != "migrate"_L1 || args.size() != 2)
        return usageError(u"db: the command is 'db migrate --to URL [--from URL]'"_s);
    if (!p.isSet(u"to"_s))
        return usageError(u"db migrate: --to URL is required (the new database, e.g. postgresql://…)"_s);
    const QString dataDir = p.isSet(u"data-dir"_s) ? p.value(u"data-dir"_s) : Engine::defaultDataDir();
    const QString from =
        p.isSet(u"from"_s) ? p.value(u"from"_s) : QDir(dataDir).filePath(u"mailcaff.sqlite"_s);
    const QString to = p.value(u"to"_s);
    QString error;
    const auto fromAt = storage::Location::parse(from, &error);
    if (!fromAt)
        return usageError(u"--from: "_s + error);
    const auto toAt = storage::Location::parse(to, &error);
    if (!toAt)
        return usageError(u"--to: "_s + error);
    if (fromAt->display() == toAt->display())
        return usageError(u"db migrate: --from and --to are the same database"_s);
    // The source must exist: opening a SQLite path that does not would create an empty database.
    if (fromAt->dialect == storage::Dialect::SQLite && !QFileInfo::exists(fromAt->path)) {
        err() << "mailcaff: db migrate: no database at " << fromAt->path << Qt::endl;
        return ExitFailure;
    }
    storage::Database source;
    storage::Database target;
    if (!source.open(from, &error) || !target.open(to, &error)) {
        err() << "mailcaff: db migrate: " << error << Qt::endl;
        return ExitFailure;
    }
    out() << "Copying " << source.display() << " into " << target.display() << Qt::endl;
    const bool ok = storage::copyDatabase(
        source, target,
        [](const QString &table, qint64 rows) { out() << "  " << table << ": " << rows << Qt::endl; },
        &error);
    if (!ok) {
        err() << "mailcaff: db migrate: " << error << " (nothing was copied)" << Qt::endl;
        return ExitFailure;
    }
    out() << "Done. Start the servers with --database " << target.display()
          << " (or MAILCAFF_DATABASE); the old database keeps its data." << Qt::endl;
    return ExitOk;
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
    // Results print in input order as they complete; the loop ends after the last one.
    QList<std::optional<QByteArray>> lines(addresses.size());
    qsizetype next = 0;
    QObject context;
    for (qsizetype i = 0; i < addresses.size(); ++i) {
        const bool started =
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
        if (!started) {
            err() << "mailcaff: verify: the verification engine is not running" << Qt::endl;
            return ExitFailure;
        }
    }
    QCoreApplication::exec();
    return ExitOk;
}

/// Where a `verify FILE` run keeps its job: the same file (path, size, time) and output find the same list.
QString sourceKeyOf(const QFileInfo &file, const QString &output, int column, core::Mode mode)
{
    const QString identity = u"%1|%2|%3|%4|%5|%6"_s.arg(file.absoluteFilePath())
                                 .arg(file.size())
                                 .arg(file.lastModified().toMSecsSinceEpoch())
                                 .arg(QFileInfo(output).absoluteFilePath())
                                 .arg(column)
                                 .arg(core::toString(mode));
    return QString::fromLatin1(
        QCryptographicHash::hash(identity.toUtf8(), QCryptographicHash::Sha256).toHex());
}

/// Reads the list and finds or creates its job, before the engine's runner starts (so it can be held to
/// it). `beforeStoring` runs when a new list is about to be stored, with the distinct domains of its first
/// rows (the engine starts there and asks DNS about them while the rows are written); false from it ends
/// the run. Empty job id and a printed error when it cannot.
struct FileRun
{
    QString jobId;
    QString output;
    int exitCode = ExitOk;
};

FileRun prepareFileRun(Engine &engine, const QCommandLineParser &p, const QString &path,
                       const std::function<bool(const QStringList &domains, core::Mode mode)> &beforeStoring)
{
    FileRun run;
    core::Mode mode = core::Mode::Power;
    if (p.isSet(u"mode"_s)) {
        const auto parsed = core::modeFromString(p.value(u"mode"_s));
        if (!parsed) {
            run.exitCode = usageError(u"--mode: '%1' is not quick or power"_s.arg(p.value(u"mode"_s)));
            return run;
        }
        mode = *parsed;
    }
    const QFileInfo file(path);
    run.output = p.isSet(u"output"_s) ? p.value(u"output"_s)
                                      : file.dir().filePath(file.completeBaseName() + u".results.csv"_s);
    QString error;
    // The first rows tell the columns; the whole file is then read row by row as it is stored.
    const QList<QStringList> rows = core::csv::readFirstRecords(path, 1000, &error);
    if (!error.isEmpty()) {
        err() << "mailcaff: verify: cannot read " << path << ": " << error << Qt::endl;
        run.exitCode = ExitFailure;
        return run;
    }
    if (rows.isEmpty()) {
        run.exitCode = usageError(u"verify: %1 holds no rows"_s.arg(path));
        return run;
    }
    bool header = false;
    int column = core::csv::guessAddressColumn(rows, &header);
    if (p.isSet(u"column"_s)) {
        const QString wanted = p.value(u"column"_s);
        bool number = false;
        const int n = wanted.toInt(&number);
        const QRegularExpression named(u"^"_s + QRegularExpression::escape(wanted) + u"$"_s,
                                       QRegularExpression::CaseInsensitiveOption);
        const int byName = core::csv::findColumn(rows.first(), named);
        if (byName >= 0) {
            column = byName;
            header = true;
        } else if (number && n >= 1 && n <= rows.first().size()) {
            column = n - 1;
        } else {
            run.exitCode = usageError(u"--column: no column '%1' in %2 (its first row: %3)"_s.arg(
                wanted, file.fileName(), rows.first().join(u", "_s).left(200)));
            return run;
        }
    }
    const QString key = sourceKeyOf(file, run.output, column, mode);
    if (const auto existing = engine.listStore().findBySource(key)) {
        const auto summary = engine.jobs().summary(*existing);
        if (summary && summary->status != jobs::JobStatus::Cancelled &&
            summary->status != jobs::JobStatus::Failed) {
            if (summary->status == jobs::JobStatus::Paused)
                engine.jobs().setPaused(*existing, false);
            err() << "mailcaff: verify: going on with the earlier run of " << file.fileName() << " ("
                  << summary->processed << " of " << summary->total << " done)" << Qt::endl;
            run.jobId = *existing;
            return run;
        }
    }
    QStringList domains;
    QSet<QString> seen;
    for (qsizetype i = header ? 1 : 0; i < rows.size(); ++i) {
        const core::EmailAddress address = core::EmailAddress::parse(rows.at(i).value(column));
        if (address.isValid() && !seen.contains(address.asciiDomain())) {
            seen.insert(address.asciiDomain());
            domains.append(address.asciiDomain());
        }
    }
    if (!beforeStoring(domains, mode)) {
        run.exitCode = ExitFailure;
        return run;
    }
    core::csv::Reader reader(path);
    QElapsedTimer storing;
    storing.start();
    const auto created =
        reader.open()
            ? engine.listStore().create(file.fileName(), header ? rows.first() : QStringList(),
                                        jobs::ListStore::fromReader(reader, header), column, mode, key)
            : jobs::ListStore::Created{};
    if (!reader.error().isEmpty()) {
        err() << "mailcaff: verify: cannot read " << path << ": " << reader.error() << Qt::endl;
        run.exitCode = ExitFailure;
        return run;
    }
    if (created.jobId.isEmpty()) {
        err() << "mailcaff: verify: the list could not be stored in the database" << Qt::endl;
        run.exitCode = ExitFailure;
        return run;
    }
    err() << "mailcaff: verify: " << created.rows << " rows of " << file.fileName() << " stored in "
          << QString::number(storing.elapsed() / 1000.0, 'f', 1) << " s, " << created.withoutAddress
          << " without an address, " << created.duplicates << " duplicates" << Qt::endl;
    run.jobId = created.jobId;
    return run;
}

/// Waits for the job with a progress line on stderr, then writes the results.
int finishFileRun(Engine &engine, const FileRun &run)
{
    QTimer progress;
    QElapsedTimer clock;
    clock.start();
    int exitCode = ExitOk;
    bool written = false; // the end can be noticed twice (the runner's signal, a tick): written once
    auto report = [&](bool last) {
        if (written)
            return;
        const auto s = engine.jobs().summary(run.jobId);
        if (!s)
            return;
        err() << "\rmailcaff: verify: " << s->processed << "/" << s->total << " checked"
              << " · valid " << s->counts.value(core::Status::Valid) << " · risky "
              << s->counts.value(core::Status::Risky) << " · invalid "
              << s->counts.value(core::Status::Invalid) << " · unknown "
              << s->counts.value(core::Status::Unknown) << "   ";
        if (last)
            err() << Qt::endl;
        else
            err().flush();
        if (s->status == jobs::JobStatus::Processing || s->status == jobs::JobStatus::Paused)
            return;
        progress.stop();
        written = true;
        if (!last)
            err() << Qt::endl;
        QString error;
        const int rows = engine.listStore().exportCsv(run.jobId, run.output, {}, &error);
        if (rows < 0) {
            err() << "mailcaff: verify: cannot write " << run.output << ": " << error
                  << " (the results are kept: the same command again writes them without checking again)"
                  << Qt::endl;
            exitCode = ExitFailure;
        } else {
            err() << "mailcaff: verify: " << rows << " rows written to " << run.output << " in "
                  << clock.elapsed() / 1000.0 << " s" << Qt::endl;
        }
        QCoreApplication::quit();
    };
    QObject::connect(&progress, &QTimer::timeout, [&] { report(false); });
    progress.start(500);
    // The results are written the moment the job ends, not at the next tick.
    if (jobs::JobRunner *runner = engine.jobRunner())
        QObject::connect(runner, &jobs::JobRunner::jobFinished, &progress, [&](const QString &jobId) {
            if (jobId == run.jobId && progress.isActive())
                report(false);
        });
    // Stopped by Ctrl+C or a signal: the job stays in the database; the same command goes on with it.
    SignalWatcher watcher([&] {
        progress.stop();
        err() << Qt::endl << "mailcaff: verify: stopped; run the same command again to go on" << Qt::endl;
        exitCode = ExitFailure;
        QCoreApplication::quit();
    });
    QTimer::singleShot(0, [&] { report(false); });
    QCoreApplication::exec();
    return exitCode;
}

} // namespace

void setDesktopIdentity()
{
    initIconResources();
    QIcon icon;
    for (int size : {16, 24, 32, 48, 64, 128, 256})
        icon.addFile(u":/icons/io.mailcaff.Mailcaff-%1.png"_s.arg(size), QSize(size, size));
    QApplication::setWindowIcon(icon);
    QGuiApplication::setDesktopFileName(u"io.mailcaff.Mailcaff"_s);
    QGuiApplication::setApplicationDisplayName(u"Mailcaff"_s);
}

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
    parser.addPositionalArgument(u"verb"_s, u"keys, verify, maintenance or db (optional)."_s,
                                 u"[verb [arguments]]"_s);
    if (!parser.parse(args))
        return usageError(parser.errorText());
    if (parser.isSet(help)) {
        // Asked before any QCoreApplication exists, Qt cannot name the program itself.
        out() << parser.helpText().replace(u"<executable_name>"_s, u"mailcaff"_s) << Qt::endl;
        return ExitOk;
    }
    if (parser.isSet(version)) {
        out() << "mailcaff " << MAILCAFF_VERSION << Qt::endl;
        return ExitOk;
    }

    const QStringList positional = parser.positionalArguments();
    const QString verb = positional.value(0);
    if (!verb.isEmpty() && verb != "keys"_L1 && verb != "verify"_L1 && verb != "maintenance"_L1 &&
        verb != "db"_L1)
        return usageError(u"unknown command '%1' (keys, verify, maintenance, db; see --help)"_s.arg(verb));

    const bool windowed = verb.isEmpty() && !parser.isSet(u"headless"_s) && hasDisplay();
    std::unique_ptr<QCoreApplication> app;
    if (windowed) {
        app = std::make_unique<QApplication>(argc, argv);
        setDesktopIdentity();
    } else
        app = std::make_unique<QCoreApplication>(argc, argv);

    if (const QString bad = checkApplicable(
            parser, verb, verb == "keys"_L1 || verb == "maintenance"_L1 ? positional.value(1) : QString());
        !bad.isEmpty())
        return usageError(bad);
    if (verb == "db"_L1)
        return runDb(parser, positional);

    Engine engine;
    QString error;
    const QString database = databaseLocation(parser);
    if (!engine.openStorage(parser.value(u"data-dir"_s), database, &error)) {
        err() << "mailcaff: " << error << Qt::endl;
        return ExitFailure;
    }
    if (verb == "keys"_L1)
        return runKeys(engine, parser, positional);
    if (verb == "maintenance"_L1)
        return runMaintenance(engine, parser, positional);

    const storage::Settings settings(engine.database());
    Options options;
    if (const QString bad = readOptions(parser, settings, verb.isEmpty(), options); !bad.isEmpty())
        return usageError(bad);
    options.engine.dataDir = engine.config().dataDir;
    options.engine.database = engine.config().database;
    options.engine.runJobs = verb.isEmpty(); // only servers work on jobs
    // `verify FILE`: a list of its own, worked by this process alone (never a server's jobs).
    const auto start = [&] {
        if (engine.isRunning() || engine.start(options.engine, &error))
            return true;
        err() << "mailcaff: " << error << Qt::endl;
        return false;
    };
    if (verb == "verify"_L1 && positional.size() == 2 && QFileInfo(positional.at(1)).isFile()) {
        // The engine starts before the list is stored (without its runner, which then works on this
        // list alone), so that DNS answers for the first rows' domains come in while it is written.
        const FileRun fileRun = prepareFileRun(engine, parser, positional.at(1),
                                               [&](const QStringList &domains, core::Mode mode) {
                                                   if (!start())
                                                       return false;
                                                   engine.prefetchMailRoutes(domains, mode);
                                                   return true;
                                               });
        if (fileRun.jobId.isEmpty())
            return fileRun.exitCode;
        if (!start())
            return ExitFailure;
        engine.workOn(fileRun.jobId);
        return finishFileRun(engine, fileRun);
    }
    if (verb == "verify"_L1 && (parser.isSet(u"output"_s) || parser.isSet(u"column"_s))) {
        return usageError(
            u"verify: --output and --column go with a FILE (no file named '%1')"_s.arg(positional.value(1)));
    }
    if (!start())
        return ExitFailure;
    if (verb == "verify"_L1)
        return runVerify(engine, parser, positional.mid(1));

    if (verb.isEmpty() && !parser.isSet(u"headless"_s) && !windowed)
        err() << "mailcaff: no display found; running the API server only (--headless)." << Qt::endl;

    auto api = std::make_unique<ApiServerControl>(engine);
    // Headless servers log one line per request (never a key: only its visible prefix).
    api->setAccessLog(!windowed);
    if (api->start(options.listen, options.port, options.tls, &error)) {
        out() << "Mailcaff " << MAILCAFF_VERSION << " API listening on " << api->url().toString() << Qt::endl;
    } else {
        err() << "mailcaff: " << error << Qt::endl;
        // A server exists to serve; the window still opens (lists, checks) and can start it elsewhere.
        if (!windowed)
            return ExitFailure;
    }
    out() << "Data folder: " << engine.config().dataDir << Qt::endl;
    out() << "Database: " << engine.database().display() << Qt::endl;

    SignalWatcher signalWatcher;
    std::unique_ptr<ui::MainWindow> window;
    if (windowed) {
        window = std::make_unique<ui::MainWindow>(engine, api.get());
        window->show();
    }
    const int code = QCoreApplication::exec();
    // The window and the server (with their connections) go before the engine they wait on.
    window.reset();
    api.reset();
    engine.stop();
    return code;
}

} // namespace mailcaff::app
