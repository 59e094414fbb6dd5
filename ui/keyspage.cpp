#include "keyspage.h"

#include "colours.h"

#include "tableimport.h"

#include "engine.h"

#include <QClipboard>
#include <QComboBox>
#include <QDateTime>
#include <QFormLayout>
#include <QGroupBox>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

QString when(qint64 epochSecs)
{
    return epochSecs > 0 ? QDateTime::fromSecsSinceEpoch(epochSecs).toString(u"yyyy-MM-dd HH:mm:ss"_s)
                         : u"—"_s;
}

} // namespace

KeysPage::KeysPage(Engine &engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_name(new QLineEdit(this))
    , m_plan(new QComboBox(this))
    , m_create(new QPushButton(tr("Create key"), this))
    , m_keys(new QTableWidget(0, 7, this))
    , m_revoke(new QPushButton(tr("Revoke selected key"), this))
    , m_newPlan(new QComboBox(this))
    , m_changePlan(new QPushButton(tr("Change plan"), this))
    , m_webhook(new QLineEdit(this))
    , m_setWebhook(new QPushButton(tr("Save webhook"), this))
    , m_test(new QPushButton(tr("Send test event"), this))
    , m_copy(new QPushButton(tr("Copy"), this))
    , m_deliveries(new QTableWidget(0, 5, this))
    , m_message(new QLabel(this))
{
    m_name->setPlaceholderText(tr("e.g. CRM sync"));
    for (auto plan :
         {accounts::Plan::Free, accounts::Plan::Starter, accounts::Plan::Growth, accounts::Plan::Scale}) {
        const QString label =
            tr("%1 (%2 credits a month)").arg(accounts::toString(plan)).arg(accounts::monthlyCredits(plan));
        m_plan->addItem(label, int(plan));
        m_newPlan->addItem(label, int(plan));
    }
    m_keys->setHorizontalHeaderLabels({tr("ID"), tr("Name"), tr("Prefix"), tr("Plan"),
                                       tr("Credits this month"), tr("Created"), tr("Status")});
    m_keys->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_keys->setSelectionMode(QAbstractItemView::SingleSelection);
    m_keys->horizontalHeader()->setStretchLastSection(true);
    m_keys->verticalHeader()->hide();
    m_webhook->setPlaceholderText(tr("https://… (empty: no webhook)"));
    m_deliveries->setHorizontalHeaderLabels(
        {tr("Event"), tr("State"), tr("Attempts"), tr("Last status"), tr("Last error")});
    m_deliveries->horizontalHeader()->setStretchLastSection(true);
    m_deliveries->verticalHeader()->hide();
    m_message->setWordWrap(true);
    // Keys and secrets are shown once: selectable, so they can be copied.
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_message->setTextFormat(Qt::PlainText);

    auto *create = new QHBoxLayout;
    create->addWidget(new QLabel(tr("Name:"), this));
    create->addWidget(m_name, 1);
    create->addWidget(m_plan);
    create->addWidget(m_create);

    auto *hook = new QHBoxLayout;
    hook->addWidget(new QLabel(tr("Webhook URL:"), this));
    hook->addWidget(m_webhook, 1);
    hook->addWidget(m_setWebhook);
    hook->addWidget(m_test);
    auto *hookBox = new QGroupBox(tr("Webhook of the selected key"), this);
    auto *hookLayout = new QVBoxLayout(hookBox);
    hookLayout->addLayout(hook);
    hookLayout->addWidget(new QLabel(tr("Deliveries (newest first):"), this));
    hookLayout->addWidget(m_deliveries);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(create);
    auto *message = new QHBoxLayout;
    message->addWidget(m_message, 1);
    message->addWidget(m_copy, 0, Qt::AlignTop);
    m_copy->setVisible(false);
    layout->addLayout(message);
    layout->addWidget(m_keys, 1);
    auto *selectedKey = new QHBoxLayout;
    selectedKey->addWidget(m_revoke);
    selectedKey->addStretch(1);
    selectedKey->addWidget(new QLabel(tr("Move to:"), this));
    selectedKey->addWidget(m_newPlan);
    selectedKey->addWidget(m_changePlan);
    layout->addLayout(selectedKey);
    layout->addWidget(hookBox, 1);

    connect(m_create, &QPushButton::clicked, this, &KeysPage::createKey);
    connect(m_revoke, &QPushButton::clicked, this, &KeysPage::revokeSelected);
    connect(m_changePlan, &QPushButton::clicked, this, &KeysPage::changePlanOfSelected);
    connect(m_setWebhook, &QPushButton::clicked, this, &KeysPage::setWebhookOfSelected);
    connect(m_test, &QPushButton::clicked, this, &KeysPage::sendTestEvent);
    connect(m_copy, &QPushButton::clicked, this, &KeysPage::copySecret);
    connect(m_keys, &QTableWidget::itemSelectionChanged, this, &KeysPage::showSelected);
    reload();
}

void KeysPage::say(const QString &text, bool error)
{
    m_secret.clear(); // a new message: the secret shown before is gone from the page
    m_copy->setVisible(false);
    showMessage(m_message, text, error);
}

void KeysPage::reload()
{
    const qint64 selected = selectedKeyId();
    const auto keys = m_engine.apiKeys().list();
    m_keys->setRowCount(0);
    if (!keys) {
        say(tr("The keys could not be read from the database."), true);
        return;
    }
    for (const accounts::ApiKeyInfo &k : *keys) {
        const int row = m_keys->rowCount();
        m_keys->insertRow(row);
        m_keys->setItem(row, 0, readOnlyCell(QString::number(k.id)));
        m_keys->setItem(row, 1, readOnlyCell(k.name));
        m_keys->setItem(row, 2, readOnlyCell(k.prefix + u'…'));
        m_keys->setItem(row, 3, readOnlyCell(accounts::toString(k.plan)));
        const auto usage = k.isRevoked() ? std::nullopt : m_engine.credits().usage(k);
        m_keys->setItem(row, 4,
                        readOnlyCell(usage ? tr("%1 used of %2 (%3 carried over)")
                                                 .arg(usage->monthlyUsed)
                                                 .arg(usage->monthlyLimit)
                                                 .arg(usage->carriedOver)
                                           : u"—"_s));
        m_keys->setItem(row, 5, readOnlyCell(k.createdAt.toLocalTime().toString(u"yyyy-MM-dd HH:mm"_s)));
        m_keys->setItem(row, 6, readOnlyCell(k.isRevoked() ? tr("revoked") : tr("active")));
        if (k.id == selected)
            m_keys->selectRow(row);
    }
    showSelected();
}

qint64 KeysPage::selectedKeyId() const
{
    const auto rows = m_keys->selectionModel() ? m_keys->selectionModel()->selectedRows() : QModelIndexList{};
    if (rows.isEmpty())
        return 0;
    return m_keys->item(rows.first().row(), 0)->text().toLongLong();
}

void KeysPage::showSelected()
{
    const qint64 id = selectedKeyId();
    m_revoke->setEnabled(id != 0);
    m_changePlan->setEnabled(id != 0);
    m_setWebhook->setEnabled(id != 0);
    m_webhook->setEnabled(id != 0);
    m_test->setEnabled(id != 0);
    m_deliveries->setRowCount(0);
    if (id == 0) {
        m_webhook->clear();
        return;
    }
    const auto endpoint = m_engine.webhooks().endpoint(id);
    m_webhook->setText(endpoint ? endpoint->url : QString());
    for (const webhooks::Delivery &d : m_engine.webhooks().deliveries(id, 100)) {
        const int row = m_deliveries->rowCount();
        m_deliveries->insertRow(row);
        m_deliveries->setItem(row, 0, readOnlyCell(d.event + u" · "_s + when(d.createdAt)));
        m_deliveries->setItem(row, 1, readOnlyCell(webhooks::toString(d.state)));
        m_deliveries->setItem(row, 2, readOnlyCell(QString::number(d.attempts)));
        m_deliveries->setItem(row, 3, readOnlyCell(d.lastStatus ? QString::number(d.lastStatus) : u"—"_s));
        m_deliveries->setItem(row, 4, readOnlyCell(d.lastError));
    }
}

bool KeysPage::createKey()
{
    QString error;
    const auto created =
        m_engine.apiKeys().create(m_name->text(), accounts::Plan(m_plan->currentData().toInt()), &error);
    if (!created) {
        say(tr("No key created: %1").arg(error), true);
        return false;
    }
    m_name->clear();
    reload();
    say(tr("Key \"%1\" created. Copy it now: it is shown only once.\n%2")
            .arg(created->info.name, created->secret),
        false);
    m_secret = created->secret;
    m_copy->setVisible(true);
    return true;
}

bool KeysPage::revokeSelected()
{
    const qint64 id = selectedKeyId();
    QString error;
    if (id == 0 || !m_engine.apiKeys().revoke(id, &error)) {
        say(tr("Not revoked: %1").arg(id == 0 ? tr("select a key first") : error), true);
        return false;
    }
    reload();
    say(tr("Key %1 revoked: requests with it now get 401.").arg(id), false);
    return true;
}

bool KeysPage::changePlanOfSelected()
{
    const qint64 id = selectedKeyId();
    const auto plan = accounts::Plan(m_newPlan->currentData().toInt());
    const auto keys = m_engine.apiKeys().list();
    std::optional<accounts::ApiKeyInfo> key;
    for (const accounts::ApiKeyInfo &k : keys.value_or(QList<accounts::ApiKeyInfo>{}))
        if (k.id == id && !k.isRevoked())
            key = k;
    if (!key) {
        say(tr("Plan not changed: %1")
                .arg(id == 0 ? tr("select an active key first") : tr("the key is revoked")),
            true);
        return false;
    }
    if (!m_engine.credits().changePlan(*key, plan)) {
        say(tr("Plan not changed: the database could not be updated."), true);
        return false;
    }
    reload();
    const auto usage = m_engine.credits().usage(*key);
    say(tr("Key %1 is on the %2 plan from this month: %3 of %4 credits left.")
            .arg(id)
            .arg(accounts::toString(plan))
            .arg(usage ? usage->remaining : 0)
            .arg(usage ? usage->monthlyLimit : 0),
        false);
    return true;
}

bool KeysPage::copySecret()
{
    if (m_secret.isEmpty())
        return false;
    QGuiApplication::clipboard()->setText(m_secret);
    m_copy->setText(tr("Copied"));
    QTimer::singleShot(1500, m_copy, [copy = m_copy] { copy->setText(tr("Copy")); });
    return true;
}

bool KeysPage::sendTestEvent()
{
    const qint64 id = selectedKeyId();
    if (id == 0) {
        say(tr("Select a key first."), true);
        return false;
    }
    if (m_engine.sendTestWebhook(id).isEmpty()) {
        say(tr("Key %1 has no webhook to send to: save an https:// URL first.").arg(id), true);
        return false;
    }
    showSelected();
    say(tr("Test event queued for key %1's webhook: its delivery appears below.").arg(id), false);
    return true;
}

bool KeysPage::setWebhookOfSelected()
{
    const qint64 id = selectedKeyId();
    if (id == 0) {
        say(tr("Select a key first."), true);
        return false;
    }
    const QString url = m_webhook->text().trimmed();
    if (url.isEmpty()) {
        m_engine.webhooks().removeEndpoint(id);
        showSelected();
        say(tr("Webhook of key %1 removed.").arg(id), false);
        return true;
    }
    const webhooks::SetEndpointResult set = m_engine.webhooks().setEndpoint(id, url);
    if (!set.ok()) {
        say(tr("Webhook not saved: %1").arg(set.error), true);
        return false;
    }
    showSelected();
    say(tr("Webhook saved. Its signing secret, shown only once:\n%1").arg(QString::fromLatin1(set.secret)),
        false);
    m_secret = QString::fromLatin1(set.secret);
    m_copy->setVisible(true);
    return true;
}

} // namespace mailcaff::ui
