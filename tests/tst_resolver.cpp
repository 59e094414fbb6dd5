#include "dns/dnsmessage.h"
#include "dns/resolver.h"
#include "dnstestserver.h"

#include <QPointer>
#include <QTest>
#include <QThread>

#include <memory>
#include <optional>

using namespace Qt::StringLiterals;
using mailcaff::test::DnsTestServer;
using RT = DnsTestServer::RecordType;
using Behaviour = DnsTestServer::Behaviour;
using Transport = DnsTestServer::Transport;

// Readable QCOMPARE failures. DnsStatus is compared through its names: QCOMPARE cannot print it itself,
// because ADL finds mailcaff::dns::toString(DnsStatus), which returns a QString where QTest wants a char *.
#define QCOMPARE_STATUS(actual, expected)                                                                    \
    QCOMPARE(mailcaff::dns::toString(actual), mailcaff::dns::toString(expected))

namespace QTest {
template<> char *toString(const mailcaff::dns::MailRoute::Kind &kind)
{
    static const char *const names[] = {"Mx", "ImplicitMx", "NullMx", "NoMail", "NxDomain", "Failure"};
    return qstrdup(names[int(kind)]);
}
} // namespace QTest

using namespace mailcaff::dns;
Q_DECLARE_METATYPE(DnsStatus)
Q_DECLARE_METATYPE(MailRoute::Kind)

namespace {

// Generous: the machine running the tests may be busy; nothing here is a speed assertion.
constexpr int AnswerWaitMs = 15000;

QStringList describe(const QList<MxRecord> &records)
{
    QStringList out;
    for (const auto &r : records)
        out.append(u"%1 %2"_s.arg(r.preference).arg(r.host));
    return out;
}

QStringList describe(const QList<QHostAddress> &addresses)
{
    QStringList out;
    for (const auto &a : addresses)
        out.append(a.toString());
    return out;
}

} // namespace

class TestResolver : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<DnsTestServer> m_dns;
    std::unique_ptr<Resolver> m_resolver;

    // Synchronous wrappers for the checks; the shared result outlives a callback that comes too late.
    template<typename Answer, typename Lookup> Answer wait(Lookup lookup)
    {
        auto result = std::make_shared<std::optional<Answer>>();
        lookup([result](const Answer &answer) { *result = answer; });
        if (!QTest::qWaitFor([&] { return result->has_value(); }, AnswerWaitMs)) {
            Answer none;
            none.error = u"test: no answer within the wait"_s;
            return none;
        }
        return **result;
    }
    MxAnswer mx(const QString &name)
    {
        return wait<MxAnswer>([&](auto done) { m_resolver->lookupMx(name, this, done); });
    }
    AddressAnswer addresses(const QString &name)
    {
        return wait<AddressAnswer>([&](auto done) { m_resolver->lookupAddresses(name, this, done); });
    }
    MailRoute route(const QString &name)
    {
        return wait<MailRoute>([&](auto done) { m_resolver->lookupMailRoute(name, this, done); });
    }

    void setupScenario(const QString &name, const QString &domain);

private Q_SLOTS:
    void init();
    void cleanup();

    void parseMessage_data();
    void parseMessage();

    void mxSortedByPreference();
    void mxStatus_data();
    void mxStatus();
    void mailRoute_data();
    void mailRoute();
    void invalidNames_data();
    void invalidNames();

    void cnameInAnswer();
    void cnameToNameWithoutMx();
    void cnameBare();
    void cnameLoop_data();
    void cnameLoop();
    void cnameChainLength_data();
    void cnameChainLength();

    void truncatedRetriedOverTcp();
    void largeAnswerOverTcp();

    void cacheHonoursTtl();
    void cacheEntryExpires();
    void maxCacheTtlCapsTtl();
    void negativeAnswersCached_data();
    void negativeAnswersCached();
    void negativeTtlFromSoa_data();
    void negativeTtlFromSoa();
    void failuresNotCached_data();
    void failuresNotCached();
    void cacheDisabled();
    void concurrentIdenticalLookupsCoalesced();

    void setServers_data();
    void setServers();
    void lookupAddresses_data();
    void lookupAddresses();

    void contextDestroyedBeforeAnswer();
    void contextDestroyedDuringMailRoute();
    void resolverDestroyedWithLookupsInFlight();
    void reconfiguredWhileLookupInFlight();
    void manyConcurrentLookups();
    void busyForwarderDropsWhatItCannotTake();
    void resolverOnAnotherThread();
};

void TestResolver::init()
{
    m_dns = std::make_unique<DnsTestServer>();
    QVERIFY2(m_dns->listen(), qPrintable(m_dns->errorString()));
    m_resolver = std::make_unique<Resolver>();
    QString error;
    QVERIFY2(m_resolver->setServers(m_dns->serverString(), &error), qPrintable(error));
}

void TestResolver::cleanup()
{
    m_resolver.reset();
    m_dns.reset();
}

// --- The engine's wire parser, on hand-made messages -----------------------------------------------------

