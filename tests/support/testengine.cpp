#include "testengine.h"

#include "dnstestserver.h"

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

} // namespace mailcaff::test
