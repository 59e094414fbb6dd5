// Company names to domain labels: legal forms of many countries taken off and remembered, accents, '&',
// punctuation, "The", names written as domains, and the TLD order a legal form suggests.
#include "domain/companyname.h"

#include <QTest>

using namespace mailcaff::domain;
using namespace Qt::StringLiterals;

class TestCompanyName : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void normalise_data();
    void normalise();
    void tldOrder_data();
    void tldOrder();
    void candidatesAreLabelsTimesTlds();
};

void TestCompanyName::normalise_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QStringList>("labels");
    QTest::addColumn<QString>("legalForm");
    auto row = [](const char *name, QStringList labels, const QString &form = {}) {
        QTest::newRow(name) << QString::fromUtf8(name) << labels << form;
    };
    row("Coolblue", {u"coolblue"_s});
    row("Coolblue B.V.", {u"coolblue"_s}, u"B.V."_s);
    row("Coolblue BV", {u"coolblue"_s}, u"B.V."_s);
    row("  coolblue   b.v.  ", {u"coolblue"_s}, u"B.V."_s);
    row("Acme Widgets", {u"acmewidgets"_s, u"acme-widgets"_s});
    row("Acme Widgets, Inc.", {u"acmewidgets"_s, u"acme-widgets"_s}, u"Inc."_s);
    row("Acme Inc", {u"acme"_s}, u"Inc."_s);
    row("Acme Corp.", {u"acme"_s}, u"Corp."_s);
    row("Acme Corporation", {u"acme"_s}, u"Corporation"_s);
    row("Acme LLC", {u"acme"_s}, u"LLC"_s);
    row("Acme Ltd", {u"acme"_s}, u"Ltd."_s);
    row("Acme Limited", {u"acme"_s}, u"Limited"_s);
    row("Acme PLC", {u"acme"_s}, u"PLC"_s);
    row("Acme Pty Ltd", {u"acme"_s}, u"Pty Ltd"_s);
    row("Siemens AG", {u"siemens"_s}, u"AG"_s);
    row("Müller GmbH", {u"muller"_s}, u"GmbH"_s);
    row("Bäckerei Schmidt GmbH & Co. KG", {u"backereischmidt"_s, u"backerei-schmidt"_s}, u"GmbH & Co. KG"_s);
    row("Weber UG (haftungsbeschränkt)", {u"weber"_s}, u"UG (haftungsbeschränkt)"_s);
    row("Blumen Meyer e.K.", {u"blumenmeyer"_s, u"blumen-meyer"_s}, u"e.K."_s);
    row("Airbus SE", {u"airbus"_s}, u"SE"_s);
    row("Philips N.V.", {u"philips"_s}, u"N.V."_s);
    row("Heineken NV", {u"heineken"_s}, u"N.V."_s);
    row("Société Générale S.A.", {u"societegenerale"_s, u"societe-generale"_s}, u"S.A."_s);
    row("Ubisoft SA", {u"ubisoft"_s}, u"S.A."_s);
    row("Dupont SARL", {u"dupont"_s}, u"SARL"_s);
    row("Blablacar SAS", {u"blablacar"_s}, u"SAS"_s);
    row("Telefónica S.L.", {u"telefonica"_s}, u"S.L."_s);
    row("Ferrari S.p.A.", {u"ferrari"_s}, u"S.p.A."_s);
    row("Trattoria Roma S.r.l.", {u"trattoriaroma"_s, u"trattoria-roma"_s}, u"S.r.l."_s);
    row("Nokia Oyj", {u"nokia"_s}, u"Oyj"_s);
    row("Supercell Oy", {u"supercell"_s}, u"Oy"_s);
    row("Spotify AB", {u"spotify"_s}, u"AB"_s);
    row("Equinor ASA", {u"equinor"_s}, u"ASA"_s);
    row("Kiwi AS", {u"kiwi"_s}, u"AS"_s);
    row("Mærsk A/S", {u"maersk"_s}, u"A/S"_s);
    row("Lego ApS", {u"lego"_s}, u"ApS"_s);
    row("Sony KK", {u"sony"_s}, u"KK"_s);
    row("Skoda s.r.o.", {u"skoda"_s}, u"s.r.o."_s);
    row("Allegro sp. z o.o.", {u"allegro"_s}, u"sp. z o.o."_s);
    row("Sonae Lda.", {u"sonae"_s}, u"Lda."_s);
    row("The Coca-Cola Company", {u"cocacola"_s, u"coca-cola"_s}, u"Company"_s);
    row("The Home Depot", {u"homedepot"_s, u"home-depot"_s});
    row("The", {u"the"_s});
    row("Procter & Gamble",
        {u"procterandgamble"_s, u"procter-and-gamble"_s, u"proctergamble"_s, u"procter-gamble"_s});
    row("AT&T Inc.", {u"att"_s, u"at-t"_s, u"atandt"_s, u"at-and-t"_s}, u"Inc."_s);
    row("Marks and Spencer plc", {u"marksandspencer"_s, u"marks-and-spencer"_s}, u"PLC"_s);
    row("Johnson & Johnson",
        {u"johnsonandjohnson"_s, u"johnson-and-johnson"_s, u"johnsonjohnson"_s, u"johnson-johnson"_s});
    row("McDonald's", {u"mcdonalds"_s});
    row("McDonald’s Corporation", {u"mcdonalds"_s}, u"Corporation"_s);
    row("Ben & Jerry's", {u"benandjerrys"_s, u"ben-and-jerrys"_s, u"benjerrys"_s, u"ben-jerrys"_s});
    row("Booking.com", {u"booking"_s});
    row("Booking.com B.V.", {u"booking"_s}, u"B.V."_s);
    row("Yahoo!", {u"yahoo"_s});
    row("Lidl Stiftung & Co. KG", {u"lidlstiftung"_s, u"lidl-stiftung"_s}, u"& Co. KG"_s);
    row("Rheinmetall AG & Co", {u"rheinmetall"_s}, u"AG & Co."_s);
    row("Økologisk Ølbryggeri", {u"okologiskolbryggeri"_s, u"okologisk-olbryggeri"_s});
    row("Łódź Logistics", {u"lodzlogistics"_s, u"lodz-logistics"_s});
    row("Straße & Partner",
        {u"strasseandpartner"_s, u"strasse-and-partner"_s, u"strassepartner"_s, u"strasse-partner"_s});
    row("Crème Brûlée Café", {u"cremebruleecafe"_s, u"creme-brulee-cafe"_s});
    row("3M Company", {u"3m"_s}, u"Company"_s);
    row("7-Eleven, Inc.", {u"7eleven"_s, u"7-eleven"_s}, u"Inc."_s);
    row("H&M Hennes & Mauritz AB",
        {u"handmhennesandmauritz"_s, u"h-and-m-hennes-and-mauritz"_s, u"hmhennesmauritz"_s,
         u"h-m-hennes-mauritz"_s},
        u"AB"_s);
    row("トヨタ自動車", {});
    row("中国银行", {});
    row("Inc.", {u"inc"_s});
    row("   ", {});
    row("ACME", {u"acme"_s});
    row("Acme Co., Ltd.", {u"acme"_s}, u"Co., Ltd."_s);
    row("Foo Bar Pte. Ltd.", {u"foobar"_s, u"foo-bar"_s}, u"Pte. Ltd."_s);
}

