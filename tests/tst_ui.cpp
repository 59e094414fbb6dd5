// The window: the Verify page shows a quick-mode result, refuses what it cannot do with a message, and the
// status bar shows the API server. Runs offscreen against a loopback DNS server.
#include "colours.h"
#include "dnstestserver.h"
#include "domainpage.h"
#include "engine.h"
#include "finderpage.h"
#include "jobs/liststore.h"
#include "keyspage.h"
#include "listmodel.h"
#include "listspage.h"
#include "mainwindow.h"
#include "serverlogpage.h"
#include "settingspage.h"
#include "smtptestserver.h"
#include "storage/settings.h"
#include "verifypage.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStatusBar>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>

using namespace mailcaff;
using namespace mailcaff::test;
using namespace Qt::StringLiterals;

/// Saves a picture of `widget` (rendered offscreen) for people to look at the window without a display:
/// into $MAILCAFF_SCREENSHOT_DIR, else the build's tests/screenshots. Prints the file's name.
static bool screenshot(QWidget *widget, const QString &name)
{
    QString dir = qEnvironmentVariable("MAILCAFF_SCREENSHOT_DIR");
    if (dir.isEmpty())
        dir = QStringLiteral(MAILCAFF_SCREENSHOT_DEFAULT_DIR);
    if (!QDir().mkpath(dir))
        return false;
    const QString file = QDir(dir).filePath(name + u".png"_s);
    if (!widget->grab().save(file))
        return false;
    qInfo("screenshot: %s", qPrintable(file));
    return true;
}

class TestUi : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void statusBarShowsApi();
    void showsQuickResult();
    void emptyAddressAsksForOne();
    void powerModeShowsTheSmtpReply();
    void staysResponsiveWhileChecking();
    void verifyHistory();
    void settingsRefuseBadValues();
    void settingsSaveAndReload();
    void apiKeysPage();
    void domainFinderOneCompany();
    void domainFinderList();
    void emailFinderOnePerson();
    void emailFinderList();
    void listsImportVerifyFilterExport();
    void listFilterAtScale();
    void screenshotsOfEveryPage();
    void closingWhileAListRuns();
    void serverLog();

private:
    QTemporaryDir m_dir;
    DnsTestServer m_dns;
    SmtpTestServer m_smtp;
    Engine m_engine;
    std::unique_ptr<ui::MainWindow> m_window;
};

void TestUi::initTestCase()
{
    QVERIFY(m_dns.listen());
    m_dns.addMx(u"example.com"_s, 10, u"mx.example.com"_s);
    m_dns.setBehaviour(u"slow.test"_s, DnsTestServer::Behaviour::Silent);
    QVERIFY(m_smtp.listen(QHostAddress(u"127.0.0.41"_s)));
    m_smtp.addMailbox(u"user@example.com"_s);
    m_dns.addA(u"mx.example.com"_s, u"127.0.0.41"_s);
    EngineConfig config;
    config.dataDir = m_dir.path();
    config.dnsServers = m_dns.serverString();
    config.dnsTimeoutMs = 1500;
    config.dnsTries = 1;
    config.smtpPort = m_smtp.port();
    config.allowPrivateTargets = true;
    QString error;
    QVERIFY2(m_engine.start(config, &error), qPrintable(error));
    m_window = std::make_unique<ui::MainWindow>(m_engine, nullptr);
    m_window->show();
    QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    m_window->showPage(m_window->verifyPage()); // the first tests click on it
}

void TestUi::cleanupTestCase()
{
    m_window.reset();
    m_engine.stop();
}

void TestUi::statusBarShowsApi()
{
    auto *label = m_window->statusBar()->findChild<QLabel *>(u"apiStatus"_s);
    QVERIFY(label);
    // This window has no API server (tst_app_server runs one): it says so, and offers nothing to start.
    QCOMPARE(label->text(), u"API server: not running"_s);
    QVERIFY(!m_window->settingsPage()->startServerButton()->isEnabled());
    QVERIFY(!m_window->settingsPage()->stopServerButton()->isEnabled());
}

