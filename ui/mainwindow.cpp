#include "mainwindow.h"

#include "domainpage.h"
#include "finderpage.h"
#include "keyspage.h"
#include "listspage.h"
#include "settingspage.h"
#include "verifypage.h"

#include "engine.h"

#include <QLabel>
#include <QListWidget>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

MainWindow::MainWindow(Engine &engine, const QUrl &apiUrl, bool apiListening, QWidget *parent)
    : QMainWindow(parent)
    , m_verify(new VerifyPage(engine, this))
{
    setWindowTitle(tr("Mailcaff"));
    resize(900, 640);

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
    m_settings = new SettingsPage(engine.database(), this);
    pages->addWidget(m_settings);
    auto *nav = m_nav = new QListWidget(this);
    nav->setObjectName(u"navigation"_s);
    nav->addItem(tr("Lists"));
    nav->addItem(tr("Verify"));
    nav->addItem(tr("Email finder"));
    nav->addItem(tr("Domain finder"));
    nav->addItem(tr("API keys"));
    nav->addItem(tr("Settings"));
    nav->setCurrentRow(0);
    nav->setMaximumWidth(180);
    connect(nav, &QListWidget::currentRowChanged, pages, &QStackedWidget::setCurrentIndex);

    auto *splitter = new QSplitter(this);
    splitter->addWidget(nav);
    splitter->addWidget(pages);
    splitter->setStretchFactor(1, 1);
    setCentralWidget(splitter);

    auto *api = new QLabel(this);
    api->setObjectName(u"apiStatus"_s);
    api->setTextInteractionFlags(Qt::TextSelectableByMouse);
    api->setText(apiListening ? tr("API server: listening on %1").arg(apiUrl.toString())
                              : tr("API server: not running"));
    statusBar()->addPermanentWidget(api);
}

void MainWindow::showPage(QWidget *page)
{
    const int index = m_pages->indexOf(page);
    if (index >= 0)
        m_nav->setCurrentRow(index);
}

} // namespace mailcaff::ui
