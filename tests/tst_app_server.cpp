// The window's API server: started, stopped and moved from the Settings page, over HTTP and HTTPS, with the
// real server (ApiServerControl) answering real requests. Bad certificates and taken ports are refused with
// a message next to the field, and a running server stays where it was.
#include "aboutdialog.h"
#include "apiservercontrol.h"
#include "cli.h"
#include "dnstestserver.h"
#include "engine.h"
#include "httptestclient.h"
#include "mainwindow.h"
#include "net/tlsidentity.h"
#include "serverlogpage.h"
#include "settingspage.h"
#include "storage/settings.h"
#include "testengine.h"

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QStatusBar>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

class TestAppServer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void startAndStopFromSettings();
    void httpsWithASelfSignedCertificate();
    void badCertificatesAreRefused();
    void takenPortKeepsTheRunningServer();
    void aboutAndDesktopIdentity();

private:
    /// A port nobody listens on right now (bound, then let go).
    static quint16 freePort();
    QString statusBarText() const;
    ui::SettingsPage *page() const { return m_window->settingsPage(); }

    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    Engine m_engine;
    std::unique_ptr<app::ApiServerControl> m_server;
    std::unique_ptr<ui::MainWindow> m_window;
};

quint16 TestAppServer::freePort()
{
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

QString TestAppServer::statusBarText() const
{
    auto *label = m_window->statusBar()->findChild<QLabel *>(u"apiStatus"_s);
    return label ? label->text() : QString();
}

void TestAppServer::initTestCase()
{
    QVERIFY(m_dns.listen());
    QString error;
    QVERIFY2(m_engine.start(loopbackEngineConfig(m_dir.path(), m_dns, 25), &error), qPrintable(error));
    m_server = std::make_unique<app::ApiServerControl>(m_engine);
    m_window = std::make_unique<ui::MainWindow>(m_engine, m_server.get());
    m_window->show();
    m_window->showPage(page());
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
}

void TestAppServer::cleanupTestCase()
{
    m_window.reset();
    m_server.reset();
    m_engine.stop();
}

void TestAppServer::startAndStopFromSettings()
{
    QVERIFY(!m_server->isListening());
    QCOMPARE(page()->serverStateLabel()->text(), u"Stopped"_s);
    QCOMPARE(statusBarText(), u"API server: not running"_s);
    QVERIFY(!page()->stopServerButton()->isEnabled());

    const quint16 port = freePort();
    page()->listenEdit()->setText(u"127.0.0.1"_s);
    page()->portEdit()->setText(QString::number(port));
    page()->startServerButton()->click();
    QVERIFY2(m_server->isListening(), qPrintable(page()->messageLabel()->text()));
    const QString url = u"http://127.0.0.1:%1/api/v1"_s.arg(port);
    QCOMPARE(m_server->url().toString(), url);
    QCOMPARE(page()->serverStateLabel()->text(), u"Listening on "_s + url);
    QCOMPARE(statusBarText(), u"API server: listening on "_s + url);
    QCOMPARE(page()->startServerButton()->text(), u"Apply and restart server"_s);
    ApiClient client(QUrl(u"http://127.0.0.1:%1"_s.arg(port)));
    QCOMPARE(client.get(u"/api/v1/health"_s).status, 200);
    // The port was saved with the page: the next start of Mailcaff uses it too.
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::Port), int(port));

    page()->stopServerButton()->click();
    QVERIFY(!m_server->isListening());
    QCOMPARE(page()->serverStateLabel()->text(), u"Stopped"_s);
    QCOMPARE(statusBarText(), u"API server: not running"_s);
    QCOMPARE(client.get(u"/api/v1/health"_s, {}).status, 0); // connection refused
    QVERIFY(page()->startServerButton()->isEnabled());

    page()->startServerButton()->click();
    QVERIFY(m_server->isListening());
    QCOMPARE(client.get(u"/api/v1/health"_s).status, 200);
}

