// The email finder end to end through the engine, against loopback DNS, SMTP and web servers: SMTP-verified
// finds (first.last, flast, diacritics), catch-all domains decided by a learned pattern, Gravatar, the
// domain's own pages or a low-confidence guess; domains without mail, disposable ones, nothing matching, an
// unreachable server, a company name instead of a domain, and the number of SMTP sessions used.
#include "dnstestserver.h"
#include "engine.h"
#include "httptestserver.h"
#include "smtptestserver.h"
#include "testengine.h"

#include <numeric>
#include <QCryptographicHash>
#include <QEventLoop>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestFinder : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void firstLastIsFoundWithHighConfidence();
    void flastIsFound();
    void diacritics();
    void greylistingIsWaitedOut();
    void fewSessionsForManyCandidates();
    void learnedPatternsComeFirst();
    void catchAllWithALearnedPattern();
    void catchAllWithAGravatar();
    void catchAllWithAddressesOnTheWebsite();
    void catchAllWithThePersonOnTheWebsite();
    void catchAllWithNothingIsALowGuess();
    void catchAllWithoutGuessesIsCatchallDetected();
    void noMail_data();
    void noMail();
    void disposableDomain();
    void nothingMatches();
    void unreachableServerGivesAGuess();
    void companyNameInsteadOfDomain();
    void nameWithoutLatinSpelling();
    void resultsAreCached();
    void figures();

private:
    find::FindResult find(Engine &engine, const QString &first, const QString &last, const QString &domain,
                          const QString &company = {});
    find::FindResult find(const QString &first, const QString &last, const QString &domain)
    {
        return find(*m_owned, first, last, domain);
    }
    std::unique_ptr<Engine> startEngine(bool bestGuess);
    void mailDomain(const QString &domain);

    QList<std::shared_ptr<QTemporaryDir>> m_dirs;
    DnsTestServer m_dns;
    SmtpTestServer m_smtp;
    SmtpTestServer m_grey;
    HttpTestServer m_web;
    std::unique_ptr<Engine> m_owned;
    QList<int> m_latencies;
    QList<int> m_transactions;
    QList<int> m_rcpts;
    QList<int> m_sessions;
};

void TestFinder::mailDomain(const QString &domain)
{
    m_dns.addMx(domain, 10, u"mx."_s + domain);
    m_dns.addA(u"mx."_s + domain, u"127.0.0.61"_s);
}

std::unique_ptr<Engine> TestFinder::startEngine(bool bestGuess)
{
    m_dirs.append(std::make_shared<QTemporaryDir>());
    EngineConfig config = loopbackEngineConfig(m_dirs.last()->path(), m_dns, m_smtp.port(), 8000);
    config.greylistRetryMs = {300};
    config.httpPort = m_web.port();
    config.httpsPort = m_web.port(); // plain server: https fails, http follows
    config.gravatarUrl = u"http://gravatar.test:%1/avatar/"_s.arg(m_web.port());
    config.finderBestGuess = bestGuess;
    auto engine = std::make_unique<Engine>();
    QString error;
    if (!engine->start(config, &error)) {
        qWarning() << error;
        return nullptr;
    }
    return engine;
}

