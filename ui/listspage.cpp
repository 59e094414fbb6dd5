#include "listspage.h"

#include "colours.h"

#include "listmodel.h"
#include "tableimport.h"

#include "engine.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QFutureWatcher>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTableView>
#include <QTableWidget>
#include <QtConcurrent>
#include <QTextBrowser>
#include <QTimer>
#include <QVBoxLayout>

#include <atomic>

using namespace Qt::StringLiterals;

namespace mailcaff::ui {

namespace {

/// Runs `work` on the thread pool and hands its result to `done` on `context`'s thread.
template<typename Work, typename Done> void offThread(QObject *context, Work work, Done done)
{
    using Result = decltype(work());
    auto *watcher = new QFutureWatcher<Result>(context);
    QObject::connect(watcher, &QFutureWatcher<Result>::finished, context, [watcher, done] {
        done(watcher->result());
        watcher->deleteLater();
    });
    watcher->setFuture(QtConcurrent::run(workers(), std::move(work)));
}

QString stateText(jobs::JobStatus status)
{
    switch (status) {
    case jobs::JobStatus::Processing:
        return QObject::tr("running");
    case jobs::JobStatus::Paused:
        return QObject::tr("paused");
    case jobs::JobStatus::Completed:
        return QObject::tr("done");
    case jobs::JobStatus::Failed:
        return QObject::tr("failed");
    case jobs::JobStatus::Cancelled:
        return QObject::tr("cancelled");
    }
    return {};
}

} // namespace

// --- Import dialog
// -------------------------------------------------------------------------------------------

ImportDialog::ImportDialog(const QString &fileName, const QList<QStringList> &rows, bool complete,
                           QWidget *parent)
    : QDialog(parent)
    , m_rows(rows)
    , m_column(new QComboBox(this))
    , m_header(new QCheckBox(tr("The first row is a header"), this))
    , m_mode(new QComboBox(this))
    , m_preview(new QTableWidget(this))
{
    setWindowTitle(tr("Import %1").arg(fileName));
    bool header = false;
    const int guess = guessAddressColumn(rows, &header);
    m_header->setChecked(header);
    m_mode->addItem(tr("Power: ask the mail servers (accurate, slower)"), true);
    m_mode->addItem(tr("Quick: syntax, DNS and lists only (fast)"), false);
    auto *form = new QFormLayout;
    form->addRow(tr("Addresses are in:"), m_column);
    form->addRow(QString(), m_header);
    form->addRow(tr("Check:"), m_mode);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Verify"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(
        new QLabel((complete ? tr("%1 rows.").arg(rows.size())
                             : tr("The first %1 rows (the file has more; they are counted as it is stored).")
                                   .arg(rows.size())) +
                       u' ' + tr("The other columns are kept and exported with the results."),
                   this));
    layout->addWidget(m_preview, 1);
    layout->addLayout(form);
    layout->addWidget(buttons);
    connect(m_header, &QCheckBox::toggled, this, &ImportDialog::fillPreview);
    fillPreview();
    m_column->setCurrentIndex(guess);
    resize(720, 480);
}

int ImportDialog::guessAddressColumn(const QList<QStringList> &rows, bool *header)
{
    return core::csv::guessAddressColumn(rows, header);
}

void ImportDialog::fillPreview()
{
    const int keep = m_column->currentIndex();
    const qsizetype columns =
        std::max_element(m_rows.cbegin(), m_rows.cend(), [](const QStringList &a, const QStringList &b) {
            return a.size() < b.size();
        })->size();
    QStringList names;
    for (qsizetype c = 0; c < columns; ++c)
        names.append(m_header->isChecked() ? m_rows.first().value(c) : tr("Column %1").arg(c + 1));
    m_column->clear();
    m_column->addItems(names);
    m_column->setCurrentIndex(std::max(0, keep));
    m_preview->clear();
    m_preview->setColumnCount(int(columns));
    m_preview->setHorizontalHeaderLabels(names);
    const qsizetype first = m_header->isChecked() ? 1 : 0;
    const qsizetype shown = std::min<qsizetype>(m_rows.size() - first, 20);
    m_preview->setRowCount(int(std::max<qsizetype>(0, shown)));
    for (qsizetype r = 0; r < shown; ++r)
        for (qsizetype c = 0; c < m_rows.at(first + r).size(); ++c)
            m_preview->setItem(int(r), int(c), readOnlyCell(m_rows.at(first + r).at(c)));
}