void TestResolver::parseMessage_data()
{
    QTest::addColumn<QByteArray>("wire");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("target");  // of the first answer
    QTest::addColumn<int>("ttl");         // of the first answer; -1: not checked
    QTest::addColumn<int>("negativeTtl"); // -1: none

    // Header, then the question "example.com MX IN" at offset 12; the answer starts at offset 29 (0x1d).
    const QByteArray question = "07 6578616d706c65 03 636f6d 00 000f 0001";
    const QByteArray header1 = "1234 8180 0001 0001 0000 0000 ";
    auto wire = [](const QByteArray &hex) { return QByteArray::fromHex(hex); };

    QTest::addRow("compressed MX") << wire(header1 + question +
                                           "c00c 000f 0001 0000012c 0007 000a 02 6d78 c00c")
                                   << true << u"mx.example.com"_s << 300 << -1;
    QTest::addRow("uppercase names lowered") << wire(header1 + "07 4558414d504c45 03 434f4d 00 000f 0001" +
                                                     "c00c 000f 0001 0000003c 0007 000a 02 4d58 c00c")
                                             << true << u"mx.example.com"_s << 60 << -1;
    QTest::addRow("dot inside a label escaped")
        << wire(header1 + question + "c00c 000f 0001 0000012c 0008 000a 03 612e62 c00c") << true
        << u"a\\046b.example.com"_s << 300 << -1;
    QTest::addRow("TTL with top bit is zero (RFC 2181)")
        << wire(header1 + question + "c00c 000f 0001 80000000 0007 000a 02 6d78 c00c") << true
        << u"mx.example.com"_s << 0 << -1;
    QTest::addRow("null MX target is the root")
        << wire(header1 + question + "c00c 000f 0001 0000012c 0003 0000 00") << true << QString() << 300
        << -1;
    QTest::addRow("SOA negative TTL is min(TTL, MINIMUM)")
        << wire("1234 8183 0001 0000 0001 0000" + question +
                "c00c 0006 0001 00000e10 0026 02 6e73 c00c 0a 686f73746d6173746572 c00c"
                " 00000001 00000e10 00000258 00015180 0000003c")
        << true << QString() << -1 << 60;
    QTest::addRow("pointer to itself") << wire(header1 + question + "c01d 000f 0001 0000012c 0003 0000 00")
                                       << false << QString() << -1 << -1;
    QTest::addRow("forward pointer") << wire(header1 + question + "c0ff 000f 0001 0000012c 0003 0000 00")
                                     << false << QString() << -1 << -1;
    QTest::addRow("rdata past the end")
        << wire(header1 + question + "c00c 000f 0001 0000012c 0020 000a 02 6d78 c00c") << false << QString()
        << -1 << -1;
    QTest::addRow("answer count past the end")
        << wire("1234 8180 0001 0002 0000 0000" + question + "c00c 000f 0001 0000012c 0007 000a 02 6d78 c00c")
        << false << QString() << -1 << -1;
    QTest::addRow("shorter than a header") << wire("1234 8180") << false << QString() << -1 << -1;
}

void TestResolver::parseMessage()
{
    QFETCH(QByteArray, wire);
    QFETCH(bool, ok);
    QFETCH(QString, target);
    QFETCH(int, ttl);
    QFETCH(int, negativeTtl);

    QString error;
    const auto message = DnsMessage::parse(wire, &error);
    QCOMPARE(message.has_value(), ok);
    if (!ok) {
        QVERIFY(!error.isEmpty());
        return;
    }
    QCOMPARE(message->questionName, u"example.com"_s);
    if (!message->answers.isEmpty()) {
        QCOMPARE(message->answers.first().name, u"example.com"_s);
        QCOMPARE(message->answers.first().target, target);
        if (ttl >= 0)
            QCOMPARE(message->answers.first().ttl, quint32(ttl));
    }
    QCOMPARE(message->negativeTtl().has_value(), negativeTtl >= 0);
    if (negativeTtl >= 0)
        QCOMPARE(*message->negativeTtl(), quint32(negativeTtl));
}

// --- MX and mail routes ---------------------------------------------------------------------------------

void TestResolver::mxSortedByPreference()
{
    const QString domain = u"sorted.test"_s;
    m_dns->addMx(domain, 30, u"mx-c.sorted.test"_s, 600);
    m_dns->addMx(domain, 10, u"MX-B.Sorted.TEST."_s, 300);
    m_dns->addMx(domain, 20, u"mx-x.sorted.test"_s, 900);
    m_dns->addMx(domain, 10, u"mx-a.sorted.test"_s, 600);

    const MxAnswer answer = mx(domain);
    QCOMPARE_STATUS(answer.status, DnsStatus::Ok);
    QCOMPARE(describe(answer.records), (QStringList{u"10 mx-a.sorted.test"_s, u"10 mx-b.sorted.test"_s,
                                                    u"20 mx-x.sorted.test"_s, u"30 mx-c.sorted.test"_s}));
    QCOMPARE(answer.ttl, 300u); // the smallest TTL of the set
    QVERIFY(!answer.fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);
}

void TestResolver::mxStatus_data()
{
    QTest::addColumn<Behaviour>("behaviour");
    QTest::addColumn<DnsStatus>("status");

    QTest::addRow("servfail") << Behaviour::ServFail << DnsStatus::ServFail;
    QTest::addRow("refused") << Behaviour::Refused << DnsStatus::Refused;
    QTest::addRow("nxdomain") << Behaviour::NxDomain << DnsStatus::NxDomain;
    QTest::addRow("nodata") << Behaviour::NoData << DnsStatus::NoData;
    QTest::addRow("silent: timeout") << Behaviour::Silent << DnsStatus::Timeout;
}

void TestResolver::mxStatus()
{
    QFETCH(Behaviour, behaviour);
    QFETCH(DnsStatus, status);

    const QString domain = u"status.test"_s;
    m_dns->addMx(domain, 10, u"mx.status.test"_s); // the behaviour wins over the records
    m_dns->setBehaviour(domain, behaviour);
    m_resolver->setTimeout(200, 1);

    const MxAnswer answer = mx(domain);
    QCOMPARE_STATUS(answer.status, status);
    QVERIFY(answer.records.isEmpty());
    if (status != DnsStatus::NoData && status != DnsStatus::NxDomain)
        QVERIFY(!answer.error.isEmpty());
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);
}

