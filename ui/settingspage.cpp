#include "settingspage.h"

#include "storage/database.h"
#include "storage/settings.h"
#include "storage/validate.h"

#include <QCheckBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

SettingsPage::SettingsPage(const storage::Database &db, QWidget *parent)
    : QWidget(parent)
    , m_db(db)
    , m_listen(new QLineEdit(this))
    , m_port(new QLineEdit(this))
    , m_dns(new QLineEdit(this))
    , m_helo(new QLineEdit(this))
    , m_mailFrom(new QLineEdit(this))
    , m_private(new QCheckBox(tr("Allow connections to loopback, private and link-local addresses"), this))
    , m_maintenance(
          new QCheckBox(tr("Maintenance mode: the API answers 503 to every request but health"), this))
    , m_retryAfter(new QSpinBox(this))
    , m_retention(new QSpinBox(this))
    , m_domainCache(new QSpinBox(this))
    , m_gravatar(
          new QCheckBox(tr("Email finder: ask Gravatar whether a candidate address has a profile"), this))
    , m_scrape(new QCheckBox(tr("Email finder: read the company's contact pages for addresses"), this))
    , m_bestGuess(new QCheckBox(
          tr("Email finder: on catch-all domains, answer the likeliest address (low confidence)"), this))
    , m_smtpTimeout(new QSpinBox(this))
    , m_powerDeadline(new QSpinBox(this))
    , m_sessionsPerMx(new QSpinBox(this))
    , m_save(new QPushButton(tr("Save"), this))
    , m_message(new QLabel(this))
{
    m_dns->setPlaceholderText(tr("system resolvers (e.g. 1.1.1.1, [2606:4700::1111]:53)"));
    m_helo->setPlaceholderText(tr("a host name you own, e.g. verify.example.com"));
    m_mailFrom->setPlaceholderText(tr("e.g. probe@example.com"));
    m_private->setToolTip(
        tr("Off by default, so a shared server cannot be used to scan its own network. Turn it on "
           "only for tests or when your mail servers are on a private network."));
    m_message->setWordWrap(true);

    auto *form = new QFormLayout;
    // Each text field with its own message line under it, for a value that is refused.
    auto withError = [this](QLineEdit *field) {
        auto *box = new QWidget(this);
        auto *v = new QVBoxLayout(box);
        v->setContentsMargins(0, 0, 0, 0);
        v->setSpacing(2);
        auto *error = new QLabel(box);
        error->setStyleSheet(u"color: #c0392b"_s);
        error->setWordWrap(true);
        error->hide();
        v->addWidget(field);
        v->addWidget(error);
        m_errors.insert(field, error);
        return box;
    };
    form->addRow(tr("API listen address:"), withError(m_listen));
    form->addRow(tr("API port:"), withError(m_port));
    form->addRow(tr("DNS servers:"), withError(m_dns));
    form->addRow(tr("SMTP HELO name:"), withError(m_helo));
    form->addRow(tr("SMTP MAIL FROM:"), withError(m_mailFrom));
    m_smtpTimeout->setRange(0, 300);
    m_smtpTimeout->setSuffix(tr(" s"));
    m_smtpTimeout->setSpecialValueText(tr("automatic (8 s to connect, 15 s per reply)"));
    form->addRow(tr("SMTP timeout:"), m_smtpTimeout);
    m_powerDeadline->setRange(5, 600);
    m_powerDeadline->setSuffix(tr(" s"));
    m_powerDeadline->setToolTip(tr("A power-mode check answers within this, whatever the mail servers do."));
    form->addRow(tr("Power-mode deadline:"), m_powerDeadline);
    m_sessionsPerMx->setRange(1, 10);
    m_sessionsPerMx->setToolTip(
        tr("Connections to one mail server at once. More is faster and more likely to "
           "be blocked."));
    form->addRow(tr("Connections per mail server:"), m_sessionsPerMx);
    form->addRow(QString(), m_private);
    m_retention->setRange(1, 3650);
    m_retention->setSuffix(tr(" days"));
    m_retention->setToolTip(
        tr("Finished bulk jobs and their results are deleted this long after they ended."));
    form->addRow(tr("Keep finished jobs:"), m_retention);
    m_domainCache->setRange(0, 24 * 365);
    m_domainCache->setSuffix(tr(" hours"));
    m_domainCache->setSpecialValueText(tr("never (always look again)"));
    m_domainCache->setToolTip(
        tr("How long a company's domain, once found (or not), is reused without checking again."));
    form->addRow(tr("Remember found domains:"), m_domainCache);
    m_gravatar->setToolTip(
        tr("Sends a hash of the candidate address to gravatar.com. Turn off if that is not "
           "acceptable for your data."));
    form->addRow(QString(), m_gravatar);
    form->addRow(QString(), m_scrape);
    form->addRow(QString(), m_bestGuess);
    m_retryAfter->setRange(1, 86400);
    m_retryAfter->setSuffix(tr(" s"));
    m_retryAfter->setToolTip(tr("What clients are told to wait (Retry-After) while in maintenance."));
    form->addRow(QString(), m_maintenance);
    form->addRow(tr("Retry after:"), m_retryAfter);

    auto *note =
        new QLabel(tr("Options given on the command line override these. Changes take effect the next "
                      "time Mailcaff starts."),
                   this);
    note->setWordWrap(true);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(m_save, 0, Qt::AlignLeft);
    layout->addWidget(m_message);
    layout->addStretch(1);

    connect(m_save, &QPushButton::clicked, this, &SettingsPage::save);
    reload();
}

