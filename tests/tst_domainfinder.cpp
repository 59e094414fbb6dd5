// The domain finder end to end through the engine: a loopback DNS server and a loopback web server stand in
// for the internet (MX, NS, A records; pages, redirects, parked and for-sale pages).
#include "dnstestserver.h"
#include "domain/companyname.h"
#include "engine.h"
#include "httptestserver.h"

#include <QEventLoop>
#include <QJsonArray>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestDomainFinder : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void websiteAndMxIsHigh();
    void legalFormPicksTheCountry();
    void redirectTargetWins();
    void mxOnlyIsMedium();
    void websiteOnlyIsLow();
    void parkedDomainsAreRejected();
    void accentsAndAmpersand();
    void headNotAllowedFallsBackToGet();
    void endlessRedirectsAreNoWebsite();
    void nothingFound();
    void dnsFailureIsAnError();
    void answersAreCached();
    void domainListsAreJobs();
    void latencyOverTheCases();

private:
    domain::DomainResult find(const QString &name);
    void site(const QString &domain, bool mx, bool web, const QString &title = {});

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    HttpTestServer m_web;
    Engine m_engine;
    QList<int> m_latencies;
    QList<int> m_candidateCounts;
};

void TestDomainFinder::site(const QString &domain, bool mx, bool web, const QString &title)
{
    if (mx)
        m_dns.addMx(domain, 10, u"mx."_s + domain);
    if (web) {
        m_dns.addA(domain, u"127.0.0.51"_s);
        m_web.addPage(domain, u"/"_s, 200,
                      u"<html><head><title>%1</title></head><body>Welcome</body></html>"_s.arg(title));
    }
}

void TestDomainFinder::initTestCase()
{
    QVERIFY(m_dns.listen());
    QVERIFY(m_web.listen(QHostAddress(u"127.0.0.51"_s)));

    site(u"acmewidgets.com"_s, true, true, u"Acme Widgets — home"_s);
    site(u"acmewidgets.nl"_s, true, false);
    // Coolblue: the .nl is the company; the .com redirects there.
    site(u"coolblue.nl"_s, true, true, u"Coolblue - alles voor een glimlach"_s);
    m_dns.addA(u"www.coolblue.nl"_s, u"127.0.0.51"_s);
    m_web.addPage(u"www.coolblue.nl"_s, u"/"_s, 200, u"<title>Coolblue</title>"_s);
    m_dns.addMx(u"coolblue.com"_s, 10, u"mx.coolblue.com"_s);
    m_dns.addA(u"coolblue.com"_s, u"127.0.0.51"_s);
    m_web.addRedirect(u"coolblue.com"_s, u"/"_s, u"http://www.coolblue.nl/"_s);
    site(u"mailonly.com"_s, true, false);
    site(u"webonly.io"_s, false, true, u"Webonly"_s);
    // Parked: parking name servers; for sale: the page says so. The .net is the real one (MX only).
    site(u"parkme.com"_s, true, true, u"parkme.com"_s);
    m_dns.addNs(u"parkme.com"_s, u"ns1.sedoparking.com"_s);
    m_dns.addNs(u"parkme.com"_s, u"ns2.sedoparking.com"_s);
    m_dns.addMx(u"parkme.net"_s, 10, u"mx.parkme.net"_s);
    site(u"forsale.com"_s, true, false);
    m_dns.addA(u"forsale.com"_s, u"127.0.0.51"_s);
    m_web.addPage(u"forsale.com"_s, u"/"_s, 200,
                  u"<title>forsale.com</title><h1>This domain is for sale!</h1>"_s);
    site(u"forsale.de"_s, false, true, u"Forsale GmbH"_s);
    // Accents and '&': "Brûlée & Søn" → bruleeandson.
    site(u"bruleeandson.com"_s, true, true, u"Brûlée & Søn"_s);
    // HEAD answered 405: the GET is what counts.
    site(u"nohead.com"_s, true, true, u"No Head"_s);
    m_web.setHeadStatus(u"nohead.com"_s, 405);
    // Redirects forever.
    m_dns.addA(u"loop.com"_s, u"127.0.0.51"_s);
    m_web.addRedirect(u"loop.com"_s, u"/"_s, u"http://loop.com/"_s, 302);
    // DNS failing for every candidate.
    for (const QString &candidate : domain::normaliseCompanyName(u"Broken DNS"_s).candidates())
        m_dns.setBehaviour(candidate, DnsTestServer::Behaviour::ServFail);

    EngineConfig config;
    config.dataDir = m_dir.path();
    config.dnsServers = m_dns.serverString();
    config.dnsTimeoutMs = 500;
    config.dnsTries = 1;
    config.allowPrivateTargets = true; // the websites are on loopback
    config.httpPort = m_web.port();
    config.httpsPort = m_web.port(); // a plain server: the TLS handshake fails, http:// is tried next
    config.runJobs = true;           // for domain lists
    QString error;
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));
}