void TestResolver::setupScenario(const QString &name, const QString &domain)
{
    if (name == u"mx") {
        m_dns->addMx(domain, 20, u"mx2."_s + domain);
        m_dns->addMx(domain, 10, u"mx1."_s + domain);
        m_dns->addA(domain, u"192.0.2.80"_s); // a web server: irrelevant when there are MX records
    } else if (name == u"nullMx") {
        m_dns->addNullMx(domain);
        m_dns->addA(domain, u"192.0.2.80"_s); // RFC 7505: the null MX wins over the implicit MX
    } else if (name == u"nullMxWithRealMx") {
        m_dns->addNullMx(domain);
        m_dns->addMx(domain, 10, u"mx1."_s + domain);
    } else if (name == u"implicitMx") {
        m_dns->addA(domain, u"192.0.2.25"_s);
        m_dns->addAAAA(domain, u"2001:db8::25"_s);
    } else if (name == u"implicitMxV6Only") {
        m_dns->addAAAA(domain, u"2001:db8::25"_s);
    } else if (name == u"noMail") {
        m_dns->addTxt(domain, u"v=spf1 -all"_s);
    } else if (name == u"cnameToHost") {
        m_dns->addCname(domain, u"host.elsewhere.test"_s);
        m_dns->addA(u"host.elsewhere.test"_s, u"192.0.2.26"_s);
    } else if (name == u"nxdomain") {
        // unknown names are NXDOMAIN by default
    } else if (name == u"servfail") {
        m_dns->setBehaviour(domain, Behaviour::ServFail);
    } else if (name == u"refused") {
        m_dns->setBehaviour(domain, Behaviour::Refused);
    } else if (name == u"timeout") {
        m_dns->setBehaviour(domain, Behaviour::Silent);
        m_resolver->setTimeout(200, 1);
    } else {
        QFAIL("unknown scenario");
    }
}

void TestResolver::mailRoute_data()
{
    QTest::addColumn<QString>("scenario");
    QTest::addColumn<MailRoute::Kind>("kind");
    QTest::addColumn<DnsStatus>("failure");
    QTest::addColumn<QStringList>("mx");
    QTest::addColumn<QStringList>("addresses");

    using K = MailRoute::Kind;
    QTest::addRow("mx") << u"mx"_s << K::Mx << DnsStatus::Ok
                        << QStringList{u"10 mx1.route.test"_s, u"20 mx2.route.test"_s} << QStringList{};
    QTest::addRow("null mx") << u"nullMx"_s << K::NullMx << DnsStatus::Ok << QStringList{u"0 ."_s}
                             << QStringList{};
    QTest::addRow("null mx beside a real one") << u"nullMxWithRealMx"_s << K::Mx << DnsStatus::Ok
                                               << QStringList{u"10 mx1.route.test"_s} << QStringList{};
    QTest::addRow("implicit mx") << u"implicitMx"_s << K::ImplicitMx << DnsStatus::Ok
                                 << QStringList{u"0 route.test"_s}
                                 << QStringList{u"192.0.2.25"_s, u"2001:db8::25"_s};
    QTest::addRow("implicit mx, IPv6 only")
        << u"implicitMxV6Only"_s << K::ImplicitMx << DnsStatus::Ok << QStringList{u"0 route.test"_s}
        << QStringList{u"2001:db8::25"_s};
    QTest::addRow("cname to a host without mx")
        << u"cnameToHost"_s << K::ImplicitMx << DnsStatus::Ok << QStringList{u"0 route.test"_s}
        << QStringList{u"192.0.2.26"_s};
    QTest::addRow("no mx, no address")
        << u"noMail"_s << K::NoMail << DnsStatus::Ok << QStringList{} << QStringList{};
    QTest::addRow("nxdomain") << u"nxdomain"_s << K::NxDomain << DnsStatus::Ok << QStringList{}
                              << QStringList{};
    QTest::addRow("servfail") << u"servfail"_s << K::Failure << DnsStatus::ServFail << QStringList{}
                              << QStringList{};
    QTest::addRow("refused") << u"refused"_s << K::Failure << DnsStatus::Refused << QStringList{}
                             << QStringList{};
    QTest::addRow("timeout") << u"timeout"_s << K::Failure << DnsStatus::Timeout << QStringList{}
                             << QStringList{};
}

void TestResolver::mailRoute()
{
    QFETCH(QString, scenario);
    QFETCH(MailRoute::Kind, kind);
    QFETCH(DnsStatus, failure);
    QFETCH(QStringList, mx);
    QFETCH(QStringList, addresses);

    const QString domain = u"route.test"_s;
    setupScenario(scenario, domain);
    const MailRoute r = route(domain);
    QCOMPARE(r.kind, kind);
    QCOMPARE_STATUS(r.failure, failure);
    QCOMPARE(describe(r.mx), mx);
    QCOMPARE(describe(r.addresses), addresses);
    QCOMPARE(r.acceptsMail(), kind == MailRoute::Kind::Mx || kind == MailRoute::Kind::ImplicitMx);
    QVERIFY(!r.fromCache);
}

void TestResolver::invalidNames_data()
{
    QTest::addColumn<QString>("name");
    QTest::addRow("empty") << QString();
    QTest::addRow("dot") << u"."_s;
    QTest::addRow("empty label") << u"a..test"_s;
    QTest::addRow("label over 63") << QString(64, u'a') + u".test"_s;
    QTest::addRow("last label over 63") << u"a."_s + QString(64, u'b');
    QTest::addRow("leading dot") << u".a.test"_s;
    QTest::addRow("backslash") << u"a\\b.test"_s;
    QTest::addRow("non-ASCII") << u"bücher.test"_s;
    QTest::addRow("space") << u"a b.test"_s;
}

