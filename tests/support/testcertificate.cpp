#include "testcertificate.h"

#include "net/tlsidentity.h"

namespace mailcaff::test {

bool makeSelfSignedIdentity(const QStringList &dnsNames, QSslCertificate *certificate, QSslKey *privateKey)
{
    return net::makeSelfSignedIdentity(dnsNames, 1, certificate, privateKey);
}

} // namespace mailcaff::test