void TestDomainFinder::cleanupTestCase()
{
    m_engine.stop();
}

domain::DomainResult TestDomainFinder::find(const QString &name)
{
    // A real event loop rather than QTest::qWaitFor, which sleeps between looks: the web server runs on
    // this thread, and its answers would wait for those naps.
    std::optional<domain::DomainResult> result;
    QObject context;
    QEventLoop loop;
    if (!m_engine.findDomain(name, &context, [&](const domain::DomainResult &r) {
            result = r;
            loop.quit();
        }))
        return {};
    QTimer::singleShot(30000, &loop, &QEventLoop::quit);
    loop.exec();
    if (result && !result->fromCache) {
        m_latencies.append(result->responseMs);
        m_candidateCounts.append(result->candidatesChecked);
    }
    return result.value_or(domain::DomainResult{});
}

void TestDomainFinder::websiteAndMxIsHigh()
{
    const auto r = find(u"Acme Widgets"_s);
    QCOMPARE(domain::toString(r.status), u"found"_s);
    QCOMPARE(r.domain, u"acmewidgets.com"_s);
    QVERIFY(r.hasMx);
    QVERIFY(r.hasWebsite);
    QCOMPARE(r.confidence, u"high"_s);
    // One label on every TLD was enough: the hyphenated spelling was never tried.
    QCOMPARE(r.candidatesChecked, domain::defaultTlds().size());
    const QJsonObject json = r.toJson();
    QCOMPARE(json.keys(),
             (QStringList{u"candidates_checked"_s, u"company_name"_s, u"confidence"_s, u"domain"_s,
                          u"has_mx"_s, u"has_website"_s, u"response_ms"_s, u"status"_s}));
    QCOMPARE(json.value(u"company_name"_s).toString(), u"Acme Widgets"_s);
}

void TestDomainFinder::legalFormPicksTheCountry()
{
    const auto r = find(u"Coolblue B.V."_s);
    QCOMPARE(r.domain, u"coolblue.nl"_s);
    QCOMPARE(r.confidence, u"high"_s);
    QCOMPARE(r.toJson().value(u"company_name"_s).toString(), u"Coolblue B.V."_s);
}

void TestDomainFinder::redirectTargetWins()
{
    // Without the legal form .com comes first, but it only sends visitors to the .nl.
    const auto r = find(u"Coolblue"_s);
    QCOMPARE(r.domain, u"coolblue.nl"_s);
    const auto com = std::find_if(r.candidates.cbegin(), r.candidates.cend(),
                                  [](const auto &c) { return c.domain == u"coolblue.com"_s; });
    QVERIFY(com != r.candidates.cend());
    QCOMPARE(com->redirectsTo, u"coolblue.nl"_s);
}

void TestDomainFinder::mxOnlyIsMedium()
{
    const auto r = find(u"Mailonly Corp."_s);
    QCOMPARE(r.domain, u"mailonly.com"_s);
    QVERIFY(r.hasMx);
    QVERIFY(!r.hasWebsite);
    QCOMPARE(r.confidence, u"medium"_s);
}

void TestDomainFinder::websiteOnlyIsLow()
{
    const auto r = find(u"Webonly"_s);
    QCOMPARE(r.domain, u"webonly.io"_s);
    QVERIFY(!r.hasMx);
    QVERIFY(r.hasWebsite);
    QCOMPARE(r.confidence, u"low"_s);
}

void TestDomainFinder::parkedDomainsAreRejected()
{
    auto r = find(u"Parkme"_s);
    QCOMPARE(r.domain, u"parkme.net"_s); // not the parked .com, though it has MX and a page
    QCOMPARE(r.confidence, u"medium"_s);
    r = find(u"Forsale GmbH"_s);
    QCOMPARE(r.domain, u"forsale.de"_s); // the .com's page offers the domain for sale
    QCOMPARE(r.confidence, u"low"_s);
}

void TestDomainFinder::accentsAndAmpersand()
{
    const auto r = find(u"Brûlée & Søn"_s);
    QCOMPARE(r.domain, u"bruleeandson.com"_s);
    QCOMPARE(r.confidence, u"high"_s);
}

void TestDomainFinder::headNotAllowedFallsBackToGet()
{
    const auto r = find(u"NoHead"_s);
    QCOMPARE(r.domain, u"nohead.com"_s);
    QVERIFY(r.hasWebsite);
}

