#include "lists/lists.h"

#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QUrl>

#include <atomic>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using mailcaff::lists::Lists;

namespace {

QString ace(const QString &domain)
{
    return QString::fromLatin1(QUrl::toAce(domain));
}

bool writeFile(const QString &path, const QString &text)
{
    QFile file(path);
    return file.open(QIODevice::WriteOnly | QIODevice::Truncate) && file.write(text.toUtf8()) >= 0;
}

} // namespace

class TestLists : public QObject
{
    Q_OBJECT

private slots:
    void initTestCase();
    void disposable_data();
    void disposable();
    void free_data();
    void free();
    void role_data();
    void role();
    void suggestDomain_data();
    void suggestDomain();
    void osaDistanceMatchesTheFullTable();
    void suggestionsRememberedAcrossThreads();
    void counts();
    void shippedListsConsistent();
    void spamTrapsShippedEmpty();
    void userFiles();
    void missingUserDir();
    void loadTime();
    void domainSetAgreesWithQSet();

private:
    std::shared_ptr<const Lists> m_lists;
};

void TestLists::initTestCase()
{
    m_lists = Lists::load();
    QVERIFY(m_lists);
}

void TestLists::disposable_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<bool>("expected");

    QTest::addRow("mailinator.com listed") << u"mailinator.com"_s << true;
    QTest::addRow("guerrillamail.com listed") << u"guerrillamail.com"_s << true;
    QTest::addRow("yopmail.com listed") << u"yopmail.com"_s << true;
    QTest::addRow("10minutemail.com listed") << u"10minutemail.com"_s << true;
    QTest::addRow("subdomain of a listed domain") << u"mail.mailinator.com"_s << true;
    QTest::addRow("deep subdomain of a listed domain") << u"a.b.c.mailinator.com"_s << true;
    QTest::addRow("wildcard entry itself") << u"33mail.com"_s << true;
    QTest::addRow("subdomain of a wildcard entry") << u"john.33mail.com"_s << true;
    QTest::addRow("subdomain of another wildcard entry") << u"someone.anonaddy.me"_s << true;
    QTest::addRow("internationalised entry in punycode") << ace(u"instágram.com"_s) << true;
    QTest::addRow("gmail.com not disposable") << u"gmail.com"_s << false;
    QTest::addRow("outlook.com not disposable") << u"outlook.com"_s << false;
    QTest::addRow("example.com not disposable") << u"example.com"_s << false;
    QTest::addRow("suffix not at a label boundary") << u"xmailinator.com"_s << false;
    QTest::addRow("parent of a listed domain") << u"com"_s << false;
    QTest::addRow("empty domain") << QString() << false;
}

void TestLists::disposable()
{
    QFETCH(QString, domain);
    QFETCH(bool, expected);
    QCOMPARE(m_lists->isDisposableDomain(domain), expected);
}

void TestLists::free_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<bool>("expected");

    for (const auto domain :
         {u"gmail.com", u"googlemail.com", u"yahoo.com", u"outlook.com", u"hotmail.com", u"live.com",
          u"icloud.com", u"aol.com", u"gmx.de", u"web.de", u"proton.me", u"protonmail.com", u"yandex.ru",
          u"mail.ru", u"qq.com", u"yahoo.co.uk", u"mail.com"})
        QTest::addRow("%s is free", qPrintable(QString::fromUtf16(domain)))
            << QString::fromUtf16(domain) << true;
    QTest::addRow("disposable wins over free") << u"mailinator.com"_s << false;
    QTest::addRow("company domain") << u"acme.com"_s << false;
    QTest::addRow("subdomain of a provider is not the provider") << u"mail.gmail.com"_s << false;
    QTest::addRow("misspelt provider is not a provider") << u"gmial.com"_s << false;
    QTest::addRow("empty domain") << QString() << false;
}

void TestLists::free()
{
    QFETCH(QString, domain);
    QFETCH(bool, expected);
    QCOMPARE(m_lists->isFreeDomain(domain), expected);
}