int ImportDialog::addressColumn() const
{
    return std::max(0, m_column->currentIndex());
}

bool ImportDialog::hasHeader() const
{
    return m_header->isChecked();
}

bool ImportDialog::powerMode() const
{
    return m_mode->currentData().toBool();
}

// --- Lists page
// ----------------------------------------------------------------------------------------------

ListsPage::ListsPage(Engine &engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_lists(new QListWidget(this))
    , m_import(new QPushButton(tr("Import list…"), this))
    , m_pause(new QPushButton(tr("Pause"), this))
    , m_cancel(new QPushButton(tr("Stop"), this))
    , m_delete(new QPushButton(tr("Delete list"), this))
    , m_export(new QPushButton(tr("Export CSV…"), this))
    , m_progress(new QProgressBar(this))
    , m_status(new QLabel(this))
    , m_summary(new QLabel(this))
    , m_statusFilter(new QComboBox(this))
    , m_search(new QLineEdit(this))
    , m_minScore(new QSpinBox(this))
    , m_maxScore(new QSpinBox(this))
    , m_flagFilter(new QComboBox(this))
    , m_table(new QTableView(this))
    , m_detail(new QTextBrowser(this))
    , m_message(new QLabel(this))
    , m_model(new ListModel(this))
    , m_filter(new ListFilter(this))
    , m_refresh(new QTimer(this))
{
    setAcceptDrops(true);
    m_import->setShortcut(QKeySequence::Open);
    m_import->setToolTip(tr("Import a CSV or text file (Ctrl+O), or drop it here"));
    m_statusFilter->addItem(tr("All statuses"), -2);
    for (const core::Status s : {core::Status::Valid, core::Status::Risky, core::Status::Invalid,
                                 core::Status::Unknown, core::Status::Disposable, core::Status::Error})
        m_statusFilter->addItem(core::toString(s), int(s));
    m_statusFilter->addItem(tr("pending"), -1);
    m_search->setPlaceholderText(tr("Search addresses"));
    m_minScore->setRange(0, 100);
    m_maxScore->setRange(0, 100);
    m_maxScore->setValue(100);
    m_minScore->setPrefix(tr("score ≥ "));
    m_maxScore->setPrefix(tr("≤ "));
    m_flagFilter->addItem(tr("Any kind"), 0);
    m_flagFilter->addItem(tr("Role accounts"), int(jobs::ListRow::Role));
    m_flagFilter->addItem(tr("Free providers"), int(jobs::ListRow::Free));
    m_flagFilter->addItem(tr("Disposable"), int(jobs::ListRow::Disposable));
    m_flagFilter->addItem(tr("Catch-all domains"), int(jobs::ListRow::CatchAll));
    m_search->setClearButtonEnabled(true);
    m_filter->setSourceModel(m_model);
    m_table->setModel(m_filter);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ListModel::Row, Qt::AscendingOrder); // file order to begin with
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(22);
    m_table->horizontalHeader()->setStretchLastSection(true);
    m_table->setColumnWidth(ListModel::Email, 260);
    m_table->setItemDelegateForColumn(ListModel::Score, new ScoreDelegate(m_table));
    m_summary->setTextFormat(Qt::RichText);
    m_message->setWordWrap(true);
    m_detail->setMinimumWidth(240);

    auto *side = new QWidget(this);
    auto *sideLayout = new QVBoxLayout(side);
    sideLayout->setContentsMargins(0, 0, 0, 0);
    sideLayout->addWidget(new QLabel(tr("Lists"), this));
    sideLayout->addWidget(m_lists, 1);
    sideLayout->addWidget(m_import);
    sideLayout->addWidget(m_delete);

    auto *controls = new QHBoxLayout;
    controls->addWidget(m_progress, 1);
    controls->addWidget(m_pause);
    controls->addWidget(m_cancel);
    controls->addWidget(m_export);
    auto *filters = new QHBoxLayout;
    filters->addWidget(m_statusFilter);
    filters->addWidget(m_flagFilter);
    filters->addWidget(m_minScore);
    filters->addWidget(m_maxScore);
    filters->addWidget(m_search, 1);

    auto *resultsSplit = new QSplitter(this);
    resultsSplit->addWidget(m_table);
    resultsSplit->addWidget(m_detail);
    resultsSplit->setStretchFactor(0, 3);
    resultsSplit->setStretchFactor(1, 1);

    auto *main = new QWidget(this);
    auto *mainLayout = new QVBoxLayout(main);
    mainLayout->setContentsMargins(0, 0, 0, 0);
    mainLayout->addWidget(m_message);
    mainLayout->addLayout(controls);
    mainLayout->addWidget(m_status);
    mainLayout->addWidget(m_summary);
    mainLayout->addLayout(filters);
    mainLayout->addWidget(resultsSplit, 1);

    auto *split = new QSplitter(this);
    split->addWidget(side);
    split->addWidget(main);
    split->setStretchFactor(1, 1);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(split);

    m_refresh->setInterval(500);
    connect(m_refresh, &QTimer::timeout, this, &ListsPage::refresh);
    connect(m_import, &QPushButton::clicked, this, [this] {
        const QString path =
            openFileName(this, m_engine, tr("Import a list"), tr("Lists (*.csv *.tsv *.txt);;All files (*)"));
        if (!path.isEmpty())
            importFile(path);
    });
    connect(m_pause, &QPushButton::clicked, this, &ListsPage::pauseOrResume);
    connect(m_cancel, &QPushButton::clicked, this, &ListsPage::cancelList);
    connect(m_delete, &QPushButton::clicked, this, [this] {
        if (m_jobId.isEmpty())
            return;
        if (QMessageBox::question(this, tr("Delete list"), tr("Delete this list and its results?")) ==
            QMessageBox::Yes)
            deleteList();
    });
    connect(m_export, &QPushButton::clicked, this, &ListsPage::chooseExport);
    connect(m_statusFilter, &QComboBox::currentIndexChanged, this, &ListsPage::applyFilter);
    connect(m_flagFilter, &QComboBox::currentIndexChanged, this, &ListsPage::applyFilter);
    connect(m_minScore, &QSpinBox::valueChanged, this, &ListsPage::applyFilter);
    connect(m_maxScore, &QSpinBox::valueChanged, this, &ListsPage::applyFilter);
    // Filtering a long list is not free: once typing pauses, not on every key.
    auto *debounce = new QTimer(this);
    debounce->setSingleShot(true);
    debounce->setInterval(250);
    connect(debounce, &QTimer::timeout, this, &ListsPage::applyFilter);
    connect(m_search, &QLineEdit::textChanged, debounce, qOverload<>(&QTimer::start));
    connect(m_lists, &QListWidget::currentItemChanged, this, [this](QListWidgetItem *item) {
        if (item && item->data(Qt::UserRole).toString() != m_jobId)
            showList(item->data(Qt::UserRole).toString());
    });
    connect(m_table->selectionModel(), &QItemSelectionModel::currentRowChanged, this, &ListsPage::showDetail);
    connect(this, &ListsPage::listExported, this,
            [this](bool ok, const QString &message) { say(message, !ok); });
    reloadSidebar();
    if (m_lists->count() > 0)
        m_lists->setCurrentRow(0);
    else
        say(tr("Import a CSV or text file of addresses to verify it (or drop it here)."));
}

