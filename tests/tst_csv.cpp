// CSV reading and writing: RFC 4180 quoting, delimiter detection (Excel's European semicolons, tabs),
// encodings, and neutralising formula injection on export.
#include "core/csv.h"
#include "testengine.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
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
    void raggedRowsAndBomFiles();
    void parserAcrossPieces_data() { parse_data(); }
    void parserAcrossPieces();
    void readerMatchesReadFile_data();
    void readerMatchesReadFile();
    void firstRecords();
    void millionRows();
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
    // The same in UTF-8, as exports write it.
    QByteArray utf8;
    csv::appendRecord(utf8, {value.toUtf8()});
    QCOMPARE(utf8, (written + u"\r\n"_s).toUtf8());
}

void TestCsv::roundTrip()
{
    const QStringList values{u"Acme, Inc."_s, u"say \"hi\""_s, u"two\nlines"_s, QString(), u"ok"_s};
    const QString text = csv::record(values) + csv::record({u"x"_s});
    QCOMPARE(csv::parse(text, u','), (QList<QStringList>{values, {u"x"_s}}));
    // Written in UTF-8 in place, the same bytes, non-ASCII text included.
    QByteArray utf8 = "head\r\n";
    const QStringList more = values + QStringList{u"Müller; ü"_s, u"-ø"_s};
    QList<QByteArray> bytes;
    for (const QString &v : more)
        bytes.append(v.toUtf8());
    csv::appendRecord(utf8, QList<QByteArrayView>(bytes.cbegin(), bytes.cend()));
    QCOMPARE(utf8, "head\r\n" + csv::record(more).toUtf8());
}

void TestCsv::decode()
{
    QCOMPARE(csv::decode("\xEF\xBB\xBFM\xC3\xBCller"), u"Müller"_s);      // UTF-8 with BOM
    QCOMPARE(csv::decode("M\xC3\xBCller"), u"Müller"_s);                  // UTF-8
    QCOMPARE(csv::decode(QByteArray("\xFF\xFEM\0\xFC\0", 6)), u"Mü"_s);   // UTF-16 LE with BOM
    QCOMPARE(csv::decode("M\xFCller \x80 \x93q\x94"), u"Müller € “q”"_s); // Windows-1252
}

void TestCsv::raggedRowsAndBomFiles()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"ragged.csv"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("\xEF\xBB\xBFname;email;note\r\nAnn;ann@example.com\r\nBob;bob@example.com;x;extra\r\n");
    f.close();
    QString error;
    const QList<QStringList> rows = csv::readFile(path, &error);
    QVERIFY(error.isEmpty());
    QCOMPARE(rows.size(), 3);
    QCOMPARE(rows.at(0).first(), u"name"_s); // no BOM left in the first cell
    QCOMPARE(rows.at(1).size(), 2);          // short and long rows as they are
    QCOMPARE(rows.at(2).size(), 4);
    bool header = false;
    QCOMPARE(csv::guessAddressColumn(rows, &header), 1);
    QVERIFY(header);
    QVERIFY(csv::readFile(dir.filePath(u"missing.csv"_s), &error).isEmpty());
    QVERIFY(!error.isEmpty());
}

void TestCsv::parserAcrossPieces()
{
    // The same records whatever the cuts: in two pieces at every position, and one character at a time.
    QFETCH(QString, text);
    QFETCH(QString, delimiter);
    QFETCH(QList<QStringList>, records);
    auto parsePieces = [&](const QList<QStringView> &pieces) {
        QList<QStringList> out;
        csv::Parser parser(delimiter.at(0));
        const auto add = [&out](QStringList &&r) { out.append(std::move(r)); };
        for (QStringView piece : pieces)
            parser.feed(piece, add);
        parser.finish(add);
        return out;
    };
    const QStringView all(text);
    for (qsizetype cut = 0; cut <= text.size(); ++cut)
        QCOMPARE(parsePieces({all.left(cut), all.mid(cut)}), records);
    QList<QStringView> single;
    for (qsizetype i = 0; i < text.size(); ++i)
        single.append(all.mid(i, 1));
    QCOMPARE(parsePieces(single), records);
}

