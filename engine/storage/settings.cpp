#include "settings.h"

#include "database.h"

#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace mailcaff::storage {

QVariant Settings::raw(const QString &key) const
{
    QSqlQuery &q = m_db.prepared(u"SELECT value FROM settings WHERE key = ?"_s); // every API request
    q.bindValue(0, key);
    QVariant value;
    if (q.exec() && q.next())
        value = q.value(0);
    q.finish();
    return value;
}

bool Settings::setRaw(const QString &key, const QString &value)
{
    QSqlQuery q(m_db.connection());
    q.prepare(
        u"INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"_s);
    q.addBindValue(key);
    q.addBindValue(value);
    const bool ok = q.exec();
    m_db.noteChange();
    return ok;
}

} // namespace mailcaff::storage
