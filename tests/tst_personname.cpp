// Person names to mailbox spellings: accents, German transliteration, apostrophes, particles, hyphens,
// titles and suffixes, and honest failure on scripts that have no Latin spelling.
#include "find/personname.h"

#include <QTest>

using namespace mailcaff::find;
using namespace Qt::StringLiterals;

class TestPersonName : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void normalise_data();
    void normalise();
};

void TestPersonName::normalise_data()
{
    QTest::addColumn<QString>("first");
    QTest::addColumn<QString>("last");
    QTest::addColumn<QStringList>("firsts");
    QTest::addColumn<QStringList>("lasts");
    auto row = [](const char *first, const char *last, QStringList firsts, QStringList lasts) {
        QTest::addRow("%s %s", first, last)
            << QString::fromUtf8(first) << QString::fromUtf8(last) << firsts << lasts;
    };
    row("John", "Doe", {u"john"_s}, {u"doe"_s});
    row("  JOHN ", " DOE  ", {u"john"_s}, {u"doe"_s});
    row("José", "Müller", {u"jose"_s}, {u"mueller"_s, u"muller"_s});
    row("Jürgen", "Schröder", {u"juergen"_s, u"jurgen"_s}, {u"schroeder"_s, u"schroder"_s});
    row("Ängela", "Bär", {u"aengela"_s, u"angela"_s}, {u"baer"_s, u"bar"_s});
    row("Søren", "Kierkegaard", {u"soren"_s}, {u"kierkegaard"_s});
    row("Łukasz", "Wałęsa", {u"lukasz"_s}, {u"walesa"_s});
    row("Đorđe", "Đoković", {u"dorde"_s}, {u"dokovic"_s});
    row("Æsa", "Bæk", {u"aesa"_s}, {u"baek"_s});
    row("Chloë", "Cœur", {u"chloe"_s}, {u"coeur"_s});
    row("Hans", "Groß", {u"hans"_s}, {u"gross"_s});
    row("Þóra", "Guðmundsdóttir", {u"thora"_s}, {u"gudmundsdottir"_s});
    row("François", "Lefèvre", {u"francois"_s}, {u"lefevre"_s});
    row("Zoë", "Saldaña", {u"zoe"_s}, {u"saldana"_s});
    row("Björk", "Guðmundsdóttir", {u"bjoerk"_s, u"bjork"_s}, {u"gudmundsdottir"_s});
    row("Ana", "García-López", {u"ana"_s}, {u"garcialopez"_s, u"garcia-lopez"_s, u"garcia"_s});
    row("María José", "Fernández", {u"mariajose"_s, u"maria-jose"_s, u"maria"_s}, {u"fernandez"_s});
    row("Mary Ann", "Smith", {u"maryann"_s, u"mary-ann"_s, u"mary"_s}, {u"smith"_s});
    row("Jean-Luc", "Picard", {u"jeanluc"_s, u"jean-luc"_s, u"jean"_s}, {u"picard"_s});
    row("Pieter", "van der Berg", {u"pieter"_s}, {u"vanderberg"_s, u"van-der-berg"_s, u"berg"_s});
    row("Ludwig", "van Beethoven", {u"ludwig"_s}, {u"vanbeethoven"_s, u"van-beethoven"_s, u"beethoven"_s});
    row("Ursula", "von der Leyen", {u"ursula"_s}, {u"vonderleyen"_s, u"von-der-leyen"_s, u"leyen"_s});
    row("Leonardo", "da Vinci", {u"leonardo"_s}, {u"davinci"_s, u"da-vinci"_s, u"vinci"_s});
    row("Charles", "de Gaulle", {u"charles"_s}, {u"degaulle"_s, u"de-gaulle"_s, u"gaulle"_s});
    row("Robert", "De Niro", {u"robert"_s}, {u"deniro"_s, u"de-niro"_s, u"niro"_s});
    row("Gabriel", "García Márquez", {u"gabriel"_s}, {u"garciamarquez"_s, u"garcia-marquez"_s, u"garcia"_s});
    row("Conan", "O'Brien", {u"conan"_s}, {u"obrien"_s});
    row("Conan", "O’Brien", {u"conan"_s}, {u"obrien"_s});
    row("D'Arcy", "D'Angelo", {u"darcy"_s}, {u"dangelo"_s});
    row("Dr. John", "Watson", {u"john"_s}, {u"watson"_s});
    row("Prof. Dr. Anna", "Schmidt", {u"anna"_s}, {u"schmidt"_s});
    row("Martin", "Luther King Jr.", {u"martin"_s}, {u"lutherking"_s, u"luther-king"_s, u"luther"_s});
    row("Robert", "Downey Jr", {u"robert"_s}, {u"downey"_s});
    row("William", "Gates III", {u"william"_s}, {u"gates"_s});
    row("Henry", "Ford II", {u"henry"_s}, {u"ford"_s});
    row("Mr John", "Smith", {u"john"_s}, {u"smith"_s});
    row("Mrs. Jane", "Smith", {u"jane"_s}, {u"smith"_s});
    row("Ms Jane", "Doe PhD", {u"jane"_s}, {u"doe"_s});
    row("Sir Elton", "John", {u"elton"_s}, {u"john"_s});
    row("Anne-Marie", "Dupont-Durand", {u"annemarie"_s, u"anne-marie"_s, u"anne"_s},
        {u"dupontdurand"_s, u"dupont-durand"_s, u"dupont"_s});
    row("Li", "Na", {u"li"_s}, {u"na"_s});
    row("X", "Æ A-12", {u"x"_s}, {u"aea12"_s, u"ae-a-12"_s, u"ae"_s});
    row("Ömer", "Çelik", {u"oemer"_s, u"omer"_s}, {u"celik"_s});
    row("Şükrü", "Yılmaz", {u"suekrue"_s, u"sukru"_s}, {u"yilmaz"_s});
    row("Nguyễn", "Văn An", {u"nguyen"_s}, {u"vanan"_s, u"van-an"_s, u"an"_s});
    row("Zoltán", "Kodály", {u"zoltan"_s}, {u"kodaly"_s});
    row("Antonín", "Dvořák", {u"antonin"_s}, {u"dvorak"_s});
    row("Jiří", "Novák", {u"jiri"_s}, {u"novak"_s});
    row("Håkan", "Åström", {u"hakan"_s}, {u"astroem"_s, u"astrom"_s});
    row("João", "Gonçalves", {u"joao"_s}, {u"goncalves"_s});
    row("Ólafur", "Arnalds", {u"olafur"_s}, {u"arnalds"_s});
    row("Ignacio", "Núñez", {u"ignacio"_s}, {u"nunez"_s});
    row("Renée", "Zellweger", {u"renee"_s}, {u"zellweger"_s});
    row("Siân", "Phillips", {u"sian"_s}, {u"phillips"_s});
    row("Ahmed", "al-Hassan", {u"ahmed"_s}, {u"alhassan"_s, u"al-hassan"_s, u"hassan"_s});
    row("Mohammed", "bin Salman", {u"mohammed"_s}, {u"binsalman"_s, u"bin-salman"_s, u"salman"_s});
    row("Jan", "ter Horst", {u"jan"_s}, {u"terhorst"_s, u"ter-horst"_s, u"horst"_s});
    row("Marie", "Curie-Skłodowska", {u"marie"_s},
        {u"curieskłodowska"_s.replace(u'ł', u'l'), u"curie-sklodowska"_s, u"curie"_s});
    row("Ïñtërnâtiônàl", "Ñame", {u"internatiönal"_s.replace(u'ö', u'o')}, {u"name"_s});
    row("Иван", "Петров", {}, {}); // Cyrillic: no Latin spelling, no guess
    row("王", "小明", {}, {});
    row("محمد", "علي", {}, {});
    row("John", "", {u"john"_s}, {});
    row("", "Doe", {}, {u"doe"_s});
    row("Dr.", "Who", {}, {u"who"_s}); // only a title
    row("Anna", "Smith-Jones", {u"anna"_s}, {u"smithjones"_s, u"smith-jones"_s, u"smith"_s});
    row("Ève", "L'Heureux", {u"eve"_s}, {u"lheureux"_s});
}

void TestPersonName::normalise()
{
    QFETCH(QString, first);
    QFETCH(QString, last);
    QFETCH(QStringList, firsts);
    QFETCH(QStringList, lasts);
    const PersonName n = normalisePersonName(first, last);
    QCOMPARE(n.firsts, firsts);
    QCOMPARE(n.lasts, lasts);
    QCOMPARE(n.usable(), !firsts.isEmpty() && !lasts.isEmpty());
}

QTEST_APPLESS_MAIN(TestPersonName)
#include "tst_personname.moc"