void TestResolver::invalidNames()
{
    QFETCH(QString, name);
    const MxAnswer answer = mx(name);
    QCOMPARE_STATUS(answer.status, DnsStatus::Error);
    QVERIFY(!answer.error.isEmpty());
    QCOMPARE_STATUS(addresses(name).status, DnsStatus::Error);
    QCOMPARE(m_dns->totalQueries(), 0);
}

// --- CNAME -----------------------------------------------------------------------------------------------

void TestResolver::cnameInAnswer()
{
    m_dns->addCname(u"alias.test"_s, u"mid.test"_s, 120);
    m_dns->addCname(u"mid.test"_s, u"real.test"_s, 600);
    m_dns->addMx(u"real.test"_s, 10, u"mx.real.test"_s, 900);

    const MxAnswer answer = mx(u"alias.test"_s);
    QCOMPARE_STATUS(answer.status, DnsStatus::Ok);
    QCOMPARE(describe(answer.records), QStringList{u"10 mx.real.test"_s});
    QCOMPARE(answer.ttl, 120u); // the chain is only as good as its shortest link
    QCOMPARE(m_dns->queryCount(u"alias.test"_s, RT::MX), 1);
    QCOMPARE(m_dns->queryCount(u"real.test"_s, RT::MX), 0);
}

void TestResolver::cnameToNameWithoutMx()
{
    // A recursive server answers CNAME + SOA: the target has no MX. No second query needed.
    m_dns->addCname(u"alias.test"_s, u"web.test"_s);
    m_dns->addA(u"web.test"_s, u"192.0.2.1"_s);

    QCOMPARE_STATUS(mx(u"alias.test"_s).status, DnsStatus::NoData);
    QCOMPARE(m_dns->queryCount(u"web.test"_s, RT::MX), 0);
}

void TestResolver::cnameBare()
{
    m_dns->setChaseCnames(false);
    m_dns->addCname(u"alias.test"_s, u"real.test"_s, 60);
    m_dns->addMx(u"real.test"_s, 20, u"mx2.real.test"_s, 900);
    m_dns->addMx(u"real.test"_s, 5, u"mx1.real.test"_s, 900);

    const MxAnswer answer = mx(u"alias.test"_s);
    QCOMPARE_STATUS(answer.status, DnsStatus::Ok);
    QCOMPARE(describe(answer.records), (QStringList{u"5 mx1.real.test"_s, u"20 mx2.real.test"_s}));
    QCOMPARE(answer.ttl, 60u);
    QCOMPARE(m_dns->queryCount(u"alias.test"_s, RT::MX), 1);
    QCOMPARE(m_dns->queryCount(u"real.test"_s, RT::MX), 1);
}

void TestResolver::cnameLoop_data()
{
    QTest::addColumn<bool>("chase");
    QTest::addRow("loop inside one answer") << true;
    QTest::addRow("loop across re-queries") << false;
}

void TestResolver::cnameLoop()
{
    QFETCH(bool, chase);
    m_dns->setChaseCnames(chase);
    m_dns->addCname(u"a.loop.test"_s, u"b.loop.test"_s);
    m_dns->addCname(u"b.loop.test"_s, u"c.loop.test"_s);
    m_dns->addCname(u"c.loop.test"_s, u"a.loop.test"_s);

    const MxAnswer answer = mx(u"a.loop.test"_s);
    QCOMPARE_STATUS(answer.status, DnsStatus::Error);
    QVERIFY2(answer.error.contains(u"loop"_s), qPrintable(answer.error));
    QVERIFY(m_dns->queryCount(u"a.loop.test"_s, RT::MX) == 1);
    QCOMPARE(route(u"b.loop.test"_s).kind, MailRoute::Kind::Failure);
}

void TestResolver::cnameChainLength_data()
{
    QTest::addColumn<int>("links");
    QTest::addColumn<bool>("chase");
    QTest::addColumn<DnsStatus>("status");
    QTest::addRow("8 links in one answer") << 8 << true << DnsStatus::Ok;
    QTest::addRow("9 links in one answer") << 9 << true << DnsStatus::Error;
    QTest::addRow("8 bare links") << 8 << false << DnsStatus::Ok;
    QTest::addRow("9 bare links") << 9 << false << DnsStatus::Error;
}

void TestResolver::cnameChainLength()
{
    QFETCH(int, links);
    QFETCH(bool, chase);
    QFETCH(DnsStatus, status);
    m_dns->setChaseCnames(chase);
    for (int i = 0; i < links; ++i)
        m_dns->addCname(u"c%1.chain.test"_s.arg(i), u"c%1.chain.test"_s.arg(i + 1));
    m_dns->addMx(u"c%1.chain.test"_s.arg(links), 10, u"mx.chain.test"_s);

    const MxAnswer answer = mx(u"c0.chain.test"_s);
    QCOMPARE_STATUS(answer.status, status);
    if (status == DnsStatus::Ok)
        QCOMPARE(describe(answer.records), QStringList{u"10 mx.chain.test"_s});
}

// --- Transport --------------------------------------------------------------------------------------------

