// Storage and API keys: migrations, settings, key creation, hashing, revocation.
#include "accounts/apikeys.h"
#include "accounts/credits.h"
#include "jobs/jobstore.h"
#include "jobs/liststore.h"
#include "storage/copy.h"
#include "storage/database.h"
#include "storage/settings.h"
#include "testdatabase.h"
#include "verify/resultcache.h"
#include "webhooks/webhookstore.h"

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QtConcurrent>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>
#include <QUrl>

using namespace mailcaff;
using namespace Qt::StringLiterals;

class TestStorage : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void locationsParse_data();
    void locationsParse();
    void badLocationsAreExplained();
    void migratesAndReopens();
    void serversMigrateAtOnce();
    void changesReachOtherConnections();
    void checkpointsRunOutsideCommits();
    void passwordsComeFromTheUrlTheEnvironmentOrAFile();
    void refusesNewerSchema();
    void upgradesJobsToNumberedItems();
    void settingsRoundTrip();
    void keysAreHashedAndAuthenticate();
    void revokedAndMalformedKeysFail();
    void connectionsPerThread();
    void preparedStatementsLiveWithTheirConnection();
    void insertedRowsAreStoredAsQtStoresThem();
    void repeatedStatementsCountTheRowsTheyChange();
    void utf8RowsReadWhatWasStored();
    void resultCacheReadsABatchAtOnce();
    void resultCacheRemembersWhatABatchDidNotFind();
    void copiesEverythingIntoANewDatabase();
    void reconnectsWhenTheServerDropsTheConnection();

private:
    /// A new database for this test (SQLite in m_dir, or a fresh PostgreSQL database): empty on failure.
    QString fresh(const QString &stem)
    {
        QString error;
        const QString at = m_dbs.create(m_dir.path(), stem, &error);
        if (at.isEmpty())
            qWarning("%s", qPrintable(error));
        return at;
    }
    QTemporaryDir m_dir;
    test::TestDatabases m_dbs;
};

void TestStorage::locationsParse_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("postgres");
    QTest::addColumn<QString>("display");
    QTest::addColumn<QString>("user");
    QTest::addColumn<QString>("password");
    QTest::addColumn<QStringList>("options");
    QTest::newRow("path") << u"/tmp/x/m.sqlite"_s << false << u"/tmp/x/m.sqlite"_s << QString() << QString()
                          << QStringList();
    QTest::newRow("sqlite:") << u"sqlite:/tmp/y.db"_s << false << u"/tmp/y.db"_s << QString() << QString()
                             << QStringList();
    QTest::newRow("sqlite://") << u"sqlite:///tmp/z.db"_s << false << u"/tmp/z.db"_s << QString() << QString()
                               << QStringList();
    QTest::newRow("full") << u"postgresql://team:p%40ss%20w@db.example:6543/mailcaff"_s << true
                          << u"postgresql://team@db.example:6543/mailcaff"_s << u"team"_s << u"p@ss w"_s
                          << QStringList();
    QTest::newRow("short scheme, default port")
        << u"postgres://db.example/mc"_s << true << u"postgresql://db.example:5432/mc"_s << QString()
        << QString() << QStringList();
    QTest::newRow("options") << u"postgresql://u@h/d?sslmode=require&passfile=/run/pw%20file"_s << true
                             << u"postgresql://u@h:5432/d"_s << u"u"_s << QString()
                             << QStringList{u"sslmode='require'"_s, u"passfile='/run/pw file'"_s};
    QTest::newRow("password option") << u"postgresql://u@h/d?password=it's"_s << true
                                     << u"postgresql://u@h:5432/d"_s << u"u"_s << u"it's"_s << QStringList();
}

void TestStorage::locationsParse()
{
    QFETCH(QString, text);
    QString error;
    const auto l = storage::Location::parse(text, &error);
    QVERIFY2(l, qPrintable(error));
    QFETCH(bool, postgres);
    QCOMPARE(l->dialect == storage::Dialect::PostgreSQL, postgres);
    QTEST(l->display(), "display");
    QTEST(l->user, "user");
    QTEST(l->password, "password");
    QTEST(l->options, "options");
    if (!l->password.isEmpty())
        QVERIFY(!l->display().contains(l->password));
}

void TestStorage::badLocationsAreExplained()
{
    const QList<std::pair<QString, QString>> cases = {
        {u"mysql://root@h/d"_s, u"unknown database 'mysql://'"_s},
        {u"postgresql:///d"_s, u"names no host"_s},
        {u"postgresql://u:pw@h"_s, u"names no database"_s},
        {u"postgresql://u:pw@h/a/b"_s, u"names no database"_s},
        {u"postgresql://u:pw@h/d?opt;ion=1"_s, u"not a libpq connection option"_s},
        {u"postgresql://u:pw@h:99999/d"_s, u"not valid"_s},
        {u"postgresql://u:p/w@h/d"_s, u"percent-encode"_s},
        {u"postgresql://u:pw@h/d?sslmode=x;password=y"_s, u"not a libpq connection option"_s},
        {u"sqlite:"_s, u"no SQLite file"_s},
    };
    for (const auto &[text, expected] : cases) {
        QString error;
        QVERIFY2(!storage::Location::parse(text, &error), qPrintable(text));
        QVERIFY2(error.contains(expected), qPrintable(text + u": "_s + error));
        QVERIFY2(!error.contains(u"pw"_s), qPrintable(error)); // never the password
    }
    // A server that is not there: a prompt error naming the server, without the password.
    storage::Database db;
    QString error;
    QVERIFY(!db.open(u"postgresql://someone:hunter2@127.0.0.54:1/nothing?connect_timeout=2"_s, &error));
    QVERIFY2(error.contains(u"postgresql://someone@127.0.0.54:1/nothing"_s), qPrintable(error));
    QVERIFY2(!error.contains(u"hunter2"_s), qPrintable(error));
    QVERIFY(!db.isOpen());
}

