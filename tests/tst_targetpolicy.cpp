// The SSRF guard: which addresses found in DNS answers the engine may connect to.
#include "net/targetpolicy.h"

#include <QTest>

using mailcaff::net::TargetPolicy;
using namespace Qt::StringLiterals;

class TestTargetPolicy : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void classification_data();
    void classification();
    void allowPrivateLiftsTheBlock();
    void allowedNetworksOnly();
    void parseSubnets_data();
    void parseSubnets();
};

void TestTargetPolicy::classification_data()
{
    QTest::addColumn<QString>("address");
    QTest::addColumn<bool>("isPublic");
    const QList<QPair<const char *, bool>> rows = {
        {"8.8.8.8", true},
        {"1.1.1.1", true},
        {"142.250.27.26", true},
        {"2a00:1450:4001:80e::200e", true},
        {"2606:4700::1111", true},
        {"127.0.0.1", false},
        {"127.45.6.7", false},
        {"10.0.0.1", false},
        {"10.255.255.255", false},
        {"172.16.0.1", false},
        {"172.31.255.255", false},
        {"172.32.0.1", true},
        {"192.168.1.1", false},
        {"169.254.169.254", false}, // cloud metadata
        {"100.64.0.1", false},
        {"100.128.0.1", true},
        {"0.0.0.0", false},
        {"0.1.2.3", false},
        {"255.255.255.255", false},
        {"224.0.0.251", false},
        {"240.0.0.1", false},
        {"192.0.2.10", false},
        {"198.51.100.7", false},
        {"203.0.113.9", false},
        {"198.18.0.1", false},
        {"::", false},
        {"::1", false},
        {"fe80::1", false},
        {"fd12:3456:789a::1", false},
        {"fc00::1", false},
        {"ff02::1", false},
        {"2001:db8::1", false},
        {"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
        {"::ffff:10.1.2.3", false},
        {"::ffff:8.8.8.8", true},
        {"64:ff9b::a9fe:a9fe", false}, // NAT64 of 169.254.169.254
        {"64:ff9b::808:808", true},
        {"2002:c0a8:0101::1", false}, // 6to4 of 192.168.1.1
        {"2002:0808:0808::1", true},
    };
    for (const auto &[address, isPublic] : rows)
        QTest::addRow("%s", address) << QString::fromLatin1(address) << isPublic;
}

void TestTargetPolicy::classification()
{
    QFETCH(QString, address);
    QFETCH(bool, isPublic);
    const QHostAddress a(address);
    QVERIFY2(!a.isNull(), qPrintable(address));
    QCOMPARE(TargetPolicy::isPublic(a), isPublic);
    QCOMPARE(TargetPolicy().permits(a), isPublic);
    QVERIFY(!TargetPolicy::describe(a).isEmpty());
    if (!isPublic)
        QVERIFY2(!TargetPolicy::describe(a).contains(u"public"_s), qPrintable(TargetPolicy::describe(a)));
}

void TestTargetPolicy::allowPrivateLiftsTheBlock()
{
    const TargetPolicy open(true);
    QVERIFY(open.permits(QHostAddress(u"127.0.0.1"_s)));
    QVERIFY(open.permits(QHostAddress(u"::1"_s)));
    QVERIFY(open.permits(QHostAddress(u"8.8.8.8"_s)));
    QVERIFY(!open.permits(QHostAddress()));
    QVERIFY(!TargetPolicy(false).permits(QHostAddress()));
}

void TestTargetPolicy::allowedNetworksOnly()
{
    // --allow-target 10.0.0.25,fd00:1::/64: those, and public addresses; nothing else private.
    QString error;
    const auto subnets = TargetPolicy::parseSubnets(u"10.0.0.25, fd00:1::/64"_s, &error);
    QVERIFY2(subnets, qPrintable(error));
    const TargetPolicy policy(false, *subnets);
    QVERIFY(policy.permits(QHostAddress(u"10.0.0.25"_s)));
    QVERIFY(policy.permits(QHostAddress(u"::ffff:10.0.0.25"_s))); // the same address, mapped
    const auto mapped = TargetPolicy::parseSubnets(u"::ffff:10.1.0.0/112"_s, &error);
    QVERIFY2(mapped, qPrintable(error));
    QVERIFY(TargetPolicy(false, *mapped).permits(QHostAddress(u"10.1.2.3"_s)));
    QVERIFY(!TargetPolicy(false, *mapped).permits(QHostAddress(u"10.2.0.1"_s)));
    QVERIFY(policy.permits(QHostAddress(u"fd00:1::25"_s)));
    QVERIFY(policy.permits(QHostAddress(u"8.8.8.8"_s)));
    QVERIFY(!policy.permits(QHostAddress(u"10.0.0.26"_s)));
    QVERIFY(!policy.permits(QHostAddress(u"fd00:2::25"_s)));
    QVERIFY(!policy.permits(QHostAddress(u"127.0.0.1"_s)));
    QVERIFY(!policy.permits(QHostAddress(u"169.254.169.254"_s)));
    QVERIFY(!policy.permits(QHostAddress()));
}

void TestTargetPolicy::parseSubnets_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("count"); // -1: refused
    QTest::addRow("one address") << u"10.0.0.25"_s << 1;
    QTest::addRow("networks") << u"10.0.0.0/8,fd00::/8"_s << 2;
    QTest::addRow("empty") << QString() << 0;
    QTest::addRow("a name") << u"mail.internal"_s << -1;
    QTest::addRow("prefix too long") << u"10.0.0.0/33"_s << -1;
    QTest::addRow("one bad among good") << u"10.0.0.1,10.0.0.300"_s << -1;
    QTest::addRow("everything") << u"0.0.0.0/0"_s << -1;
    QTest::addRow("everything, IPv6") << u"::/0"_s << -1;
}

void TestTargetPolicy::parseSubnets()
{
    QFETCH(QString, text);
    QFETCH(int, count);
    QString error;
    const auto subnets = TargetPolicy::parseSubnets(text, &error);
    if (count < 0) {
        QVERIFY(!subnets);
        QVERIFY2(error.startsWith(u"'"_s), qPrintable(error));
    } else {
        QVERIFY2(subnets, qPrintable(error));
        QCOMPARE(subnets->size(), count);
    }
}

QTEST_APPLESS_MAIN(TestTargetPolicy)
#include "tst_targetpolicy.moc"
