// Storage and API keys: migrations, settings, key creation, hashing, revocation.
#include "accounts/apikeys.h"
#include "storage/database.h"
#include "storage/settings.h"

#include <QRegularExpression>
#include <QSqlError>
#include <QSqlQuery>
#include <QtConcurrent>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>

using namespace mailcaff;
using namespace Qt::StringLiterals;

class TestStorage : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void migratesAndReopens();
    void refusesNewerSchema();
    void settingsRoundTrip();
    void keysAreHashedAndAuthenticate();
    void revokedAndMalformedKeysFail();
    void connectionsPerThread();
    void preparedStatementsLiveWithTheirConnection();
};

void TestStorage::migratesAndReopens()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"db/m.sqlite"_s);
    {
        storage::Database db;
        QString error;
        QVERIFY2(db.open(path, &error), qPrintable(error));
        QCOMPARE(db.schemaVersion(), storage::Database::latestSchemaVersion());
        QSqlQuery q(db.connection());
        QVERIFY(q.exec(u"PRAGMA journal_mode"_s) && q.next());
        QCOMPARE(q.value(0).toString(), u"wal"_s);
    }
    storage::Database again;
    QString error;
    QVERIFY2(again.open(path, &error), qPrintable(error));
    QCOMPARE(again.schemaVersion(), storage::Database::latestSchemaVersion());
}

void TestStorage::refusesNewerSchema()
{
    QTemporaryDir dir;
    const QString path = dir.filePath(u"m.sqlite"_s);
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
    QTemporaryDir dir;
    storage::Database db;
    QVERIFY(db.open(dir.filePath(u"s.sqlite"_s), nullptr));
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
    QTemporaryDir dir;
    storage::Database db;
    QVERIFY(db.open(dir.filePath(u"k.sqlite"_s), nullptr));
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
    QTemporaryDir dir;
    storage::Database db;
    QVERIFY(db.open(dir.filePath(u"r.sqlite"_s), nullptr));
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
    QTemporaryDir dir;
    storage::Database db;
    QVERIFY(db.open(dir.filePath(u"t.sqlite"_s), nullptr));
    accounts::ApiKeys keys(db);
    const auto a = keys.create(u"Threads"_s, accounts::Plan::Free);
    QVERIFY(a);
    // Authentication from worker threads uses each thread's own connection.
    QList<int> work(200);
    const QList<bool> results =
        QtConcurrent::blockingMapped(work, [&](int) { return keys.authenticate(a->secret).has_value(); });
    QVERIFY(std::all_of(results.begin(), results.end(), [](bool ok) { return ok; }));
}

void TestStorage::preparedStatementsLiveWithTheirConnection()
{
    // Statements are kept per thread and connection: threads that end, and databases closed while threads
    // still hold statements, leave no connection in use behind (Qt SQL warns when one is).
    QTest::failOnWarning(QRegularExpression(u"still in use"_s));
    for (int round = 0; round < 3; ++round) {
        QTemporaryDir dir;
        auto db = std::make_unique<storage::Database>();
        QVERIFY(db->open(dir.filePath(u"t.sqlite"_s), nullptr));
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
        QVERIFY2(create.exec(u"CREATE TABLE made_later(n INTEGER)"_s),
                 qPrintable(create.lastError().text()));
        QVERIFY(db->prepared(u"SELECT n FROM made_later"_s).exec());
        db->prepared(u"SELECT n FROM made_later"_s).finish();
        // Closed while a long-lived thread of the global pool still holds its statements.
        QtConcurrent::run([&] {
            return storage::Settings(*db).value(storage::setting::Maintenance);
        }).waitForFinished();
        db.reset();
    }
}

QTEST_GUILESS_MAIN(TestStorage)
#include "tst_storage.moc"