void TestStorage::migratesAndReopens()
{
    const QString path = test::TestDatabases::postgres() ? fresh(u"m"_s) : m_dir.filePath(u"db/m.sqlite"_s);
    QVERIFY(!path.isEmpty());
    {
        storage::Database db;
        QString error;
        QVERIFY2(db.open(path, &error), qPrintable(error));
        QCOMPARE(db.schemaVersion(), storage::Database::latestSchemaVersion());
        QSqlQuery q(db.connection());
        if (db.dialect() == storage::Dialect::SQLite) {
            QVERIFY(q.exec(u"PRAGMA journal_mode"_s) && q.next());
            QCOMPARE(q.value(0).toString(), u"wal"_s);
        } else {
            // Times are epoch milliseconds: the columns are 64-bit there.
            QVERIFY(q.exec(u"SELECT data_type FROM information_schema.columns WHERE table_name = "
                           "'job_items' AND column_name = 'done_at'"_s) &&
                    q.next());
            QCOMPARE(q.value(0).toString(), u"bigint"_s);
        }
    }
    storage::Database again;
    QString error;
    QVERIFY2(again.open(path, &error), qPrintable(error));
    QCOMPARE(again.schemaVersion(), storage::Database::latestSchemaVersion());
}

void TestStorage::serversMigrateAtOnce()
{
    // Servers started together on one new database: one migrates, the others wait and find it done.
    const QString at = fresh(u"together"_s);
    QVERIFY(!at.isEmpty());
    QList<int> servers(4);
    QThreadPool pool;
    pool.setMaxThreadCount(4);
    const QList<QString> errors = QtConcurrent::blockingMapped(&pool, servers, [&](int) {
        storage::Database db;
        QString error;
        if (!db.open(at, &error))
            return error.isEmpty() ? u"failed"_s : error;
        return db.schemaVersion() == storage::Database::latestSchemaVersion() ? QString() : u"behind"_s;
    });
    for (const QString &e : errors)
        QVERIFY2(e.isEmpty(), qPrintable(e));
    storage::Database db;
    QVERIFY(db.open(at, nullptr));
    QSqlQuery q(db.connection());
    QVERIFY(q.exec(u"SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_version"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), storage::Database::latestSchemaVersion()); // each step once
    QCOMPARE(q.value(1).toInt(), storage::Database::latestSchemaVersion());
}

void TestStorage::changesReachOtherConnections()
{
    // Two servers on one database: a key created through one moves the other's change stamp, so the
    // other's cache of keys is refreshed (SQLite: the file's data_version; PostgreSQL: change_stamp).
    const QString at = fresh(u"stamps"_s);
    QVERIFY(!at.isEmpty());
    storage::Database a, b;
    QVERIFY(a.open(at, nullptr));
    QVERIFY(b.open(at, nullptr));
    const storage::Database::ChangeStamp before = b.changeStamp();
    QVERIFY(before.dataVersion >= 0);
    QCOMPARE(b.changeStamp(), before); // nothing changed: the same stamp
    accounts::ApiKeys keys(a);
    QVERIFY(keys.create(u"elsewhere"_s, accounts::Plan::Free));
    const storage::Database::ChangeStamp after = b.changeStamp();
    QVERIFY(after.dataVersion != before.dataVersion);
    QCOMPARE(after.noted, before.noted); // b noted nothing itself
    QCOMPARE(b.changeStamp(), after);
}

