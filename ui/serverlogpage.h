#pragma once

#include <QWidget>

class QLabel;
class QTableWidget;
class QTimer;

namespace mailcaff {
class Engine;
}

namespace mailcaff::ui {

/// The API server's recent requests: time, method, path, status, duration and the key's visible prefix
/// (never the key), newest first.
class ServerLogPage : public QWidget
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ServerLogPage)
public:
    ServerLogPage(Engine &engine, const QString &apiUrl, QWidget *parent = nullptr);

    QTableWidget *table() const { return m_table; }
    void reload();
    /// Where the server listens now (empty: not running).
    void setApiUrl(const QString &apiUrl);

private:
    Engine &m_engine;
    QTableWidget *m_table;
    QLabel *m_where;
    QLabel *m_summary;
    QTimer *m_refresh;
};

} // namespace mailcaff::ui
