#pragma once

#include <QSslCertificate>
#include <QSslKey>
#include <QStringList>

namespace mailcaff::test {

/// A P-256 key and a self-signed certificate for loopback test servers (SMTP STARTTLS, the HTTPS webhook
/// receiver): the SAN names `dnsNames`, 127.0.0.1 and ::1, and it is its own CA, so a client that adds it to
/// its CA list verifies it like a real chain. False when OpenSSL fails.
bool makeSelfSignedIdentity(const QStringList &dnsNames, QSslCertificate *certificate, QSslKey *privateKey);

} // namespace mailcaff::test