void TestResolver::truncatedRetriedOverTcp()
{
    const QString domain = u"big.test"_s;
    m_dns->addMx(domain, 10, u"mx1.big.test"_s);
    m_dns->addMx(domain, 20, u"mx2.big.test"_s);
    m_dns->setBehaviour(domain, Behaviour::Truncated);

    const MxAnswer answer = mx(domain);
    QCOMPARE_STATUS(answer.status, DnsStatus::Ok);
    QCOMPARE(describe(answer.records), (QStringList{u"10 mx1.big.test"_s, u"20 mx2.big.test"_s}));
    QCOMPARE(m_dns->queryCount(domain, RT::MX, Transport::Udp), 1);
    QCOMPARE(m_dns->queryCount(domain, RT::MX, Transport::Tcp), 1);
}

void TestResolver::largeAnswerOverTcp()
{
    // 150 MX records do not fit the 1232-byte EDNS payload: the server sets TC, the resolver uses TCP.
    const QString domain = u"huge.test"_s;
    QStringList expected;
    for (int i = 150; i > 0; --i)
        m_dns->addMx(domain, quint16(i),
                     u"mx%1.a-rather-long-mail-exchanger-name.huge.test"_s.arg(i, 3, 10, QChar(u'0')));
    for (int i = 1; i <= 150; ++i)
        expected.append(
            u"%1 mx%2.a-rather-long-mail-exchanger-name.huge.test"_s.arg(i).arg(i, 3, 10, QChar(u'0')));

    const MxAnswer answer = mx(domain);
    QCOMPARE_STATUS(answer.status, DnsStatus::Ok);
    QCOMPARE(describe(answer.records), expected);
    QCOMPARE(m_dns->queryCount(domain, RT::MX, Transport::Tcp), 1);
}

// --- Cache ------------------------------------------------------------------------------------------------

void TestResolver::cacheHonoursTtl()
{
    const QString domain = u"cached.test"_s;
    m_dns->addMx(domain, 10, u"mx.cached.test"_s, 3000);
    m_dns->addA(domain, u"192.0.2.7"_s, 3000);

    const MxAnswer first = mx(domain);
    QCOMPARE_STATUS(first.status, DnsStatus::Ok);
    QVERIFY(!first.fromCache);
    QCOMPARE(first.ttl, 3000u);

    // A hit is answered before lookupMx returns.
    bool answered = false;
    m_resolver->lookupMx(u"CACHED.test."_s, this, [&](const MxAnswer &second) {
        answered = true;
        QVERIFY(second.fromCache);
        QCOMPARE(second.records, first.records);
        QVERIFY(second.ttl <= 3000u && second.ttl > 0u);
    });
    QVERIFY(answered);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);

    QVERIFY(!addresses(domain).fromCache);
    QVERIFY(addresses(domain).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::A), 1);
    QCOMPARE(m_resolver->cacheSize(), 2);

    m_resolver->clearCache();
    QCOMPARE(m_resolver->cacheSize(), 0);
    QVERIFY(!mx(domain).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 2);
}

void TestResolver::cacheEntryExpires()
{
    const QString domain = u"short.test"_s;
    m_dns->addMx(domain, 10, u"mx.short.test"_s, 1);

    QVERIFY(!mx(domain).fromCache);
    QVERIFY(mx(domain).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);
    // After a second the entry is gone and the next lookup asks the server again.
    // (qWaitFor rather than QTRY_VERIFY: the lookup has side effects and QTRY evaluates it once more.)
    QVERIFY(QTest::qWaitFor([&] { return !mx(domain).fromCache; }, AnswerWaitMs));
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 2);
}

void TestResolver::maxCacheTtlCapsTtl()
{
    const QString domain = u"capped.test"_s;
    m_dns->addMx(domain, 10, u"mx.capped.test"_s, 86400);
    m_resolver->setMaxCacheTtl(1);

    QVERIFY(!mx(domain).fromCache);
    QVERIFY(QTest::qWaitFor([&] { return !mx(domain).fromCache; }, AnswerWaitMs));
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 2);
}

void TestResolver::negativeAnswersCached_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<DnsStatus>("status");
    QTest::addRow("nxdomain") << u"missing.test"_s << DnsStatus::NxDomain;
    QTest::addRow("nodata") << u"txt-only.test"_s << DnsStatus::NoData;
}

void TestResolver::negativeAnswersCached()
{
    QFETCH(QString, domain);
    QFETCH(DnsStatus, status);
    m_dns->addTxt(u"txt-only.test"_s, u"hello"_s);

    const MxAnswer first = mx(domain);
    QCOMPARE_STATUS(first.status, status);
    QVERIFY(!first.fromCache);
    const MxAnswer second = mx(domain);
    QCOMPARE_STATUS(second.status, status);
    QVERIFY(second.fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);

    QCOMPARE_STATUS(addresses(domain).status, status);
    QVERIFY(addresses(domain).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::A), 1);
    QCOMPARE(m_dns->queryCount(domain, RT::AAAA), 1);
}

void TestResolver::negativeTtlFromSoa_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<uint>("soaTtl");
    QTest::addColumn<uint>("soaMinimum");
    QTest::addColumn<uint>("expected");
    QTest::addRow("nxdomain, MINIMUM smaller") << u"missing.test"_s << 3600u << 60u << 60u;
    QTest::addRow("nxdomain, SOA TTL smaller") << u"missing.test"_s << 30u << 600u << 30u;
    QTest::addRow("nodata, MINIMUM smaller") << u"txt-only.test"_s << 3600u << 45u << 45u;
}

void TestResolver::negativeTtlFromSoa()
{
    QFETCH(QString, domain);
    QFETCH(uint, soaTtl);
    QFETCH(uint, soaMinimum);
    QFETCH(uint, expected);
    m_dns->addTxt(u"txt-only.test"_s, u"hello"_s);
    m_dns->setSoa(soaTtl, soaMinimum);

    const MxAnswer answer = mx(domain);
    QVERIFY(answer.status == DnsStatus::NxDomain || answer.status == DnsStatus::NoData);
    QCOMPARE(answer.ttl, expected);
}