void TestLists::role_data()
{
    QTest::addColumn<QString>("localPart");
    QTest::addColumn<bool>("expected");

    QTest::addRow("info") << u"info"_s << true;
    QTest::addRow("capitalised Info") << u"Info"_s << true;
    QTest::addRow("uppercase INFO") << u"INFO"_s << true;
    QTest::addRow("support with plus tag") << u"support+x"_s << true;
    QTest::addRow("sales with dotted plus tag") << u"sales+eu.north"_s << true;
    QTest::addRow("no_reply with underscore") << u"no_reply"_s << true;
    QTest::addRow("no-reply with hyphen") << u"no-reply"_s << true;
    QTest::addRow("noreply without separator") << u"noreply"_s << true;
    QTest::addRow("no.reply with dot") << u"no.reply"_s << true;
    QTest::addRow("do-not-reply") << u"do-not-reply"_s << true;
    QTest::addRow("donotreply") << u"donotreply"_s << true;
    QTest::addRow("postmaster (RFC 5321 4.5.1)") << u"postmaster"_s << true;
    QTest::addRow("abuse (RFC 2142)") << u"abuse"_s << true;
    QTest::addRow("hostmaster") << u"hostmaster"_s << true;
    QTest::addRow("webmaster") << u"webmaster"_s << true;
    QTest::addRow("mailer-daemon") << u"MAILER-DAEMON"_s << true;
    QTest::addRow("contact-us spelt together") << u"contactus"_s << true;
    QTest::addRow("quoted role") << u"\"info\""_s << true;
    QTest::addRow("person john") << u"john"_s << false;
    QTest::addRow("person with role word inside") << u"john.info"_s << false;
    QTest::addRow("role word with suffix") << u"infos"_s << false;
    QTest::addRow("person with plus tag") << u"jane+support"_s << false;
    QTest::addRow("only a plus tag") << u"+info"_s << false;
    QTest::addRow("empty local part") << QString() << false;
}

void TestLists::role()
{
    QFETCH(QString, localPart);
    QFETCH(bool, expected);
    QCOMPARE(m_lists->isRoleLocalPart(localPart), expected);
}

