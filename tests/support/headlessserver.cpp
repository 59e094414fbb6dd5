#include "headlessserver.h"

#include "procstats.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QRegularExpression>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

HeadlessServer::~HeadlessServer()
{
    if (m_process.state() != QProcess::NotRunning) {
        m_process.terminate();
        if (!m_process.waitForFinished(10000))
            m_process.kill();
    }
}

QByteArray HeadlessServer::createKey(const QString &binary, QString *error) const
{
    QProcess keys;
    keys.start(binary, QStringList{u"keys"_s, u"create"_s, u"--name"_s, u"bench"_s, u"--plan"_s, u"scale"_s,
                                   u"--data-dir"_s, dataDir()} +
                           databaseOptions());
    keys.waitForFinished(30000);
    const QByteArray key = keys.readAllStandardOutput().trimmed().split('\n').last();
    if (keys.exitCode() != 0 || key.isEmpty()) {
        *error = u"mailcaff keys create failed: "_s + QString::fromUtf8(keys.readAllStandardError());
        return {};
    }
    return key;
}

QString HeadlessServer::dataDir() const
{
    return m_dataDir.isEmpty() ? m_data.path() : m_dataDir;
}

QStringList HeadlessServer::databaseOptions() const
{
    return m_database.isEmpty() ? QStringList() : QStringList{u"--database"_s, m_database};
}

bool HeadlessServer::start(const QString &binary, const QStringList &options, QString *error)
{
    const QStringList database = databaseOptions();
    const QString data = dataDir();
    if (m_key.isEmpty()) {
        m_key = createKey(binary, error);
        if (m_key.isEmpty())
            return false;
    }
    m_process.start(binary, QStringList{u"--headless"_s, u"--port"_s, u"0"_s, u"--data-dir"_s, data} +
                                database + options);
    static const QRegularExpression listening(u"listening on (http://127\\.0\\.0\\.1:\\d+)/api/v1"_s);
    QString banner;
    QElapsedTimer wait;
    wait.start();
    while (!listening.match(banner).hasMatch() && wait.elapsed() < 20000 &&
           m_process.state() != QProcess::NotRunning) {
        m_process.waitForReadyRead(200);
        banner += QString::fromUtf8(m_process.readAllStandardOutput());
    }
    const auto match = listening.match(banner);
    if (!match.hasMatch()) {
        *error = u"mailcaff did not start: "_s + QString::fromUtf8(m_process.readAllStandardError());
        return false;
    }
    m_base = QUrl(match.captured(1));
    return true;
}

void HeadlessServer::stop()
{
    m_process.terminate();
    if (!m_process.waitForFinished(20000))
        m_process.kill();
}

void HeadlessServer::kill()
{
    m_process.kill();
    m_process.waitForFinished(10000);
}

bool HeadlessServer::startWithDomains(const QString &binary, const QString &stem, int domains, QString *error)
{
    m_dns = std::make_unique<DnsTestServer>();
    if (!m_dns->listen()) {
        *error = QStringLiteral("cannot start the DNS server");
        return false;
    }
    for (int d = 0; d < domains; ++d)
        m_dns->addMx(QStringLiteral("%1%2.test").arg(stem).arg(d), 10,
                     QStringLiteral("mx.%1%2.test").arg(stem).arg(d));
    return start(binary, {QStringLiteral("--dns-server"), m_dns->serverString()}, error);
}

double percentile(QList<double> values, double p)
{
    if (values.isEmpty())
        return 0;
    std::sort(values.begin(), values.end());
    return values[std::min<qsizetype>(values.size() - 1, qsizetype(p / 100.0 * double(values.size())))];
}

} // namespace mailcaff::test
