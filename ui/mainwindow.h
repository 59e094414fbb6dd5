#pragma once

#include <QMainWindow>
#include <QUrl>

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

class VerifyPage;

/// The desktop window: pages on the left (Verify now; Lists, Finder and Settings with their issues), the
/// API server's address and state in the status bar.
class MainWindow : public QMainWindow
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)
public:
    MainWindow(Engine &engine, const QUrl &apiUrl, bool apiListening, QWidget *parent = nullptr);

    VerifyPage *verifyPage() const { return m_verify; }

private:
    VerifyPage *m_verify;
};

} // namespace mailcaff::ui