void TestLists::suggestDomain_data()
{
    QTest::addColumn<QString>("domain");
    QTest::addColumn<QString>("expected");

    QTest::addRow("gmial.com transposition") << u"gmial.com"_s << u"gmail.com"_s;
    QTest::addRow("gmai.com missing letter") << u"gmai.com"_s << u"gmail.com"_s;
    QTest::addRow("gamil.com transposition") << u"gamil.com"_s << u"gmail.com"_s;
    QTest::addRow("gnail.com substitution") << u"gnail.com"_s << u"gmail.com"_s;
    QTest::addRow("ggmail.com extra letter") << u"ggmail.com"_s << u"gmail.com"_s;
    QTest::addRow("gmail.co missing m") << u"gmail.co"_s << u"gmail.com"_s;
    QTest::addRow("gmail.con TLD typo") << u"gmail.con"_s << u"gmail.com"_s;
    QTest::addRow("gmail.cmo TLD typo") << u"gmail.cmo"_s << u"gmail.com"_s;
    QTest::addRow("gmail.cm real ccTLD, corrected for a provider") << u"gmail.cm"_s << u"gmail.com"_s;
    QTest::addRow("yahoo.om real ccTLD, corrected for a provider") << u"yahoo.om"_s << u"yahoo.com"_s;
    QTest::addRow("outlook.ocm TLD typo") << u"outlook.ocm"_s << u"outlook.com"_s;
    QTest::addRow("hotmail.comm TLD typo") << u"hotmail.comm"_s << u"hotmail.com"_s;
    QTest::addRow("gmial.con both typos") << u"gmial.con"_s << u"gmail.com"_s;
    QTest::addRow("hotmial.com transposition") << u"hotmial.com"_s << u"hotmail.com"_s;
    QTest::addRow("hotmal.com missing letter") << u"hotmal.com"_s << u"hotmail.com"_s;
    QTest::addRow("yaho.com missing letter") << u"yaho.com"_s << u"yahoo.com"_s;
    QTest::addRow("yahooo.com extra letter") << u"yahooo.com"_s << u"yahoo.com"_s;
    QTest::addRow("yhaoo.com transposition") << u"yhaoo.com"_s << u"yahoo.com"_s;
    QTest::addRow("outlok.com missing letter") << u"outlok.com"_s << u"outlook.com"_s;
    QTest::addRow("iclod.com missing letter") << u"iclod.com"_s << u"icloud.com"_s;
    QTest::addRow("protonmial.com transposition") << u"protonmial.com"_s << u"protonmail.com"_s;
    QTest::addRow("yahoo.co.uj near yahoo.co.uk") << u"yahoo.co.uj"_s << u"yahoo.co.uk"_s;
    QTest::addRow("tie goes to the earlier target") << u"hotmail.dr"_s << u"hotmail.de"_s;
    QTest::addRow("acme.con non-existent TLD") << u"acme.con"_s << u"acme.com"_s;
    QTest::addRow("acme.ogr non-existent TLD") << u"acme.ogr"_s << u"acme.org"_s;
    QTest::addRow("acme.nte non-existent TLD") << u"acme.nte"_s << u"acme.net"_s;

    QTest::addRow("gmail.com unchanged") << u"gmail.com"_s << QString();
    QTest::addRow("yahoo.co.uk unchanged") << u"yahoo.co.uk"_s << QString();
    QTest::addRow("gmx.de unchanged") << u"gmx.de"_s << QString();
    QTest::addRow("gmx.net unchanged") << u"gmx.net"_s << QString();
    QTest::addRow("mail.com is a real provider") << u"mail.com"_s << QString();
    QTest::addRow("ymail.com is a real provider") << u"ymail.com"_s << QString();
    QTest::addRow("hotmail.be is a real provider") << u"hotmail.be"_s << QString();
    QTest::addRow("acme.com unchanged") << u"acme.com"_s << QString();
    QTest::addRow("example.org unchanged") << u"example.org"_s << QString();
    QTest::addRow("example.cm real ccTLD unchanged") << u"example.cm"_s << QString();
    QTest::addRow("example.co real ccTLD unchanged") << u"example.co"_s << QString();
    QTest::addRow("ge.com short, substitution only") << u"ge.com"_s << QString();
    QTest::addRow("aon.com short, substitution only") << u"aon.com"_s << QString();
    QTest::addRow("gmail.de too far from any target") << u"gmail.de"_s << QString();
    QTest::addRow("university domain") << u"mit.edu"_s << QString();
    QTest::addRow("empty domain") << QString() << QString();
}

void TestLists::suggestDomain()
{
    QFETCH(QString, domain);
    QFETCH(QString, expected);
    QCOMPARE(m_lists->suggestDomain(domain), expected);
}

void TestLists::counts()
{
    QVERIFY2(m_lists->disposableCount() > 100000, qPrintable(QString::number(m_lists->disposableCount())));
    QVERIFY2(m_lists->freeCount() > 5000, qPrintable(QString::number(m_lists->freeCount())));
    QVERIFY2(m_lists->roleCount() >= 80, qPrintable(QString::number(m_lists->roleCount())));
}

// A domain is disposable or free, never both; and no typo target is disposable or "corrected" itself.
void TestLists::shippedListsConsistent()
{
    QFile free(u":/lists/free.txt"_s);
    QVERIFY(free.open(QIODevice::ReadOnly));
    int checked = 0;
    for (const QByteArray &line : free.readAll().split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const QString domain = QString::fromLatin1(line);
        QVERIFY2(domain == domain.toLower().trimmed(), line.constData());
        QVERIFY2(!m_lists->isDisposableDomain(domain), line.constData());
        QVERIFY2(m_lists->suggestDomain(domain).isEmpty(), line.constData());
        ++checked;
    }
    QCOMPARE(checked, m_lists->freeCount());

    QFile targets(u":/lists/typo-targets.txt"_s);
    QVERIFY(targets.open(QIODevice::ReadOnly));
    for (const QByteArray &line : targets.readAll().split('\n')) {
        if (line.isEmpty() || line.startsWith('#'))
            continue;
        const QString domain = QString::fromLatin1(line);
        QVERIFY2(!m_lists->isDisposableDomain(domain), line.constData());
        QVERIFY2(m_lists->suggestDomain(domain).isEmpty(), line.constData());
    }
}