void TestCompanyName::normalise()
{
    QFETCH(QString, name);
    QFETCH(QStringList, labels);
    QFETCH(QString, legalForm);
    const CompanyName c = normaliseCompanyName(name);
    QCOMPARE(c.labels, labels);
    QCOMPARE(c.legalForm, legalForm);
}

void TestCompanyName::tldOrder_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QStringList>("firstTlds");
    QTest::newRow("no hint") << u"Coolblue"_s << QStringList{u"com"_s, u"nl"_s, u"de"_s};
    QTest::newRow("B.V.") << u"Coolblue B.V."_s << QStringList{u"nl"_s, u"com"_s, u"de"_s};
    QTest::newRow("GmbH") << u"Müller GmbH"_s << QStringList{u"de"_s, u"com"_s, u"nl"_s};
    QTest::newRow("SARL: .fr added") << u"Dupont SARL"_s << QStringList{u"fr"_s, u"com"_s, u"nl"_s};
    QTest::newRow("S.r.l.: .it added") << u"Roma S.r.l."_s << QStringList{u"it"_s, u"com"_s};
    QTest::newRow("Ltd: .co.uk") << u"Acme Ltd"_s << QStringList{u"co.uk"_s, u"com"_s};
    QTest::newRow("written as .io") << u"Linear.io"_s << QStringList{u"io"_s, u"com"_s, u"nl"_s};
    QTest::newRow("Inc: no country") << u"Acme Inc."_s << QStringList{u"com"_s, u"nl"_s};
}

void TestCompanyName::tldOrder()
{
    QFETCH(QString, name);
    QFETCH(QStringList, firstTlds);
    const CompanyName c = normaliseCompanyName(name);
    QCOMPARE(c.tlds.mid(0, firstTlds.size()), firstTlds);
    for (const QString &tld : defaultTlds())
        QVERIFY2(c.tlds.contains(tld), qPrintable(tld)); // every default TLD is still tried
}

void TestCompanyName::candidatesAreLabelsTimesTlds()
{
    const CompanyName c = normaliseCompanyName(u"Acme Widgets B.V."_s);
    const QStringList candidates = c.candidates();
    QCOMPARE(candidates.size(), c.labels.size() * c.tlds.size());
    QCOMPARE(candidates.first(), u"acmewidgets.nl"_s);
    QCOMPARE(candidates.at(1), u"acmewidgets.com"_s);
    QVERIFY(candidates.contains(u"acme-widgets.org"_s));
    QVERIFY(normaliseCompanyName(u"中国银行"_s).candidates().isEmpty());
}

QTEST_APPLESS_MAIN(TestCompanyName)
#include "tst_companyname.moc"
