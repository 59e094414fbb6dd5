#pragma once

#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// API keys and their webhooks: create a key (shown once), revoke one, move it to another plan, see its
/// credits this month, set or remove its webhook URL
/// (the signing secret shown once), and read its webhook delivery log.
class KeysPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(KeysPage)
public:
    explicit KeysPage(Engine &engine, QWidget *parent = nullptr);

    QLineEdit *nameEdit() const { return m_name; }
    QComboBox *planBox() const { return m_plan; }
    QPushButton *createButton() const { return m_create; }
    /// The plan the selected key moves to with changePlanOfSelected().
    QComboBox *newPlanBox() const { return m_newPlan; }
    QTableWidget *keysTable() const { return m_keys; }
    QLineEdit *webhookEdit() const { return m_webhook; }
    QPushButton *webhookButton() const { return m_setWebhook; }
    QTableWidget *deliveriesTable() const { return m_deliveries; }
    /// The last thing the page told the user (a new key or secret, or what went wrong).
    QLabel *messageLabel() const { return m_message; }

    void reload();
    bool createKey();
    bool revokeSelected();
    bool changePlanOfSelected();
    bool setWebhookOfSelected();
    /// Sends a `webhook.test` event to the selected key's webhook; its delivery shows in the log.
    bool sendTestEvent();
    /// Copies the key (or webhook secret) just shown to the clipboard.
    bool copySecret();
    QPushButton *copyButton() const { return m_copy; }

private:
    qint64 selectedKeyId() const;
    void showSelected();
    void say(const QString &text, bool error);

    Engine &m_engine;
    QLineEdit *m_name;
    QComboBox *m_plan;
    QPushButton *m_create;
    QTableWidget *m_keys;
    QPushButton *m_revoke;
    QComboBox *m_newPlan;
    QPushButton *m_changePlan;
    QLineEdit *m_webhook;
    QPushButton *m_setWebhook;
    QPushButton *m_test;
    QPushButton *m_copy;
    QString m_secret; ///< the key or webhook secret shown once, until copied or replaced
    QTableWidget *m_deliveries;
    QLabel *m_message;
};

} // namespace mailcaff::ui