void TestFinder::initTestCase()
{
    QVERIFY(m_dns.listen());
    QVERIFY(m_smtp.listen(QHostAddress(u"127.0.0.61"_s)));
    QVERIFY(m_web.listen(QHostAddress(u"127.0.0.51"_s)));
    m_dns.addA(u"gravatar.test"_s, u"127.0.0.51"_s);
    QVERIFY(m_grey.listen(QHostAddress(u"127.0.0.63"_s), m_smtp.port()));
    m_grey.setGreylisting(true, 200);
    m_grey.addMailbox(u"jane.roe@grey.test"_s);
    m_dns.addMx(u"grey.test"_s, 10, u"mx.grey.test"_s);
    m_dns.addA(u"mx.grey.test"_s, u"127.0.0.63"_s);

    mailDomain(u"firstlast.test"_s);
    m_smtp.addMailboxes(u"firstlast.test"_s, {u"john.doe"_s, u"info"_s});
    mailDomain(u"flast.test"_s);
    m_smtp.addMailboxes(u"flast.test"_s, {u"jdoe"_s, u"asmith"_s});
    mailDomain(u"umlaut.test"_s);
    m_smtp.addMailbox(u"jose.mueller@umlaut.test"_s);
    mailDomain(u"deep.test"_s); // the person's address is far down the list: last.first
    m_smtp.addMailbox(u"doe.john@deep.test"_s);
    mailDomain(u"learns.test"_s); // two finds teach "lastf"; the third person is tried that way first
    m_smtp.addMailboxes(u"learns.test"_s, {u"smitha"_s, u"jonesb"_s, u"roej"_s});
    mailDomain(u"nomatch.test"_s);
    m_smtp.addMailbox(u"someone@nomatch.test"_s);
    mailDomain(u"acmewidgets.com"_s); // found from the company name
    m_smtp.addMailbox(u"john.doe@acmewidgets.com"_s);

    for (const QString &d : {u"learnedcatch.test"_s, u"gravcatch.test"_s, u"scrapecatch.test"_s,
                             u"exactcatch.test"_s, u"emptycatch.test"_s}) {
        mailDomain(d);
        m_smtp.setCatchAll(d, true);
    }
    // Gravatar knows jane.roe@gravcatch.test.
    const QByteArray hash =
        QCryptographicHash::hash("jane.roe@gravcatch.test", QCryptographicHash::Sha256).toHex();
    m_web.addPage(u"gravatar.test"_s, u"/avatar/"_s + QString::fromLatin1(hash) + u"?d=404"_s, 200, u"png"_s);
    // scrapecatch.test shows colleagues as first_last; exactcatch.test shows the person herself.
    m_dns.addA(u"scrapecatch.test"_s, u"127.0.0.51"_s);
    m_web.addPage(u"scrapecatch.test"_s, u"/contact"_s, 200,
                  u"<p>Sales: <a href=\"mailto:anna_smith@scrapecatch.test\">Anna</a>, bob_jones [at] "
                  "scrapecatch [dot] test, info@scrapecatch.test</p>"_s);
    m_dns.addA(u"exactcatch.test"_s, u"127.0.0.51"_s);
    m_web.addPage(u"exactcatch.test"_s, u"/team"_s, 200, u"Jane Roe &mdash; jroe&#64;exactcatch.test"_s);

    m_dns.addNullMx(u"nullmx.test"_s);
    m_dns.addTxt(u"nomail.test"_s, u"v=spf1 -all"_s);
    m_dns.addMx(u"mailinator.com"_s, 10, u"mail.mailinator.com"_s);
    m_dns.addMx(u"down.test"_s, 10, u"mx.down.test"_s);
    m_dns.addA(u"mx.down.test"_s, u"127.0.0.62"_s); // nothing listens there

    m_owned = startEngine(true);
    QVERIFY(m_owned);
}

void TestFinder::cleanupTestCase()
{
    // Figures for the note (not assertions): loopback servers, so latency is our own overhead.
    auto average = [](const QList<int> &v) {
        return v.isEmpty() ? 0.0 : std::accumulate(v.cbegin(), v.cend(), 0.0) / double(v.size());
    };
    QList<int> sorted = m_latencies;
    std::sort(sorted.begin(), sorted.end());
    qInfo("finder: %lld finds, latency median %d ms, max %d ms; per SMTP find (%lld): %.2f new connections, "
          "%.2f transactions, %.2f RCPTs",
          qint64(sorted.size()), sorted.isEmpty() ? 0 : sorted.at(sorted.size() / 2),
          sorted.isEmpty() ? 0 : sorted.last(), qint64(m_transactions.size()), average(m_sessions),
          average(m_transactions), average(m_rcpts));
    m_owned.reset();
}

find::FindResult TestFinder::find(Engine &engine, const QString &first, const QString &last,
                                  const QString &domain, const QString &company)
{
    // A real event loop: the test servers live on this thread and must answer without delay.
    std::optional<find::FindResult> result;
    QObject context;
    QEventLoop loop;
    find::FindRequest request{first, last, domain, company};
    const int connectionsBefore = m_smtp.connectionCount() + m_grey.connectionCount();
    if (!engine.find(request, &context, [&](const find::FindResult &r) {
            result = r;
            loop.quit();
        }))
        return {};
    QTimer::singleShot(30000, &loop, &QEventLoop::quit);
    loop.exec();
    if (result && result->source != "cache"_L1) {
        m_latencies.append(result->responseMs);
        if (result->smtpTransactions > 0) {
            m_transactions.append(result->smtpTransactions);
            m_rcpts.append(result->rcpts);
            m_sessions.append(m_smtp.connectionCount() + m_grey.connectionCount() - connectionsBefore);
        }
    }
    return result.value_or(find::FindResult{});
}