void SettingsPage::reload()
{
    const storage::Settings settings(m_db);
    m_listen->setText(settings.value(storage::setting::ListenAddress));
    m_port->setText(QString::number(settings.value(storage::setting::Port)));
    m_dns->setText(settings.value(storage::setting::DnsServers));
    m_helo->setText(settings.value(storage::setting::HeloName));
    m_mailFrom->setText(settings.value(storage::setting::MailFrom));
    m_private->setChecked(settings.value(storage::setting::AllowPrivateTargets));
    m_maintenance->setChecked(settings.value(storage::setting::Maintenance));
    m_retryAfter->setValue(settings.value(storage::setting::MaintenanceRetryAfter));
    m_retention->setValue(settings.value(storage::setting::JobRetentionDays));
    m_smtpTimeout->setValue(settings.value(storage::setting::SmtpTimeoutSeconds));
    m_powerDeadline->setValue(settings.value(storage::setting::PowerDeadlineSeconds));
    m_sessionsPerMx->setValue(settings.value(storage::setting::SessionsPerMx));
    for (QLabel *error : std::as_const(m_errors))
        error->hide();
    m_domainCache->setValue(settings.value(storage::setting::DomainCacheHours));
    m_gravatar->setChecked(settings.value(storage::setting::FinderGravatar));
    m_scrape->setChecked(settings.value(storage::setting::FinderScrape));
    m_bestGuess->setChecked(settings.value(storage::setting::FinderBestGuess));
}

bool SettingsPage::save()
{
    namespace v = storage::validate;
    const QString listen = m_listen->text().trimmed();
    const QString dns = m_dns->text().trimmed();
    const QString helo = m_helo->text().trimmed();
    const QString mailFrom = m_mailFrom->text().trimmed();
    quint16 port = 0;
    struct Check
    {
        QLineEdit *field;
        QString name;
        QString problem;
    };
    const QList<Check> checks = {
        {m_listen, tr("API listen address"), v::listenAddress(listen)},
        {m_port, tr("API port"), v::port(m_port->text(), &port)},
        {m_dns, tr("DNS servers"), v::dnsServers(dns)},
        {m_helo, tr("SMTP HELO name"), v::heloName(helo)},
        {m_mailFrom, tr("SMTP MAIL FROM"), v::mailFrom(mailFrom)},
    };
    QStringList errors;
    for (const Check &c : checks) {
        QLabel *error = m_errors.value(c.field);
        error->setText(c.problem);
        error->setVisible(!c.problem.isEmpty());
        if (!c.problem.isEmpty())
            errors.append(u"%1: %2"_s.arg(c.name, c.problem));
    }
    if (!errors.isEmpty()) {
        m_message->setStyleSheet(u"color: #c0392b"_s);
        m_message->setText(tr("Not saved. %1").arg(errors.join(u"; "_s)));
        return false;
    }
    storage::Settings settings(m_db);
    QSqlDatabase db = m_db.connection();
    const bool saved = storage::inTransaction(db, [&] {
        return settings.setValue(storage::setting::ListenAddress, listen) &&
               settings.setValue(storage::setting::Port, int(port)) &&
               settings.setValue(storage::setting::DnsServers, dns) &&
               settings.setValue(storage::setting::HeloName, helo) &&
               settings.setValue(storage::setting::MailFrom, mailFrom) &&
               settings.setValue(storage::setting::AllowPrivateTargets, m_private->isChecked()) &&
               settings.setValue(storage::setting::Maintenance, m_maintenance->isChecked()) &&
               settings.setValue(storage::setting::MaintenanceRetryAfter, m_retryAfter->value()) &&
               settings.setValue(storage::setting::JobRetentionDays, m_retention->value()) &&
               settings.setValue(storage::setting::DomainCacheHours, m_domainCache->value()) &&
               settings.setValue(storage::setting::SmtpTimeoutSeconds, m_smtpTimeout->value()) &&
               settings.setValue(storage::setting::PowerDeadlineSeconds, m_powerDeadline->value()) &&
               settings.setValue(storage::setting::SessionsPerMx, m_sessionsPerMx->value()) &&
               settings.setValue(storage::setting::FinderGravatar, m_gravatar->isChecked()) &&
               settings.setValue(storage::setting::FinderScrape, m_scrape->isChecked()) &&
               settings.setValue(storage::setting::FinderBestGuess, m_bestGuess->isChecked());
    });
    m_message->setStyleSheet(saved ? QString() : u"color: #c0392b"_s);
    m_message->setText(saved ? tr("Saved. Restart Mailcaff to apply the changes.")
                             : tr("Not saved: the database could not be written."));
    return saved;
}

QString SettingsPage::fieldError(QWidget *field) const
{
    const QLabel *error = m_errors.value(field);
    return error && !error->isHidden() ? error->text() : QString();
}

} // namespace mailcaff::ui
