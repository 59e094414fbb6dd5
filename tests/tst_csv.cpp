// CSV reading and writing: RFC 4180 quoting, delimiter detection (Excel's European semicolons, tabs),
// encodings, and neutralising formula injection on export.
#include "core/csv.h"

#include <QTest>

using namespace mailcaff::core;
using namespace Qt::StringLiterals;

class TestCsv : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void parse_data();
    void parse();
    void detectDelimiter_data();
    void detectDelimiter();
    void formulaInjectionIsNeutralised_data();
    void formulaInjectionIsNeutralised();
    void roundTrip();
    void decode();
};

void TestCsv::parse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("delimiter");
    QTest::addColumn<QList<QStringList>>("records");
    QTest::newRow("plain") << u"a,b\nc,d\n"_s << u","_s
                           << QList<QStringList>{{u"a"_s, u"b"_s}, {u"c"_s, u"d"_s}};
    QTest::newRow("crlf, no final newline")
        << u"a,b\r\nc,d"_s << u","_s << QList<QStringList>{{u"a"_s, u"b"_s}, {u"c"_s, u"d"_s}};
    QTest::newRow("quoted delimiter and quote") << u"\"Acme, Inc.\",\"say \"\"hi\"\"\"\n"_s << u","_s
                                                << QList<QStringList>{{u"Acme, Inc."_s, u"say \"hi\""_s}};
    QTest::newRow("line break in quotes")
        << u"\"two\nlines\",x\n"_s << u","_s << QList<QStringList>{{u"two\nlines"_s, u"x"_s}};
    QTest::newRow("empty fields") << u",,\n"_s << u","_s
                                  << QList<QStringList>{{QString(), QString(), QString()}};
    QTest::newRow("semicolons") << u"Müller GmbH;Berlin\n"_s << u";"_s
                                << QList<QStringList>{{u"Müller GmbH"_s, u"Berlin"_s}};
    QTest::newRow("one column") << u"Coolblue\nAcme\n"_s << u","_s
                                << QList<QStringList>{{u"Coolblue"_s}, {u"Acme"_s}};
    QTest::newRow("blank line kept as a record")
        << u"a\n\nb\n"_s << u","_s << QList<QStringList>{{u"a"_s}, {QString()}, {u"b"_s}};
}

void TestCsv::parse()
{
    QFETCH(QString, text);
    QFETCH(QString, delimiter);
    QFETCH(QList<QStringList>, records);
    QCOMPARE(csv::parse(text, delimiter.at(0)), records);
}

void TestCsv::detectDelimiter_data()
{
    QTest::addColumn<QString>("sample");
    QTest::addColumn<QString>("delimiter");
    QTest::newRow("comma") << u"name,city\nAcme,Paris\n"_s << u","_s;
    QTest::newRow("semicolon with commas in quotes")
        << u"name;city\n\"Acme, Inc.\";Paris\n\"Foo, Ltd\";Rome\n"_s << u";"_s;
    QTest::newRow("tab") << u"name\tcity\nAcme\tParis\n"_s << u"\t"_s;
    QTest::newRow("one column") << u"Coolblue\nAcme\n"_s << u","_s;
    QTest::newRow("european decimals") << u"name;revenue\nAcme;1,5\nFoo;2,25\n"_s << u";"_s;
}

void TestCsv::detectDelimiter()
{
    QFETCH(QString, sample);
    QFETCH(QString, delimiter);
    QCOMPARE(csv::detectDelimiter(sample), delimiter.at(0));
}

void TestCsv::formulaInjectionIsNeutralised_data()
{
    QTest::addColumn<QString>("value");
    QTest::addColumn<QString>("written");
    QTest::newRow("=") << u"=HYPERLINK(\"http://evil\")"_s << u"\"'=HYPERLINK(\"\"http://evil\"\")\""_s;
    QTest::newRow("+") << u"+1+1"_s << u"'+1+1"_s;
    QTest::newRow("-") << u"-2+3"_s << u"'-2+3"_s;
    QTest::newRow("@") << u"@SUM(A1)"_s << u"'@SUM(A1)"_s;
    QTest::newRow("tab") << u"\t=1"_s << u"'\t=1"_s;
    QTest::newRow("cr") << u"\r=1"_s << u"\"'\r=1\""_s;
    QTest::newRow("plain") << u"acme.com"_s << u"acme.com"_s;
    QTest::newRow("inside is fine") << u"a=b"_s << u"a=b"_s;
}

void TestCsv::formulaInjectionIsNeutralised()
{
    QFETCH(QString, value);
    QFETCH(QString, written);
    QCOMPARE(csv::field(value), written);
}

void TestCsv::roundTrip()
{
    const QStringList values{u"Acme, Inc."_s, u"say \"hi\""_s, u"two\nlines"_s, QString(), u"ok"_s};
    const QString text = csv::record(values) + csv::record({u"x"_s});
    QCOMPARE(csv::parse(text, u','), (QList<QStringList>{values, {u"x"_s}}));
}

void TestCsv::decode()
{
    QCOMPARE(csv::decode("\xEF\xBB\xBFM\xC3\xBCller"), u"Müller"_s);      // UTF-8 with BOM
    QCOMPARE(csv::decode("M\xC3\xBCller"), u"Müller"_s);                  // UTF-8
    QCOMPARE(csv::decode(QByteArray("\xFF\xFEM\0\xFC\0", 6)), u"Mü"_s);   // UTF-16 LE with BOM
    QCOMPARE(csv::decode("M\xFCller \x80 \x93q\x94"), u"Müller € “q”"_s); // Windows-1252
}

QTEST_APPLESS_MAIN(TestCsv)
#include "tst_csv.moc"