void TestLists::spamTrapsShippedEmpty()
{
    QVERIFY(!m_lists->isSpamTrap(u"spamtrap"_s, u"example.com"_s));
    QVERIFY(!m_lists->isSpamTrap(u"john"_s, u"gmail.com"_s));
}

void TestLists::userFiles()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    QVERIFY(writeFile(dir.filePath(u"disposable.txt"_s), u"# my throwaway domains\n"
                                                         "  MyTemp.Example  \n"
                                                         "\n"
                                                         "*.wild.example\n"
                                                         "bücher-temp.de\n"
                                                         "trailing.example.   # with a comment\r\n"_s));
    QVERIFY(writeFile(dir.filePath(u"allow-disposable.txt"_s), u"mailinator.com\ncorp.mytemp.example\n"_s));
    QVERIFY(writeFile(dir.filePath(u"free.txt"_s), u"Corp-Mail.example\n"_s));
    QVERIFY(writeFile(dir.filePath(u"role.txt"_s), u"Ventas\nequipo-ventas\n"_s));
    QVERIFY(writeFile(dir.filePath(u"spamtraps.txt"_s), u"# traps from our blocklist provider\n"
                                                        "trap.example\n"
                                                        "Honey@Pot.example\n"
                                                        "old@münchen.example\n"_s));

    const auto lists = Lists::load(dir.path());
    // Shipped entries are still there.
    QVERIFY(lists->isDisposableDomain(u"yopmail.com"_s));
    QVERIFY(lists->isFreeDomain(u"gmail.com"_s));
    QVERIFY(lists->isRoleLocalPart(u"info"_s));

    QVERIFY(lists->isDisposableDomain(u"mytemp.example"_s));
    QVERIFY(lists->isDisposableDomain(u"mail.mytemp.example"_s));
    QVERIFY(lists->isDisposableDomain(u"wild.example"_s));
    QVERIFY(lists->isDisposableDomain(u"x.wild.example"_s));
    QVERIFY(lists->isDisposableDomain(ace(u"bücher-temp.de"_s)));
    QVERIFY(lists->isDisposableDomain(u"trailing.example"_s));
    QCOMPARE(lists->disposableCount(), m_lists->disposableCount() + 4);

    // The allow list overrides the shipped list and, for its subdomains, the user's own.
    QVERIFY(!lists->isDisposableDomain(u"mailinator.com"_s));
    QVERIFY(!lists->isDisposableDomain(u"eu.mailinator.com"_s));
    QVERIFY(!lists->isDisposableDomain(u"corp.mytemp.example"_s));
    QVERIFY(!lists->isDisposableDomain(u"x.corp.mytemp.example"_s));
    QVERIFY(lists->isDisposableDomain(u"other.mytemp.example"_s));
    QVERIFY(m_lists->isDisposableDomain(u"mailinator.com"_s)); // another instance is not affected

    QVERIFY(lists->isFreeDomain(u"corp-mail.example"_s));
    QCOMPARE(lists->freeCount(), m_lists->freeCount() + 1);
    QVERIFY(lists->suggestDomain(u"corp-mail.example"_s).isEmpty());

    QVERIFY(lists->isRoleLocalPart(u"ventas"_s));
    QVERIFY(lists->isRoleLocalPart(u"Ventas+web"_s));
    QVERIFY(lists->isRoleLocalPart(u"equipo_ventas"_s));
    QVERIFY(lists->isRoleLocalPart(u"equipoventas"_s));
    QCOMPARE(lists->roleCount(), m_lists->roleCount() + 2);

    QVERIFY(lists->isSpamTrap(u"anyone"_s, u"trap.example"_s));
    QVERIFY(lists->isSpamTrap(u"anyone"_s, u"sub.trap.example"_s));
    QVERIFY(!lists->isSpamTrap(u"anyone"_s, u"nottrap.example"_s));
    QVERIFY(lists->isSpamTrap(u"honey"_s, u"pot.example"_s));
    QVERIFY(lists->isSpamTrap(u"HONEY"_s, u"pot.example"_s));
    QVERIFY(!lists->isSpamTrap(u"bee"_s, u"pot.example"_s));
    QVERIFY(lists->isSpamTrap(u"old"_s, ace(u"münchen.example"_s)));
    QVERIFY(!m_lists->isSpamTrap(u"anyone"_s, u"trap.example"_s));
}