void TestUi::showsQuickResult()
{
    ui::VerifyPage *page = m_window->verifyPage();
    QSignalSpy shown(page, &ui::VerifyPage::resultShown);
    page->modeBox()->setCurrentIndex(page->modeBox()->findData(int(core::Mode::Quick)));
    page->addressEdit()->setText(u"info@example.com"_s);
    QTest::mouseClick(page->verifyButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 5000);
    QCOMPARE(page->statusLabel()->text(), u"RISKY"_s);
    QCOMPARE(page->fieldText(core::field::MxAcceptsMail), u"Yes"_s);
    QCOMPARE(page->fieldText(core::field::IsRoleAccount), u"Yes"_s);
    QCOMPARE(page->fieldText(core::field::IsDisposable), u"No"_s);
    QCOMPARE(page->fieldText(core::field::Email), u"info@example.com"_s);
    QVERIFY(page->verifyButton()->isEnabled());
    QVERIFY(screenshot(m_window.get(), u"verify-quick"_s));
}

void TestUi::emptyAddressAsksForOne()
{
    ui::VerifyPage *page = m_window->verifyPage();
    page->addressEdit()->clear();
    QTest::mouseClick(page->verifyButton(), Qt::LeftButton);
    QCOMPARE(page->statusLabel()->text(), u"Cannot verify"_s);
    QVERIFY(page->findChildren<QLabel *>().size() > 3);
}

void TestUi::powerModeShowsTheSmtpReply()
{
    ui::VerifyPage *page = m_window->verifyPage();
    QSignalSpy shown(page, &ui::VerifyPage::resultShown);
    page->modeBox()->setCurrentIndex(page->modeBox()->findData(int(core::Mode::Power)));
    page->addressEdit()->setText(u"user@example.com"_s);
    QTest::mouseClick(page->verifyButton(), Qt::LeftButton);
    QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 10000);
    QCOMPARE(page->statusLabel()->text(), u"VALID"_s);
    QVERIFY2(page->fieldText(core::field::Smtp).startsWith(u"250"_s),
             qPrintable(page->fieldText(core::field::Smtp)));
    QCOMPARE(page->fieldText(core::field::MxHost), u"mx.example.com"_s);
    QCOMPARE(page->fieldText(core::field::CanConnectSmtp), u"Yes"_s);
    QVERIFY(screenshot(m_window.get(), u"verify-power"_s));
}

void TestUi::staysResponsiveWhileChecking()
{
    ui::VerifyPage *page = m_window->verifyPage();
    QSignalSpy shown(page, &ui::VerifyPage::resultShown);
    page->modeBox()->setCurrentIndex(page->modeBox()->findData(int(core::Mode::Quick)));
    page->addressEdit()->setText(u"user@slow.test"_s);
    QTest::mouseClick(page->verifyButton(), Qt::LeftButton);
    // While DNS waits, the window keeps handling input: typing works at once.
    QVERIFY(!page->verifyButton()->isEnabled());
    QTest::keyClicks(page->addressEdit(), u"x"_s);
    QCOMPARE(page->addressEdit()->text(), u"user@slow.testx"_s);
    QTRY_COMPARE_WITH_TIMEOUT(shown.size(), 1, 5000);
    QCOMPARE(page->statusLabel()->text(), u"UNKNOWN"_s);
}

void TestUi::verifyHistory()
{
    // The checks above, newest first, kept in the database; choosing one shows it again.
    ui::VerifyPage *page = m_window->verifyPage();
    QListWidget *history = page->historyList();
    QVERIFY(history->count() >= 3);
    QVERIFY2(history->item(0)->text().contains(u"user@slow.test"_s), qPrintable(history->item(0)->text()));
    QVERIFY(history->item(1)->text().contains(u"user@example.com"_s));
    QSignalSpy shown(page, &ui::VerifyPage::resultShown);
    Q_EMIT history->itemActivated(history->item(1));
    QCOMPARE(shown.size(), 1);
    QCOMPARE(page->addressEdit()->text(), u"user@example.com"_s);
    QCOMPARE(page->statusLabel()->text(), u"VALID"_s);
    // A page made anew (as after a restart) has them too.
    ui::VerifyPage again(m_engine);
    QCOMPARE(again.historyList()->count(), history->count());
}

