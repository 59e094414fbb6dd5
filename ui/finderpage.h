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
namespace mailcaff::find {
struct FindResult;
}

namespace mailcaff::ui {

class JobFollower;

/// The email finder: one person (first name, last name, and the company's domain or name) with the answer
/// explained in words; or a CSV of leads, its columns mapped by the user, worked as a job (it survives a
/// restart) and exported to CSV.
class FinderPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(FinderPage)
public:
    explicit FinderPage(Engine &engine, QWidget *parent = nullptr);

    QLineEdit *firstNameEdit() const { return m_first; }
    QLineEdit *lastNameEdit() const { return m_last; }
    QLineEdit *domainEdit() const { return m_domain; }
    QLabel *resultLabel() const { return m_result; }
    QComboBox *firstColumnBox() const { return m_firstColumn; }
    QComboBox *lastColumnBox() const { return m_lastColumn; }
    QComboBox *domainColumnBox() const { return m_domainColumn; }
    QPushButton *startButton() const { return m_start; }
    QTableWidget *listTable() const { return m_list; }
    QLabel *listStatus() const { return m_listStatus; }
    QString listJobId() const;

    bool findOne();
    /// Reads a file of leads (off the GUI thread) and proposes a column for each field; startList() runs it.
    bool importFile(const QString &path);
    /// Starts the imported leads with the chosen columns; false with a message when something is missing.
    bool startList();
    bool exportCsv(const QString &path);

    /// A person's answer in words: what was found, how sure, and why.
    static QString explain(const find::FindResult &result);

Q_SIGNALS:
    void lookupFinished();
    void fileRead();

private:
    void refreshList();

    Engine &m_engine;
    QLineEdit *m_first;
    QLineEdit *m_last;
    QLineEdit *m_domain;
    QPushButton *m_find;
    QLabel *m_result;
    QPushButton *m_import;
    QComboBox *m_firstColumn;
    QComboBox *m_lastColumn;
    QComboBox *m_domainColumn;
    QPushButton *m_start;
    QPushButton *m_export;
    QLabel *m_listStatus;
    QTableWidget *m_list;
    QList<QStringList> m_rows; ///< the imported file, first row first
    bool m_hasHeader = false;
    QString m_fileName;
    JobFollower *m_follower;
    QString m_started; ///< what the last start took in, for the status line
};

} // namespace mailcaff::ui
