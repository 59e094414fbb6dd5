#pragma once

#include <QString>
#include <QStringList>

namespace mailcaff::test {

/// Where a storage test keeps its databases. The storage tests run twice (tests/CMakeLists.txt): as
/// themselves on SQLite files in a temporary folder, and as `<name>_postgresql` with
/// MAILCAFF_TEST_BACKEND=postgresql, on fresh databases of the PostgreSQL server that
/// tests/postgresql/setup starts on 127.0.0.54:5432 (MAILCAFF_TEST_POSTGRESQL overrides the URL of a
/// database to connect to as a superuser). Each create() gives a new, empty database; they are dropped
/// when this object goes.
class TestDatabases
{
public:
    TestDatabases() = default;
    ~TestDatabases();
    TestDatabases(const TestDatabases &) = delete;
    TestDatabases &operator=(const TestDatabases &) = delete;

    /// Whether this run is the PostgreSQL variant.
    static bool postgres();
    /// The server's admin URL (a superuser, its `postgres` database).
    static QString adminUrl();
    /// A new database's location: on SQLite a new file in `dir`; on PostgreSQL a URL, empty with `error`
    /// set if the server cannot be reached (the message says how to start it).
    QString create(const QString &dir, const QString &stem, QString *error = nullptr);
    /// A new PostgreSQL database whichever the variant (tests of several servers sharing one).
    QString createPostgres(const QString &stem, QString *error = nullptr);
    /// Runs one statement as the superuser (creating roles, looking at the server's state).
    static bool admin(const QString &sql, QString *error = nullptr);

private:
    QStringList m_created;
};

} // namespace mailcaff::test
