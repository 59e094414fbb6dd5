#pragma once

#include <QMainWindow>

#include <functional>

class QLabel;
class QListWidget;
class QSystemTrayIcon;
class QStackedWidget;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

class DomainPage;
class FinderPage;
class KeysPage;
class ListsPage;
class ServerControl;
class ServerLogPage;
class SettingsPage;
class VerifyPage;

/// The desktop window: pages on the left (Lists, Verify, Email finder, Domain finder, API keys, Server log,
/// Settings), the API server's address and state in the status bar.
class MainWindow : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    /// `server` is the API server of this process, started and stopped from the Settings page (null: none).
    MainWindow(Engine &engine, ServerControl *server, QWidget *parent = nullptr);

    VerifyPage *verifyPage() const { return m_verify; }
    SettingsPage *settingsPage() const { return m_settings; }
    KeysPage *keysPage() const { return m_keys; }
    DomainPage *domainPage() const { return m_domains; }
    FinderPage *finderPage() const { return m_finder; }
    ListsPage *listsPage() const { return m_lists; }
    ServerLogPage *serverLogPage() const { return m_serverLog; }
    /// Brings `page` to the front, as choosing it on the left would.
    void showPage(QWidget *page);
    /// Help > About Mailcaff (modal).
    void showAbout();

    /// What closing the window does while a list is being verified.
    enum class CloseChoice { KeepInBackground, Quit, Cancel };
    /// Decides for closeEvent (the window asks the user; tests set an answer).
    std::function<CloseChoice()> askOnClose;
    /// Lists still being verified.
    int runningLists() const;

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    CloseChoice ask();
    void restoreFromTray();
    void showServerState();

    Engine &m_engine;
    ServerControl *m_server;
    QLabel *m_apiStatus = nullptr;
    QSystemTrayIcon *m_tray = nullptr;
    VerifyPage *m_verify;
    SettingsPage *m_settings = nullptr;
    KeysPage *m_keys = nullptr;
    DomainPage *m_domains = nullptr;
    FinderPage *m_finder = nullptr;
    ListsPage *m_lists = nullptr;
    ServerLogPage *m_serverLog = nullptr;
    QStackedWidget *m_pages = nullptr;
    QListWidget *m_nav = nullptr;
};

} // namespace mailcaff::ui