void TestStorage::checkpointsRunOutsideCommits()
{
    if (test::TestDatabases::postgres())
        QSKIP("SQLite's write-ahead log");
    const QString path = m_dir.filePath(u"checkpoints.sqlite"_s);
    storage::Database db;
    QString error;
    QVERIFY2(db.open(path, &error), qPrintable(error));
    // No commit under 64 MiB of log copies it back into the file (SQLite's automatic checkpoint is a last
    // resort on every connection)...
    QSqlQuery q(db.connection());
    QVERIFY(q.exec(u"PRAGMA wal_autocheckpoint"_s) && q.next());
    QCOMPARE(q.value(0).toInt(), 16'384);
    q.finish();
    const qint64 before = QFileInfo(path).size();
    QVERIFY(db.connection().transaction());
    QVERIFY(q.exec(u"CREATE TABLE filler (x BLOB)"_s));
    QVERIFY(q.prepare(u"INSERT INTO filler(x) VALUES (?)"_s));
    for (int i = 0; i < 64; ++i) {
        q.addBindValue(QByteArray(64 * 1024, char('a' + i % 26)));
        QVERIFY(q.exec());
    }
    QVERIFY(db.connection().commit());
    // ... yet the 4 MiB reach the file without another write or a close: the checkpointer thread's work.
    QTRY_VERIFY2_WITH_TIMEOUT(QFileInfo(path).size() >= before + 4 * 1024 * 1024,
                              qPrintable(QString::number(QFileInfo(path).size())), 15'000);

    // A steady stream of small commits, one a millisecond (as the API's charges, one batch per turn of its
    // event loop): the log is started over all the same, never growing with the number of commits. The
    // thousands of commits of a 4 KiB row each would leave a log of tens of MB; it stays within its limit
    // (1,000 frames) and what a quarter second adds.
    QVERIFY(q.exec(u"DELETE FROM filler"_s));
    QVERIFY(q.prepare(u"INSERT INTO filler(x) VALUES (?)"_s));
    QElapsedTimer clock;
    clock.start();
    int commits = 0;
    for (; clock.elapsed() < 3000; ++commits) {
        q.addBindValue(QByteArray(4096, 'x'));
        QVERIFY(q.exec());
        QTest::qWait(1);
    }
    const qint64 wal = QFileInfo(path + u"-wal"_s).size();
    qInfo("%d commits in 3 s; log file %lld bytes", commits, wal);
    QVERIFY2(wal < 16 * 1024 * 1024, qPrintable(QString::number(wal)));
}

void TestStorage::passwordsComeFromTheUrlTheEnvironmentOrAFile()
{
    if (!test::TestDatabases::postgres())
        QSKIP("PostgreSQL only: SQLite files have no passwords");
    // tests/postgresql/setup's role mailcaff_pw needs its password ("s3cret pw"); it owns a database.
    const QUrl admin(test::TestDatabases::adminUrl());
    const QString name = QUrl(fresh(u"pw"_s)).path().mid(1);
    QVERIFY(!name.isEmpty());
    QString error;
    QVERIFY2(test::TestDatabases::admin(u"ALTER DATABASE %1 OWNER TO mailcaff_pw"_s.arg(name), &error),
             qPrintable(error));
    auto url = [&](const QString &password) -> QString {
        return u"postgresql://mailcaff_pw"_s + password + u'@' + admin.host() + u':' +
               QString::number(admin.port(5432)) + u'/' + name;
    };
    auto openWith = [&](const QString &location, QString *why) {
        storage::Database db;
        return db.open(location, why) && db.schemaVersion() == storage::Database::latestSchemaVersion();
    };
    qunsetenv("PGPASSWORD");
    QVERIFY2(openWith(url(u":s3cret%20pw"_s), &error), qPrintable(error)); // in the URL
    QVERIFY(!openWith(url(QString()), &error));                            // none: refused, said why
    QVERIFY2(error.contains(u"password"_s), qPrintable(error));
    QVERIFY(!openWith(url(u":wrong-horse"_s), &error));
    QVERIFY2(error.contains(u"password authentication failed"_s), qPrintable(error));
    QVERIFY2(!error.contains(u"wrong-horse"_s), qPrintable(error));
    qputenv("PGPASSWORD", "s3cret pw"); // the environment
    QVERIFY2(openWith(url(QString()), &error), qPrintable(error));
    qunsetenv("PGPASSWORD");
    QFile file(m_dir.filePath(u"pgpass"_s)); // a password file (libpq's format), named in the URL
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("*:*:*:mailcaff_pw:s3cret pw\n");
    file.close();
    file.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    QVERIFY2(openWith(url(QString()) + u"?passfile="_s + file.fileName(), &error), qPrintable(error));
}

void TestStorage::upgradesJobsToNumberedItems()
{
    // Jobs stored by schema 16 (items and list rows keyed by the job's id, duplicates found by their
    // normalised form) go on after the upgrade to numbered items with their duplicates marked.
    const QString path = fresh(u"upgrade"_s);
    QVERIFY(!path.isEmpty());
    const QString api = u"00000000-0000-4000-8000-000000000001"_s;
    const QString list = u"00000000-0000-4000-8000-000000000002"_s;
    {
        storage::Database old;
        QString error;
        QVERIFY2(old.open(path, &error, 16), qPrintable(error));
        QCOMPARE(old.schemaVersion(), 16);
        QSqlQuery q(old.connection());
        QVERIFY2(q.exec(u"INSERT INTO jobs(id, key_id, kind, mode, status, total, created_at) VALUES "
                        "('%1', NULL, 'verify', 'quick', 'processing', 4, '2026-01-01T00:00:00Z'), "
                        "('%2', NULL, 'verify', 'quick', 'processing', 2, '2026-01-02T00:00:00Z')"_s.arg(
                            api, list)),
                 qPrintable(q.lastError().text()));
        QVERIFY2(
            q.exec(u"INSERT INTO job_items(job_id, position, input, normalized, domain, state, lease_until, "
                   "status, result, spread) VALUES "
                   "('%1', 0, 'x@y.test', 'x@y.test', 'y.test', 'done', NULL, 'valid', "
                   "'{\"status\":\"valid\"}', 0), "
                   "('%1', 1, 'dup@y.test', 'dup@y.test', 'y.test', 'queued', NULL, NULL, NULL, 1), "
                   "('%1', 2, ' DUP@y.test', 'dup@y.test', 'y.test', 'queued', NULL, NULL, NULL, 2), "
                   "('%1', 3, 'z@y.test', 'z@y.test', 'y.test', 'leased', 1, NULL, NULL, 3), "
                   "('%2', 0, 'a@b.test', 'a@b.test', 'b.test', 'queued', NULL, NULL, NULL, 0), "
                   "('%2', 1, 'c@b.test', 'c@b.test', 'b.test', 'queued', NULL, NULL, NULL, 1)"_s.arg(api,
                                                                                                      list)),
            qPrintable(q.lastError().text()));
        QVERIFY2(q.exec(u"INSERT INTO lists(job_id, name, header, address_column, rows_without_address, "
                        "created_at) VALUES ('%1', 'old.csv', '[\"email\",\"name\"]', 0, 0, 1)"_s.arg(list)),
                 qPrintable(q.lastError().text()));
        QVERIFY2(q.exec(u"INSERT INTO list_rows(job_id, position, cells) VALUES ('%1', 0, 'a@b.test'), "
                        "('%1', 1, 'c@b.test')"_s.arg(list)),
                 qPrintable(q.lastError().text()));
    }
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    auto runner = [&](qint64 heartbeat) {
        storage::Database old;
        QString error;
        QVERIFY2(old.open(path, &error, 16), qPrintable(error));
        QSqlQuery q(old.connection());
        QVERIFY2(q.exec(u"DELETE FROM runners"_s) &&
                     q.exec(u"INSERT INTO runners(id, host, host_key, pid, started_at, heartbeat_at) VALUES "
                            "('r', 'elsewhere', 'k', 4242, %1, %1)"_s.arg(heartbeat)),
                 qPrintable(q.lastError().text()));
    };
    // A process of the earlier version still at work on the database: the upgrade waits for it, and says
    // so, rather than break it.
    runner(now);
    {
        storage::Database refused;
        QString error;
        QVERIFY(!refused.open(path, &error));
        QVERIFY2(error.contains(u"another Mailcaff (elsewhere, process 4242) is working on this database"_s),
                 qPrintable(error));
    }
    runner(now - 60'000); // killed a minute ago: forgotten
    storage::Database db;
    QString error;
    QVERIFY2(db.open(path, &error), qPrintable(error));
    QCOMPARE(db.schemaVersion(), storage::Database::latestSchemaVersion());
    QSqlQuery q(db.connection());
    QVERIFY(
        q.exec(u"SELECT position, dup_of FROM job_items WHERE job = (SELECT seq FROM jobs WHERE id = '%1') "
               "ORDER BY position"_s.arg(api)));
    QList<QVariant> marks;
    while (q.next())
        marks.append(q.value(1));
    QCOMPARE(marks.size(), 4);
    QVERIFY(marks.at(0).isNull() && marks.at(1).isNull() && marks.at(3).isNull());
    QCOMPARE(marks.at(2).toInt(), 1); // the repeat of position 1

    accounts::Credits credits(db);
    jobs::JobStore store(db, credits);
    QCOMPARE(store.summary(api)->processed, 1);
    QCOMPARE(store.results(api).first().toObject().value(u"email"_s).toString(), u"x@y.test"_s);
    // The expired lease and the first "dup" come back; its repeat is answered with it.
    const QList<jobs::JobItem> leased = store.lease(10, 300, {}, {jobs::KindVerify}, api);
    QList<int> positions;
    for (const jobs::JobItem &item : leased)
        positions.append(item.position);
    std::sort(positions.begin(), positions.end());
    QCOMPARE(positions, (QList<int>{1, 3}));
    QList<std::pair<jobs::JobItem, jobs::ItemOutcome>> done;
    for (const jobs::JobItem &item : leased)
        done.append({item, jobs::ItemOutcome{u"invalid"_s, {{u"status"_s, u"invalid"_s}}}});
    const auto ended = store.completeAll(done);
    QVERIFY(ended);
    QCOMPARE(*ended, QStringList{api});
    const QJsonArray results = store.results(api);
    QCOMPARE(results.size(), 4);
    QCOMPARE(results.at(2).toObject().value(u"email"_s).toString(), u"DUP@y.test"_s); // as given there
    QCOMPARE(results.at(2).toObject().value(u"status"_s).toString(), u"invalid"_s);
    // The counts go on from the upgrade's: the item done before, the two answered now and the repeat.
    const auto counted = store.summary(api);
    QCOMPARE(counted->processed, 4);
    QCOMPARE(counted->counts.value(core::Status::Valid), 1);
    QCOMPARE(counted->counts.value(core::Status::Invalid), 3);
    // Answered again (a lost lease's late answer): counted once.
    QVERIFY(store.completeAll(done));
    QCOMPARE(store.summary(api)->processed, 4);

    // The list keeps its rows; a new job numbers on past the old ones; deleting a job takes its rows.
    jobs::ListStore lists(store, db);
    QCOMPARE(lists.originalRows(list), (QList<QStringList>{{u"a@b.test"_s}, {u"c@b.test"_s}}));
    const auto fresh = store.createVerifyJob(nullptr, {u"n@b.test"_s}, core::Mode::Quick);
    QCOMPARE(int(fresh.outcome), int(jobs::JobStore::Created::Ok));
    QVERIFY(q.exec(u"SELECT seq FROM jobs ORDER BY created_at"_s));
    QList<qint64> numbers;
    while (q.next())
        numbers.append(q.value(0).toLongLong());
    QCOMPARE(numbers.size(), 3);
    QCOMPARE(QSet<qint64>(numbers.cbegin(), numbers.cend()).size(), 3);
    QVERIFY(numbers.at(2) > std::max(numbers.at(0), numbers.at(1)));

    // A hash collision when a job's items are stored (forged here: q marked as a repeat of p) is undone;
    // the true repeat stays one.
    const auto mixed =
        store.createVerifyJob(nullptr, {u"p@b.test"_s, u"q@b.test"_s, u"P@b.test"_s}, core::Mode::Quick);
    QCOMPARE(int(mixed.outcome), int(jobs::JobStore::Created::Ok));
    QVERIFY(q.exec(u"SELECT seq FROM jobs WHERE id = '%1'"_s.arg(mixed.jobId)) && q.next());
    const qint64 mixedKey = q.value(0).toLongLong();
    q.finish();
    auto dupMarks = [&] {
        QList<int> out; // -1: NULL, a first
        if (q.exec(u"SELECT dup_of FROM job_items WHERE job = %1 ORDER BY position"_s.arg(mixedKey)))
            while (q.next())
                out.append(q.value(0).isNull() ? -1 : q.value(0).toInt());
        return out;
    };
    QCOMPARE(dupMarks(), (QList<int>{-1, -1, 0}));
    QVERIFY(q.exec(u"UPDATE job_items SET dup_of = 0 WHERE job = %1 AND position = 1"_s.arg(mixedKey)));
    QVERIFY(jobs::JobStore::confirmDuplicates(db.connection(), mixedKey));
    QCOMPARE(dupMarks(), (QList<int>{-1, -1, 0}));

    QVERIFY(store.cancel(list, nullptr));
    QVERIFY(store.remove(list));
    QVERIFY(q.exec(u"SELECT (SELECT COUNT(*) FROM job_items), (SELECT COUNT(*) FROM list_rows)"_s) &&
            q.next());
    QCOMPARE(q.value(0).toInt(), 8); // the first job's 4, the new one's and the three of the last
    QCOMPARE(q.value(1).toInt(), 0);
}

void TestStorage::refusesNewerSchema()
{
    const QString path = fresh(u"newer"_s);
    QVERIFY(!path.isEmpty());
    {
        storage::Database db;
        QVERIFY(db.open(path, nullptr));
        QSqlQuery q(db.connection());
        QVERIFY(q.exec(u"INSERT INTO schema_version VALUES (999, 'future')"_s));
    }
    storage::Database db;
    QString error;
    QVERIFY(!db.open(path, &error));
    QVERIFY2(error.contains(u"newer"_s), qPrintable(error));
}

void TestStorage::settingsRoundTrip()
{
    storage::Database db;
    QVERIFY(db.open(fresh(u"s"_s), nullptr));
    storage::Settings settings(db);
    QCOMPARE(settings.value(storage::setting::Port), 8080);
    QCOMPARE(settings.value(storage::setting::ListenAddress), u"127.0.0.1"_s);
    QCOMPARE(settings.value(storage::setting::AllowPrivateTargets), false);
    QVERIFY(settings.setValue(storage::setting::Port, 9090));
    QVERIFY(settings.setValue(storage::setting::AllowPrivateTargets, true));
    QVERIFY(settings.setValue(storage::setting::DnsServers, u"127.0.0.1:5353"_s));
    QCOMPARE(settings.value(storage::setting::Port), 9090);
    QCOMPARE(settings.value(storage::setting::AllowPrivateTargets), true);
    QCOMPARE(settings.value(storage::setting::DnsServers), u"127.0.0.1:5353"_s);
    QVERIFY(settings.setValue(storage::setting::Port, 8081)); // overwrite, not a second row
    QCOMPARE(settings.value(storage::setting::Port), 8081);
}

void TestStorage::keysAreHashedAndAuthenticate()
{
    storage::Database db;
    QVERIFY(db.open(fresh(u"k"_s), nullptr));
    accounts::ApiKeys keys(db);
    const auto a = keys.create(u"CRM"_s, accounts::Plan::Starter);
    const auto b = keys.create(u"Scripts"_s, accounts::Plan::Free);
    QVERIFY(a && b);
    QVERIFY(a->secret != b->secret);
    QVERIFY(a->secret.startsWith(u"mc_"_s));
    QCOMPARE(a->secret.size(), 43);
    QCOMPARE(a->info.prefix, a->secret.left(accounts::ApiKeys::PrefixLength));

    // Only the hash is stored: the secret appears nowhere in the database file's rows.
    QSqlQuery q(db.connection());
    QVERIFY(q.exec(u"SELECT name, prefix, hash, plan FROM api_keys"_s));
    int rows = 0;
    while (q.next()) {
        ++rows;
        for (int c = 0; c < 4; ++c) {
            QVERIFY(!q.value(c).toString().contains(a->secret));
            QVERIFY(!q.value(c).toByteArray().contains(a->secret.toLatin1()));
        }
        QCOMPARE(q.value(2).toByteArray().size(), 32); // SHA-256
    }
    QCOMPARE(rows, 2);

    const auto who = keys.authenticate(a->secret);
    QVERIFY(who);
    QCOMPARE(who->id, a->info.id);
    QCOMPARE(accounts::toString(who->plan), u"starter"_s);
    QCOMPARE(keys.list()->size(), 2);
    QVERIFY(!keys.create(u"   "_s, accounts::Plan::Free));
}

void TestStorage::revokedAndMalformedKeysFail()
{
    storage::Database db;
    QVERIFY(db.open(fresh(u"r"_s), nullptr));
    accounts::ApiKeys keys(db);
    const auto a = keys.create(u"Temp"_s, accounts::Plan::Growth);
    QVERIFY(a);
    QString tampered = a->secret;
    tampered[20] = tampered[20] == u'A' ? u'B' : u'A';
    QVERIFY(!keys.authenticate(tampered));           // same prefix, wrong key
    QVERIFY(!keys.authenticate(a->secret.left(42))); // too short
    QVERIFY(!keys.authenticate(QString()));
    QVERIFY(!keys.authenticate(u"Bearer "_s + a->secret));
    QVERIFY(keys.revoke(a->info.id));
    QVERIFY(!keys.authenticate(a->secret));
    {
        // Revocation is the column being set, whatever the timestamp's format.
        QSqlQuery q(db.connection());
        QVERIFY(q.exec(u"UPDATE api_keys SET revoked_at = 'yesterday-ish'"_s));
    }
    QVERIFY(!keys.authenticate(a->secret));
    QVERIFY(!keys.revoke(a->info.id)); // already revoked
    QVERIFY(!keys.revoke(12345));
    QVERIFY(keys.list()->first().isRevoked());
}

void TestStorage::connectionsPerThread()
{
    storage::Database db;
    QVERIFY(db.open(fresh(u"t"_s), nullptr));
    accounts::ApiKeys keys(db);
    const auto a = keys.create(u"Threads"_s, accounts::Plan::Free);
    QVERIFY(a);
    // Authentication from worker threads uses each thread's own connection.
    QList<int> work(200);
    const QList<bool> results =
        QtConcurrent::blockingMapped(work, [&](int) { return keys.authenticate(a->secret).has_value(); });
    QVERIFY(std::all_of(results.begin(), results.end(), [](bool ok) { return ok; }));
}

void TestStorage::insertedRowsAreStoredAsQtStoresThem()
{
    if (test::TestDatabases::postgres())
        QSKIP("SQLite only: insertRows binds through SQLite's own calls there");
    // insertRows() binds values through SQLite's C calls, not Qt's: every kind of value must be stored as a
    // plain QSqlQuery stores it (type and bytes), whether it binds directly or its statement goes through Qt.
    storage::Database db;
    QVERIFY(db.open(fresh(u"insert"_s), nullptr));
    QSqlDatabase c = db.connection();
    const QString withNul = u"josé 😀 "_s + QChar(0) + u" after a NUL"_s;
    const QVariantList direct = {
        7,
        qint64(1) << 40,
        uint(4'000'000'000u),
        true,
        2.5,
        withNul,
        u""_s,
        QString(),
        QByteArray("a\0b", 3),
        QByteArray(""),
        QByteArray(),
        QVariant(),
        QVariant(QMetaType::fromType<int>()),
    };
    // Bound as text by Qt's driver: a statement holding one goes through Qt.
    const QVariantList throughQt =
        direct + QVariantList{
                     QDateTime(QDate(2026, 11, 28), QTime(12, 34, 56, 789), Qt::UTC),
                     quint64(18'000'000'000'000'000'000ull),
                 };
    // 450 rows: two statements of 200 rows and one of 50.
    constexpr int Rows = 450;
    auto dump = [&](const QString &table, qsizetype period) {
        QStringList rows;
        QSqlQuery read(c);
        if (!read.exec(u"SELECT k, typeof(v), hex(v) FROM %1 ORDER BY k"_s.arg(table)))
            return QStringList{read.lastError().text()};
        while (read.next())
            rows.append(u"%1 %2 %3"_s.arg(read.value(0).toLongLong() % period)
                            .arg(read.value(1).toString(), read.value(2).toString()));
        return rows;
    };
    for (const QVariantList *kinds : {&direct, &throughQt}) {
        QSqlQuery q(c);
        QVERIFY(q.exec(u"DROP TABLE IF EXISTS by_rows"_s) && q.exec(u"DROP TABLE IF EXISTS by_qt"_s));
        QVERIFY(q.exec(u"CREATE TABLE by_rows (k INTEGER, v)"_s) &&
                q.exec(u"CREATE TABLE by_qt (k INTEGER, v)"_s));
        QVERIFY(storage::insertRows(c, u"by_rows"_s, {u"k"_s, u"v"_s}, Rows, [&](qsizetype i) {
            return QVariantList{int(i), kinds->at(i % kinds->size())};
        }));
        QSqlQuery insert(c);
        QVERIFY(insert.prepare(u"INSERT INTO by_qt (k, v) VALUES (?, ?)"_s));
        for (int i = 0; i < Rows; ++i) {
            insert.bindValue(0, i);
            insert.bindValue(1, kinds->at(i % kinds->size()));
            QVERIFY(insert.exec());
        }
        const QStringList expected = dump(u"by_qt"_s, kinds->size());
        QCOMPARE(expected.size(), Rows);
        QCOMPARE(dump(u"by_rows"_s, kinds->size()), expected);
        // Spot checks, so that the comparison cannot pass on two equally wrong tables.
        const QString nul = QString::fromLatin1(withNul.toUtf8().toHex().toUpper());
        QVERIFY(expected.contains(u"5 text "_s + nul));
        QVERIFY(expected.contains(u"1 integer "_s +
                                  QString::fromLatin1(QByteArray("1099511627776").toHex().toUpper())));
        QVERIFY(expected.contains(u"6 text "_s));
        QVERIFY(expected.contains(u"7 null "_s));
        QVERIFY(expected.contains(u"8 blob 610062"_s));
        QVERIFY(expected.contains(u"9 blob "_s));
        QVERIFY(expected.contains(u"10 null "_s));
    }
    // A failing statement fails the call (here: a table that does not exist), and says why.
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"no such table"_s));
    QVERIFY(
        !storage::insertRows(c, u"missing"_s, {u"k"_s}, 3, [](qsizetype i) { return QVariantList{int(i)}; }));
}

void TestStorage::repeatedStatementsCountTheRowsTheyChange()
{
    // A statement run many times (on SQLite through SQLite's own calls, else through Qt): each run's
    // changed rows, values bound as Qt binds them (a null string is NULL), a value Qt binds as text
    // (a date) through Qt, and a failure as nullopt.
    storage::Database db;
    QVERIFY(db.open(fresh(u"repeated"_s), nullptr));
    QSqlDatabase c = db.connection();
    QSqlQuery q(c);
    QVERIFY(q.exec(u"CREATE TABLE repeated (k INTEGER, v TEXT)"_s));
    QVERIFY(q.exec(u"INSERT INTO repeated (k, v) VALUES (0, 'a'), (1, 'a'), (2, 'a'), (3, 'b'), (4, 'b')"_s));
    {
        storage::RepeatedStatement update(c, u"UPDATE repeated SET v = ? WHERE v = ? AND k >= ?"_s);
        QCOMPARE(update.exec({u"c"_s, u"a"_s, 1}), std::optional<qint64>(2));
        QCOMPARE(update.exec({u"c"_s, u"a"_s, 1}), std::optional<qint64>(0));
        QCOMPARE(update.exec({u"josé 😀"_s, u"b"_s, qint64(0)}), std::optional<qint64>(2));
        QCOMPARE(update.exec({QString(), u"c"_s, 2}), std::optional<qint64>(1));
        QCOMPARE(update.exec({QDateTime(QDate(2026, 11, 29), QTime(15, 0), Qt::UTC), u"a"_s, 0}),
                 std::optional<qint64>(1));
        QVERIFY(q.exec(u"SELECT k, v FROM repeated ORDER BY k"_s));
        QStringList rows;
        while (q.next())
            rows.append(u"%1 %2"_s.arg(q.value(0).toInt())
                            .arg(q.value(1).isNull() ? u"NULL"_s : q.value(1).toString()));
        QCOMPARE(rows.size(), 5);
        QVERIFY2(rows.at(0).startsWith(u"0 2026-11-29"_s) && rows.at(0).contains(u"15:00:00"_s),
                 qPrintable(rows.at(0)));
        QCOMPARE(rows.mid(1), (QStringList{u"1 c"_s, u"2 NULL"_s, u"3 josé 😀"_s, u"4 josé 😀"_s}));
    }
    if (!test::TestDatabases::postgres())
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"no such table"_s));
    storage::RepeatedStatement missing(c, u"UPDATE missing SET v = ? WHERE k = ?"_s);
    QCOMPARE(missing.exec({u"x"_s, 1}), std::nullopt);
}