void TestLists::missingUserDir()
{
    const auto lists = Lists::load(u"/nonexistent/mailcaff/lists"_s);
    QCOMPARE(lists->disposableCount(), m_lists->disposableCount());
    QCOMPARE(lists->freeCount(), m_lists->freeCount());
    QCOMPARE(lists->roleCount(), m_lists->roleCount());
}

// The brief is under 150 ms in a Release build; a Debug build only has to stay usable.
void TestLists::loadTime()
{
    QElapsedTimer timer;
    timer.start();
    const auto lists = Lists::load();
    const qint64 elapsed = timer.elapsed();
    QVERIFY(lists->disposableCount() > 100000);
    qInfo("Lists::load() took %lld ms", elapsed);
    QVERIFY2(elapsed < 2000, qPrintable(QString::number(elapsed)));
}

// The lists' compact set of names against QSet<QString>: random names over a small alphabet (so that
// prefixes, near-misses and hash neighbours are common) through several growths, then every kind of edge.
void TestLists::domainSetAgreesWithQSet()
{
    mailcaff::lists::DomainSet set;
    QSet<QString> oracle;
    QRandomGenerator random(20261129);
    const auto name = [&] {
        QString n;
        const int length = 1 + int(random.bounded(12));
        for (int i = 0; i < length; ++i)
            n += QChar(u"ab.-c"[random.bounded(5)]);
        return n;
    };
    for (int i = 0; i < 20000; ++i) {
        const QString n = name();
        set.insert(n);
        oracle.insert(n);
        if (i % 997 == 0)
            QCOMPARE(set.size(), oracle.size());
    }
    QCOMPARE(set.size(), oracle.size());
    for (const QString &n : std::as_const(oracle))
        QVERIFY2(set.contains(n), qPrintable(n));
    for (int i = 0; i < 20000; ++i) {
        const QString n = name() + u'x'; // never inserted
        QVERIFY2(!set.contains(n), qPrintable(n));
        const QString m = name();
        QCOMPARE(set.contains(m), oracle.contains(m));
    }
    // A view into a longer text, as the parent-domain walk passes.
    const QString text = u"mail."_s + *oracle.cbegin();
    QVERIFY(set.contains(QStringView(text).sliced(5)));

    mailcaff::lists::DomainSet edges;
    QVERIFY(!edges.contains(u"anything.example"));
    edges.insert(u"");
    edges.insert(u"bücher.example"); // not ASCII: no ASCII lookup could match it
    QCOMPARE(edges.size(), 0);
    QVERIFY(edges.isEmpty());
    const QString longest(255, u'a');
    const QString tooLong(256, u'a');
    edges.insert(longest);
    edges.insert(tooLong); // over a length byte: left out
    edges.insert(u"a.example");
    edges.insert(u"a.example");
    QCOMPARE(edges.size(), 2);
    QVERIFY(edges.contains(longest));
    QVERIFY(!edges.contains(tooLong));
    QVERIFY(!edges.contains(QStringView(longest).chopped(1)));
    QVERIFY(edges.contains(u"a.example"));
    QVERIFY(!edges.contains(u"a.exampl"));
    QVERIFY(!edges.contains(u"A.example")); // lookups are of lowercase names, compared as they are
    QVERIFY(!edges.contains(u"bücher.example"));
    QVERIFY(!edges.contains(u""));
}

