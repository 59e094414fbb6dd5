// Addresses on a company's web pages, however they are written.
#include "find/scrape.h"

#include <QTest>

using namespace mailcaff::find;
using namespace Qt::StringLiterals;

class TestScrape : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void extract_data();
    void extract();
};

void TestScrape::extract_data()
{
    QTest::addColumn<QByteArray>("html");
    QTest::addColumn<QStringList>("emails");
    QTest::newRow("plain") << QByteArray("Write to jane.roe@acme.test today.")
                           << QStringList{u"jane.roe@acme.test"_s};
    QTest::newRow("mailto") << QByteArray(R"(<a href="mailto:Jane.Roe@ACME.test?subject=hi">mail</a>)")
                            << QStringList{u"jane.roe@acme.test"_s};
    QTest::newRow("mailto percent") << QByteArray(R"(<a href="mailto:j.roe%40acme.test">)")
                                    << QStringList{u"j.roe@acme.test"_s};
    QTest::newRow("entities") << QByteArray("jane&#46;roe&#64;acme&#x2e;test and bob&commat;acme.test")
                              << QStringList{u"jane.roe@acme.test"_s, u"bob@acme.test"_s};
    QTest::newRow("[at] [dot]") << QByteArray("jane [at] acme [dot] test")
                                << QStringList{u"jane@acme.test"_s};
    QTest::newRow("(at)") << QByteArray("jroe(at)acme.test") << QStringList{u"jroe@acme.test"_s};
    QTest::newRow("spelled") << QByteArray("jane at acme dot test") << QStringList{u"jane@acme.test"_s};
    // Cloudflare: key 0x42, then "a@acme.test" XOR 0x42.
    QByteArray cf = "42";
    for (const char c : QByteArray("ann.lee@acme.test"))
        cf += QByteArray::number(uchar(c) ^ 0x42, 16).rightJustified(2, '0');
    QTest::newRow("cloudflare") << QByteArray(R"(<a class="__cf_email__" data-cfemail=")" + cf +
                                              R"(">[email&#160;protected]</a>)")
                                << QStringList{u"ann.lee@acme.test"_s};
    QTest::newRow("other domains ignored")
        << QByteArray("x@other.test y@acme.test.evil.com z@subacme.test") << QStringList{};
    QTest::newRow("duplicates once") << QByteArray("a@acme.test, A@acme.test; a@acme.test.")
                                     << QStringList{u"a@acme.test"_s};
}

void TestScrape::extract()
{
    QFETCH(QByteArray, html);
    QFETCH(QStringList, emails);
    QCOMPARE(extractEmails(html, u"acme.test"_s), emails);
}

QTEST_APPLESS_MAIN(TestScrape)
#include "tst_scrape.moc"