void TestStorage::utf8RowsReadWhatWasStored()
{
    // Rows read as UTF-8 (on SQLite through SQLite's own calls, else through Qt): text as stored, numbers
    // as their text, NULL as empty, values bound as Qt binds them; a bad query is not ok.
    storage::Database db;
    QVERIFY(db.open(fresh(u"utf8rows"_s), nullptr));
    QSqlDatabase c = db.connection();
    QSqlQuery q(c);
    QVERIFY(q.exec(u"CREATE TABLE texts (k INTEGER, v TEXT)"_s));
    QVERIFY(q.prepare(u"INSERT INTO texts (k, v) VALUES (?, ?)"_s));
    const QStringList values{u"josé 😀"_s, QString(), u"a\x1f\"b\", c"_s, u"plain"_s};
    for (int k = 0; k < values.size(); ++k) {
        q.bindValue(0, k - 1);
        q.bindValue(1, values.at(k));
        QVERIFY(q.exec());
    }
    storage::Utf8Rows rows(c, u"SELECT k, v FROM texts WHERE k >= ? AND v <> ? ORDER BY k"_s,
                           {-1, u"plain"_s});
    QVERIFY(rows.ok());
    QStringList read;
    while (rows.next())
        read.append(QString::fromUtf8(rows.text(0)) + u'|' + QString::fromUtf8(rows.text(1)));
    QVERIFY(rows.ok());
    QCOMPARE(read, (QStringList{u"-1|josé 😀"_s, u"1|a\x1f\"b\", c"_s})); // NULL <> 'plain' is not true
    storage::Utf8Rows nulls(c, u"SELECT v FROM texts WHERE v IS NULL"_s, {});
    QVERIFY(nulls.next());
    QVERIFY(nulls.text(0).isEmpty());
    QVERIFY(!nulls.next());
    QVERIFY(nulls.ok());
    if (!test::TestDatabases::postgres())
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"no such table"_s));
    storage::Utf8Rows missing(c, u"SELECT v FROM missing WHERE k = ?"_s, {1});
    QVERIFY(!missing.ok());
    QVERIFY(!missing.next());
}

