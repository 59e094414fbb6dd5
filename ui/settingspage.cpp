#include "settingspage.h"

#include "colours.h"
#include "servercontrol.h"

#include "net/tlsidentity.h"
#include "storage/database.h"
#include "storage/settings.h"
#include "storage/validate.h"

#include <QCheckBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHostInfo>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

SettingsPage::SettingsPage(const storage::Database &db, ServerControl *server, const QString &dataDir,
                           QWidget *parent)
    : QWidget(parent)
    , m_db(db)
    , m_server(server)
    , m_dataDir(dataDir)
    , m_listen(new QLineEdit(this))
    , m_port(new QLineEdit(this))
    , m_certificate(new QLineEdit(this))
    , m_key(new QLineEdit(this))
    , m_startServer(new QPushButton(this))
    , m_stopServer(new QPushButton(tr("Stop server"), this))
    , m_selfSigned(new QPushButton(tr("Create a self-signed certificate"), this))
    , m_serverState(new QLabel(this))
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

    // Each text field with its own message line under it, for a value that is refused.
    auto withError = [this](QWidget *field, QLineEdit *edit) {
        auto *box = new QWidget(this);
        auto *v = new QVBoxLayout(box);
        v->setContentsMargins(0, 0, 0, 0);
        v->setSpacing(2);
        auto *error = new QLabel(box);
        error->setStyleSheet(u"color: %1"_s.arg(errorColour(palette()).name()));
        error->setWordWrap(true);
        error->hide();
        v->addWidget(field);
        v->addWidget(error);
        m_errors.insert(edit, error);
        return box;
    };
    auto withBrowse = [this](QLineEdit *edit, const QString &caption) {
        auto *row = new QWidget(this);
        auto *h = new QHBoxLayout(row);
        h->setContentsMargins(0, 0, 0, 0);
        h->addWidget(edit, 1);
        auto *browse = new QPushButton(tr("Browse…"), row);
        connect(browse, &QPushButton::clicked, this, [this, edit, caption] {
            const QString path =
                QFileDialog::getOpenFileName(this, caption, QFileInfo(edit->text()).absolutePath(),
                                             tr("PEM files (*.pem *.crt *.cer *.key);;All files (*)"));
            if (!path.isEmpty())
                edit->setText(QDir::toNativeSeparators(path));
        });
        h->addWidget(browse);
        return row;
    };

    // The API server: where it listens, over HTTP or HTTPS, started and stopped from here.
    auto *serverBox = new QGroupBox(tr("API server"), this);
    auto *serverForm = new QFormLayout(serverBox);
    m_serverState->setObjectName(u"serverState"_s);
    m_serverState->setWordWrap(true);
    m_serverState->setTextInteractionFlags(Qt::TextSelectableByMouse);
    serverForm->addRow(tr("State:"), m_serverState);
    serverForm->addRow(tr("Listen address:"), withError(m_listen, m_listen));
    serverForm->addRow(tr("Port:"), withError(m_port, m_port));
    m_certificate->setPlaceholderText(tr("none: plain HTTP (fine on 127.0.0.1)"));
    m_key->setPlaceholderText(tr("the certificate's private key, unencrypted PEM"));
    serverForm->addRow(tr("HTTPS certificate:"),
                       withError(withBrowse(m_certificate, tr("Certificate (PEM)")), m_certificate));
    serverForm->addRow(tr("HTTPS private key:"),
                       withError(withBrowse(m_key, tr("Private key (PEM)")), m_key));
    m_selfSigned->setToolTip(
        tr("Makes a key and a certificate for this machine's name, localhost, 127.0.0.1 and ::1 in the "
           "data folder. Clients must be told to trust it (e.g. curl --cacert FILE)."));
    auto *serverButtons = new QHBoxLayout;
    serverButtons->addWidget(m_startServer);
    serverButtons->addWidget(m_stopServer);
    serverButtons->addWidget(m_selfSigned);
    serverButtons->addStretch(1);
    serverForm->addRow(serverButtons);

    auto *engineBox = new QGroupBox(tr("Verification engine"), this);
    auto *form = new QFormLayout(engineBox);
    form->addRow(tr("DNS servers:"), withError(m_dns, m_dns));
    form->addRow(tr("SMTP HELO name:"), withError(m_helo, m_helo));
    form->addRow(tr("SMTP MAIL FROM:"), withError(m_mailFrom, m_mailFrom));
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

    auto *note = new QLabel(tr("Options given on the command line override these when Mailcaff starts. "
                               "Engine changes take effect the next time it starts; the server moves "
                               "when you start it from here."),
                            this);
    note->setWordWrap(true);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(serverBox);
    layout->addWidget(engineBox);
    layout->addWidget(note);
    layout->addWidget(m_save, 0, Qt::AlignLeft);
    layout->addWidget(m_message);
    layout->addStretch(1);

    connect(m_save, &QPushButton::clicked, this, &SettingsPage::save);
    connect(m_startServer, &QPushButton::clicked, this, &SettingsPage::startServer);
    connect(m_stopServer, &QPushButton::clicked, this, &SettingsPage::stopServer);
    connect(m_selfSigned, &QPushButton::clicked, this, [this] {
        const QString problem = createSelfSigned();
        if (!problem.isEmpty())
            showMessage(m_message, problem, true);
    });
    if (m_server)
        connect(m_server, &ServerControl::stateChanged, this, &SettingsPage::showServerState);
    reload();
    showServerState();
}