void TestUi::settingsRefuseBadValues()
{
    ui::SettingsPage *page = m_window->settingsPage();
    page->reload();
    page->portEdit()->setText(u"80800"_s);
    page->heloEdit()->setText(u"not a host"_s);
    QVERIFY(!page->save());
    const QString message = page->messageLabel()->text();
    QVERIFY2(message.contains(u"API port"_s) && message.contains(u"SMTP HELO name"_s), qPrintable(message));
    // And next to each field: what is wrong with it.
    QVERIFY(!page->fieldError(page->portEdit()).isEmpty());
    QVERIFY(!page->fieldError(page->heloEdit()).isEmpty());
    QVERIFY(page->fieldError(page->dnsEdit()).isEmpty());
    // All or nothing: the valid fields were not saved either.
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::Port), 8080);
}

void TestUi::settingsSaveAndReload()
{
    ui::SettingsPage *page = m_window->settingsPage();
    page->reload();
    page->listenEdit()->setText(u"::1"_s);
    page->portEdit()->setText(u"9191"_s);
    page->dnsEdit()->setText(u"127.0.0.1:5353, [::1]:53"_s);
    page->heloEdit()->setText(u"verify.example.com"_s);
    page->mailFromEdit()->setText(u"probe@example.com"_s);
    page->privateTargetsBox()->setChecked(true);
    page->maintenanceBox()->setChecked(true);
    page->retryAfterBox()->setValue(120);
    page->retentionBox()->setValue(90);
    page->domainCacheBox()->setValue(48);
    page->gravatarBox()->setChecked(false);
    page->sessionsPerMxBox()->setValue(3);
    page->powerDeadlineBox()->setValue(45);
    QVERIFY(page->save());
    QVERIFY(page->fieldError(page->portEdit()).isEmpty()); // the earlier messages are gone
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::SessionsPerMx), 3);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::PowerDeadlineSeconds), 45);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::FinderGravatar), false);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::DomainCacheHours), 48);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::JobRetentionDays), 90);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::Maintenance), true);
    QCOMPARE(storage::Settings(m_engine.database()).value(storage::setting::MaintenanceRetryAfter), 120);
    const storage::Settings settings(m_engine.database());
    QCOMPARE(settings.value(storage::setting::Port), 9191);
    QCOMPARE(settings.value(storage::setting::ListenAddress), u"::1"_s);
    QCOMPARE(settings.value(storage::setting::HeloName), u"verify.example.com"_s);
    QCOMPARE(settings.value(storage::setting::AllowPrivateTargets), true);
    page->portEdit()->clear();
    page->reload();
    QCOMPARE(page->portEdit()->text(), u"9191"_s);
    QVERIFY(page->messageLabel()->text().contains(u"next time Mailcaff starts"_s));
}

void TestUi::apiKeysPage()
{
    ui::KeysPage *page = m_window->keysPage();
    page->nameEdit()->clear();
    QVERIFY(!page->createKey());
    QVERIFY(page->messageLabel()->text().contains(u"No key created"_s));

    page->nameEdit()->setText(u"Window key"_s);
    page->planBox()->setCurrentIndex(page->planBox()->findData(int(accounts::Plan::Growth)));
    QVERIFY(page->createKey());
    const QString key = page->messageLabel()->text().split(u'\n').last();
    QVERIFY2(key.startsWith(u"mc_"_s), qPrintable(key));
    const auto who = m_engine.apiKeys().authenticate(key);
    QVERIFY(who);
    QCOMPARE(accounts::toString(who->plan), u"growth"_s);

    // Select it, give it a webhook (HTTPS only), then revoke it.
    QTableWidget *table = page->keysTable();
    int row = -1;
    for (int r = 0; r < table->rowCount(); ++r) {
        if (table->item(r, 0)->text().toLongLong() == who->id)
            row = r;
    }
    QVERIFY(row >= 0);
    table->selectRow(row);
    page->webhookEdit()->setText(u"http://hooks.example/x"_s);
    QVERIFY(!page->setWebhookOfSelected());
    page->webhookEdit()->setText(u"https://hooks.example/x"_s);
    QVERIFY(page->setWebhookOfSelected());
    QVERIFY(page->messageLabel()->text().contains(u"whsec_"_s));
    QCOMPARE(m_engine.webhooks().endpoint(who->id)->url, u"https://hooks.example/x"_s);
    // The secret goes to the clipboard with one click.
    QVERIFY(!page->copyButton()->isHidden());
    QVERIFY(page->copySecret());
    QVERIFY(QGuiApplication::clipboard()->text().startsWith(u"whsec_"_s));
    // A test event: queued for the endpoint, in the delivery log at once.
    QVERIFY(page->sendTestEvent());
    QVERIFY(page->deliveriesTable()->rowCount() >= 1);
    QVERIFY(page->deliveriesTable()->item(0, 0)->text().startsWith(u"webhook.test"_s));
    page->resize(800, 600);
    QVERIFY(screenshot(page, u"keys-page"_s));
    // Move it to another plan: the table shows the new plan and the month's credits.
    page->newPlanBox()->setCurrentIndex(page->newPlanBox()->findData(int(accounts::Plan::Scale)));
    QVERIFY(page->changePlanOfSelected());
    QCOMPARE(accounts::toString(m_engine.apiKeys().authenticate(key)->plan), u"scale"_s);
    for (int r = 0; r < table->rowCount(); ++r) {
        if (table->item(r, 0)->text().toLongLong() == who->id) {
            QCOMPARE(table->item(r, 3)->text(), u"scale"_s);
            QVERIFY2(table->item(r, 4)->text().contains(u"250000"_s), qPrintable(table->item(r, 4)->text()));
        }
    }
    QVERIFY(page->revokeSelected());
    QVERIFY(!m_engine.apiKeys().authenticate(key));
    QVERIFY(!page->changePlanOfSelected()); // revoked keys keep their plan
}

