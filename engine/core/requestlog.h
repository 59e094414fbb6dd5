#pragma once

#include <QDateTime>
#include <QList>
#include <QMutex>
#include <QObject>
#include <QString>

namespace mailcaff::core {

/// One answered API request, as the window's server log shows it. Never the key: its visible prefix.
struct RequestLogEntry
{
    QDateTime at;
    QString method;
    QString path;
    int status = 0;
    int durationMs = 0;
    QString keyPrefix; ///< empty: no (valid) key
    QString remote;
};

/// The most recent API requests (a bounded ring), filled by the API server, read by the window. Thread-safe.
class RequestLog : public QObject
{
    Q_OBJECT
public:
    static constexpr int Capacity = 1000;

    explicit RequestLog(QObject *parent = nullptr)
        : QObject(parent)
    {
    }

    void add(const RequestLogEntry &entry);
    /// Newest first.
    QList<RequestLogEntry> recent() const;

Q_SIGNALS:
    void added();

private:
    mutable QMutex m_mutex;
    QList<RequestLogEntry> m_entries; ///< oldest first
};

} // namespace mailcaff::core