void ListsPage::say(const QString &text, bool error)
{
    showMessage(m_message, text, error);
}

void ListsPage::importFile(const QString &path, Chooser chooser)
{
    const QString fileName = QFileInfo(path).fileName();
    say(tr("Reading %1…").arg(fileName));
    m_import->setEnabled(false);
    // The dialog needs the first rows only; the whole file is read again, row by row, as it is stored.
    constexpr qsizetype PreviewRows = 1000;
    readTableAsync(
        this, path,
        [this, path, fileName, chooser](const ImportedTable &table) {
            if (!table.error.isEmpty()) {
                m_import->setEnabled(true);
                say(tr("Could not read %1: %2").arg(fileName, table.error), true);
                return;
            }
            if (table.rows.isEmpty()) {
                m_import->setEnabled(true);
                say(tr("%1 is empty.").arg(fileName), true);
                return;
            }
            int column = 0;
            bool header = false;
            bool power = true;
            if (chooser) {
                if (!chooser(fileName, table.rows, &column, &header, &power)) {
                    m_import->setEnabled(true);
                    return;
                }
            } else {
                ImportDialog dialog(fileName, table.rows, table.complete, this);
                if (dialog.exec() != QDialog::Accepted) {
                    m_import->setEnabled(true);
                    say(tr("Import of %1 cancelled.").arg(fileName));
                    return;
                }
                column = dialog.addressColumn();
                header = dialog.hasHeader();
                power = dialog.powerMode();
            }
            storeList(path, fileName, header ? table.rows.first() : QStringList(), column,
                      power ? core::Mode::Power : core::Mode::Quick);
        },
        PreviewRows);
}

