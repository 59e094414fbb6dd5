#pragma once

#include "engine.h"

namespace mailcaff::test {

class DnsTestServer;

/// An engine configuration for tests against loopback servers: `dns` as the only DNS server (one try,
/// short timeout), SMTP on `smtpPort`, short SMTP timeouts and deadline, private targets allowed (every
/// test server is on 127.0.0.0/8).
EngineConfig loopbackEngineConfig(const QString &dataDir, const DnsTestServer &dns, quint16 smtpPort,
                                  int powerDeadlineMs = 4000);

/// A power verification through `engine`, waited for up to `waitMs` with the event loop running; a
/// default result (status error) when it could not start or did not end in time.
core::VerificationResult verifyAndWait(Engine &engine, const QString &email, int waitMs);

/// Writes a generated list for scale tests: a header "name;email;company", then `rows` rows with addresses
/// spread over `domains` domains d0.test … (the company cell quoted, with a comma inside). False on failure.
bool writeGeneratedList(const QString &path, int rows, int domains);

/// MX records for the domains of writeGeneratedList.
void addGeneratedDomains(DnsTestServer &dns, int domains);

} // namespace mailcaff::test
