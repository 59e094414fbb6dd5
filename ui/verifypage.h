#pragma once

#include "core/result.h"

#include <QWidget>

class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QPushButton;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// Verify one address: type it, pick quick or power, read every field of the result; the recent checks
/// stay in a history beside it.
class VerifyPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VerifyPage)
public:
    explicit VerifyPage(Engine &engine, QWidget *parent = nullptr);

    /// For tests and the command line: the address box, the mode box and the last result shown.
    QLineEdit *addressEdit() const { return m_address; }
    QComboBox *modeBox() const { return m_mode; }
    QPushButton *verifyButton() const { return m_verify; }
    QLabel *statusLabel() const { return m_status; }
    QString fieldText(QLatin1StringView field) const;
    /// The recent checks, newest first (kept across restarts); choosing one shows it again.
    QListWidget *historyList() const { return m_history; }
    static constexpr int HistorySize = 50;

Q_SIGNALS:
    void resultShown(const mailcaff::core::VerificationResult &result);

private:
    void startVerification();
    void showResult(const core::VerificationResult &result);
    void showMessage(const QString &text, bool error);
    void remember(const core::VerificationResult &result);
    void loadHistory();

    Engine &m_engine;
    QLineEdit *m_address;
    QComboBox *m_mode;
    QPushButton *m_verify;
    QLabel *m_status;
    QLabel *m_score;
    QProgressBar *m_scoreBar;
    QLabel *m_reason;
    QFormLayout *m_fields;
    QList<QPair<QLatin1StringView, QLabel *>> m_values;
    quint64 m_request = 0;
    QListWidget *m_history;
};

} // namespace mailcaff::ui
