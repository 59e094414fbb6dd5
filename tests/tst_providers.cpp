// Provider intelligence: MX host names to `smtp_provider`, and which providers accept every RCPT.
#include "verify/providers.h"

#include <QTest>

using mailcaff::verify::identifyProvider;
using namespace Qt::StringLiterals;

class TestProviders : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void identify_data();
    void identify();
};

void TestProviders::identify_data()
{
    QTest::addColumn<QStringList>("mx");
    QTest::addColumn<QString>("provider");
    QTest::addColumn<bool>("acceptsAll");
    QTest::addRow("gmail") << QStringList{u"gmail-smtp-in.l.google.com"_s,
                                          u"alt1.gmail-smtp-in.l.google.com"_s}
                           << "google" << false;
    QTest::addRow("workspace") << QStringList{u"aspmx.l.google.com"_s} << "google" << false;
    QTest::addRow("workspace new style") << QStringList{u"smtp.google.com"_s} << "google" << false;
    QTest::addRow("microsoft 365") << QStringList{u"contoso-com.mail.protection.outlook.com"_s} << "microsoft"
                                   << false;
    QTest::addRow("outlook consumer")
        << QStringList{u"outlook-com.olc.protection.outlook.com"_s} << "microsoft" << false;
    QTest::addRow("yahoo") << QStringList{u"mta5.am0.yahoodns.net"_s} << "yahoo" << true;
    QTest::addRow("aol") << QStringList{u"mx-aol.mail.gm0.yahoodns.net"_s} << "yahoo" << true;
    QTest::addRow("icloud") << QStringList{u"mx01.mail.icloud.com"_s} << "apple" << false;
    QTest::addRow("zoho") << QStringList{u"mx.zoho.com"_s} << "zoho" << false;
    QTest::addRow("zoho eu") << QStringList{u"mx.zoho.eu"_s} << "zoho" << false;
    QTest::addRow("proofpoint") << QStringList{u"mx0a-001b2d01.pphosted.com"_s} << "proofpoint" << true;
    QTest::addRow("proofpoint essentials")
        << QStringList{u"mx1-us1.ppe-hosted.com"_s} << "proofpoint" << true;
    QTest::addRow("mimecast") << QStringList{u"eu-smtp-inbound-1.mimecast.com"_s} << "mimecast" << true;
    QTest::addRow("barracuda") << QStringList{u"d123.ess.barracudanetworks.com"_s} << "barracuda" << true;
    QTest::addRow("cisco ironport") << QStringList{u"mx1.hc123-45.iphmx.com"_s} << "cisco" << true;
    QTest::addRow("symantec messagelabs")
        << QStringList{u"cluster1.eu.messagelabs.com"_s} << "broadcom" << true;
    QTest::addRow("proton") << QStringList{u"mail.protonmail.ch"_s} << "proton" << false;
    QTest::addRow("yandex") << QStringList{u"mx.yandex.ru"_s} << "yandex" << false;
    QTest::addRow("fastmail") << QStringList{u"in1-smtp.messagingengine.com"_s} << "fastmail" << false;
    QTest::addRow("gmx") << QStringList{u"mx00.emig.gmx.net"_s} << "gmx" << false;
    QTest::addRow("godaddy") << QStringList{u"mx1.secureserver.net"_s} << "godaddy" << false;
    QTest::addRow("ionos") << QStringList{u"mx00.ionos.com"_s} << "ionos" << false;
    QTest::addRow("first recognised MX wins")
        << QStringList{u"mail.example.org"_s, u"aspmx.l.google.com"_s} << "google" << false;
    QTest::addRow("case-insensitive") << QStringList{u"ASPMX.L.GOOGLE.COM"_s} << "google" << false;
    QTest::addRow("suffix must be a whole label") << QStringList{u"mx.notgoogle.com"_s} << "" << false;
    QTest::addRow("own server") << QStringList{u"mail.acme-widgets.com"_s} << "" << false;
    QTest::addRow("no MX") << QStringList{} << "" << false;
}

void TestProviders::identify()
{
    QFETCH(QStringList, mx);
    QFETCH(QString, provider);
    QFETCH(bool, acceptsAll);
    const auto p = identifyProvider(mx);
    QCOMPARE(p.name, provider);
    QCOMPARE(p.acceptsAllAtRcpt, acceptsAll);
}

QTEST_APPLESS_MAIN(TestProviders)
#include "tst_providers.moc"
