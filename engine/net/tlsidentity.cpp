#include "tlsidentity.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSaveFile>

#include <memory>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

using namespace Qt::StringLiterals;

namespace mailcaff::net {

namespace {

template<typename T, void (*Free)(T *)> struct Deleter
{
    void operator()(T *p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

QByteArray bioContents(BIO *bio)
{
    char *data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return QByteArray(data, qsizetype(size));
}

BioPtr memoryBio(const QByteArray &bytes)
{
    return BioPtr(BIO_new_mem_buf(bytes.constData(), int(bytes.size())));
}

/// Never asks for a passphrase (OpenSSL's default would prompt on the terminal): encrypted keys fail.
int noPassphrase(char *, int, int, void *)
{
    return -1;
}

QString readSmallFile(const QString &path, const QString &what, QByteArray *out)
{
    if (path.trimmed().isEmpty())
        return u"no %1 file given"_s.arg(what);
    QFile file(path);
    if (!QFileInfo(path).isFile())
        return u"%1 file %2 does not exist"_s.arg(what, QDir::toNativeSeparators(path));
    if (QFileInfo(path).size() > 1024 * 1024)
        return u"%1 file %2 is too big to be a PEM file"_s.arg(what, QDir::toNativeSeparators(path));
    if (!file.open(QIODevice::ReadOnly))
        return u"cannot read %1 file %2: %3"_s.arg(what, QDir::toNativeSeparators(path), file.errorString());
    *out = file.readAll();
    return {};
}

} // namespace

QSslConfiguration TlsIdentity::serverConfiguration() const
{
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.setLocalCertificateChain(chain);
    config.setPrivateKey(key);
    config.setProtocol(QSsl::TlsV1_2OrLater);
    config.setPeerVerifyMode(QSslSocket::VerifyNone);
    return config;
}

QString loadTlsIdentity(const QString &certificatePath, const QString &keyPath, TlsIdentity *out,
                        bool *keyAtFault)
{
    bool ignored = false;
    bool &keyFault = keyAtFault ? *keyAtFault : ignored;
    keyFault = false;
    QByteArray certPem;
    QByteArray keyPem;
    if (QString bad = readSmallFile(certificatePath, u"certificate"_s, &certPem); !bad.isEmpty())
        return bad;
    keyFault = true;
    if (QString bad = readSmallFile(keyPath, u"private key"_s, &keyPem); !bad.isEmpty())
        return bad;
    keyFault = false;

    const QList<QSslCertificate> chain = QSslCertificate::fromData(certPem, QSsl::Pem);
    BioPtr certBio = memoryBio(certPem);
    X509Ptr cert(PEM_read_bio_X509(certBio.get(), nullptr, noPassphrase, nullptr));
    if (chain.isEmpty() || !cert)
        return u"%1 holds no PEM certificate (-----BEGIN CERTIFICATE-----)"_s.arg(
            QDir::toNativeSeparators(certificatePath));
    keyFault = true;

    if (!keyPem.contains("-----BEGIN "))
        return u"%1 is not a PEM private key (-----BEGIN PRIVATE KEY-----)"_s.arg(
            QDir::toNativeSeparators(keyPath));
    if (keyPem.contains("ENCRYPTED"))
        return u"the private key is protected by a passphrase; give an unencrypted key file (readable only "
               "by you), e.g. from: openssl pkey -in KEY -out PLAIN"_s;
    BioPtr keyBio = memoryBio(keyPem);
    PkeyPtr key(PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassphrase, nullptr));
    ERR_clear_error();
    if (!key)
        return u"%1 holds no private key OpenSSL can read"_s.arg(QDir::toNativeSeparators(keyPath));
    if (X509_check_private_key(cert.get(), key.get()) != 1) {
        ERR_clear_error();
        return u"the private key does not belong to the certificate"_s;
    }
    keyFault = false;

    const QSslCertificate &leaf = chain.constFirst();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (leaf.expiryDate() < now)
        return u"the certificate expired on %1"_s.arg(leaf.expiryDate().toString(Qt::ISODate));
    if (leaf.effectiveDate() > now)
        return u"the certificate is not valid before %1"_s.arg(leaf.effectiveDate().toString(Qt::ISODate));

    // Qt wants the key's algorithm up front: hand it the key as PKCS#8 and the algorithm OpenSSL found.
    QSsl::KeyAlgorithm algorithm = QSsl::Opaque;
    switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
        algorithm = QSsl::Rsa;
        break;
    case EVP_PKEY_EC:
        algorithm = QSsl::Ec;
        break;
    case EVP_PKEY_DSA:
        algorithm = QSsl::Dsa;
        break;
    default:
        keyFault = true;
        return u"the private key's algorithm is not supported (use RSA or ECDSA)"_s;
    }
    BioPtr pkcs8(BIO_new(BIO_s_mem()));
    if (!pkcs8 ||
        PEM_write_bio_PrivateKey(pkcs8.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        keyFault = true;
        return u"the private key could not be converted"_s;
    }
    QSslKey qtKey(bioContents(pkcs8.get()), algorithm, QSsl::Pem, QSsl::PrivateKey);
    if (qtKey.isNull()) {
        keyFault = true;
        return u"the private key could not be loaded"_s;
    }
    out->chain = chain;
    out->key = qtKey;
    return {};
}

bool makeSelfSignedIdentity(const QStringList &dnsNames, int validDays, QSslCertificate *certificate,
                            QSslKey *privateKey)
{
    PkeyPtr key(EVP_EC_gen("P-256"));
    X509Ptr cert(X509_new());
    if (!key || !cert)
        return false;
    quint64 serial = 0;
    RAND_bytes(reinterpret_cast<unsigned char *>(&serial), sizeof serial);
    const QByteArray cn = dnsNames.isEmpty() ? QByteArray("localhost") : dnsNames.constFirst().toLatin1();
    QByteArray san;
    for (const QString &name : dnsNames)
        san += "DNS:" + name.toLatin1() + ',';
    san += "IP:127.0.0.1,IP:::1";
    X509_NAME *name = X509_get_subject_name(cert.get());
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    ExtPtr sanExt(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.constData()));
    ExtPtr caExt(X509V3_EXT_conf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    const long notBefore = validDays < 0 ? long(validDays - 1) * 24 * 3600 : -3600;
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert.get()), notBefore) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), long(validDays) * 24 * 3600) ||
        X509_set_pubkey(cert.get(), key.get()) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char *>(cn.constData()), -1, -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 || !sanExt || !caExt ||
        X509_add_ext(cert.get(), sanExt.get(), -1) != 1 || X509_add_ext(cert.get(), caExt.get(), -1) != 1 ||
        X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0)
        return false;

    BioPtr certBio(BIO_new(BIO_s_mem()));
    BioPtr keyBio(BIO_new(BIO_s_mem()));
    if (!certBio || !keyBio || PEM_write_bio_X509(certBio.get(), cert.get()) != 1 ||
        PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
        return false;
    *certificate = QSslCertificate(bioContents(certBio.get()), QSsl::Pem);
    *privateKey = QSslKey(bioContents(keyBio.get()), QSsl::Ec, QSsl::Pem, QSsl::PrivateKey);
    return !certificate->isNull() && !privateKey->isNull();
}

QString writeTlsIdentity(const QSslCertificate &certificate, const QSslKey &privateKey,
                         const QString &certificatePath, const QString &keyPath)
{
    auto write = [](const QString &path, const QByteArray &bytes, QFile::Permissions permissions) -> QString {
        QDir().mkpath(QFileInfo(path).absolutePath());
        QSaveFile file(path);
        // The key is never readable by others, not even for a moment: the temporary file is made private
        // before anything is written to it.
        if (!file.open(QIODevice::WriteOnly) || !file.setPermissions(permissions) || file.write(bytes) < 0 ||
            !file.commit())
            return u"cannot write %1: %2"_s.arg(QDir::toNativeSeparators(path), file.errorString());
        return {};
    };
    if (QString bad = write(keyPath, privateKey.toPem(), QFile::ReadOwner | QFile::WriteOwner);
        !bad.isEmpty())
        return bad;
    return write(certificatePath, certificate.toPem(),
                 QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
}

} // namespace mailcaff::net