void ListsPage::storeList(const QString &path, const QString &fileName, const QStringList &header, int column,
                          core::Mode mode)
{
    say(tr("Storing %1…").arg(fileName));
    Engine *engine = &m_engine;
    // A big file takes a while to store: how far, read a few times a second from the worker.
    auto percent = std::make_shared<std::atomic<int>>(0);
    auto *progress = new QTimer(this);
    connect(progress, &QTimer::timeout, this,
            [this, percent, fileName] { say(tr("Storing %1… %2%").arg(fileName).arg(percent->load())); });
    progress->start(250);
    struct Stored
    {
        jobs::ListStore::Created created;
        QString readError;
    };
    const QString extraColumn = tr("Column %1");
    offThread(
        this,
        [engine, path, fileName, header, column, mode, percent, extraColumn] {
            Stored out;
            core::csv::Reader reader(path);
            if (!reader.open()) {
                out.readError = reader.error();
                return out;
            }
            out.created = engine->listStore().create(
                fileName, header, jobs::ListStore::fromReader(reader, !header.isEmpty(), percent.get()),
                column, mode, {}, extraColumn);
            out.readError = reader.error();
            return out;
        },
        [this, fileName, progress](const Stored &stored) {
            progress->deleteLater();
            m_import->setEnabled(true);
            const jobs::ListStore::Created &created = stored.created;
            if (!stored.readError.isEmpty()) {
                say(tr("Could not read %1: %2").arg(fileName, stored.readError), true);
                return;
            }
            if (created.jobId.isEmpty()) {
                say(tr("%1 could not be stored: the database refused it.").arg(fileName), true);
                return;
            }
            if (jobs::JobRunner *runner = m_engine.jobRunner())
                runner->wake();
            reloadSidebar();
            showList(created.jobId);
            say(tr("%1: %2 rows, %3 without an address (kept, marked error), %4 duplicates (verified "
                   "once).")
                    .arg(fileName)
                    .arg(created.rows)
                    .arg(created.withoutAddress)
                    .arg(created.duplicates));
            Q_EMIT listCreated(created.jobId);
        });
}

void ListsPage::reloadSidebar()
{
    const QSignalBlocker block(m_lists);
    m_lists->clear();
    for (const jobs::ListInfo &l : m_engine.listStore().all()) {
        auto *item =
            new QListWidgetItem(tr("%1\n%2 · %3 rows · %4")
                                    .arg(l.name, l.createdAt.toLocalTime().toString(u"yyyy-MM-dd HH:mm"_s))
                                    .arg(l.summary.total)
                                    .arg(stateText(l.summary.status)),
                                m_lists);
        item->setData(Qt::UserRole, l.jobId);
        if (l.jobId == m_jobId)
            m_lists->setCurrentItem(item);
    }
}