void TestResolver::failuresNotCached_data()
{
    QTest::addColumn<Behaviour>("behaviour");
    QTest::addRow("servfail") << Behaviour::ServFail;
    QTest::addRow("refused") << Behaviour::Refused;
    QTest::addRow("timeout") << Behaviour::Silent;
}

void TestResolver::failuresNotCached()
{
    QFETCH(Behaviour, behaviour);
    const QString domain = u"failing.test"_s;
    m_dns->setBehaviour(domain, behaviour);
    m_resolver->setTimeout(200, 1);

    QVERIFY(mx(domain).status != DnsStatus::Ok);
    const MxAnswer second = mx(domain);
    QVERIFY(!second.fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 2);
    QCOMPARE(m_resolver->cacheSize(), 0);

    // Once the server recovers, so does the answer.
    m_dns->setBehaviour(domain, Behaviour::Normal);
    m_dns->addMx(domain, 10, u"mx.failing.test"_s);
    QCOMPARE_STATUS(mx(domain).status, DnsStatus::Ok);
}

void TestResolver::cacheDisabled()
{
    const QString domain = u"nocache.test"_s;
    m_dns->addMx(domain, 10, u"mx.nocache.test"_s, 3600);
    QVERIFY(!mx(domain).fromCache);
    QCOMPARE(m_resolver->cacheSize(), 1);

    m_resolver->setMaxCacheTtl(0);
    QCOMPARE(m_resolver->cacheSize(), 0);
    QVERIFY(!mx(domain).fromCache);
    QVERIFY(!mx(domain).fromCache);
    QVERIFY(!mx(u"missing.test"_s).fromCache);
    QVERIFY(!mx(u"missing.test"_s).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 3);
    QCOMPARE(m_dns->queryCount(u"missing.test"_s, RT::MX), 2);
    QCOMPARE(m_resolver->cacheSize(), 0);
}

void TestResolver::concurrentIdenticalLookupsCoalesced()
{
    const QString domain = u"popular.test"_s;
    m_dns->addMx(domain, 10, u"mx.popular.test"_s);
    m_dns->setDelay(domain, 50);
    m_resolver->setMaxCacheTtl(0); // coalescing must not depend on the cache

    int answered = 0;
    for (int i = 0; i < 5; ++i) {
        m_resolver->lookupMx(domain, this, [&answered](const MxAnswer &a) {
            if (a.status == DnsStatus::Ok && a.records.size() == 1)
                ++answered;
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, 5, AnswerWaitMs);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);
}

// --- Configuration and addresses --------------------------------------------------------------------------

void TestResolver::setServers_data()
{
    QTest::addColumn<QString>("input");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<QString>("normalised");

    QTest::addRow("v4 shorthand is a typo") << u"1.2.3"_s << false << QString();
    QTest::addRow("v4 shorthand with port") << u"127.1:53"_s << false << QString();
    QTest::addRow("v4 and bracketed v6 with ports")
        << u"127.0.0.1:5353,[::1]:53"_s << true << u"127.0.0.1:5353,[::1]:53"_s;
    QTest::addRow("system resolvers") << QString() << true << QString();
    QTest::addRow("v4 without port") << u"127.0.0.1"_s << true << u"127.0.0.1:53"_s;
    QTest::addRow("bare v6") << u"::1"_s << true << u"[::1]:53"_s;
    QTest::addRow("bracketed v6 without port") << u"[::1]"_s << true << u"[::1]:53"_s;
    QTest::addRow("spaces around entries")
        << u" 127.0.0.1:53 , [2001:db8::1]:5300 "_s << true << u"127.0.0.1:53,[2001:db8::1]:5300"_s;
    QTest::addRow("garbage") << u"garbage"_s << false << QString();
    QTest::addRow("host name") << u"dns.example:53"_s << false << QString();
    QTest::addRow("bad octet") << u"300.1.1.1"_s << false << QString();
    QTest::addRow("port 0") << u"127.0.0.1:0"_s << false << QString();
    QTest::addRow("port too big") << u"127.0.0.1:65536"_s << false << QString();
    QTest::addRow("port not a number") << u"127.0.0.1:dns"_s << false << QString();
    QTest::addRow("empty port") << u"127.0.0.1:"_s << false << QString();
    QTest::addRow("unclosed bracket") << u"[::1:53"_s << false << QString();
    QTest::addRow("empty bracketed port") << u"[::1]:"_s << false << QString();
    QTest::addRow("text after bracket") << u"[::1]53"_s << false << QString();
    QTest::addRow("v4 in brackets") << u"[127.0.0.1]:53"_s << false << QString();
    QTest::addRow("empty entry") << u"127.0.0.1,,127.0.0.2"_s << false << QString();
    QTest::addRow("trailing comma") << u"127.0.0.1,"_s << false << QString();
}

void TestResolver::setServers()
{
    QFETCH(QString, input);
    QFETCH(bool, ok);
    QFETCH(QString, normalised);

    const QString before = m_resolver->servers();
    QCOMPARE(before, m_dns->serverString());
    QString error;
    QCOMPARE(m_resolver->setServers(input, &error), ok);
    if (ok) {
        QVERIFY(error.isEmpty());
        QCOMPARE(m_resolver->servers(), normalised);
    } else {
        QVERIFY(!error.isEmpty());
        QCOMPARE(m_resolver->servers(), before); // nothing changed
        m_dns->addMx(u"still.test"_s, 10, u"mx.still.test"_s);
        QCOMPARE_STATUS(mx(u"still.test"_s).status, DnsStatus::Ok);
    }
}

void TestResolver::lookupAddresses_data()
{
    QTest::addColumn<QString>("host");
    QTest::addColumn<DnsStatus>("status");
    QTest::addColumn<QStringList>("expected");
    QTest::addRow("A and AAAA") << u"both.test"_s << DnsStatus::Ok
                                << QStringList{u"192.0.2.1"_s, u"192.0.2.2"_s, u"2001:db8::1"_s};
    QTest::addRow("A only") << u"v4.test"_s << DnsStatus::Ok << QStringList{u"192.0.2.4"_s};
    QTest::addRow("AAAA only") << u"v6.test"_s << DnsStatus::Ok << QStringList{u"2001:db8::6"_s};
    QTest::addRow("through a cname") << u"alias.test"_s << DnsStatus::Ok << QStringList{u"192.0.2.4"_s};
    QTest::addRow("nodata") << u"mx-only.test"_s << DnsStatus::NoData << QStringList{};
    QTest::addRow("nxdomain") << u"missing.test"_s << DnsStatus::NxDomain << QStringList{};
    QTest::addRow("servfail") << u"broken.test"_s << DnsStatus::ServFail << QStringList{};
}

void TestResolver::lookupAddresses()
{
    QFETCH(QString, host);
    QFETCH(DnsStatus, status);
    QFETCH(QStringList, expected);

    m_dns->addA(u"both.test"_s, u"192.0.2.1"_s, 500);
    m_dns->addAAAA(u"both.test"_s, u"2001:db8::1"_s, 200);
    m_dns->addA(u"both.test"_s, u"192.0.2.2"_s, 500);
    m_dns->addA(u"v4.test"_s, u"192.0.2.4"_s, 500);
    m_dns->addAAAA(u"v6.test"_s, u"2001:db8::6"_s, 500);
    m_dns->addCname(u"alias.test"_s, u"v4.test"_s, 500);
    m_dns->addMx(u"mx-only.test"_s, 10, u"mx.test"_s);
    m_dns->setBehaviour(u"broken.test"_s, Behaviour::ServFail);

    const AddressAnswer answer = addresses(host);
    QCOMPARE_STATUS(answer.status, status);
    QCOMPARE(describe(answer.addresses), expected);
    if (host == u"both.test")
        QCOMPARE(answer.ttl, 200u);
}

// --- Lifetimes and load -----------------------------------------------------------------------------------

void TestResolver::contextDestroyedBeforeAnswer()
{
    const QString domain = u"slow.test"_s;
    m_dns->addMx(domain, 10, u"mx.slow.test"_s);
    m_dns->setDelay(domain, 100);

    bool orphanCalled = false;
    auto *context = new QObject;
    m_resolver->lookupMx(domain, context, [&orphanCalled](const MxAnswer &) { orphanCalled = true; });
    m_resolver->lookupAddresses(domain, context,
                                [&orphanCalled](const AddressAnswer &) { orphanCalled = true; });
    m_resolver->lookupMailRoute(domain, context, [&orphanCalled](const MailRoute &) { orphanCalled = true; });
    delete context;
    // These join the queries already in flight, so once they are answered the orphans' answers have been
    // handed out too.
    QCOMPARE_STATUS(mx(domain).status, DnsStatus::Ok);
    QCOMPARE_STATUS(addresses(domain).status, DnsStatus::NoData);
    QVERIFY(!orphanCalled);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 1);
    QCOMPARE(m_dns->queryCount(domain, RT::A), 1);
}