void TestCsv::readerMatchesReadFile_data()
{
    QTest::addColumn<QByteArray>("bytes");
    QTest::addColumn<QString>("expectedFirstCell");
    QByteArray big;
    // Past the reader's 1 MiB pieces: a quoted field with line breaks, quotes and a delimiter around the
    // boundary, and multi-byte characters cut by it.
    while (big.size() < 1024 * 1024 - 20)
        big += "M\xC3\xBCller,m\xC3\xBC@example.com,\"multi\r\nline, \"\"quoted\"\"\"\r\n";
    QByteArray late = big;
    late += "Z\xFCrich,z@example.com,last\r\n"; // not UTF-8 at the very end: the whole file is Windows-1252
    QTest::newRow("utf-8, pieces cut mid-field") << (big + big) << u"Müller"_s;
    QTest::newRow("windows-1252 found late") << late << u"MÃ¼ller"_s;
    QTest::newRow("utf-8 bom, semicolons")
        << QByteArray("\xEF\xBB\xBFname;email\r\nAnn;a@x.test\r\n") << u"name"_s;
    const QString text = u"näme\temail\nÄnn\ta@x.test\n"_s;
    QByteArray utf16("\xFF\xFE");
    utf16.append(reinterpret_cast<const char *>(text.utf16()), text.size() * 2);
    QTest::newRow("utf-16 le, tabs") << utf16 << u"näme"_s;
    QTest::newRow("empty") << QByteArray() << QString();
    QTest::newRow("no final line break") << QByteArray("a@x.test\nb@x.test") << u"a@x.test"_s;
}

void TestCsv::readerMatchesReadFile()
{
    QFETCH(QByteArray, bytes);
    QFETCH(QString, expectedFirstCell);
    QTemporaryDir dir;
    const QString path = dir.filePath(u"list.csv"_s);
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(bytes);
    f.close();
    QString error;
    const QList<QStringList> whole = csv::readFile(path, &error);
    QVERIFY(error.isEmpty());
    csv::Reader reader(path);
    QVERIFY(reader.open());
    QList<QStringList> streamed;
    QStringList record;
    while (reader.next(&record))
        streamed.append(record);
    QVERIFY(reader.error().isEmpty());
    QCOMPARE(reader.position(), reader.size());
    QCOMPARE(streamed.size(), whole.size());
    QCOMPARE(streamed, whole);
    QCOMPARE(streamed.value(0).value(0), expectedFirstCell);
}

void TestCsv::firstRecords()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"list.csv"_s);
    QVERIFY(mailcaff::test::writeGeneratedList(path, 500, 5));
    QString error;
    bool complete = true;
    const QList<QStringList> preview = csv::readFirstRecords(path, 100, &error, &complete);
    QCOMPARE(preview.size(), 100);
    QVERIFY(!complete);
    QCOMPARE(preview.first(), (QStringList{u"name"_s, u"email"_s, u"company"_s}));
    QCOMPARE(csv::readFirstRecords(path, 1000, &error, &complete).size(), 501);
    QVERIFY(complete);
    QVERIFY(csv::readFirstRecords(dir.filePath(u"missing.csv"_s), 10, &error).isEmpty());
    QVERIFY(!error.isEmpty());
}

void TestCsv::millionRows()
{
    // A generated file of 1,000,000 rows, read record by record as an import does (nothing kept but the
    // count). Time and memory are printed, not asserted.
    QTemporaryDir dir;
    const QString path = dir.filePath(u"big.csv"_s);
    QVERIFY(mailcaff::test::writeGeneratedList(path, 1'000'000, 500));
    QElapsedTimer t;
    t.start();
    csv::Reader reader(path);
    QVERIFY(reader.open());
    QStringList record, last;
    qsizetype count = 0;
    while (reader.next(&record)) {
        ++count;
        last = record;
    }
    const qint64 ms = t.elapsed();
    QCOMPARE(count, 1'000'001);
    QCOMPARE(last.at(2), u"Company 26, Inc."_s); // 999999 % 97
    qint64 peakKb = -1;
    QFile status(u"/proc/self/status"_s);
    if (status.open(QIODevice::ReadOnly))
        for (const QByteArray &line : status.readAll().split('\n'))
            if (line.startsWith("VmHWM:"))
                peakKb = line.mid(6).trimmed().split(' ').first().toLongLong();
    qInfo("1,000,000 rows (%lld MiB) read and parsed in %lld ms; peak memory %lld MiB",
          QFileInfo(path).size() / (1024 * 1024), ms, peakKb / 1024);
}

QTEST_APPLESS_MAIN(TestCsv)
#include "tst_csv.moc"