void ListsPage::showList(const QString &jobId)
{
    m_jobId = jobId;
    m_shownSummary.reset();
    m_latestDone = 0;
    m_model->clear();
    m_detail->clear();
    for (int i = 0; i < m_lists->count(); ++i)
        if (m_lists->item(i)->data(Qt::UserRole).toString() == jobId) {
            const QSignalBlocker block(m_lists);
            m_lists->setCurrentRow(i);
        }
    Engine *engine = &m_engine;
    offThread(
        // Made compact on the worker, where the million temporary strings are also freed.
        this, [engine, jobId] { return CompactStrings(engine->listStore().addresses(jobId)); },
        [this, jobId](const CompactStrings &addresses) {
            if (jobId != m_jobId)
                return;
            m_model->reset(addresses); // the filter follows on its own
            m_rateClock.invalidate();
            refresh();
            m_refresh->start();
        });
}

void ListsPage::refresh()
{
    if (m_jobId.isEmpty() || m_refreshing)
        return;
    m_refreshing = true;
    struct Update
    {
        QList<jobs::ListRow> rows;
        qint64 latest = 0;
        std::optional<jobs::JobSummary> summary;
    };
    Engine *engine = &m_engine;
    const QString jobId = m_jobId;
    // A second of overlap: an item stamped in the same millisecond as the last one read may commit after the
    // read. Applying a row twice changes nothing.
    const qint64 after = std::max<qint64>(0, m_latestDone - 1000);
    offThread(
        this,
        [engine, jobId, after] {
            // The summary first: every item it counts as done is then among the rows read after it, so a
            // list shown as finished has all its rows.
            Update u;
            u.latest = after;
            u.summary = engine->jobs().summary(jobId);
            u.rows = engine->listStore().doneSince(jobId, after, &u.latest);
            return u;
        },
        [this, jobId](const Update &u) {
            m_refreshing = false;
            if (jobId != m_jobId || !u.summary)
                return;
            m_model->apply(u.rows);
            m_latestDone = std::max(m_latestDone, u.latest);
            const jobs::JobSummary &s = *u.summary;
            // In thousandths: the style paints a bar of a million steps far slower (a second for each paint).
            m_progress->setRange(0, 1000);
            m_progress->setValue(int(qint64(s.processed) * 1000 / std::max(1, s.total)));
            if (!m_rateClock.isValid()) {
                m_rateClock.start();
                m_rateStart = s.processed;
            }
            const double minutes = m_rateClock.elapsed() / 60000.0;
            const double rate = minutes > 0.05 ? (s.processed - m_rateStart) / minutes : 0;
            QString eta;
            if (s.status == jobs::JobStatus::Processing && rate > 0) {
                const int seconds = int((s.total - s.processed) / rate * 60);
                eta = tr(", about %1 left")
                          .arg(seconds >= 120 ? tr("%1 min").arg(seconds / 60) : tr("%1 s").arg(seconds));
            }
            m_status->setText(tr("%1 of %2 checked (%3)%4%5")
                                  .arg(s.processed)
                                  .arg(s.total)
                                  .arg(stateText(s.status))
                                  .arg(rate > 0 && s.status == jobs::JobStatus::Processing
                                           ? tr(", %1 a minute").arg(int(rate))
                                           : QString())
                                  .arg(eta));
            m_shownSummary = s;
            showSummary();
            m_pause->setText(s.status == jobs::JobStatus::Paused ? tr("Resume") : tr("Pause"));
            m_pause->setEnabled(s.status == jobs::JobStatus::Processing ||
                                s.status == jobs::JobStatus::Paused);
            m_cancel->setEnabled(m_pause->isEnabled());
            m_export->setEnabled(s.processed > 0);
            if (m_filter->isFiltering() && !u.rows.isEmpty())
                m_filter->apply();
            if (s.status != jobs::JobStatus::Processing && s.status != jobs::JobStatus::Paused &&
                m_refresh->isActive()) {
                m_refresh->stop();
                reloadSidebar(); // its state there too
            }
            Q_EMIT refreshed();
        });
}

