#include "testcertificate.h"

#include <memory>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mailcaff::test {

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

} // namespace

/// A P-256 key and a self-signed certificate whose SAN names `dnsNames`, 127.0.0.1 and ::1. It is its own
/// CA (basicConstraints CA:TRUE), so a client that adds it to its CA list verifies it like a real chain.
bool makeSelfSignedIdentity(const QStringList &dnsNames, QSslCertificate *certificate, QSslKey *privateKey)
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
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), serial >> 1) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600) ||
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

} // namespace mailcaff::test