void TestUi::domainFinderOneCompany()
{
    ui::DomainPage *page = m_window->domainPage();
    page->nameEdit()->clear();
    QVERIFY(!page->findOne());
    QVERIFY(page->resultLabel()->text().contains(u"company name"_s));

    page->nameEdit()->setText(u"Example Inc."_s);
    QSignalSpy done(page, &ui::DomainPage::lookupFinished);
    QVERIFY(page->findOne());
    QVERIFY(done.wait(10000));
    const QString text = page->resultLabel()->text();
    QVERIFY2(text.contains(u"example.com"_s) && text.contains(u"medium"_s), qPrintable(text));
    QVERIFY(page->candidatesTable()->rowCount() >= 8);
    QCOMPARE(page->candidatesTable()->item(0, 0)->text(), u"example.com"_s);
}

void TestUi::domainFinderList()
{
    // Excel's European CSV: semicolons, a header naming the column, an empty row, a hostile cell.
    QTemporaryDir dir;
    const QString in = dir.filePath(u"companies.csv"_s);
    QFile file(in);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("City;Company\r\nParis;Example Inc.\r\nRome;\r\nBerlin;=cmd|' /C calc'!A0\r\n");
    file.close();
    ui::DomainPage *page = m_window->domainPage();
    QSignalSpy imported(page, &ui::DomainPage::listImported);
    QVERIFY(page->importFile(in));
    QVERIFY(imported.wait(10000));
    QVERIFY2(page->listStatus()->text().contains(u"empty rows skipped: 1"_s),
             qPrintable(page->listStatus()->text()));
    QTRY_VERIFY_WITH_TIMEOUT(page->listStatus()->text().contains(u"2 of 2 done"_s), 15000);
    QCOMPARE(page->listTable()->rowCount(), 2);
    QCOMPARE(page->listTable()->item(0, 1)->text(), u"example.com"_s);

    const QString out = dir.filePath(u"domains.csv"_s);
    QVERIFY(page->exportCsv(out));
    QFile exported(out);
    QVERIFY(exported.open(QIODevice::ReadOnly));
    const QByteArray bytes = exported.readAll();
    QVERIFY(bytes.startsWith("\xEF\xBB\xBF")); // for Excel
    const QList<QByteArray> lines = bytes.mid(3).split('\n');
    QCOMPARE(lines.at(0).trimmed(),
             QByteArray("company_name,domain,confidence,has_mx,has_website,candidates_checked,status"));
    QVERIFY(lines.at(1).startsWith("Example Inc.,example.com,medium,true,false,"));
    QVERIFY2(lines.at(2).startsWith("'=cmd"), lines.at(2).constData()); // never a formula in a spreadsheet

    page->resize(900, 640);
    QVERIFY(screenshot(page, u"domain-page"_s));
    // The list is remembered: a new page (as after a restart) shows it again.
    ui::DomainPage again(m_engine);
    QCOMPARE(again.listJobId(), page->listJobId());
    QCOMPARE(again.listTable()->rowCount(), 2);
}