void TestStorage::preparedStatementsLiveWithTheirConnection()
{
    // Statements are kept per thread and connection: threads that end, and databases closed while threads
    // still hold statements, leave no connection in use behind (Qt SQL warns when one is).
    QTest::failOnWarning(QRegularExpression(u"still in use"_s));
    for (int round = 0; round < 3; ++round) {
        auto db = std::make_unique<storage::Database>();
        QVERIFY(db->open(fresh(u"prepared"_s), nullptr));
        storage::Settings settings(*db);
        QVERIFY(settings.setValue(storage::setting::Maintenance, true));
        QList<int> work(50);
        QThreadPool pool; // its threads end with it
        pool.setMaxThreadCount(4);
        const QList<bool> seen = QtConcurrent::blockingMapped(
            &pool, work, [&](int) { return storage::Settings(*db).value(storage::setting::Maintenance); });
        QVERIFY(std::all_of(seen.begin(), seen.end(), [](bool on) { return on; }));
        // The same statement, used again on this thread, reads what changed since.
        QVERIFY(settings.setValue(storage::setting::Maintenance, false));
        QCOMPARE(settings.value(storage::setting::Maintenance), false);
        // A statement that fails to prepare is tried again on its next use, not kept broken.
        QSqlQuery &bad = db->prepared(u"SELECT n FROM made_later"_s);
        QVERIFY(!bad.exec());
        QSqlQuery create(db->connection());
        QVERIFY2(create.exec(u"CREATE TABLE made_later(n INTEGER)"_s), qPrintable(create.lastError().text()));
        QVERIFY(db->prepared(u"SELECT n FROM made_later"_s).exec());
        db->prepared(u"SELECT n FROM made_later"_s).finish();
        // Closed while a long-lived thread of the global pool still holds its statements.
        QtConcurrent::run([&] {
            return storage::Settings(*db).value(storage::setting::Maintenance);
        }).waitForFinished();
        db.reset();
    }
}