void SettingsPage::showServerState()
{
    const bool running = m_server && m_server->isListening();
    m_startServer->setEnabled(m_server);
    m_stopServer->setEnabled(running);
    m_startServer->setText(running ? tr("Apply and restart server") : tr("Start server"));
    if (!m_server) {
        m_serverState->setText(tr("No API server in this window."));
        return;
    }
    const QString error = m_server->lastError();
    if (running)
        m_serverState->setText(error.isEmpty() ? tr("Listening on %1").arg(m_server->url().toString())
                                               : tr("Still listening on %1: the new settings failed (%2)")
                                                     .arg(m_server->url().toString(), error));
    else
        m_serverState->setText(error.isEmpty() ? tr("Stopped") : tr("Not running: %1").arg(error));
}

bool SettingsPage::startServer()
{
    if (!m_server || !save())
        return false;
    const storage::Settings settings(m_db);
    QHostAddress address;
    quint16 port = 0;
    storage::validate::listenAddress(settings.value(storage::setting::ListenAddress), &address);
    storage::validate::port(QString::number(settings.value(storage::setting::Port)), &port);
    net::TlsIdentity tls;
    const QString certificate = settings.value(storage::setting::TlsCertificate);
    if (!certificate.isEmpty())
        net::loadTlsIdentity(certificate, settings.value(storage::setting::TlsKey), &tls);
    QString error;
    const bool started = m_server->start(address, port, tls, &error);
    showMessage(m_message,
                started ? tr("Saved. The API server listens on %1.").arg(m_server->url().toString())
                        : tr("Saved, but the API server could not start: %1").arg(error),
                !started);
    return started;
}

void SettingsPage::stopServer()
{
    if (m_server)
        m_server->stop();
}

QString SettingsPage::createSelfSigned()
{
    QSslCertificate certificate;
    QSslKey key;
    const QString host = QHostInfo::localHostName();
    QStringList names{u"localhost"_s};
    if (!host.isEmpty() && host != "localhost"_L1)
        names.prepend(host);
    // 825 days: the longest validity clients accept for a server certificate.
    if (!net::makeSelfSignedIdentity(names, 825, &certificate, &key))
        return tr("The certificate could not be made (OpenSSL failed).");
    // Never over an existing one: a running server or a client may depend on it.
    const QString stamp = QDateTime::currentDateTime().toString(u"yyyyMMdd-HHmmss"_s);
    const QString base = QDir(m_dataDir).filePath(u"tls/mailcaff-%1"_s.arg(stamp));
    const QString certificatePath = base + u".crt"_s;
    const QString keyPath = base + u".key"_s;
    if (const QString bad = net::writeTlsIdentity(certificate, key, certificatePath, keyPath); !bad.isEmpty())
        return tr("The certificate could not be saved: %1").arg(bad);
    m_certificate->setText(QDir::toNativeSeparators(certificatePath));
    m_key->setText(QDir::toNativeSeparators(keyPath));
    showMessage(m_message,
                tr("Created %1 and its key (readable only by you). Start the server to use it; clients "
                   "must trust this certificate, e.g. curl --cacert %1.")
                    .arg(QDir::toNativeSeparators(certificatePath)),
                false);
    return {};
}

void SettingsPage::reload()
{
    const storage::Settings settings(m_db);
    m_listen->setText(settings.value(storage::setting::ListenAddress));
    m_port->setText(QString::number(settings.value(storage::setting::Port)));
    m_certificate->setText(settings.value(storage::setting::TlsCertificate));
    m_key->setText(settings.value(storage::setting::TlsKey));
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
    const QString certificate = m_certificate->text().trimmed();
    const QString key = m_key->text().trimmed();
    quint16 port = 0;
    // HTTPS: both files or neither; both readable, the key the certificate's, the certificate current.
    QString certificateProblem;
    QString keyProblem;
    if (certificate.isEmpty() != key.isEmpty()) {
        (certificate.isEmpty() ? certificateProblem : keyProblem) =
            tr("give both the certificate and its key, or neither (plain HTTP)");
    } else if (!certificate.isEmpty()) {
        net::TlsIdentity identity;
        bool keyAtFault = false;
        const QString bad = net::loadTlsIdentity(certificate, key, &identity, &keyAtFault);
        (keyAtFault ? keyProblem : certificateProblem) = bad;
    }
    struct Check
    {
        QLineEdit *field;
        QString name;
        QString problem;
    };
    const QList<Check> checks = {
        {m_listen, tr("API listen address"), v::listenAddress(listen)},
        {m_port, tr("API port"), v::port(m_port->text(), &port)},
        {m_certificate, tr("HTTPS certificate"), certificateProblem},
        {m_key, tr("HTTPS private key"), keyProblem},
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
        showMessage(m_message, tr("Not saved. %1").arg(errors.join(u"; "_s)), true);
        return false;
    }
    storage::Settings settings(m_db);
    QSqlDatabase db = m_db.connection();
    const bool saved = storage::inTransaction(db, [&] {
        return settings.setValue(storage::setting::ListenAddress, listen) &&
               settings.setValue(storage::setting::Port, int(port)) &&
               settings.setValue(storage::setting::TlsCertificate, certificate) &&
               settings.setValue(storage::setting::TlsKey, key) &&
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
    showMessage(m_message,
                saved ? tr("Saved. Engine changes apply the next time Mailcaff starts; the server's when "
                           "you start it here.")
                      : tr("Not saved: the database could not be written."),
                !saved);
    return saved;
}

QString SettingsPage::fieldError(QWidget *field) const
{
    const QLabel *error = m_errors.value(field);
    return error && !error->isHidden() ? error->text() : QString();
}

} // namespace mailcaff::ui