void TestUi::emailFinderOnePerson()
{
    ui::FinderPage *page = m_window->finderPage();
    QVERIFY(!page->findOne());
    QVERIFY(page->resultLabel()->text().contains(u"first name"_s));
    page->firstNameEdit()->setText(u"User"_s);
    page->lastNameEdit()->setText(u"Smith"_s);
    page->domainEdit()->setText(u"https://www.example.com/"_s); // as copied from a browser
    QSignalSpy done(page, &ui::FinderPage::lookupFinished);
    QVERIFY(page->findOne());
    QVERIFY(done.wait(15000));
    const QString text = page->resultLabel()->text();
    QVERIFY2(text.contains(u"user@example.com"_s) && text.contains(u"High confidence"_s), qPrintable(text));
    QVERIFY2(text.contains(u"mail server confirmed"_s), qPrintable(text));
}

void TestUi::emailFinderList()
{
    QTemporaryDir dir;
    const QString in = dir.filePath(u"leads.csv"_s);
    QFile file(in);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("Firma;Nachname;Vorname\r\nexample.com;Smith;User\r\nexample.com;Nobody;\r\nnowhere.invalid;"
               "Doe;John\r\n");
    file.close();
    ui::FinderPage *page = m_window->finderPage();
    QSignalSpy read(page, &ui::FinderPage::fileRead);
    QVERIFY(page->importFile(in));
    QVERIFY(read.wait(10000));
    // The columns were recognised by their German names.
    QCOMPARE(page->firstColumnBox()->currentText(), u"Vorname"_s);
    QCOMPARE(page->lastColumnBox()->currentText(), u"Nachname"_s);
    QCOMPARE(page->domainColumnBox()->currentText(), u"Firma"_s);
    QVERIFY(page->startList());
    QVERIFY2(page->listStatus()->text().contains(u"incomplete rows skipped: 1"_s),
             qPrintable(page->listStatus()->text()));
    QTRY_VERIFY_WITH_TIMEOUT(page->listStatus()->text().contains(u"2 of 2 done"_s), 20000);
    QCOMPARE(page->listTable()->item(0, 3)->text(), u"user@example.com"_s);
    QCOMPARE(page->listTable()->item(1, 7)->text(), u"no_mx_records"_s);

    const QString out = dir.filePath(u"found.csv"_s);
    QVERIFY(page->exportCsv(out));
    QFile exported(out);
    QVERIFY(exported.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = exported.readAll().mid(3).split('\n');
    QCOMPARE(
        lines.at(0).trimmed(),
        QByteArray("first_name,last_name,domain,company_name,found,email,confidence,pattern,source,reason"));
    QVERIFY2(lines.at(1).startsWith(
                 "User,Smith,example.com,,true,user@example.com,high,first,cache,"), // found a moment ago
             lines.at(1).constData());
    QVERIFY2(lines.at(2).startsWith("John,Doe,nowhere.invalid,,false,"), lines.at(2).constData());
    page->resize(1000, 640);
    QVERIFY(screenshot(page, u"finder-page"_s));
}

void TestUi::listsImportVerifyFilterExport()
{
    ui::ListsPage *page = m_window->listsPage();
    const int listsBefore = page->listsWidget()->count();
    QSignalSpy created(page, &ui::ListsPage::listCreated);
    // The dialog's decisions, made as the dialog would make them (its guess), in quick mode.
    page->importFile(
        QStringLiteral(MAILCAFF_TEST_DATA "/list-fixture.csv"),
        [](const QString &, const QList<QStringList> &rows, int *column, bool *header, bool *power) {
            *column = ui::ImportDialog::guessAddressColumn(rows, header);
            *power = false;
            return true;
        });
    QVERIFY(created.wait(10000));
    QCOMPARE(page->listsWidget()->count(), listsBefore + 1);
    QTRY_VERIFY_WITH_TIMEOUT(page->statusLabel()->text().contains(u"(done)"_s), 15000);
    QCOMPARE(page->model()->rowCount(), 8);
    // Every row is shown, the one without an address too.
    const QList<int> counts = page->model()->statusCounts();
    QCOMPARE(counts.at(int(core::Status::Risky)), 4); // ann twice, bob, info
    QCOMPARE(counts.at(int(core::Status::Invalid)), 2);
    QCOMPARE(counts.at(int(core::Status::Disposable)), 1);
    QCOMPARE(counts.at(int(core::Status::Error)), 1);
    QCOMPARE(counts.last(), 0); // nothing pending
    QVERIFY(page->summaryLabel()->text().contains(u"risky 50.0%"_s));

    // Filter: risky only, then a search within it.
    page->statusFilterBox()->setCurrentIndex(page->statusFilterBox()->findData(int(core::Status::Risky)));
    QCOMPARE(page->filter()->rowCount(), 4);
    page->searchEdit()->setText(u"ann"_s);
    page->applyFilter();
    QCOMPARE(page->filter()->rowCount(), 2);
    QCOMPARE(page->filter()->mapToSource(page->filter()->index(0, 0)).row(), 0); // in file order

    // Score and kind: the role account (info@, 65) among the risky ones.
    page->searchEdit()->clear();
    page->flagFilterBox()->setCurrentIndex(page->flagFilterBox()->findData(int(jobs::ListRow::Role)));
    QCOMPARE(page->filter()->rowCount(), 1);
    page->flagFilterBox()->setCurrentIndex(0);
    page->minScoreBox()->setValue(70);
    QCOMPARE(page->filter()->rowCount(), 3); // the 75s
    page->minScoreBox()->setValue(0);
    page->searchEdit()->setText(u"ann"_s);
    page->applyFilter();

    // The detail of a row: every field, and the reason in words.
    page->table()->setCurrentIndex(page->filter()->index(0, 1));
    QVERIFY(page->detailView()->toPlainText().contains(u"ann@example.com"_s));
    QVERIFY(page->detailView()->toPlainText().contains(u"quality_score"_s));

    // Export everything: byte for byte the golden file (original columns, results, formulas neutralised).
    QTemporaryDir dir;
    QSignalSpy exported(page, &ui::ListsPage::listExported);
    page->exportCsv(dir.filePath(u"all.csv"_s), ui::ListsPage::ExportScope::All);
    QVERIFY(exported.wait(10000));
    QVERIFY(exported.last().at(0).toBool());
    QFile all(dir.filePath(u"all.csv"_s));
    QVERIFY(all.open(QIODevice::ReadOnly));
    QFile golden(QStringLiteral(MAILCAFF_TEST_DATA "/list-fixture.expected.csv"));
    QVERIFY(golden.open(QIODevice::ReadOnly));
    const QByteArray actual = all.readAll();
    if (actual != golden.readAll()) {
        qWarning().noquote() << "export differs from the golden file; got:\n" << actual;
        QFAIL("export differs from tests/data/list-fixture.expected.csv");
    }
    // The current filter only.
    page->exportCsv(dir.filePath(u"shown.csv"_s), ui::ListsPage::ExportScope::Filtered, false);
    QVERIFY(exported.wait(10000));
    QFile shown(dir.filePath(u"shown.csv"_s));
    QVERIFY(shown.open(QIODevice::ReadOnly));
    QCOMPARE(shown.readAll().count('\n'), 3); // the header and the two Anns
    // Chosen columns only, without the file's own.
    page->exportCsv(dir.filePath(u"narrow.csv"_s), ui::ListsPage::ExportScope::Filtered, false,
                    {u"email"_s, u"status"_s}, false);
    QVERIFY(exported.wait(10000));
    QFile narrow(dir.filePath(u"narrow.csv"_s));
    QVERIFY(narrow.open(QIODevice::ReadOnly));
    QCOMPARE(narrow.readAll(),
             QByteArray("email,status\r\nann@example.com,risky\r\nANN@example.com,risky\r\n"));

    page->resize(1100, 680);
    QVERIFY(screenshot(page, u"lists-page"_s));

    // Light and dark palettes: every status colour (text, dots, bars, summary) and the error colour stay
    // readable (WCAG AA: contrast 4.5 or more) on the table's base and on the window, in both.
    const QPalette original = QApplication::palette();
    QPalette light = original;
    light.setResolveMask(~QPalette::ResolveMask(0)); // every role set: a palette of its own, not a default
    QPalette dark;
    dark.setColor(QPalette::Window, QColor(0x35, 0x35, 0x35));
    dark.setColor(QPalette::WindowText, Qt::white);
    dark.setColor(QPalette::Base, QColor(0x2a, 0x2a, 0x2a));
    dark.setColor(QPalette::AlternateBase, QColor(0x35, 0x35, 0x35));
    dark.setColor(QPalette::Text, Qt::white);
    dark.setColor(QPalette::Button, QColor(0x35, 0x35, 0x35));
    dark.setColor(QPalette::ButtonText, Qt::white);
    dark.setColor(QPalette::Highlight, QColor(0x2a, 0x82, 0xda));
    dark.setColor(QPalette::HighlightedText, Qt::black);
    for (const QPalette &palette : {light, dark}) {
        QApplication::setPalette(palette);
        QCoreApplication::processEvents();
        const QString which = ui::isDark(palette) ? u"dark"_s : u"light"_s;
        for (int s = int(core::Status::Valid); s <= int(core::Status::Error); ++s) {
            const QColor colour = ui::statusColour(core::Status(s));
            for (QPalette::ColorRole on : {QPalette::Base, QPalette::Window}) {
                const double ratio = ui::contrastRatio(colour, palette.color(on));
                QVERIFY2(ratio >= 4.5,
                         qPrintable(u"%1 %2 on %3: %4"_s
                                        .arg(which, core::toString(core::Status(s)), palette.color(on).name())
                                        .arg(ratio)));
            }
        }
        QVERIFY(ui::contrastRatio(ui::errorColour(), palette.color(QPalette::Window)) >= 4.5);
        // The table asks for the palette's colours, not fixed ones.
        const QModelIndex status = page->model()->index(0, ui::ListModel::Status);
        QCOMPARE(
            page->model()->data(status, Qt::ForegroundRole).value<QColor>(),
            ui::statusColour(core::Status(page->model()->data(status, ui::ListModel::StatusRole).toInt())));
        QVERIFY(screenshot(page, u"lists-page-"_s + which));
    }
    QApplication::setPalette(light);
    QCoreApplication::processEvents();
    QVERIFY(!ui::isDark(page->palette()));
    page->searchEdit()->clear();
    page->statusFilterBox()->setCurrentIndex(0);
    QVERIFY(page->deleteList());
    QCOMPARE(page->listsWidget()->count(), listsBefore);
}

void TestUi::listFilterAtScale()
{
    // Above ListFilter::AsyncRows the filter and the sort run on a worker: the view keeps its rows until
    // the new ones are ready, and a selected row stays selected wherever it moves.
    constexpr int N = 120'000;
    ui::ListModel model;
    QStringList addresses;
    addresses.reserve(N);
    for (int i = 0; i < N; ++i)
        addresses.append(u"user%1@d%2.test"_s.arg(i).arg(i % 7));
    model.reset(addresses);
    QList<jobs::ListRow> results;
    for (int i = 0; i < N; i += 2) { // every other row done
        jobs::ListRow r;
        r.position = i;
        r.status = qint8(i % 3 == 0 ? core::Status::Valid : core::Status::Invalid);
        r.score = qint8(i % 101);
        r.flags = i % 4 == 0 ? jobs::ListRow::Role : 0;
        results.append(r);
    }
    model.apply(results);
    ui::ListFilter filter;
    QSignalSpy applied(&filter, &ui::ListFilter::applied);
    filter.setSourceModel(&model);
    QVERIFY(applied.wait(10000));
    QCOMPARE(filter.rowCount(), N);
    QPersistentModelIndex selected(filter.index(6000, ui::ListModel::Email)); // row 6000: valid, score 41

    filter.setStatus(int(core::Status::Valid));
    filter.apply();
    QVERIFY(filter.isBusy());
    QCOMPARE(filter.rowCount(), N); // the old rows until the new ones are ready
    QVERIFY(applied.wait(10000));
    QCOMPARE(filter.rowCount(), N / 6); // even rows divisible by 3
    for (int r = 1; r < filter.rowCount(); ++r)
        QVERIFY(filter.mapToSource(filter.index(r, 0)).row() >
                filter.mapToSource(filter.index(r - 1, 0)).row());
    QVERIFY(selected.isValid());
    QCOMPARE(filter.mapToSource(selected).row(), 6000);
    QCOMPARE(selected.data().toString(), u"user6000@d1.test"_s);

    filter.sort(ui::ListModel::Score, Qt::DescendingOrder);
    QVERIFY(applied.wait(10000));
    int previous = 101;
    for (int r = 0; r < filter.rowCount(); ++r) {
        const int score = filter.data(filter.index(r, 0), ui::ListModel::ScoreRole).toInt();
        QVERIFY(score <= previous);
        previous = score;
    }
    QCOMPARE(filter.mapToSource(selected).row(), 6000);

    filter.setText(u"USER1234"_s); // case-insensitive, anywhere in the address
    filter.setRequiredFlags(jobs::ListRow::Role);
    filter.apply();
    QVERIFY(applied.wait(10000));
    QSet<int> expected;
    for (int i = 0; i < N; ++i)
        if (i % 6 == 0 && i % 4 == 0 && addresses.at(i).contains(u"user1234"_s))
            expected.insert(i);
    QCOMPARE(filter.acceptedPositions(), expected);
    QVERIFY(!selected.isValid()); // row 6000 is filtered out now

    // Two requests in a row: only the newer one's rows are shown.
    filter.setText(QString());
    filter.setRequiredFlags(0);
    filter.setStatus(-2);
    filter.apply();
    filter.setStatus(-1); // pending rows: the odd ones
    filter.apply();
    QTRY_VERIFY_WITH_TIMEOUT(!filter.isBusy(), 10000);
    QCOMPARE(filter.rowCount(), N / 2);
}

void TestUi::screenshotsOfEveryPage()
{
    auto *nav = m_window->findChild<QListWidget *>(u"navigation"_s);
    QVERIFY(nav);
    m_window->resize(1100, 700);
    for (int i = 0; i < nav->count(); ++i) {
        nav->setCurrentRow(i);
        QVERIFY(
            screenshot(m_window.get(), u"window-"_s + nav->item(i)->text().toLower().replace(u' ', u'-')));
    }
}

void TestUi::closingWhileAListRuns()
{
    // A list that takes a while: its domain's DNS server never answers (1.5 s per address).
    const auto created = m_engine.listStore().create(
        u"slow.csv"_s, {u"email"_s}, {{u"a@slow.test"_s}, {u"b@slow.test"_s}}, 0, core::Mode::Quick);
    QVERIFY(!created.jobId.isEmpty());
    ui::MainWindow window(m_engine, nullptr);
    window.show();
    QCOMPARE(window.runningLists(), 1);
    int asked = 0;
    window.askOnClose = [&] {
        ++asked;
        return ui::MainWindow::CloseChoice::Cancel;
    };
    QVERIFY(!window.close()); // cancelled: still open
    QCOMPARE(asked, 1);
    QVERIFY(window.isVisible());
    window.askOnClose = [&] {
        ++asked;
        return ui::MainWindow::CloseChoice::Quit;
    };
    QVERIFY(window.close());
    QCOMPARE(asked, 2);
    // The window's place and size are remembered.
    QVERIFY(!storage::Settings(m_engine.database())
                 .value(storage::Setting<QString>{"ui/window_geometry", {}})
                 .isEmpty());
    // Once the list is done, closing asks nothing.
    QVERIFY(QTest::qWaitFor([&] { return window.runningLists() == 0; }, 15000));
    window.show();
    QVERIFY(window.close());
    QCOMPARE(asked, 2);
    m_engine.jobs().remove(created.jobId);
}

void TestUi::serverLog()
{
    core::RequestLogEntry e;
    e.at = QDateTime::currentDateTimeUtc();
    e.method = u"POST"_s;
    e.path = u"/api/v1/verify"_s;
    e.status = 429;
    e.durationMs = 3;
    e.keyPrefix = u"mc_AbCdEfGh"_s;
    m_engine.requestLog().add(e);
    ui::ServerLogPage *page = m_window->serverLogPage();
    QTRY_COMPARE_WITH_TIMEOUT(page->table()->rowCount(), 1, 3000);
    QCOMPARE(page->table()->item(0, 2)->text(), u"/api/v1/verify"_s);
    QCOMPARE(page->table()->item(0, 3)->text(), u"429"_s);
    QCOMPARE(page->table()->item(0, 5)->text(), u"mc_AbCdEfGh…"_s);
}

QTEST_MAIN(TestUi)
#include "tst_ui.moc"