void TestStorage::copiesEverythingIntoANewDatabase()
{
    // `mailcaff db migrate`: a SQLite database in use, copied into a new one (PostgreSQL in the
    // PostgreSQL run), goes on there as it was.
    storage::Database from;
    QVERIFY(from.open(m_dir.filePath(u"in-use.sqlite"_s), nullptr));
    accounts::ApiKeys keys(from);
    accounts::Credits credits(from);
    const auto crm = keys.create(u"CRM"_s, accounts::Plan::Starter);
    const auto scripts = keys.create(u"Scripts"_s, accounts::Plan::Free);
    QVERIFY(crm && scripts);
    QVERIFY(credits.take(crm->info, 7, u"verify"_s).ok);
    QVERIFY(credits.changePlan(scripts->info, accounts::Plan::Growth));
    jobs::JobStore jobStore(from, credits);
    const QStringList emails{u"a@x.test"_s, u"b@x.test"_s, u"c@y.test"_s, u"d@y.test"_s};
    const auto job = jobStore.createVerifyJob(&crm->info, emails, core::Mode::Quick);
    QCOMPARE(int(job.outcome), int(jobs::JobStore::Created::Ok));
    jobStore.setRunner(u"old-runner"_s);
    const QList<jobs::JobItem> leased = jobStore.lease(2, 300, {}, {jobs::KindVerify}, job.jobId);
    QCOMPARE(leased.size(), 2);
    QVERIFY(
        jobStore.completeAll({{leased.first(), jobs::ItemOutcome{u"valid"_s, {{u"status"_s, u"valid"_s}}}}}));
    storage::Settings(from).setValue(storage::setting::Port, 9191);
    webhooks::WebhookStore hooks(&from);
    QVERIFY(hooks.setEndpoint(crm->info.id, u"https://hooks.example/in"_s).ok());
    const QString first = hooks.enqueue(crm->info.id, u"bulk_job.completed"_s, job.jobId, {});
    const QString second = hooks.enqueue(crm->info.id, u"bulk_job.failed"_s, job.jobId, {});
    {
        // A cached result as older versions stored it: bytes in a text column.
        QSqlQuery q(from.connection());
        q.prepare(u"INSERT INTO verification_cache(address, status, result, verified_at, expires_at) "
                  "VALUES (?, ?, ?, ?, ?)"_s);
        q.addBindValue(u"old@cache.test"_s);
        q.addBindValue(u"valid"_s);
        q.addBindValue(QByteArray(R"({"status":"valid","note":"é"})"));
        q.addBindValue(1);
        q.addBindValue(QDateTime::currentSecsSinceEpoch() + 3600);
        QVERIFY(q.exec());
    }

    const QString at = fresh(u"copy"_s);
    QVERIFY(!at.isEmpty());
    storage::Database to;
    QVERIFY(to.open(at, nullptr));
    QStringList tables;
    QString error;
    QVERIFY2(storage::copyDatabase(
                 from, to, [&](const QString &table, qint64) { tables.append(table); }, &error),
             qPrintable(error));
    QVERIFY(tables.contains(u"job_items"_s) && tables.contains(u"find_cache"_s));

    // Keys authenticate with their ids; credits, plans and settings are as they were.
    accounts::ApiKeys keysThere(to);
    accounts::Credits creditsThere(to);
    const auto who = keysThere.authenticate(crm->secret);
    QVERIFY(who);
    QCOMPARE(who->id, crm->info.id);
    QCOMPARE(creditsThere.usage(*who)->monthlyUsed, 7 + int(emails.size()));
    const auto other = keysThere.authenticate(scripts->secret);
    QVERIFY(other);
    QCOMPARE(accounts::toString(other->plan), u"growth"_s);
    QCOMPARE(storage::Settings(to).value(storage::setting::Port), 9191);
    // New rows number on from the copied ones.
    const auto third = keysThere.create(u"New"_s, accounts::Plan::Free);
    QVERIFY(third);
    QCOMPARE(third->info.id, scripts->info.id + 1);

    // The job: one item done, the other leased item back in the queue, the rest queued.
    jobs::JobStore jobsThere(to, creditsThere);
    const auto summary = jobsThere.summary(job.jobId);
    QVERIFY(summary);
    QCOMPARE(summary->total, int(emails.size()));
    QCOMPARE(summary->processed, 1);
    QCOMPARE(jobsThere.lease(10, 300, {}, {jobs::KindVerify}, job.jobId).size(), emails.size() - 1);
    // A new job numbers on past the copied one (PostgreSQL's identity column was moved on).
    const auto later = jobsThere.createVerifyJob(nullptr, {u"e@z.test"_s}, core::Mode::Quick);
    QCOMPARE(int(later.outcome), int(jobs::JobStore::Created::Ok));
    QCOMPARE(jobsThere.lease(10, 300, {}, {jobs::KindVerify}, later.jobId).size(), 1);

    // Webhooks: the endpoint and the deliveries, newest first; new deliveries go on after them.
    webhooks::WebhookStore hooksThere(&to);
    QVERIFY(hooksThere.endpoint(crm->info.id));
    QList<webhooks::Delivery> list = hooksThere.deliveries(crm->info.id, 10);
    QCOMPARE(list.size(), 2);
    const QString third2 = hooksThere.enqueue(crm->info.id, u"bulk_job.completed"_s, u"later"_s, {});
    QVERIFY(!third2.isEmpty());
    list = hooksThere.deliveries(crm->info.id, 10);
    QCOMPARE(list.size(), 3);
    QCOMPARE(list.at(0).id, third2);
    QVERIFY(list.at(1).id == second || list.at(1).createdAt == list.at(2).createdAt);
    QVERIFY(QSet<QString>({list.at(1).id, list.at(2).id}) == QSet<QString>({first, second}));

    // The cached result arrives as text.
    QSqlQuery cached(to.connection());
    QVERIFY(cached.exec(u"SELECT result FROM verification_cache WHERE address = 'old@cache.test'"_s) &&
            cached.next());
    QCOMPARE(
        QJsonDocument::fromJson(cached.value(0).toString().toUtf8()).object().value(u"note"_s).toString(),
        u"é"_s);
    cached.finish();

    // Into a database that already holds data: refused, nothing changed.
    QVERIFY(!storage::copyDatabase(from, to, {}, &error));
    QVERIFY2(error.contains(u"already holds data"_s), qPrintable(error));
    QCOMPARE(keysThere.list()->size(), 3);
}