void TestResolver::contextDestroyedDuringMailRoute()
{
    // The MX answer (NODATA) has come, the route goes on to the addresses; the context dies in between.
    const QString domain = u"implicit.test"_s;
    m_dns->addA(domain, u"192.0.2.9"_s);

    bool orphanCalled = false;
    QPointer<QObject> context = new QObject;
    const auto connection =
        connect(m_dns.get(), &DnsTestServer::queryReceived, this, [context](auto, quint16 type) {
            if (type == quint16(RT::A))
                delete context.data(); // before the server has even answered
        });
    m_resolver->lookupMailRoute(domain, context, [&orphanCalled](const MailRoute &) { orphanCalled = true; });
    QTRY_VERIFY_WITH_TIMEOUT(context.isNull(), AnswerWaitMs);
    disconnect(connection);
    const MailRoute r = route(domain); // joins the address query in flight, or is served from the cache
    QCOMPARE(r.kind, MailRoute::Kind::ImplicitMx);
    QVERIFY(!orphanCalled);
    QCOMPARE(m_dns->queryCount(domain, RT::A), 1);
}

void TestResolver::resolverDestroyedWithLookupsInFlight()
{
    const QString domain = u"pending.test"_s;
    m_dns->addMx(domain, 10, u"mx.pending.test"_s);
    m_dns->addA(domain, u"192.0.2.3"_s);

    bool called = false;
    auto doomed = std::make_unique<Resolver>();
    QVERIFY(doomed->setServers(m_dns->serverString()));
    // Destroyed from the server, as the last of its queries (MX, A, AAAA, MX) arrives: nothing answered yet.
    connect(m_dns.get(), &DnsTestServer::queryReceived, this, [&] {
        if (m_dns->totalQueries() == 4)
            doomed.reset();
    });
    doomed->lookupMx(domain, this, [&called](const MxAnswer &) { called = true; });
    doomed->lookupAddresses(domain, this, [&called](const AddressAnswer &) { called = true; });
    doomed->lookupMailRoute(u"other.test"_s, this, [&called](const MailRoute &) { called = true; });
    QTRY_VERIFY_WITH_TIMEOUT(!doomed, AnswerWaitMs);

    // The main resolver's answers come after the doomed one's would have.
    QCOMPARE_STATUS(mx(domain).status, DnsStatus::Ok);
    QCOMPARE_STATUS(addresses(domain).status, DnsStatus::Ok);
    QVERIFY(!called);
}

