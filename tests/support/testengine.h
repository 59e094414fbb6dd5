#pragma once

#include "engine.h"

namespace mailcaff::test {

class DnsTestServer;

/// An engine configuration for tests against loopback servers: `dns` as the only DNS server (one try,
/// short timeout), SMTP on `smtpPort`, short SMTP timeouts and deadline, private targets allowed (every
/// test server is on 127.0.0.0/8).
EngineConfig loopbackEngineConfig(const QString &dataDir, const DnsTestServer &dns, quint16 smtpPort,
                                  int powerDeadlineMs = 4000);

} // namespace mailcaff::test
