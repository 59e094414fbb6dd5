#include "mainwindow.h"

#include "aboutdialog.h"
#include "domainpage.h"
#include "finderpage.h"
#include "keyspage.h"
#include "listspage.h"
#include "servercontrol.h"
#include "serverlogpage.h"
#include "settingspage.h"
#include "verifypage.h"

#include "engine.h"
#include "storage/settings.h"

#include <QApplication>
#include <QCloseEvent>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QPushButton>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QSystemTrayIcon>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {
const storage::Setting<QString> WindowGeometry{"ui/window_geometry", QString()};
}

MainWindow::MainWindow(Engine &engine, ServerControl *server, QWidget *parent)
    : QMainWindow(parent)
    , m_engine(engine)
    , m_server(server)
    , m_verify(new VerifyPage(engine, this))
{
    setWindowTitle(tr("Mailcaff"));
    resize(1100, 700);
    // Where and how big the window was last time.
    const QString geometry = storage::Settings(engine.database()).value(WindowGeometry);
    if (!geometry.isEmpty())
        restoreGeometry(QByteArray::fromBase64(geometry.toLatin1()));

    auto *pages = m_pages = new QStackedWidget(this);
    m_lists = new ListsPage(engine, this);
    pages->addWidget(m_lists);
    pages->addWidget(m_verify);
    m_finder = new FinderPage(engine, this);
    pages->addWidget(m_finder);
    m_domains = new DomainPage(engine, this);
    pages->addWidget(m_domains);
    m_keys = new KeysPage(engine, this);
    pages->addWidget(m_keys);
    m_serverLog = new ServerLogPage(engine, QString(), this);
    pages->addWidget(m_serverLog);
    m_settings = new SettingsPage(engine.database(), server, engine.config().dataDir, this);
    pages->addWidget(m_settings);
    auto *nav = m_nav = new QListWidget(this);
    nav->setObjectName(u"navigation"_s);
    nav->addItem(tr("Lists"));
    nav->addItem(tr("Verify"));
    nav->addItem(tr("Email finder"));
    nav->addItem(tr("Domain finder"));
    nav->addItem(tr("API keys"));
    nav->addItem(tr("Server log"));
    nav->addItem(tr("Settings"));
    nav->setCurrentRow(0);
    nav->setMaximumWidth(180);
    connect(nav, &QListWidget::currentRowChanged, pages, &QStackedWidget::setCurrentIndex);
    // Ctrl+1 … Ctrl+6 go to the pages; Ctrl+Q quits (asking first while a list runs).
    for (int i = 0; i < nav->count() && i < 9; ++i) {
        auto *go = new QShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)), this);
        connect(go, &QShortcut::activated, nav, [nav, i] { nav->setCurrentRow(i); });
        nav->item(i)->setToolTip(tr("Ctrl+%1").arg(i + 1));
    }
    auto *quit = new QShortcut(QKeySequence::Quit, this);
    connect(quit, &QShortcut::activated, this, &QWidget::close);
    QMenu *help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About Mailcaff"), this, &MainWindow::showAbout);
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);

    auto *splitter = new QSplitter(this);
    splitter->addWidget(nav);
    splitter->addWidget(pages);
    splitter->setStretchFactor(1, 1);
    setCentralWidget(splitter);

    m_apiStatus = new QLabel(this);
    m_apiStatus->setObjectName(u"apiStatus"_s);
    m_apiStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    statusBar()->addPermanentWidget(m_apiStatus);
    if (m_server)
        connect(m_server, &ServerControl::stateChanged, this, &MainWindow::showServerState);
    showServerState();
}

void MainWindow::showServerState()
{
    const bool listening = m_server && m_server->isListening();
    const QString url = listening ? m_server->url().toString() : QString();
    m_apiStatus->setText(listening ? tr("API server: listening on %1").arg(url)
                                   : tr("API server: not running"));
    m_serverLog->setApiUrl(url);
}

int MainWindow::runningLists() const
{
    int running = 0;
    for (const jobs::ListInfo &l : m_engine.listStore().all())
        if (l.summary.status == jobs::JobStatus::Processing)
            ++running;
    return running;
}

MainWindow::CloseChoice MainWindow::ask()
{
    if (askOnClose)
        return askOnClose();
    const bool tray = QSystemTrayIcon::isSystemTrayAvailable();
    QMessageBox box(
        QMessageBox::Question, tr("A list is being verified"),
        tr("A list is still being verified. It is saved as it goes: if you quit, it goes on from where "
           "it stopped the next time Mailcaff starts."),
        QMessageBox::NoButton, this);
    QPushButton *keep =
        tray ? box.addButton(tr("Keep verifying in the background"), QMessageBox::AcceptRole) : nullptr;
    QPushButton *quit = box.addButton(tr("Quit now"), QMessageBox::DestructiveRole);
    box.addButton(QMessageBox::Cancel);
    box.exec();
    if (keep && box.clickedButton() == keep)
        return CloseChoice::KeepInBackground;
    return box.clickedButton() == quit ? CloseChoice::Quit : CloseChoice::Cancel;
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    storage::Settings(m_engine.database())
        .setValue(WindowGeometry, QString::fromLatin1(saveGeometry().toBase64()));
    if (runningLists() == 0) {
        event->accept();
        return;
    }
    switch (ask()) {
    case CloseChoice::Cancel:
        event->ignore();
        return;
    case CloseChoice::Quit:
        event->accept();
        return;
    case CloseChoice::KeepInBackground:
        break;
    }
    // Hidden, with a tray icon to come back or to quit; the API server and the lists go on.
    event->ignore();
    if (!m_tray) {
        m_tray = new QSystemTrayIcon(windowIcon().isNull() ? QApplication::windowIcon() : windowIcon(), this);
        m_tray->setToolTip(tr("Mailcaff: verifying in the background"));
        auto *menu = new QMenu(this);
        menu->addAction(tr("Show Mailcaff"), this, &MainWindow::restoreFromTray);
        menu->addAction(tr("Quit"), qApp, &QCoreApplication::quit);
        m_tray->setContextMenu(menu);
        connect(m_tray, &QSystemTrayIcon::activated, this, &MainWindow::restoreFromTray);
    }
    m_tray->show();
    hide();
}

void MainWindow::restoreFromTray()
{
    show();
    raise();
    activateWindow();
    if (m_tray)
        m_tray->hide();
}

void MainWindow::showAbout()
{
    AboutDialog about(m_engine, this);
    about.exec();
}

void MainWindow::showPage(QWidget *page)
{
    const int index = m_pages->indexOf(page);
    if (index >= 0)
        m_nav->setCurrentRow(index);
}

} // namespace mailcaff::ui