void TestResolver::reconfiguredWhileLookupInFlight()
{
    const QString domain = u"moving.test"_s;
    m_dns->addMx(domain, 10, u"mx.moving.test"_s);

    // New channels replace the old one while its query is out; that query still gets its answer.
    bool reconfigured = false;
    connect(
        m_dns.get(), &DnsTestServer::queryReceived, this,
        [&] {
            m_resolver->setTimeout(3000, 2);
            reconfigured = m_resolver->setServers(m_dns->serverString());
        },
        Qt::SingleShotConnection);
    const MxAnswer early = mx(domain);
    QVERIFY(reconfigured);
    QCOMPARE_STATUS(early.status, DnsStatus::Ok);

    // The answer to the query sent before setServers() was not cached: it came from the old servers.
    QVERIFY(!mx(domain).fromCache);
    QVERIFY(mx(domain).fromCache);
    QCOMPARE(m_dns->queryCount(domain, RT::MX), 2);
}

void TestResolver::manyConcurrentLookups()
{
    constexpr int Count = 200;
    for (int i = 0; i < Count; ++i) {
        m_dns->addMx(u"d%1.bulk.test"_s.arg(i), 10, u"mx%1.bulk.test"_s.arg(i));
        if (i % 2)
            m_dns->addMx(u"d%1.bulk.test"_s.arg(i), 5, u"mx-primary%1.bulk.test"_s.arg(i));
    }

    int answered = 0;
    int correct = 0;
    for (int i = 0; i < Count; ++i) {
        m_resolver->lookupMx(u"d%1.bulk.test"_s.arg(i), this, [&answered, &correct, i](const MxAnswer &a) {
            ++answered;
            const QString first = i % 2 ? u"mx-primary%1.bulk.test"_s.arg(i) : u"mx%1.bulk.test"_s.arg(i);
            if (a.status == DnsStatus::Ok && a.records.size() == (i % 2 ? 2 : 1) &&
                a.records.first().host == first)
                ++correct;
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, Count, 60000);
    QCOMPARE(correct, Count);
    QCOMPARE(m_resolver->cacheSize(), Count);
}

void TestResolver::busyForwarderDropsWhatItCannotTake()
{
    // A home router's resolver answers 40 questions at once (dnsmasq's dns-forward-max, 150 by default)
    // and drops the rest without a word. 1,000 domains asked at once (a list's worth): the window of
    // questions on the wire shrinks when answers time out, the dropped ones are asked again, and every
    // domain gets its answer instead of a timeout.
    constexpr int Count = 1000;
    for (int i = 0; i < Count; ++i)
        m_dns->addMx(u"d%1.router.test"_s.arg(i), 10, u"mx%1.router.test"_s.arg(i));
    m_dns->setDefaultDelay(20);
    m_dns->setMaxOutstanding(40);
    m_resolver->setTimeout(300, 4);
    int answered = 0;
    int correct = 0;
    QMap<QString, int> failures;
    for (int i = 0; i < Count; ++i) {
        m_resolver->lookupMx(u"d%1.router.test"_s.arg(i), this, [&, i](const MxAnswer &a) {
            ++answered;
            if (a.status == DnsStatus::Ok && a.records.value(0).host == u"mx%1.router.test"_s.arg(i))
                ++correct;
            else
                ++failures[toString(a.status)];
        });
    }
    QTRY_COMPARE_WITH_TIMEOUT(answered, Count, 120'000);
    qInfo("%d domains at a resolver taking 40 at once: %d answered, %d questions dropped by it; failures: %s",
          Count, correct, m_dns->droppedQueries(), qPrintable([&] {
              QStringList parts;
              for (auto it = failures.cbegin(); it != failures.cend(); ++it)
                  parts << u"%1 %2"_s.arg(it.key()).arg(it.value());
              return parts.join(u", "_s);
          }()));
    QVERIFY(m_dns->droppedQueries() > 0); // the window found the limit by going past it
    QCOMPARE(correct, Count);
}

void TestResolver::resolverOnAnotherThread()
{
    // The engine runs on its own thread: the resolver is built, configured and moved there, like the other
    // services; its channel, timer and notifiers must follow it.
    m_dns->addMx(u"threaded.test"_s, 10, u"mx.threaded.test"_s);
    QThread thread;
    auto *resolver = new Resolver;
    QVERIFY(resolver->setServers(m_dns->serverString()));
    resolver->moveToThread(&thread);
    thread.start();

    QAtomicInt answered = 0;
    QAtomicPointer<QThread> callbackThread = nullptr;
    QMetaObject::invokeMethod(resolver, [&, resolver] {
        resolver->lookupMx(u"threaded.test"_s, resolver, [&](const MxAnswer &a) {
            callbackThread.storeRelease(QThread::currentThread());
            answered.storeRelease(a.status == DnsStatus::Ok ? 1 : -1);
        });
    });
    QTRY_VERIFY_WITH_TIMEOUT(answered.loadAcquire() != 0, AnswerWaitMs);
    QCOMPARE(answered.loadAcquire(), 1);
    QCOMPARE(callbackThread.loadAcquire(), &thread);

    resolver->deleteLater(); // runs on its thread, before the thread finishes
    thread.quit();
    QVERIFY(thread.wait(AnswerWaitMs));
}

QTEST_GUILESS_MAIN(TestResolver)
#include "tst_resolver.moc"