void ListsPage::showSummary()
{
    if (!m_shownSummary)
        return;
    const jobs::JobSummary &s = *m_shownSummary;
    // The distribution as a bar, and the headline numbers.
    struct Part
    {
        core::Status status;
        QString label;
    };
    const QList<Part> parts{
        {core::Status::Valid, tr("deliverable")},     {core::Status::Risky, tr("risky")},
        {core::Status::Invalid, tr("invalid")},       {core::Status::Unknown, tr("unknown")},
        {core::Status::Disposable, tr("disposable")}, {core::Status::Error, tr("error")}};
    QString bar = u"<table width='100%' cellspacing='0' cellpadding='0'><tr>"_s;
    QStringList headline;
    for (const Part &p : parts) {
        const int n = s.counts.value(p.status);
        const double share = s.processed ? 100.0 * n / s.processed : 0;
        const QString colour = statusColour(p.status, palette()).name();
        if (n > 0)
            bar += u"<td bgcolor='%1' width='%2%'>&nbsp;</td>"_s.arg(colour).arg(std::max(1, int(share)));
        headline.append(u"<span style='color:%1'>%2 %3% (%4)</span>"_s.arg(colour, p.label)
                            .arg(QString::number(share, 'f', 1))
                            .arg(n));
    }
    bar += u"</tr></table>"_s;
    m_summary->setText(headline.join(u" · "_s) + (s.processed ? bar : QString()));
}

void ListsPage::changeEvent(QEvent *event)
{
    // Light to dark or back: the summary's colours are written into its text, so it is written again.
    if (event->type() == QEvent::PaletteChange)
        showSummary();
    QWidget::changeEvent(event);
}

void ListsPage::applyFilter()
{
    m_filter->setStatus(m_statusFilter->currentData().toInt());
    m_filter->setRequiredFlags(quint8(m_flagFilter->currentData().toInt()));
    m_filter->setScoreRange(m_minScore->value(), m_maxScore->value());
    m_filter->setText(m_search->text());
    m_filter->apply();
}

bool ListsPage::pauseOrResume()
{
    const auto s = m_engine.jobs().summary(m_jobId);
    if (!s)
        return false;
    const bool pause = s->status == jobs::JobStatus::Processing;
    if (!m_engine.jobs().setPaused(m_jobId, pause))
        return false;
    if (!pause) {
        if (jobs::JobRunner *runner = m_engine.jobRunner())
            runner->wake();
        m_refresh->start();
    }
    say(pause ? tr("Paused: what is being checked now finishes, nothing new starts.") : tr("Resumed."));
    reloadSidebar();
    refresh();
    return true;
}

bool ListsPage::cancelList()
{
    if (!m_engine.jobs().cancel(m_jobId, nullptr))
        return false;
    say(tr("Stopped. The results so far are kept and can be exported."));
    reloadSidebar();
    refresh();
    return true;
}

bool ListsPage::deleteList()
{
    if (m_jobId.isEmpty())
        return false;
    m_engine.jobs().cancel(m_jobId, nullptr); // a running list stops first
    if (!m_engine.jobs().remove(m_jobId)) {
        say(tr("The list could not be deleted."), true);
        return false;
    }
    m_refresh->stop();
    m_jobId.clear();
    m_model->clear();
    m_detail->clear();
    reloadSidebar();
    say(tr("List deleted."));
    if (m_lists->count() > 0)
        m_lists->setCurrentRow(0);
    return true;
}

