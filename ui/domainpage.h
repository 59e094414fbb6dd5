#pragma once

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace mailcaff {
class Engine;
}
namespace mailcaff::domain {
struct DomainResult;
}

namespace mailcaff::ui {

class JobFollower;

/// The domain finder: one company name at a time (with every candidate checked and why it lost), or a
/// list of company names imported from a CSV or text file, worked as a job (it survives a restart) and
/// exported to CSV.
class DomainPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DomainPage)
public:
    explicit DomainPage(Engine &engine, QWidget *parent = nullptr);

    QLineEdit *nameEdit() const { return m_name; }
    QLabel *resultLabel() const { return m_result; }
    QTableWidget *candidatesTable() const { return m_candidates; }
    QTableWidget *listTable() const { return m_list; }
    QLabel *listStatus() const { return m_listStatus; }
    QString listJobId() const;

    /// Looks up the name in the edit box; false (with a message) when there is nothing to look up.
    bool findOne();
    /// Reads company names from a file (off the GUI thread) and starts them as a list; the message says
    /// how many were taken and how many rows were empty. False when the file cannot be read.
    bool importFile(const QString &path);
    /// Writes the list's results as CSV (UTF-8 with a BOM, for Excel). False with a message on failure.
    bool exportCsv(const QString &path);

Q_SIGNALS:
    void lookupFinished();
    void listImported();

private:
    void showResult(const domain::DomainResult &result);
    void startList(const QStringList &names, int skipped, const QString &fileName);
    void refreshList();
    void chooseImport();
    void chooseExport();

    Engine &m_engine;
    QLineEdit *m_name;
    QPushButton *m_find;
    QLabel *m_result;
    QTableWidget *m_candidates;
    QPushButton *m_import;
    QPushButton *m_export;
    QLabel *m_listStatus;
    QTableWidget *m_list;
    JobFollower *m_follower;
    QString m_imported; ///< what the last import brought in, for the status line
};

} // namespace mailcaff::ui
