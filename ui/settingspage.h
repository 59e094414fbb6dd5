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

class ServerControl;

/// The settings the command line also takes (the command line wins at start): the API server (address,
/// port, HTTPS certificate; started, stopped and moved from here), DNS servers, SMTP identity, private
/// targets, finder and retention options. Saved in the database; engine changes apply at the next start,
/// which the page says.
class SettingsPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SettingsPage)
public:
    /// `server` may be null (no server in this process): its controls are then disabled. `dataDir` is where
    /// a self-signed certificate is made.
    SettingsPage(const storage::Database &db, ServerControl *server, const QString &dataDir,
                 QWidget *parent = nullptr);

    QLineEdit *listenEdit() const { return m_listen; }
    QLineEdit *portEdit() const { return m_port; }
    QLineEdit *certificateEdit() const { return m_certificate; }
    QLineEdit *keyEdit() const { return m_key; }
    QPushButton *startServerButton() const { return m_startServer; }
    QPushButton *stopServerButton() const { return m_stopServer; }
    QPushButton *selfSignedButton() const { return m_selfSigned; }
    QLabel *serverStateLabel() const { return m_serverState; }
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
    /// Saves, then starts the API server with the page's address, port and certificate (moving it when it
    /// runs). True when it listens.
    bool startServer();
    void stopServer();
    /// Makes a key and a self-signed certificate in the data folder and puts them in the fields (saved with
    /// the page). Empty on success, otherwise why not.
    QString createSelfSigned();

private:
    void showServerState();

    const storage::Database &m_db;
    ServerControl *m_server;
    QString m_dataDir;
    QLineEdit *m_listen;
    QLineEdit *m_port;
    QLineEdit *m_certificate;
    QLineEdit *m_key;
    QPushButton *m_startServer;
    QPushButton *m_stopServer;
    QPushButton *m_selfSigned;
    QLabel *m_serverState;
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
