#include "finderpage.h"

#include "jobfollower.h"
#include "tableimport.h"

#include "engine.h"
#include "storage/settings.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

/// What the user typed in the company box: a domain, or a company's name for the domain finder.
bool looksLikeDomain(const QString &text)
{
    return !find::normaliseDomain(text).isEmpty() && !text.trimmed().contains(u' ');
}

} // namespace

FinderPage::FinderPage(Engine &engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_first(new QLineEdit(this))
    , m_last(new QLineEdit(this))
    , m_domain(new QLineEdit(this))
    , m_find(new QPushButton(tr("Find email"), this))
    , m_result(new QLabel(this))
    , m_import(new QPushButton(tr("Import leads…"), this))
    , m_firstColumn(new QComboBox(this))
    , m_lastColumn(new QComboBox(this))
    , m_domainColumn(new QComboBox(this))
    , m_start(new QPushButton(tr("Find them all"), this))
    , m_export(new QPushButton(tr("Export CSV…"), this))
    , m_listStatus(new QLabel(this))
    , m_list(new QTableWidget(0, 8, this))
    , m_follower(new JobFollower(engine, "ui/last_find_list", this))
{
    m_first->setPlaceholderText(tr("First name"));
    m_last->setPlaceholderText(tr("Last name"));
    m_domain->setPlaceholderText(tr("Company domain (acme.com) or name (Acme Inc.)"));
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_list->setHorizontalHeaderLabels({tr("First name"), tr("Last name"), tr("Domain"), tr("Email"),
                                       tr("Confidence"), tr("Pattern"), tr("Source"), tr("Reason")});
    m_list->horizontalHeader()->setStretchLastSection(true);
    m_list->verticalHeader()->hide();
    m_listStatus->setWordWrap(true);
    m_start->setEnabled(false);
    m_export->setEnabled(false);

    auto *one = new QGroupBox(tr("One person"), this);
    auto *oneLayout = new QVBoxLayout(one);
    auto *row = new QHBoxLayout;
    row->addWidget(m_first, 1);
    row->addWidget(m_last, 1);
    row->addWidget(m_domain, 2);
    row->addWidget(m_find);
    oneLayout->addLayout(row);
    oneLayout->addWidget(m_result);

    auto *list =
        new QGroupBox(tr("A list of leads (CSV with first name, last name and domain or company)"), this);
    auto *listLayout = new QVBoxLayout(list);
    auto *mapping = new QHBoxLayout;
    mapping->addWidget(m_import);
    mapping->addWidget(new QLabel(tr("First name:"), this));
    mapping->addWidget(m_firstColumn, 1);
    mapping->addWidget(new QLabel(tr("Last name:"), this));
    mapping->addWidget(m_lastColumn, 1);
    mapping->addWidget(new QLabel(tr("Domain or company:"), this));
    mapping->addWidget(m_domainColumn, 1);
    mapping->addWidget(m_start);
    mapping->addWidget(m_export);
    listLayout->addLayout(mapping);
    listLayout->addWidget(m_listStatus);
    listLayout->addWidget(m_list, 1);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(one);
    layout->addWidget(list, 1);

    connect(m_follower, &JobFollower::changed, this, &FinderPage::refreshList);
    connect(m_find, &QPushButton::clicked, this, &FinderPage::findOne);
    for (QLineEdit *edit : {m_first, m_last, m_domain})
        connect(edit, &QLineEdit::returnPressed, this, &FinderPage::findOne);
    connect(m_import, &QPushButton::clicked, this, [this] {
        const QString path = openFileName(this, m_engine, tr("Import leads"),
                                          tr("CSV or text (*.csv *.tsv *.txt);;All files (*)"));
        if (!path.isEmpty())
            importFile(path);
    });
    connect(m_start, &QPushButton::clicked, this, &FinderPage::startList);
    connect(m_export, &QPushButton::clicked, this, [this] {
        const QString path =
            saveFileName(this, m_engine, tr("Export found emails"), u"found-emails.csv"_s, tr("CSV (*.csv)"));
        if (!path.isEmpty())
            exportCsv(path);
    });
    if (!m_follower->jobId().isEmpty())
        refreshList();
}

QString FinderPage::explain(const find::FindResult &r)
{
    static const QHash<QString, QString> sources{
        {u"learned"_s, tr("the company's mail server confirmed the mailbox and refuses made-up addresses")},
        {u"cache"_s, tr("found by an earlier search")},
        {u"mx_intel"_s, tr("the mail server could not be asked, so this is the most common address format")},
        {u"gravatar"_s, tr("the address has a Gravatar profile")},
        {u"pattern_db"_s, tr("the company accepts any address, and this follows its known address format")},
        {u"scraped"_s, tr("addresses on the company's own website follow this format")},
    };
    static const QHash<QString, QString> confidences{
        {u"high"_s, tr("High confidence")},
        {u"medium"_s, tr("Medium confidence")},
        {u"low"_s, tr("Low confidence: a best guess")},
    };
    static const QHash<QString, QString> reasons{
        {u"no_mx_records"_s, tr("the domain receives no email (no mail servers)")},
        {u"disposable_domain"_s, tr("the domain is a disposable-address provider")},
        {u"catchall_detected"_s, tr("the company accepts any address, and nothing points to this person's "
                                    "(best guesses are off in Settings)")},
        {u"no_pattern_matched"_s, tr("none of the usual address formats exists there")},
        {u"dns_error"_s, tr("DNS failed: check your connection and the DNS servers in Settings")},
    };
    if (!r.found)
        return tr("No address found: %1.").arg(reasons.value(r.reason, r.reason));
    QString text = tr("%1 — %2 (format %3): %4.")
                       .arg(r.email, confidences.value(r.confidence, r.confidence), r.pattern,
                            sources.value(r.source, r.source));
    if (r.source == "pattern_db"_L1 && r.confidence == "low"_L1)
        text = tr("%1 — %2 (format %3): the company accepts any address and nothing points to this person's; "
                  "this is the most common format.")
                   .arg(r.email, confidences.value(r.confidence), r.pattern);
    return text;
}

QString FinderPage::listJobId() const
{
    return m_follower->jobId();
}

bool FinderPage::findOne()
{
    const QString first = m_first->text().trimmed();
    const QString last = m_last->text().trimmed();
    const QString where = m_domain->text().trimmed();
    if (first.isEmpty() || last.isEmpty() || where.isEmpty()) {
        m_result->setText(tr("Fill in the first name, the last name, and the company's domain or name."));
        return false;
    }
    find::FindRequest request{first, last, QString(), QString()};
    if (looksLikeDomain(where))
        request.domain = where;
    else
        request.companyName = where;
    m_find->setEnabled(false);
    m_result->setText(tr("Looking for %1 %2 at %3…").arg(first, last, where));
    const bool started = m_engine.find(request, this, [this](const find::FindResult &r) {
        m_find->setEnabled(true);
        QString text = explain(r);
        if (!r.domain.isEmpty())
            text += u'\n' + tr("Domain: %1. Asked the mail server %2 time(s) about %3 address(es) in %4 ms.")
                                .arg(r.domain)
                                .arg(r.smtpTransactions)
                                .arg(r.rcpts)
                                .arg(r.responseMs);
        if (!r.detail.isEmpty())
            text += u'\n' + tr("How: %1.").arg(r.detail);
        m_result->setText(text);
        Q_EMIT lookupFinished();
    });
    if (!started) {
        m_find->setEnabled(true);
        m_result->setText(tr("The engine is not running."));
    }
    return started;
}

bool FinderPage::importFile(const QString &path)
{
    m_import->setEnabled(false);
    m_fileName = QFileInfo(path).fileName();
    m_listStatus->setText(tr("Reading %1…").arg(m_fileName));
    readTableAsync(this, path, [this](const ImportedTable &table) {
        m_import->setEnabled(true);
        m_rows = table.rows;
        for (QComboBox *box : {m_firstColumn, m_lastColumn, m_domainColumn})
            box->clear();
        if (!table.error.isEmpty() || m_rows.isEmpty()) {
            m_listStatus->setText(table.error.isEmpty()
                                      ? tr("%1 is empty.").arg(m_fileName)
                                      : tr("Could not read %1: %2").arg(m_fileName, table.error));
            m_start->setEnabled(false);
            Q_EMIT fileRead();
            return;
        }
        // Columns named as CRMs and spreadsheets name them; the user can change any choice.
        const QStringList header = m_rows.first();
        auto option = QRegularExpression::CaseInsensitiveOption;
        const int first = findColumn(
            header,
            QRegularExpression(
                u"^(first[ _]?name|firstname|given[ _]?name|first|vorname|voornaam|pr[eé]nom)$"_s, option));
        const int last = findColumn(
            header, QRegularExpression(
                        u"^(last[ _]?name|lastname|surname|family[ _]?name|last|nachname|achternaam|nom)$"_s,
                        option));
        const int domain = findColumn(
            header,
            QRegularExpression(
                u"^(domain|company[ _]?domain|website|url|company|company[ _]?name|organi[sz]ation|firma|bedrijf)$"_s,
                option));
        m_hasHeader = first >= 0 || last >= 0 || domain >= 0;
        const qsizetype columns = header.size();
        for (QComboBox *box : {m_firstColumn, m_lastColumn, m_domainColumn})
            for (qsizetype c = 0; c < columns; ++c)
                box->addItem(m_hasHeader ? header.at(c) : tr("Column %1").arg(c + 1), int(c));
        m_firstColumn->setCurrentIndex(first >= 0 ? first : 0);
        m_lastColumn->setCurrentIndex(last >= 0 ? last : std::min<int>(1, int(columns) - 1));
        m_domainColumn->setCurrentIndex(domain >= 0 ? domain : std::min<int>(2, int(columns) - 1));
        m_start->setEnabled(true);
        m_listStatus->setText(tr("%1: %2 rows. Check the columns, then start.")
                                  .arg(m_fileName)
                                  .arg(m_rows.size() - (m_hasHeader ? 1 : 0)));
        Q_EMIT fileRead();
    });
    return QFileInfo(path).isReadable();
}

bool FinderPage::startList()
{
    const int fc = m_firstColumn->currentData().toInt();
    const int lc = m_lastColumn->currentData().toInt();
    const int dc = m_domainColumn->currentData().toInt();
    if (m_rows.isEmpty() || m_firstColumn->count() == 0) {
        m_listStatus->setText(tr("Import a file of leads first."));
        return false;
    }
    if (fc == lc || fc == dc || lc == dc) {
        m_listStatus->setText(
            tr("Choose three different columns for first name, last name and domain or company."));
        return false;
    }
    QList<QJsonObject> leads;
    int skipped = 0;
    for (qsizetype r = m_hasHeader ? 1 : 0; r < m_rows.size(); ++r) {
        const QStringList &row = m_rows.at(r);
        const QString first = row.value(fc).trimmed();
        const QString last = row.value(lc).trimmed();
        const QString where = row.value(dc).trimmed();
        if (first.isEmpty() || last.isEmpty() || where.isEmpty()) {
            ++skipped;
            continue;
        }
        QJsonObject lead{{u"first_name"_s, first}, {u"last_name"_s, last}};
        lead.insert(looksLikeDomain(where) ? u"domain"_s : u"company_name"_s, where);
        leads.append(lead);
    }
    if (leads.isEmpty()) {
        m_listStatus->setText(
            tr("No row has a first name, a last name and a domain or company (%1 incomplete).").arg(skipped));
        return false;
    }
    const auto created = m_engine.jobs().createFindJob(nullptr, leads);
    if (created.outcome != jobs::JobStore::Created::Ok) {
        m_listStatus->setText(tr("The list could not be stored: the database refused it."));
        return false;
    }
    m_follower->follow(created.jobId);
    m_started = tr("%1: %2 leads%3")
                    .arg(m_fileName)
                    .arg(leads.size())
                    .arg(skipped > 0 ? tr(", incomplete rows skipped: %1").arg(skipped) : QString());
    m_start->setEnabled(false);
    refreshList();
    return true;
}

void FinderPage::refreshList()
{
    const auto snapshot = m_engine.jobs().snapshot(m_follower->jobId());
    if (!snapshot)
        return;
    const auto &[summary, results] = *snapshot;
    m_list->setRowCount(int(results.size()));
    for (int i = 0; i < results.size(); ++i) {
        const QJsonObject r = results.at(i).toObject();
        const QStringList cells{r.value(u"first_name"_s).toString(),
                                r.value(u"last_name"_s).toString(),
                                r.value(u"domain"_s).toString().isEmpty()
                                    ? r.value(u"company_name"_s).toString()
                                    : r.value(u"domain"_s).toString(),
                                r.value(u"email"_s).toString(),
                                r.value(u"confidence"_s).toString(),
                                r.value(u"pattern"_s).toString(),
                                r.value(u"source"_s).toString(),
                                r.value(u"reason"_s).toString()};
        for (int c = 0; c < cells.size(); ++c)
            m_list->setItem(i, c, readOnlyCell(cells.at(c)));
    }
    m_listStatus->setText(
        tr("%1. %2 of %3 done, %4 found%5.")
            .arg(m_started.isEmpty() ? tr("Last list") : m_started)
            .arg(summary.processed)
            .arg(summary.total)
            .arg(summary.found)
            .arg(summary.status == jobs::JobStatus::Processing ? tr(", working…") : QString()));
    m_export->setEnabled(summary.processed > 0);
}

bool FinderPage::exportCsv(const QString &path)
{
    const auto snapshot = m_engine.jobs().snapshot(m_follower->jobId());
    if (!snapshot) {
        m_listStatus->setText(tr("Nothing to export: import and start a list first."));
        return false;
    }
    bool ok = false;
    m_listStatus->setText(
        exportResults(snapshot->second,
                      {u"first_name"_s, u"last_name"_s, u"domain"_s, u"company_name"_s, u"found"_s,
                       u"email"_s, u"confidence"_s, u"pattern"_s, u"source"_s, u"reason"_s},
                      path, &ok));
    return ok;
}

} // namespace mailcaff::ui
