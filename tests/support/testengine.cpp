#include "testengine.h"

#include "dnstestserver.h"

#include <QFile>
#include <QTest>

namespace mailcaff::test {

EngineConfig loopbackEngineConfig(const QString &dataDir, const DnsTestServer &dns, quint16 smtpPort,
                                  int powerDeadlineMs)
{
    EngineConfig config;
    config.dataDir = dataDir;
    config.dnsServers = dns.serverString();
    config.dnsTimeoutMs = 400;
    config.dnsTries = 1;
    config.smtpPort = smtpPort;
    config.allowPrivateTargets = true;
    config.smtpConnectTimeoutMs = 500;
    config.smtpCommandTimeoutMs = 1500;
    config.powerDeadlineMs = powerDeadlineMs;
    return config;
}

core::VerificationResult verifyAndWait(Engine &engine, const QString &email, int waitMs)
{
    std::optional<core::VerificationResult> result;
    QObject context;
    if (!engine.verify(email, core::Mode::Power, &context,
                       [&](const core::VerificationResult &r) { result = r; }))
        return {};
    if (!QTest::qWaitFor([&] { return result.has_value(); }, waitMs))
        return {};
    return *result;
}

bool writeGeneratedList(const QString &path, int rows, int domains)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        return false;
    QByteArray chunk = "name;email;company\n";
    for (int i = 0; i < rows; ++i) {
        chunk += "Person " + QByteArray::number(i) + ";user" + QByteArray::number(i) + "@d" +
                 QByteArray::number(i % domains) + ".test;\"Company " + QByteArray::number(i % 97) +
                 ", Inc.\"\n";
        if (chunk.size() > (1 << 20)) {
            if (f.write(chunk) < 0)
                return false;
            chunk.clear();
        }
    }
    return f.write(chunk) >= 0 && f.flush();
}

void addGeneratedDomains(DnsTestServer &dns, int domains)
{
    for (int d = 0; d < domains; ++d)
        dns.addMx(QStringLiteral("d%1.test").arg(d), 10, QStringLiteral("mx.d%1.test").arg(d));
}

} // namespace mailcaff::test