void TestAppServer::httpsWithASelfSignedCertificate()
{
    QCOMPARE(page()->createSelfSigned(), QString());
    const QString certificatePath = page()->certificateEdit()->text();
    const QString keyPath = page()->keyEdit()->text();
    QVERIFY(QFileInfo(certificatePath).isFile());
    QVERIFY(certificatePath.startsWith(QDir(m_dir.path()).filePath(u"tls/"_s)));
    // The key is its owner's alone.
    QCOMPARE(QFileInfo(keyPath).permissions() &
                 (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup | QFile::WriteOther),
             QFile::Permissions());
    // A second one never overwrites the first.
    QTest::qWait(1100);
    QCOMPARE(page()->createSelfSigned(), QString());
    QVERIFY(page()->certificateEdit()->text() != certificatePath);
    QVERIFY(QFileInfo(certificatePath).isFile());

    const quint16 port = freePort();
    page()->portEdit()->setText(QString::number(port));
    page()->startServerButton()->click();
    QVERIFY2(m_server->isListening(), qPrintable(page()->messageLabel()->text()));
    QCOMPARE(m_server->url().toString(), u"https://127.0.0.1:%1/api/v1"_s.arg(port));
    QVERIFY(statusBarText().contains(u"https://"_s));

    const QList<QSslCertificate> served = QSslCertificate::fromPath(page()->certificateEdit()->text());
    QCOMPARE(served.size(), 1);
    ApiClient client(QUrl(u"https://127.0.0.1:%1"_s.arg(port)));
    client.setCaCertificates(served);
    const auto health = client.get(u"/api/v1/health"_s);
    QCOMPARE(health.status, 200);
    QCOMPARE(health.json.value(u"status"_s).toString(), u"ok"_s);
    QCOMPARE(client.lastPeerCertificate(), served.constFirst());
    // An error answer comes back encrypted as well, and whole.
    const auto missing = client.get(u"/api/v1/nothing-here"_s);
    QCOMPARE(missing.status, 404);
    QVERIFY(missing.json.value(u"error"_s).toString().contains(u"/api/v1/nothing-here"_s));

    // Plain HTTP to the HTTPS port gets no answer, only a closed connection; the server goes on.
    RawClient plain(port);
    QVERIFY(plain.waitConnected());
    plain.send("GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(plain.isClosed(), 10000);
    QVERIFY(!plain.received().contains("200 OK"));
    QCOMPARE(client.get(u"/api/v1/health"_s).status, 200);

    // Back to plain HTTP: empty certificate fields.
    page()->certificateEdit()->clear();
    page()->keyEdit()->clear();
    page()->startServerButton()->click();
    QVERIFY(m_server->isListening());
    QCOMPARE(m_server->url().scheme(), u"http"_s);
    QCOMPARE(ApiClient(QUrl(u"http://127.0.0.1:%1"_s.arg(port))).get(u"/api/v1/health"_s).status, 200);
}

void TestAppServer::badCertificatesAreRefused()
{
    QVERIFY(m_server->isListening());
    const QUrl running = m_server->url();
    QTemporaryDir files;
    QSslCertificate certA, certB;
    QSslKey keyA, keyB;
    QVERIFY(net::makeSelfSignedIdentity({u"a.test"_s}, 30, &certA, &keyA));
    QVERIFY(net::makeSelfSignedIdentity({u"b.test"_s}, 30, &certB, &keyB));
    const QString a = files.filePath(u"a.crt"_s);
    const QString aKey = files.filePath(u"a.key"_s);
    const QString bKey = files.filePath(u"b.key"_s);
    QCOMPARE(net::writeTlsIdentity(certA, keyA, a, aKey), QString());
    QCOMPARE(net::writeTlsIdentity(certB, keyB, files.filePath(u"b.crt"_s), bKey), QString());

    struct Case
    {
        QString certificate, key;
        QLineEdit *field;
        QString expected;
    };
    const QList<Case> cases{
        {a, bKey, page()->keyEdit(), u"does not belong to the certificate"_s},
        {a, QString(), page()->keyEdit(), u"give both"_s},
        {QString(), aKey, page()->certificateEdit(), u"give both"_s},
        {files.filePath(u"missing.crt"_s), aKey, page()->certificateEdit(), u"does not exist"_s},
        {aKey, aKey, page()->certificateEdit(), u"no PEM certificate"_s},
        {a, a, page()->keyEdit(), u"no private key"_s},
    };
    for (const Case &c : cases) {
        page()->certificateEdit()->setText(c.certificate);
        page()->keyEdit()->setText(c.key);
        page()->startServerButton()->click();
        QVERIFY2(page()->fieldError(c.field).contains(c.expected),
                 qPrintable(c.expected + u" / "_s + page()->fieldError(c.field)));
        QVERIFY(page()->messageLabel()->text().startsWith(u"Not saved"_s));
        // Nothing saved, nothing moved.
        QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::TlsKey), QString());
        QCOMPARE(m_server->url(), running);
    }
    QCOMPARE(ApiClient(running.adjusted(QUrl::RemovePath)).get(u"/api/v1/health"_s).status, 200);
    page()->reload();
    QCOMPARE(page()->fieldError(page()->keyEdit()), QString());
}

