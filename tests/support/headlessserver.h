#pragma once

#include "dnstestserver.h"
#include "procstats.h"

#include <QList>
#include <QProcess>
#include <QTemporaryDir>
#include <QUrl>

#include <memory>

namespace mailcaff::test {

/// A real `mailcaff --headless` process for benchmarks: a fresh data folder, a scale-plan API key, a port the
/// system picks. Stopped (SIGTERM) when destroyed.
class HeadlessServer
{
public:
    HeadlessServer() = default;
    ~HeadlessServer();
    Q_DISABLE_COPY_MOVE(HeadlessServer)

    /// The database the key and the server use (storage::Location); default: SQLite in the data folder.
    void setDatabase(const QString &location) { m_database = location; }
    /// A data folder of the caller's (kept across restarts) instead of a fresh one.
    void setDataDir(const QString &path) { m_dataDir = path; }
    /// An existing key: start() creates none.
    void setKey(const QByteArray &key) { m_key = key; }
    /// Runs `binary` (extra options after --headless, e.g. --dns-server). False with `error` set when the key
    /// cannot be made or the server does not say where it listens within 20 s.
    bool start(const QString &binary, const QStringList &options, QString *error);
    /// The quick-mode benchmarks' set-up: a loopback DNS server (kept here) that answers MX for `domains`
    /// names `<stem>0.test` to `<stem>N.test`, and the server started against it.
    bool startWithDomains(const QString &binary, const QString &stem, int domains, QString *error);
    const DnsTestServer &dns() const { return *m_dns; } ///< after startWithDomains()
    QByteArray key() const { return m_key; }
    /// Another scale-plan key (250,000 credits a month) in the same database, made by `binary`; empty with
    /// `error` set when it cannot be.
    QByteArray createKey(const QString &binary, QString *error) const;
    QUrl base() const { return m_base; } ///< http://127.0.0.1:PORT
    quint16 port() const { return quint16(m_base.port()); }
    qint64 pid() const { return m_process.processId(); }
    /// Ends the process with SIGKILL (a crash: nothing of it runs after) and waits for it.
    void kill();
    /// Ends it with SIGTERM (a clean stop) and waits for it.
    void stop();
    /// What it has written to stderr (its log) since the last call.
    QString takeLog() { return QString::fromUtf8(m_process.readAllStandardError()); }
    // While it runs (nothing of it, or -1, once it has ended).
    /// Its peak resident memory so far (VmHWM), in KiB; -1 when unknown.
    qint64 peakRssKb() const { return pid() != 0 ? proc::statusKb("VmHWM:", pid()) : -1; }
    /// Its resident memory now (VmRSS), in KiB; -1 when unknown.
    qint64 residentKb() const { return pid() != 0 ? proc::statusKb("VmRSS:", pid()) : -1; }
    /// Its open file descriptors (sockets included) now.
    int openFiles() const { return pid() != 0 ? proc::openFiles(pid()) : 0; }
    /// Its open sockets now.
    int openSockets() const { return pid() != 0 ? proc::openSockets(pid()) : 0; }

private:
    QString dataDir() const;
    QStringList databaseOptions() const;

    std::unique_ptr<DnsTestServer> m_dns;
    QTemporaryDir m_data;
    QString m_database;
    QString m_dataDir;
    QProcess m_process;
    QByteArray m_key;
    QUrl m_base;
};

/// The p-th percentile (0 to 100) of `values`, 0 when empty.
double percentile(QList<double> values, double p);

} // namespace mailcaff::test
