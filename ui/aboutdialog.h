#pragma once

#include <QDialog>

class QLabel;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// Help > About Mailcaff: the icon, the version, the licence, and the libraries doing the work with the
/// versions in use (Qt, c-ares, OpenSSL, SQLite).
class AboutDialog : public QDialog
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AboutDialog)
public:
    explicit AboutDialog(const Engine &engine, QWidget *parent = nullptr);
    /// The text shown (for tests and for copying into a bug report).
    QString text() const;

private:
    QLabel *m_text;
};

} // namespace mailcaff::ui