void TestDomainFinder::endlessRedirectsAreNoWebsite()
{
    const auto r = find(u"Loop"_s);
    QCOMPARE(domain::toString(r.status), u"not_found"_s);
    QVERIFY(r.domain.isEmpty());
    QVERIFY(m_web.requestCount(u"loop.com"_s) >= 6); // followed five times, then given up
    QVERIFY(m_web.requestCount(u"loop.com"_s) <= 8);
}

void TestDomainFinder::nothingFound()
{
    const auto r = find(u"Nothing Here Ltd"_s);
    QCOMPARE(domain::toString(r.status), u"not_found"_s);
    const QJsonObject json = r.toJson();
    QVERIFY(json.value(u"domain"_s).isNull());
    QVERIFY(json.value(u"confidence"_s).isNull());
    QCOMPARE(json.value(u"has_mx"_s).toBool(true), false);
    // Every label on every TLD (.co.uk first for a Ltd).
    const auto name = domain::normaliseCompanyName(u"Nothing Here Ltd"_s);
    QCOMPARE(r.candidatesChecked, name.labels.size() * name.tlds.size());
    // A name with nothing usable in it: no candidate at all.
    const auto none = find(u"中国银行"_s);
    QCOMPARE(domain::toString(none.status), u"not_found"_s);
    QCOMPARE(none.candidatesChecked, 0);
}

void TestDomainFinder::dnsFailureIsAnError()
{
    const auto r = find(u"Broken DNS"_s);
    QCOMPARE(domain::toString(r.status), u"error"_s);
    QVERIFY(r.domain.isEmpty());
}

void TestDomainFinder::answersAreCached()
{
    const int before = m_web.requestCount(u"acmewidgets.com"_s);
    const auto r = find(u"ACME widgets"_s); // the same name, normalised
    QVERIFY(r.fromCache);
    QCOMPARE(r.domain, u"acmewidgets.com"_s);
    QCOMPARE(r.companyName, u"ACME widgets"_s); // as asked this time
    QCOMPARE(m_web.requestCount(u"acmewidgets.com"_s), before);
    // Errors are not cached: DNS may work next time.
    QVERIFY(!find(u"Broken DNS"_s).fromCache);
}

void TestDomainFinder::domainListsAreJobs()
{
    const QStringList names{u"Acme Widgets"_s, u" acme  WIDGETS "_s, u"Webonly"_s, QString(),
                            u"Nothing Here Ltd"_s};
    const auto created = m_engine.jobs().createDomainJob(nullptr, names);
    QCOMPARE(int(created.outcome), int(jobs::JobStore::Created::Ok));
    m_engine.jobRunner()->wake();
    QVERIFY(QTest::qWaitFor(
        [&] {
            const auto s = m_engine.jobs().summary(created.jobId);
            return s && s->status == jobs::JobStatus::Completed;
        },
        30000));
    const auto summary = m_engine.jobs().summary(created.jobId);
    QCOMPARE(summary->kind, u"domain"_s);
    QCOMPARE(summary->found, 3);
    QCOMPARE(summary->notFound, 2);
    const QJsonArray results = m_engine.jobs().results(created.jobId);
    QCOMPARE(results.size(), names.size());
    for (int i = 0; i < names.size(); ++i)
        QCOMPARE(results.at(i).toObject().value(u"company_name"_s).toString(),
                 names.at(i).isNull() ? u""_s : names.at(i));
    QCOMPARE(results.at(1).toObject().value(u"domain"_s).toString(), u"acmewidgets.com"_s);
    QCOMPARE(results.at(2).toObject().value(u"confidence"_s).toString(), u"low"_s);
    QCOMPARE(results.at(4).toObject().value(u"status"_s).toString(), u"not_found"_s);
}

void TestDomainFinder::latencyOverTheCases()
{
    // Figures for the note (not a timing assertion).
    QVERIFY(!m_latencies.isEmpty());
    QList<int> sorted = m_latencies;
    std::sort(sorted.begin(), sorted.end());
    QList<int> counts = m_candidateCounts;
    std::sort(counts.begin(), counts.end());
    qInfo(
        "domain finder: %lld lookups, median %d ms, max %d ms; candidates checked: median %d, min %d, max %d",
        qint64(sorted.size()), sorted.at(sorted.size() / 2), sorted.last(), counts.at(counts.size() / 2),
        counts.first(), counts.last());
}

QTEST_GUILESS_MAIN(TestDomainFinder)
#include "tst_domainfinder.moc"
