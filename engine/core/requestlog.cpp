#include "requestlog.h"

namespace mailcaff::core {

void RequestLog::add(const RequestLogEntry &entry)
{
    {
        QMutexLocker lock(&m_mutex);
        m_entries.append(entry);
        if (m_entries.size() > Capacity)
            m_entries.remove(0, m_entries.size() - Capacity);
    }
    Q_EMIT added();
}

QList<RequestLogEntry> RequestLog::recent() const
{
    QMutexLocker lock(&m_mutex);
    QList<RequestLogEntry> out(m_entries.crbegin(), m_entries.crend());
    return out;
}

} // namespace mailcaff::core