void TestFinder::firstLastIsFoundWithHighConfidence()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"firstlast.test"_s);
    QVERIFY2(r.found, qPrintable(r.detail));
    QCOMPARE(r.email, u"john.doe@firstlast.test"_s);
    QCOMPARE(r.confidence, u"high"_s);
    QCOMPARE(r.pattern, u"first.last"_s);
    QCOMPARE(r.source, u"learned"_s);
    const QJsonObject json = r.toJson();
    QCOMPARE(json.keys(), (QStringList{u"confidence"_s, u"email"_s, u"found"_s, u"pattern"_s,
                                       u"response_ms"_s, u"source"_s})); // a found answer has no reason
}

void TestFinder::flastIsFound()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"flast.test"_s);
    QCOMPARE(r.email, u"jdoe@flast.test"_s);
    QCOMPARE(r.confidence, u"high"_s);
    QCOMPARE(r.pattern, u"flast"_s);
}

void TestFinder::diacritics()
{
    const auto r = find(u"José"_s, u"Müller"_s, u"umlaut.test"_s);
    QCOMPARE(r.email, u"jose.mueller@umlaut.test"_s);
    QCOMPARE(r.confidence, u"high"_s);
}

void TestFinder::greylistingIsWaitedOut()
{
    // Every recipient of the first try gets 450; the same sender and recipients come back after the wait.
    const auto r = find(u"Jane"_s, u"Roe"_s, u"grey.test"_s);
    QCOMPARE(r.email, u"jane.roe@grey.test"_s);
    QCOMPARE(r.confidence, u"high"_s);
    QCOMPARE(r.smtpTransactions, 2);
}

void TestFinder::fewSessionsForManyCandidates()
{
    m_smtp.resetCounters();
    const auto r = find(u"John"_s, u"Doe"_s, u"deep.test"_s);
    QCOMPARE(r.email, u"doe.john@deep.test"_s);
    QCOMPARE(r.pattern, u"last.first"_s);
    // Nine candidates before it and the catch-all probe: two transactions, over one or two connections.
    QCOMPARE(r.smtpTransactions, 2);
    QVERIFY2(m_smtp.connectionCount() <= 2, qPrintable(QString::number(m_smtp.connectionCount())));
    QCOMPARE(m_smtp.dataCount(), 0);
}

void TestFinder::learnedPatternsComeFirst()
{
    QCOMPARE(find(u"Anna"_s, u"Smith"_s, u"learns.test"_s).pattern, u"lastf"_s);
    QCOMPARE(find(u"Bob"_s, u"Jones"_s, u"learns.test"_s).pattern, u"lastf"_s);
    m_smtp.resetCounters();
    const auto r = find(u"Jane"_s, u"Roe"_s, u"learns.test"_s);
    QCOMPARE(r.email, u"roej@learns.test"_s);
    QCOMPARE(r.smtpTransactions, 1);                 // lastf is now tried first
    QCOMPARE(m_owned->find({}, nullptr, {}), false); // no context: refused, nothing runs
}

void TestFinder::catchAllWithALearnedPattern()
{
    // The domain's pattern, learned earlier (here: written as an earlier verified find would have).
    QSqlQuery q(m_owned->database().connection());
    QVERIFY(q.exec(u"INSERT INTO domain_patterns(domain, pattern, hits, updated_at) "
                   "VALUES ('learnedcatch.test', 'flast', 3, 0)"_s));
    const auto r = find(u"Jane"_s, u"Roe"_s, u"learnedcatch.test"_s);
    QCOMPARE(r.email, u"jroe@learnedcatch.test"_s);
    QCOMPARE(r.confidence, u"medium"_s);
    QCOMPARE(r.source, u"pattern_db"_s);
}

void TestFinder::catchAllWithAGravatar()
{
    const auto r = find(u"Jane"_s, u"Roe"_s, u"gravcatch.test"_s);
    QCOMPARE(r.email, u"jane.roe@gravcatch.test"_s);
    QCOMPARE(r.confidence, u"medium"_s);
    QCOMPARE(r.source, u"gravatar"_s);
}

