#pragma once

#include <QList>
#include <QSslCertificate>
#include <QSslConfiguration>
#include <QSslKey>
#include <QStringList>

namespace mailcaff::net {

/// A server's TLS identity: its certificate (first) with any intermediates, and the matching private key.
struct TlsIdentity
{
    QList<QSslCertificate> chain;
    QSslKey key;

    bool isNull() const { return chain.isEmpty() || key.isNull(); }
    /// The configuration a server socket uses: this identity, TLS 1.2 or later, no client certificates.
    QSslConfiguration serverConfiguration() const;
};

/// Reads a PEM certificate file (the server's certificate first, then intermediates) and a PEM private key
/// (PKCS#8 or traditional RSA / EC, unencrypted). Empty on success, otherwise what is wrong in words: a file
/// missing or unreadable, not PEM, a key protected by a passphrase, a key that does not belong to the
/// certificate, a certificate expired or not yet valid. `keyAtFault` tells whether the key file is the one
/// to fix.
QString loadTlsIdentity(const QString &certificatePath, const QString &keyPath, TlsIdentity *out,
                        bool *keyAtFault = nullptr);

/// A new P-256 key and a self-signed certificate for `dnsNames` (the first is the subject's CN; "localhost"
/// when empty) plus 127.0.0.1 and ::1, valid from an hour ago for `validDays` days (negative: already
/// expired, for tests). It is its own CA, so a client that adds it to its CA list verifies it like a real
/// chain. False when OpenSSL fails.
bool makeSelfSignedIdentity(const QStringList &dnsNames, int validDays, QSslCertificate *certificate,
                            QSslKey *privateKey);

/// Writes a certificate and its key as PEM files, the key readable by its owner only. Empty on success,
/// otherwise what failed.
QString writeTlsIdentity(const QSslCertificate &certificate, const QSslKey &privateKey,
                         const QString &certificatePath, const QString &keyPath);

} // namespace mailcaff::net
