#include "settings.h"

#include "database.h"

#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace mailcaff::storage {

QVariant Settings::raw(const QString &key) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT value FROM settings WHERE key = ?"_s);
    q.addBindValue(key);
    if (q.exec() && q.next())
        return q.value(0);
    return {};
}

bool Settings::setRaw(const QString &key, const QString &value)
{
    QSqlQuery q(m_db.connection());
    q.prepare(
        u"INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"_s);
    q.addBindValue(key);
    q.addBindValue(value);
    return q.exec();
}

} // namespace mailcaff::storage
