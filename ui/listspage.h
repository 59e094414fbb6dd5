#pragma once

#include "jobs/jobstore.h"

#include <QDialog>
#include <QElapsedTimer>
#include <QWidget>

#include <optional>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QProgressBar;
class QSpinBox;
class QPushButton;
class QTableView;
class QTableWidget;
class QTextBrowser;
class QTimer;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

class ListModel;
class ListFilter;
struct ImportedTable;

/// What the user chooses about a file before it becomes a list: which column holds the addresses, whether
/// the first row is a header, quick or power. Shows the first rows.
class ImportDialog : public QDialog
{
    Q_OBJECT
public:
    /// `rows`: the file's first rows (all of them when `complete`).
    ImportDialog(const QString &fileName, const QList<QStringList> &rows, bool complete = true,
                 QWidget *parent = nullptr);

    QComboBox *columnBox() const { return m_column; }
    QCheckBox *headerBox() const { return m_header; }
    QComboBox *modeBox() const { return m_mode; }
    int addressColumn() const;
    bool hasHeader() const;
    bool powerMode() const;

    /// The column most likely to hold addresses: a header named like one, else the one with most '@'.
    static int guessAddressColumn(const QList<QStringList> &rows, bool *header);

private:
    void fillPreview();

    const QList<QStringList> &m_rows;
    QComboBox *m_column;
    QCheckBox *m_header;
    QComboBox *m_mode;
    QTableWidget *m_preview;
};

/// Lists: import a CSV or text file, verify it as a job (it survives a restart), watch progress, filter,
/// inspect a row, export. The sidebar holds every list, remembered across restarts.
class ListsPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ListsPage)
public:
    explicit ListsPage(Engine &engine, QWidget *parent = nullptr);

    enum class ExportScope { All, Deliverable, Filtered };

    QListWidget *listsWidget() const { return m_lists; }
    QTableView *table() const { return m_table; }
    ListModel *model() const { return m_model; }
    ListFilter *filter() const { return m_filter; }
    QComboBox *statusFilterBox() const { return m_statusFilter; }
    QLineEdit *searchEdit() const { return m_search; }
    QSpinBox *minScoreBox() const { return m_minScore; }
    QSpinBox *maxScoreBox() const { return m_maxScore; }
    QComboBox *flagFilterBox() const { return m_flagFilter; }
    QLabel *statusLabel() const { return m_status; }
    QLabel *summaryLabel() const { return m_summary; }
    QProgressBar *progressBar() const { return m_progress; }
    QTextBrowser *detailView() const { return m_detail; }
    QString currentList() const { return m_jobId; }

    /// Reads the file off the GUI thread; `chooser` decides the column, header and mode (the window shows the
    /// import dialog; tests answer directly). The list is created off the GUI thread too.
    using Chooser = std::function<bool(const QString &fileName, const QList<QStringList> &rows, int *column,
                                       bool *header, bool *power)>;
    void importFile(const QString &path, Chooser chooser = {});
    void showList(const QString &jobId);
    bool pauseOrResume();
    bool cancelList();
    bool deleteList();
    /// Exports off the GUI thread; listExported() tells when done.
    /// `columns`: the result columns to write (empty: all); `originalColumns`: the file's own first.
    void exportCsv(const QString &path, ExportScope scope, bool byteOrderMark = true,
                   const QStringList &columns = {}, bool originalColumns = true);
    void applyFilter();

Q_SIGNALS:
    void listCreated(const QString &jobId);
    void listExported(bool ok, const QString &message);
    void refreshed();

protected:
    void changeEvent(QEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void reloadSidebar();
    void refresh();
    void showSummary();
    /// Reads the file again row by row into a new list (off the GUI thread, with progress).
    void storeList(const QString &path, const QString &fileName, const QStringList &header, int column,
                   core::Mode mode);
    void showDetail();
    void chooseExport();
    void say(const QString &text, bool error = false);

    Engine &m_engine;
    QListWidget *m_lists;
    QPushButton *m_import;
    QPushButton *m_pause;
    QPushButton *m_cancel;
    QPushButton *m_delete;
    QPushButton *m_export;
    QProgressBar *m_progress;
    QLabel *m_status;
    QLabel *m_summary;
    std::optional<jobs::JobSummary> m_shownSummary; ///< the counts on show, coloured by showSummary()
    QComboBox *m_statusFilter;
    QLineEdit *m_search;
    QSpinBox *m_minScore;
    QSpinBox *m_maxScore;
    QComboBox *m_flagFilter;
    QTableView *m_table;
    QTextBrowser *m_detail;
    QLabel *m_message;
    ListModel *m_model;
    ListFilter *m_filter;
    QTimer *m_refresh;
    QString m_jobId;
    qint64 m_latestDone = 0;
    bool m_refreshing = false;
    QElapsedTimer m_rateClock;
    int m_rateStart = 0;
};

} // namespace mailcaff::ui