void TestLists::osaDistanceMatchesTheFullTable()
{
    // The banded, allocation-free distance against the textbook full table, on random strings over a
    // small alphabet (so that swaps, repeats and near-misses are common), for every limit used and more.
    auto reference = [](const QString &a, const QString &b) {
        const qsizetype n = a.size(), m = b.size();
        std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
        for (qsizetype i = 0; i <= n; ++i)
            d[i][0] = int(i);
        for (qsizetype j = 0; j <= m; ++j)
            d[0][j] = int(j);
        for (qsizetype i = 1; i <= n; ++i)
            for (qsizetype j = 1; j <= m; ++j) {
                d[i][j] =
                    std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        return d[n][m];
    };
    QRandomGenerator rng(20261127);
    auto word = [&] {
        QString w;
        const int length = int(rng.bounded(0, 12));
        for (int i = 0; i < length; ++i)
            w += QChar(u'a' + int(rng.bounded(0, 3)));
        return w;
    };
    for (int round = 0; round < 20000; ++round) {
        const QString a = word();
        // Often a near copy of a, sometimes another word.
        QString b = a;
        for (int edits = int(rng.bounded(0, 4)); edits > 0 && !b.isEmpty(); --edits)
            b[int(rng.bounded(0, int(b.size())))] = QChar(u'a' + int(rng.bounded(0, 3)));
        if (rng.bounded(0, 4) == 0)
            b = word();
        const int exact = reference(a, b);
        for (int limit = 0; limit <= 4; ++limit) {
            const int got = mailcaff::lists::osaDistance(a, b, limit);
            const int expected = exact <= limit ? exact : limit + 1;
            if (got != expected)
                QFAIL(qPrintable(
                    u"osaDistance(%1, %2, %3) = %4, expected %5"_s.arg(a, b).arg(limit).arg(got).arg(
                        expected)));
        }
    }
}

QTEST_GUILESS_MAIN(TestLists)

void TestLists::suggestionsRememberedAcrossThreads()
{
    // suggestDomain() remembers its answers (bounded, so more domains than it keeps): whatever the order
    // and the threads asking, each answer is the one a fresh instance computes.
    QStringList domains = {u"gmial.com"_s, u"hotmail.dr"_s, u"acme.con"_s, u"gmail.com"_s, u"ge.com"_s};
    for (int i = 0; i < 20'000; ++i)
        domains.append(u"d%1.example.com"_s.arg(i));
    domains.append(u"gmial.com"_s); // asked again once the first answers were forgotten
    const auto reference = Lists::load();
    QHash<QString, QString> expected;
    for (const QString &domain : std::as_const(domains))
        expected.insert(domain, reference->suggestDomain(domain));
    QCOMPARE(expected.value(u"gmial.com"_s), u"gmail.com"_s);
    QCOMPARE(expected.value(u"d7.example.com"_s), QString());
    const auto shared = Lists::load();
    std::atomic<int> wrong = 0;
    std::vector<std::unique_ptr<QThread>> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back(QThread::create([&, t] {
            for (int round = 0; round < 2; ++round)
                for (qsizetype i = t; i < domains.size(); i += 1 + t)
                    if (shared->suggestDomain(domains.at(i)) != expected.value(domains.at(i)))
                        ++wrong;
        }));
        threads.back()->start();
    }
    for (const auto &thread : threads)
        QVERIFY(thread->wait(60'000));
    QCOMPARE(wrong.load(), 0);
    QCOMPARE(shared->suggestDomain(u"gmial.com"_s), u"gmail.com"_s);
}

#include "tst_lists.moc"
