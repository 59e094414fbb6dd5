#pragma once

#include <QMainWindow>
#include <QUrl>

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

class DomainPage;
class FinderPage;
class KeysPage;
class SettingsPage;
class VerifyPage;

/// The desktop window: pages on the left (Verify, Email finder, Domain finder, API keys, Settings; Lists with
/// its issue), the
/// API server's address and state in the status bar.
class MainWindow : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    MainWindow(Engine &engine, const QUrl &apiUrl, bool apiListening, QWidget *parent = nullptr);

    VerifyPage *verifyPage() const { return m_verify; }
    SettingsPage *settingsPage() const { return m_settings; }
    KeysPage *keysPage() const { return m_keys; }
    DomainPage *domainPage() const { return m_domains; }
    FinderPage *finderPage() const { return m_finder; }

private:
    VerifyPage *m_verify;
    SettingsPage *m_settings = nullptr;
    KeysPage *m_keys = nullptr;
    DomainPage *m_domains = nullptr;
    FinderPage *m_finder = nullptr;
};

} // namespace mailcaff::ui
