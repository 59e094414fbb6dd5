#include "domainpage.h"

#include "jobfollower.h"
#include "tableimport.h"

#include "engine.h"
#include "storage/settings.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

QString yesNo(bool value)
{
    return value ? QObject::tr("yes") : QObject::tr("no");
}

} // namespace

DomainPage::DomainPage(Engine &engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_name(new QLineEdit(this))
    , m_find(new QPushButton(tr("Find domain"), this))
    , m_result(new QLabel(this))
    , m_candidates(new QTableWidget(0, 5, this))
    , m_import(new QPushButton(tr("Import company names…"), this))
    , m_export(new QPushButton(tr("Export CSV…"), this))
    , m_listStatus(new QLabel(this))
    , m_list(new QTableWidget(0, 6, this))
    , m_follower(new JobFollower(engine, "ui/last_domain_list", this))
{
    m_name->setPlaceholderText(tr("Company name, e.g. Coolblue B.V."));
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_candidates->setHorizontalHeaderLabels(
        {tr("Candidate"), tr("MX"), tr("Website"), tr("Parked"), tr("Note")});
    m_candidates->horizontalHeader()->setStretchLastSection(true);
    m_candidates->verticalHeader()->hide();
    m_list->setHorizontalHeaderLabels(
        {tr("Company"), tr("Domain"), tr("Confidence"), tr("MX"), tr("Website"), tr("Status")});
    m_list->horizontalHeader()->setStretchLastSection(true);
    m_list->verticalHeader()->hide();
    m_listStatus->setWordWrap(true);
    m_export->setEnabled(false);

    auto *one = new QGroupBox(tr("One company"), this);
    auto *oneLayout = new QVBoxLayout(one);
    auto *row = new QHBoxLayout;
    row->addWidget(m_name, 1);
    row->addWidget(m_find);
    oneLayout->addLayout(row);
    oneLayout->addWidget(m_result);
    oneLayout->addWidget(m_candidates);

    auto *list = new QGroupBox(tr("A list of companies (CSV or text, one name a line)"), this);
    auto *listLayout = new QVBoxLayout(list);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_import);
    buttons->addWidget(m_export);
    buttons->addStretch(1);
    listLayout->addLayout(buttons);
    listLayout->addWidget(m_listStatus);
    listLayout->addWidget(m_list, 1);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(one);
    layout->addWidget(list, 1);

    connect(m_follower, &JobFollower::changed, this, &DomainPage::refreshList);
    connect(m_find, &QPushButton::clicked, this, &DomainPage::findOne);
    connect(m_name, &QLineEdit::returnPressed, this, &DomainPage::findOne);
    connect(m_import, &QPushButton::clicked, this, &DomainPage::chooseImport);
    connect(m_export, &QPushButton::clicked, this, &DomainPage::chooseExport);
    if (!m_follower->jobId().isEmpty())
        refreshList();
}

QString DomainPage::listJobId() const
{
    return m_follower->jobId();
}

bool DomainPage::findOne()
{
    const QString name = m_name->text().trimmed();
    if (name.isEmpty()) {
        m_result->setText(tr("Type a company name first."));
        return false;
    }
    m_find->setEnabled(false);
    m_result->setText(tr("Looking for the domain of %1…").arg(name));
    const bool started = m_engine.findDomain(name, this, [this](const domain::DomainResult &r) {
        m_find->setEnabled(true);
        showResult(r);
        Q_EMIT lookupFinished();
    });
    if (!started) {
        m_find->setEnabled(true);
        m_result->setText(tr("The engine is not running."));
    }
    return started;
}

void DomainPage::showResult(const domain::DomainResult &r)
{
    switch (r.status) {
    case domain::DomainResult::Status::Found:
        m_result->setText(tr("%1 → %2 (%3 confidence: %4). %5 candidates checked in %6 ms%7.")
                              .arg(r.companyName, r.domain, r.confidence,
                                   r.hasMx && r.hasWebsite ? tr("website and mail servers")
                                   : r.hasMx               ? tr("mail servers, no website")
                                                           : tr("a website, no mail servers"))
                              .arg(r.candidatesChecked)
                              .arg(r.responseMs)
                              .arg(r.fromCache ? tr(", remembered from an earlier search") : QString()));
        break;
    case domain::DomainResult::Status::NotFound:
        m_result->setText(r.candidatesChecked == 0
                              ? tr("Nothing in \"%1\" can be part of a domain name (only a legal form, or "
                                   "another script): try the name as the company writes it in Latin letters.")
                                    .arg(r.companyName)
                              : tr("No domain found for %1: none of the %2 candidates has mail servers or a "
                                   "website that is not parked.")
                                    .arg(r.companyName)
                                    .arg(r.candidatesChecked));
        break;
    case domain::DomainResult::Status::Error:
        m_result->setText(tr("DNS failed for every candidate of %1: check the DNS servers in Settings and "
                             "your connection, then try again.")
                              .arg(r.companyName));
        break;
    }
    m_candidates->setRowCount(0);
    for (const domain::DomainCandidate &c : r.candidates) {
        const int row = m_candidates->rowCount();
        m_candidates->insertRow(row);
        m_candidates->setItem(row, 0, readOnlyCell(c.domain));
        m_candidates->setItem(row, 1, readOnlyCell(yesNo(c.hasMx)));
        m_candidates->setItem(row, 2, readOnlyCell(yesNo(c.hasWebsite)));
        m_candidates->setItem(row, 3, readOnlyCell(yesNo(c.parked)));
        m_candidates->setItem(
            row, 4,
            readOnlyCell(!c.redirectsTo.isEmpty() ? tr("sends visitors to %1").arg(c.redirectsTo) : c.note));
    }
}