void TestStorage::resultCacheReadsABatchAtOnce()
{
    // The API's quick verifications of one event-loop turn read the result cache in one query (addresses
    // passed as a JSON array, quotes and backslashes escaped): each address gets the row it would get
    // alone, or none, until the batch ends.
    storage::Database db;
    QVERIFY(db.open(fresh(u"batch"_s), nullptr));
    const QStringList stored{u"ann@cache.test"_s, u"\"odd\\\"one\"@cache.test"_s, u"jos\u00e9@cache.test"_s};
    {
        verify::ResultCache cache(db, verify::CachePolicy());
        for (const QString &address : stored) {
            core::VerificationResult r;
            r.email = address;
            r.status = core::Status::Valid;
            r.reason = core::Reason::Accepted;
            r.mode = core::Mode::Power;
            cache.store(address, r);
        }
    } // written when the cache goes
    verify::ResultCache cache(db, verify::CachePolicy());
    QVERIFY(cache.find(u"ANN@cache.test"_s));
    QVERIFY(!cache.find(u"nobody@cache.test"_s));
    cache.beginBatch(stored + QStringList{u"Ann@Cache.test"_s, u"nobody@cache.test"_s});
    QSqlQuery q(db.connection());
    QVERIFY(q.exec(u"DELETE FROM verification_cache"_s)); // the batch has read them already
    for (const QString &address : stored) {
        const std::optional<core::VerificationResult> found = cache.find(address);
        QVERIFY2(found, qPrintable(address));
        QCOMPARE(found->email, address);
        QCOMPARE(core::toString(found->status), u"valid"_s);
    }
    QVERIFY(cache.find(u"ann@CACHE.test"_s));
    QVERIFY(!cache.find(u"nobody@cache.test"_s));
    // Another thread has no batch of its own: it asks the database.
    bool foundElsewhere = true;
    std::unique_ptr<QThread> elsewhere(
        QThread::create([&] { foundElsewhere = cache.find(u"ann@cache.test"_s).has_value(); }));
    elsewhere->start();
    QVERIFY(elsewhere->wait(10'000));
    QVERIFY(!foundElsewhere);
    verify::ResultCache::endBatch();
    for (const QString &address : stored)
        QVERIFY2(!cache.find(address), qPrintable(address));
}

void TestStorage::resultCacheRemembersWhatABatchDidNotFind()
{
    // A bulk job's power items are looked up with the runner's batch, for the engine thread: those not
    // there are remembered as absent, and the engine thread's lookup of each (any thread's, once) answers
    // from that, not from the database; those there are not remembered; a result stored meanwhile wins.
    storage::Database db;
    QVERIFY(db.open(fresh(u"absent"_s), nullptr));
    const auto result = [](const QString &address) {
        core::VerificationResult r;
        r.email = address;
        r.status = core::Status::Invalid;
        r.reason = core::Reason::MailboxNotFound;
        r.mode = core::Mode::Power;
        return r;
    };
    {
        verify::ResultCache cache(db, verify::CachePolicy());
        cache.store(u"there@cache.test"_s, result(u"there@cache.test"_s));
    } // written when the cache goes
    verify::ResultCache cache(db, verify::CachePolicy());
    cache.beginBatch({}, {u"there@cache.test"_s, u"Late@cache.test"_s, u"stored@cache.test"_s});
    verify::ResultCache::endBatch(); // the runner's batch ends before the engine thread asks
    {
        // Another process writes one of them after the read.
        verify::ResultCache other(db, verify::CachePolicy());
        other.store(u"late@cache.test"_s, result(u"late@cache.test"_s));
    }
    // This process verifies another: stored and written (no longer waiting in memory) before it is asked.
    cache.store(u"stored@cache.test"_s, result(u"stored@cache.test"_s));
    cache.flush();
    QSqlQuery q(db.connection());
    QTRY_VERIFY(q.exec(u"SELECT 1 FROM verification_cache WHERE address = 'stored@cache.test'"_s) &&
                q.next());
    q.finish();
    QTest::qWait(100); // the writer's confirmation reaches this thread
    std::optional<core::VerificationResult> there, late, lateAgain, stored;
    std::unique_ptr<QThread> engineThread(QThread::create([&] {
        there = cache.find(u"there@cache.test"_s);
        late = cache.find(u"late@cache.test"_s);      // remembered absent: not read
        lateAgain = cache.find(u"late@cache.test"_s); // once only: read now
        stored = cache.find(u"stored@cache.test"_s);
    }));
    engineThread->start();
    QVERIFY(engineThread->wait(10'000));
    QVERIFY(there);
    QVERIFY(!late);
    QVERIFY(lateAgain);
    QCOMPARE(lateAgain->email, u"late@cache.test"_s);
    QVERIFY(stored);
}

void TestStorage::reconnectsWhenTheServerDropsTheConnection()
{
    if (!test::TestDatabases::postgres())
        QSKIP("PostgreSQL only: a SQLite file has no connection to lose");
    // A database server restarted, failed over, or an idle connection cut: the statement running then
    // fails; the next ones run on a new connection, prepared statements included (Qt warns as it lets the
    // old ones go).
    const QString at = fresh(u"dropped"_s);
    QVERIFY(!at.isEmpty());
    storage::Database db;
    QVERIFY(db.open(at, nullptr));
    storage::Settings settings(db);
    QVERIFY(settings.setValue(storage::setting::Port, 9001));
    QCOMPARE(settings.value(storage::setting::Port), 9001);
    accounts::ApiKeys keys(db);
    const auto key = keys.create(u"before"_s, accounts::Plan::Free);
    QVERIFY(key && keys.authenticate(key->secret));
    QString error;
    QVERIFY2(
        test::TestDatabases::admin(u"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                   "'%1' AND pid != pg_backend_pid()"_s.arg(QUrl(at).path().mid(1)),
                                   &error),
        qPrintable(error));
    int failures = 0;
    while (settings.value(storage::setting::Port) != 9001 && failures < 3)
        ++failures;
    QVERIFY2(failures <= 1, qPrintable(QString::number(failures)));
    QVERIFY(keys.authenticate(key->secret));
    QVERIFY(keys.create(u"after"_s, accounts::Plan::Free));
    QVERIFY(settings.setValue(storage::setting::Port, 9002));
    QCOMPARE(settings.value(storage::setting::Port), 9002);
}

QTEST_GUILESS_MAIN(TestStorage)
#include "tst_storage.moc"