void ListsPage::showDetail()
{
    const QModelIndex current = m_table->currentIndex();
    if (!current.isValid()) {
        m_detail->clear();
        return;
    }
    const int position = m_filter->mapToSource(current).row();
    const QJsonObject r = m_engine.listStore().result(m_jobId, position);
    if (r.isEmpty()) {
        m_detail->setHtml(tr("<p>Not checked yet.</p>"));
        return;
    }
    QString html = u"<h3>%1</h3>"_s.arg(r.value(u"email"_s).toString().toHtmlEscaped());
    for (int i = 0; i <= int(core::Reason::QuickCheck); ++i)
        if (core::toString(core::Reason(i)) == r.value(u"reason"_s).toString())
            html += u"<p>%1</p>"_s.arg(core::describe(core::Reason(i)).toHtmlEscaped());
    html += u"<table>"_s;
    for (auto it = r.begin(); it != r.end(); ++it) {
        QString value;
        if (it->isObject()) {
            const QJsonObject o = it->toObject();
            value = u"%1 %2 %3"_s.arg(o.value(u"code"_s).toInt())
                        .arg(o.value(u"enhanced_code"_s).toString(), o.value(u"message"_s).toString());
        } else if (it->isBool()) {
            value = it->toBool() ? u"true"_s : u"false"_s;
        } else if (it->isDouble()) {
            value = QString::number(it->toInt());
        } else if (it->isNull()) {
            value = u"—"_s;
        } else {
            value = it->toString();
        }
        html += u"<tr><td><b>%1</b></td><td>%2</td></tr>"_s.arg(it.key(), value.toHtmlEscaped());
    }
    m_detail->setHtml(html + u"</table>"_s);
}

void ListsPage::chooseExport()
{
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Export results"));
    auto *scope = new QComboBox(&dialog);
    scope->addItem(tr("All rows"), int(ExportScope::All));
    scope->addItem(tr("Deliverable rows only (valid)"), int(ExportScope::Deliverable));
    scope->addItem(tr("The rows the current filter shows (%1)").arg(m_filter->rowCount()),
                   int(ExportScope::Filtered));
    auto *bom = new QCheckBox(tr("UTF-8 with a byte-order mark (for Excel)"), &dialog);
    bom->setChecked(true);
    auto *original = new QCheckBox(tr("The file's own columns"), &dialog);
    original->setChecked(true);
    auto *columns = new QListWidget(&dialog);
    for (const QString &c : jobs::ListStore::resultColumns()) {
        auto *item = new QListWidgetItem(c, columns);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(Qt::Checked);
    }
    columns->setMaximumHeight(180);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    auto *form = new QFormLayout(&dialog);
    form->addRow(tr("Export:"), scope);
    form->addRow(QString(), bom);
    form->addRow(QString(), original);
    form->addRow(tr("Result columns:"), columns);
    form->addRow(buttons);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QString path =
        saveFileName(this, m_engine, tr("Export results"), u"results.csv"_s, tr("CSV (*.csv)"));
    if (!path.isEmpty()) {
        QStringList chosen;
        for (int i = 0; i < columns->count(); ++i)
            if (columns->item(i)->checkState() == Qt::Checked)
                chosen.append(columns->item(i)->text());
        exportCsv(path, ExportScope(scope->currentData().toInt()), bom->isChecked(), chosen,
                  original->isChecked());
    }
}

void ListsPage::exportCsv(const QString &path, ExportScope scope, bool byteOrderMark,
                          const QStringList &columns, bool originalColumns)
{
    jobs::ListStore::ExportOptions options;
    options.byteOrderMark = byteOrderMark;
    options.columns = columns;
    options.originalColumns = originalColumns;
    options.deliverableOnly = scope == ExportScope::Deliverable;
    if (scope == ExportScope::Filtered)
        options.positions = m_filter->acceptedPositions();
    Engine *engine = &m_engine;
    const QString jobId = m_jobId;
    say(tr("Exporting…"));
    offThread(
        this,
        [engine, jobId, path, options] {
            QString error;
            const int rows = engine->listStore().exportCsv(jobId, path, options, &error);
            return std::pair{rows, error};
        },
        [this, path](const std::pair<int, QString> &result) {
            if (result.first < 0)
                Q_EMIT listExported(false, tr("Could not export to %1: %2").arg(path, result.second));
            else
                Q_EMIT listExported(true, tr("Exported %1 rows to %2.").arg(result.first).arg(path));
        });
}

void ListsPage::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls() && event->mimeData()->urls().value(0).isLocalFile())
        event->acceptProposedAction();
}

void ListsPage::dropEvent(QDropEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (!urls.isEmpty() && urls.first().isLocalFile())
        importFile(urls.first().toLocalFile());
}

} // namespace mailcaff::ui
