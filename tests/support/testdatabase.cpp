#include "testdatabase.h"

#include <QCoreApplication>
#include <QDir>
#include <QRegularExpression>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QUrl>

#include <atomic>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

namespace {

const auto AdminConnection = u"mailcaff-test-admin"_s;

QSqlDatabase adminConnection(QString *error)
{
    if (QSqlDatabase::contains(AdminConnection)) {
        QSqlDatabase db = QSqlDatabase::database(AdminConnection);
        if (db.isOpen())
            return db;
    }
    const QUrl url(TestDatabases::adminUrl());
    QSqlDatabase db = QSqlDatabase::addDatabase(u"QPSQL"_s, AdminConnection);
    db.setHostName(url.host());
    db.setPort(url.port(5432));
    db.setUserName(url.userName());
    db.setPassword(url.password());
    db.setDatabaseName(url.path().mid(1));
    db.setConnectOptions(u"connect_timeout=5"_s);
    if (!db.open() && error)
        *error = u"no PostgreSQL test server at %1 (run tests/postgresql/setup BUILD_DIR, as "
                 u"installers/quickstart test does): %2"_s.arg(url.toString(QUrl::RemovePassword),
                                                               db.lastError().text());
    return db;
}

} // namespace

TestDatabases::~TestDatabases()
{
    for (const QString &name : std::as_const(m_created))
        admin(u"DROP DATABASE IF EXISTS %1 WITH (FORCE)"_s.arg(name));
}

bool TestDatabases::postgres()
{
    return qEnvironmentVariable("MAILCAFF_TEST_BACKEND") == "postgresql"_L1;
}

QString TestDatabases::adminUrl()
{
    const QString url = qEnvironmentVariable("MAILCAFF_TEST_POSTGRESQL");
    return url.isEmpty() ? u"postgresql://mailcaff@127.0.0.54:5432/postgres"_s : url;
}

bool TestDatabases::admin(const QString &sql, QString *error)
{
    QSqlDatabase db = adminConnection(error);
    if (!db.isOpen())
        return false;
    QSqlQuery q(db);
    if (q.exec(sql))
        return true;
    if (error)
        *error = q.lastError().text();
    return false;
}

QString TestDatabases::create(const QString &dir, const QString &stem, QString *error)
{
    static std::atomic<int> files{0};
    if (!postgres())
        return QDir(dir).filePath(u"%1-%2.sqlite"_s.arg(stem).arg(files++));
    return createPostgres(stem, error);
}

QString TestDatabases::createPostgres(const QString &stem, QString *error)
{
    static std::atomic<int> serial{0};
    const QString name = u"mailcaff_test_%1_%2_%3"_s.arg(QCoreApplication::applicationPid())
                             .arg(serial++)
                             .arg(stem.toLower().remove(QRegularExpression(u"[^a-z0-9_]"_s)));
    if (!admin(u"CREATE DATABASE %1"_s.arg(name), error))
        return {};
    m_created.append(name);
    QUrl url(adminUrl());
    url.setPath(u'/' + name);
    return url.toString();
}

} // namespace mailcaff::test