void TestAppServer::takenPortKeepsTheRunningServer()
{
    QVERIFY(m_server->isListening());
    const QUrl running = m_server->url();
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    page()->portEdit()->setText(QString::number(squatter.serverPort()));
    page()->startServerButton()->click();
    // The move failed: still on the old port, and the page says both things.
    QVERIFY(m_server->isListening());
    QCOMPARE(m_server->url(), running);
    const QString state = page()->serverStateLabel()->text();
    QVERIFY2(state.startsWith(u"Still listening on %1"_s.arg(running.toString())),
             qPrintable(state + u" / "_s + QString::number(squatter.serverPort()) + u" / "_s +
                        page()->messageLabel()->text()));
    QVERIFY2(state.contains(QString::number(squatter.serverPort())), qPrintable(state));
    QVERIFY(page()->messageLabel()->text().contains(u"could not start"_s));
    QCOMPARE(ApiClient(running.adjusted(QUrl::RemovePath)).get(u"/api/v1/health"_s).status, 200);

    // Stopped, a start on the taken port leaves it stopped, with the reason.
    page()->stopServerButton()->click();
    page()->startServerButton()->click();
    QVERIFY(!m_server->isListening());
    QVERIFY2(page()->serverStateLabel()->text().startsWith(u"Not running: cannot listen"_s),
             qPrintable(page()->serverStateLabel()->text()));
    QCOMPARE(statusBarText(), u"API server: not running"_s);
}

void TestAppServer::aboutAndDesktopIdentity()
{
    // The icon in every size the title bar, task bar and About dialog ask for, and the desktop file's id.
    app::setDesktopIdentity();
    const QList<QSize> sizes = QApplication::windowIcon().availableSizes();
    for (int size : {16, 24, 32, 48, 64, 128, 256})
        QVERIFY2(sizes.contains(QSize(size, size)), qPrintable(QString::number(size)));
    QCOMPARE(QGuiApplication::desktopFileName(), u"io.mailcaff.Mailcaff"_s);
    QCOMPARE(m_window->windowTitle(), u"Mailcaff"_s);

    // Help > About Mailcaff: version, licence, and each library with the version in use.
    QMenu *help = nullptr;
    for (QAction *a : m_window->menuBar()->actions())
        if (a->text() == u"&Help"_s)
            help = a->menu();
    QVERIFY(help);
    QVERIFY(help->actions().first()->text().contains(u"About Mailcaff"_s));
    ui::AboutDialog about(m_engine);
    const QString text = about.text();
    QVERIFY2(text.contains(u"Mailcaff "_s + QStringLiteral(MAILCAFF_VERSION)), qPrintable(text));
    QVERIFY(text.contains(u"MIT licence"_s));
    QVERIFY(text.contains(u"<td>Qt</td><td>&nbsp;"_s + QString::fromLatin1(qVersion())));
    const auto libraries = m_engine.libraryVersions();
    QCOMPARE(libraries.size(), 4);
    const QRegularExpression version(u"^\\d+\\.\\d+(\\.\\d+)?"_s);
    for (const auto &[name, v] : libraries) {
        QVERIFY2(version.match(v).hasMatch(), qPrintable(name + u": "_s + v));
        QVERIFY(text.contains(u"<td>%1</td><td>&nbsp;%2</td>"_s.arg(name, v)));
    }
    QCOMPARE(libraries.at(1).first, u"c-ares"_s);
    QVERIFY(libraries.at(2).second.startsWith(u"3."_s)); // OpenSSL 3
    QCOMPARE(libraries.at(3).first, u"SQLite"_s);
}

QTEST_MAIN(TestAppServer)
#include "tst_app_server.moc"
