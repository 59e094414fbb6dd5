#pragma once

#include <QHash>
#include <QWidget>

class QCheckBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::ui {

/// The settings the command line also takes (the command line wins): API server address and port, DNS
/// servers, SMTP identity, private targets. Saved in the database; server and DNS changes apply at the next
/// start, which the page says.
class SettingsPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SettingsPage)
public:
    explicit SettingsPage(const storage::Database &db, QWidget *parent = nullptr);

    QLineEdit *listenEdit() const { return m_listen; }
    QLineEdit *portEdit() const { return m_port; }
    QLineEdit *dnsEdit() const { return m_dns; }
    QLineEdit *heloEdit() const { return m_helo; }
    QLineEdit *mailFromEdit() const { return m_mailFrom; }
    QCheckBox *privateTargetsBox() const { return m_private; }
    QCheckBox *maintenanceBox() const { return m_maintenance; }
    QSpinBox *retryAfterBox() const { return m_retryAfter; }
    QSpinBox *retentionBox() const { return m_retention; }
    QSpinBox *domainCacheBox() const { return m_domainCache; }
    QCheckBox *gravatarBox() const { return m_gravatar; }
    QCheckBox *scrapeBox() const { return m_scrape; }
    QCheckBox *bestGuessBox() const { return m_bestGuess; }
    QSpinBox *smtpTimeoutBox() const { return m_smtpTimeout; }
    QSpinBox *powerDeadlineBox() const { return m_powerDeadline; }
    QSpinBox *sessionsPerMxBox() const { return m_sessionsPerMx; }
    /// The message shown next to a field after a refused save (empty when the field is fine).
    QString fieldError(QWidget *field) const;
    QPushButton *saveButton() const { return m_save; }
    QLabel *messageLabel() const { return m_message; }

    void reload();
    /// Validates every field; saves all of them or none. True when saved.
    bool save();

private:
    const storage::Database &m_db;
    QLineEdit *m_listen;
    QLineEdit *m_port;
    QLineEdit *m_dns;
    QLineEdit *m_helo;
    QLineEdit *m_mailFrom;
    QCheckBox *m_private;
    QCheckBox *m_maintenance;
    QSpinBox *m_retryAfter;
    QSpinBox *m_retention;
    QSpinBox *m_domainCache;
    QCheckBox *m_gravatar;
    QCheckBox *m_scrape;
    QCheckBox *m_bestGuess;
    QSpinBox *m_smtpTimeout;
    QSpinBox *m_powerDeadline;
    QSpinBox *m_sessionsPerMx;
    QHash<QWidget *, QLabel *> m_errors; ///< a message under each text field
    QPushButton *m_save;
    QLabel *m_message;
};

} // namespace mailcaff::ui