void TestFinder::catchAllWithAddressesOnTheWebsite()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"scrapecatch.test"_s);
    QCOMPARE(r.email, u"john_doe@scrapecatch.test"_s);
    QCOMPARE(r.pattern, u"first_last"_s);
    QCOMPARE(r.confidence, u"medium"_s);
    QCOMPARE(r.source, u"scraped"_s);
}

void TestFinder::catchAllWithThePersonOnTheWebsite()
{
    const auto r = find(u"Jane"_s, u"Roe"_s, u"exactcatch.test"_s);
    QCOMPARE(r.email, u"jroe@exactcatch.test"_s);
    QCOMPARE(r.source, u"scraped"_s);
}

void TestFinder::catchAllWithNothingIsALowGuess()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"emptycatch.test"_s);
    QVERIFY(r.found);
    QCOMPARE(r.email, u"john.doe@emptycatch.test"_s);
    QCOMPARE(r.confidence, u"low"_s);
    QCOMPARE(r.source, u"pattern_db"_s);
}

void TestFinder::catchAllWithoutGuessesIsCatchallDetected()
{
    const auto strict = startEngine(false);
    QVERIFY(strict);
    const auto r = find(*strict, u"John"_s, u"Doe"_s, u"emptycatch.test"_s);
    QVERIFY(!r.found);
    QCOMPARE(r.reason, u"catchall_detected"_s);
    const QJsonObject json = r.toJson();
    for (const char *field : {"email", "confidence", "pattern", "source"})
        QVERIFY2(json.value(QLatin1StringView(field)).isNull(), field);
    QCOMPARE(json.value(u"reason"_s).toString(), u"catchall_detected"_s);
}

void TestFinder::noMail_data()
{
    QTest::addColumn<QString>("domain");
    QTest::newRow("null MX") << u"nullmx.test"_s;
    QTest::newRow("no MX, no address") << u"nomail.test"_s;
    QTest::newRow("does not exist") << u"missing.test"_s;
}

void TestFinder::noMail()
{
    QFETCH(QString, domain);
    const auto r = find(u"John"_s, u"Doe"_s, domain);
    QVERIFY(!r.found);
    QCOMPARE(r.reason, u"no_mx_records"_s);
    QCOMPARE(r.smtpTransactions, 0);
}

void TestFinder::disposableDomain()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"mailinator.com"_s);
    QCOMPARE(r.reason, u"disposable_domain"_s);
}

void TestFinder::nothingMatches()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"nomatch.test"_s);
    QVERIFY(!r.found);
    QCOMPARE(r.reason, u"no_pattern_matched"_s);
    QVERIFY(r.rcpts >= 17); // every candidate and the probe were asked about
}

void TestFinder::unreachableServerGivesAGuess()
{
    const auto r = find(u"John"_s, u"Doe"_s, u"down.test"_s);
    QVERIFY(r.found);
    QCOMPARE(r.confidence, u"low"_s);
    QCOMPARE(r.source, u"mx_intel"_s);
    // Not remembered: the server may answer next time.
    QVERIFY(find(u"John"_s, u"Doe"_s, u"down.test"_s).source != u"cache"_s);
}

void TestFinder::companyNameInsteadOfDomain()
{
    const auto r = find(*m_owned, u"John"_s, u"Doe"_s, QString(), u"Acme Widgets Inc."_s);
    QCOMPARE(r.domain, u"acmewidgets.com"_s);
    QCOMPARE(r.email, u"john.doe@acmewidgets.com"_s);
    QCOMPARE(r.confidence, u"high"_s);
}

void TestFinder::nameWithoutLatinSpelling()
{
    const auto r = find(u"Иван"_s, u"Петров"_s, u"firstlast.test"_s);
    QVERIFY(!r.found);
    QCOMPARE(r.reason, u"no_pattern_matched"_s);
    QCOMPARE(r.smtpTransactions, 0);
}

void TestFinder::resultsAreCached()
{
    const int rcpts = m_smtp.rcptCount();
    const auto r = find(u" JOHN"_s, u"doe "_s, u"FirstLast.test"_s);
    QCOMPARE(r.source, u"cache"_s);
    QCOMPARE(r.email, u"john.doe@firstlast.test"_s);
    QCOMPARE(r.confidence, u"high"_s);
    QCOMPARE(m_smtp.rcptCount(), rcpts);
}

void TestFinder::figures()
{
    QVERIFY(!m_latencies.isEmpty());
}

QTEST_GUILESS_MAIN(TestFinder)
#include "tst_finder.moc"