void DomainPage::chooseImport()
{
    const QString path = openFileName(this, m_engine, tr("Import company names"),
                                      tr("CSV or text (*.csv *.tsv *.txt);;All files (*)"));
    if (!path.isEmpty())
        importFile(path);
}

bool DomainPage::importFile(const QString &path)
{
    m_import->setEnabled(false);
    const QString fileName = QFileInfo(path).fileName();
    m_listStatus->setText(tr("Reading %1…").arg(fileName));
    readTableAsync(this, path, [this, fileName](const ImportedTable &table) {
        m_import->setEnabled(true);
        if (!table.error.isEmpty()) {
            m_listStatus->setText(tr("Could not read %1: %2").arg(fileName, table.error));
            Q_EMIT listImported();
            return;
        }
        // A header row names the column; without one the first column holds the names.
        static const QRegularExpression header(
            u"^(company|company[ _]?name|organi[sz]ation|name|firma|bedrijf|bedrijfsnaam|empresa|soci[eé]t[eé]|unternehmen)$"_s,
            QRegularExpression::CaseInsensitiveOption);
        const int found = table.rows.isEmpty() ? -1 : findColumn(table.rows.first(), header);
        const int column = std::max(found, 0);
        QStringList names;
        int skipped = 0;
        for (qsizetype r = found >= 0 ? 1 : 0; r < table.rows.size(); ++r) {
            const QString name = table.rows.at(r).value(column).trimmed();
            if (name.isEmpty())
                ++skipped;
            else
                names.append(name);
        }
        startList(names, skipped, fileName);
        Q_EMIT listImported();
    });
    return QFileInfo(path).isReadable();
}

void DomainPage::startList(const QStringList &names, int skipped, const QString &fileName)
{
    if (names.isEmpty()) {
        m_listStatus->setText(tr("%1 has no company names (%2 empty rows).").arg(fileName).arg(skipped));
        return;
    }
    const auto created = m_engine.jobs().createDomainJob(nullptr, names);
    if (created.outcome != jobs::JobStore::Created::Ok) {
        m_listStatus->setText(tr("The list could not be stored: the database refused it."));
        return;
    }
    m_follower->follow(created.jobId);
    m_imported = tr("%1: %2 companies").arg(fileName).arg(names.size()) +
                 (skipped > 0 ? tr(", empty rows skipped: %1").arg(skipped) : QString());
    refreshList();
}

void DomainPage::refreshList()
{
    const auto snapshot = m_engine.jobs().snapshot(m_follower->jobId());
    if (!snapshot)
        return;
    const auto &[summary, results] = *snapshot;
    m_list->setRowCount(int(results.size()));
    for (int i = 0; i < results.size(); ++i) {
        const QJsonObject r = results.at(i).toObject();
        m_list->setItem(i, 0, readOnlyCell(r.value(u"company_name"_s).toString()));
        m_list->setItem(i, 1, readOnlyCell(r.value(u"domain"_s).toString()));
        m_list->setItem(i, 2, readOnlyCell(r.value(u"confidence"_s).toString()));
        m_list->setItem(i, 3, readOnlyCell(yesNo(r.value(u"has_mx"_s).toBool())));
        m_list->setItem(i, 4, readOnlyCell(yesNo(r.value(u"has_website"_s).toBool())));
        m_list->setItem(i, 5, readOnlyCell(r.value(u"status"_s).toString()));
    }
    const QString head = m_imported.isEmpty() ? tr("Last list") : m_imported;
    m_listStatus->setText(
        tr("%1. %2 of %3 done, %4 found%5.")
            .arg(head)
            .arg(summary.processed)
            .arg(summary.total)
            .arg(summary.found)
            .arg(summary.status == jobs::JobStatus::Processing ? tr(", working…") : QString()));
    m_export->setEnabled(summary.processed > 0);
}

void DomainPage::chooseExport()
{
    const QString path =
        saveFileName(this, m_engine, tr("Export domains"), u"domains.csv"_s, tr("CSV (*.csv)"));
    if (!path.isEmpty())
        exportCsv(path);
}

bool DomainPage::exportCsv(const QString &path)
{
    const auto snapshot = m_engine.jobs().snapshot(m_follower->jobId());
    if (!snapshot) {
        m_listStatus->setText(tr("Nothing to export: import a list first."));
        return false;
    }
    bool ok = false;
    m_listStatus->setText(exportResults(snapshot->second,
                                        {u"company_name"_s, u"domain"_s, u"confidence"_s, u"has_mx"_s,
                                         u"has_website"_s, u"candidates_checked"_s, u"status"_s},
                                        path, &ok));
    return ok;
}

} // namespace mailcaff::ui
