// HTTPS identities: loading a certificate and key the way users have them (PEM, traditional or PKCS#8),
// and every way that goes wrong said in words; self-signed ones made and written privately.
#include "net/tlsidentity.h"

#include <QFile>
#include <QFileInfo>
#include <QSslServer>
#include <QSslSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace Qt::StringLiterals;

class TestTlsIdentity : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void loadsWhatItWrote();
    void loadsAChainAndPkcs8();
    void refusals_data();
    void refusals();
    void servesAHandshake();

private:
    QString write(const QString &name, const QByteArray &bytes);
    QTemporaryDir m_dir;
    QSslCertificate m_cert, m_other;
    QSslKey m_key, m_otherKey;
    QString m_certPath, m_keyPath;
};

QString TestTlsIdentity::write(const QString &name, const QByteArray &bytes)
{
    QFile f(m_dir.filePath(name));
    if (!f.open(QIODevice::WriteOnly) || f.write(bytes) != bytes.size())
        return {};
    return f.fileName();
}

void TestTlsIdentity::initTestCase()
{
    QVERIFY(net::makeSelfSignedIdentity({u"api.example.test"_s}, 30, &m_cert, &m_key));
    QVERIFY(net::makeSelfSignedIdentity({u"other.test"_s}, 30, &m_other, &m_otherKey));
    m_certPath = m_dir.filePath(u"server.crt"_s);
    m_keyPath = m_dir.filePath(u"private/server.key"_s); // a folder that does not exist yet
    QCOMPARE(net::writeTlsIdentity(m_cert, m_key, m_certPath, m_keyPath), QString());
}

void TestTlsIdentity::loadsWhatItWrote()
{
    QCOMPARE(QFileInfo(m_keyPath).permissions() &
                 ~(QFile::ReadUser | QFile::WriteUser | QFile::ReadOwner | QFile::WriteOwner),
             QFile::Permissions());
    net::TlsIdentity identity;
    QCOMPARE(net::loadTlsIdentity(m_certPath, m_keyPath, &identity), QString());
    QCOMPARE(identity.chain.size(), 1);
    QCOMPARE(identity.chain.constFirst(), m_cert);
    QCOMPARE(identity.key.algorithm(), QSsl::Ec);
    QVERIFY(!identity.isNull());
    QVERIFY(identity.chain.constFirst()
                .subjectAlternativeNames()
                .values(QSsl::DnsEntry)
                .contains(u"api.example.test"_s));
}

void TestTlsIdentity::loadsAChainAndPkcs8()
{
    // A certificate file with an intermediate after the server's own, and a key in another PEM form than
    // the one writeTlsIdentity uses (Qt writes "EC PRIVATE KEY"; OpenSSL tools write PKCS#8).
    const QString chain = write(u"chain.crt"_s, m_cert.toPem() + m_other.toPem());
    QByteArray keyPem = m_key.toPem();
    QVERIFY(keyPem.contains("BEGIN EC PRIVATE KEY") || keyPem.contains("BEGIN PRIVATE KEY"));
    net::TlsIdentity identity;
    QCOMPARE(net::loadTlsIdentity(chain, m_keyPath, &identity), QString());
    QCOMPARE(identity.chain.size(), 2);
    QCOMPARE(identity.serverConfiguration().localCertificateChain().size(), 2);
}

void TestTlsIdentity::refusals_data()
{
    QTest::addColumn<QString>("certificate");
    QTest::addColumn<QString>("key");
    QTest::addColumn<QString>("expected");
    QTest::addColumn<bool>("keyAtFault");
    QSslCertificate expired;
    QSslKey expiredKey;
    QVERIFY(net::makeSelfSignedIdentity({u"old.test"_s}, -1, &expired, &expiredKey));
    const QString expiredCert = write(u"expired.crt"_s, expired.toPem());
    const QString expiredKeyPath = write(u"expired.key"_s, expiredKey.toPem());
    const QString otherKey = write(u"other.key"_s, m_otherKey.toPem());
    const QString encrypted = write(u"encrypted.key"_s, m_key.toPem("secret"));
    const QString garbage =
        write(u"garbage.pem"_s, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE "
                                "KEY-----\n");
    const QString empty = write(u"empty.pem"_s, {});

    QTest::addRow("no certificate given") << QString() << m_keyPath << "no certificate file" << false;
    QTest::addRow("certificate missing")
        << m_dir.filePath(u"nope.crt"_s) << m_keyPath << "does not exist" << false;
    QTest::addRow("key missing") << m_certPath << m_dir.filePath(u"nope.key"_s) << "does not exist" << true;
    QTest::addRow("certificate empty") << empty << m_keyPath << "no PEM certificate" << false;
    QTest::addRow("key in the certificate's place")
        << m_keyPath << m_keyPath << "no PEM certificate" << false;
    QTest::addRow("certificate in the key's place") << m_certPath << m_certPath << "no private key" << true;
    QTest::addRow("key not PEM") << m_certPath << empty << "not a PEM private key" << true;
    QTest::addRow("key corrupt") << m_certPath << garbage << "no private key" << true;
    QTest::addRow("key with a passphrase") << m_certPath << encrypted << "passphrase" << true;
    QTest::addRow("someone else's key") << m_certPath << otherKey << "does not belong" << true;
    QTest::addRow("expired") << expiredCert << expiredKeyPath << "expired on" << false;
}

void TestTlsIdentity::refusals()
{
    QFETCH(QString, certificate);
    QFETCH(QString, key);
    QFETCH(QString, expected);
    QFETCH(bool, keyAtFault);
    net::TlsIdentity identity;
    bool fault = !keyAtFault;
    const QString problem = net::loadTlsIdentity(certificate, key, &identity, &fault);
    QVERIFY2(problem.contains(expected), qPrintable(problem));
    QCOMPARE(fault, keyAtFault);
    QVERIFY(identity.isNull());
}

void TestTlsIdentity::servesAHandshake()
{
    // The loaded identity is one a TLS client accepts when it trusts the certificate.
    net::TlsIdentity identity;
    QCOMPARE(net::loadTlsIdentity(m_certPath, m_keyPath, &identity), QString());
    QSslServer listener;
    listener.setSslConfiguration(identity.serverConfiguration());
    QVERIFY(listener.listen(QHostAddress::LocalHost, 0));
    QSslSocket client;
    QSslConfiguration config = QSslConfiguration::defaultConfiguration();
    config.setCaCertificates({m_cert});
    client.setSslConfiguration(config);
    client.setPeerVerifyName(u"api.example.test"_s);
    client.connectToHostEncrypted(u"127.0.0.1"_s, listener.serverPort());
    QTRY_VERIFY_WITH_TIMEOUT(client.isEncrypted(), 10000);
    QCOMPARE(client.peerCertificate(), m_cert);
    QVERIFY(client.sessionProtocol() == QSsl::TlsV1_2 || client.sessionProtocol() == QSsl::TlsV1_3);
}

QTEST_MAIN(TestTlsIdentity)
#include "tst_tlsidentity.moc"
