#include "sharedlimiter.h"

#include "storage/database.h"

#include <QDateTime>
#include <QSqlQuery>
#include <QUuid>

using namespace Qt::StringLiterals;

namespace mailcaff::verify {

SharedSessionLimiter::SharedSessionLimiter(const storage::Database &db, int ttlMs, QObject *parent)
    : QObject(parent)
    , m_db(db)
    , m_ttlMs(ttlMs)
    , m_holder(QUuid::createUuid().toString(QUuid::WithoutBraces))
{
    m_renew.setParent(this);
    m_renew.setInterval(std::max(1, ttlMs / 3));
    connect(&m_renew, &QTimer::timeout, this, &SharedSessionLimiter::renew);
}

SharedSessionLimiter::~SharedSessionLimiter()
{
    if (m_held.isEmpty())
        return;
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM mx_slots WHERE holder = ?"_s);
    q.addBindValue(m_holder);
    q.exec();
}

QString SharedSessionLimiter::acquire(const QString &address, int max)
{
    // Times in the database's clock: servers on other machines compare them.
    const QString now = storage::nowMs(m_db.dialect());
    QSet<int> taken;
    QSqlQuery &busy = m_db.prepared(u"SELECT slot FROM mx_slots WHERE address = ? AND until >= "_s + now);
    busy.bindValue(0, address);
    if (!busy.exec())
        return {};
    while (busy.next())
        taken.insert(busy.value(0).toInt());
    busy.finish();
    // A free slot, or one whose holder stopped renewing it; another server may take the same one at the
    // same moment: the conditional upsert lets exactly one of them have it.
    QSqlQuery &take =
        m_db.prepared(u"INSERT INTO mx_slots(address, slot, holder, until) VALUES (?, ?, ?, "_s + now +
                      u" + ?) ON CONFLICT(address, slot) DO UPDATE SET holder = excluded.holder, "
                      "until = excluded.until WHERE mx_slots.until < "_s +
                      now);
    for (int slot = 0; slot < max; ++slot) {
        if (taken.contains(slot))
            continue;
        take.bindValue(0, address);
        take.bindValue(1, slot);
        take.bindValue(2, m_holder);
        take.bindValue(3, m_ttlMs);
        const bool won = take.exec() && take.numRowsAffected() == 1;
        take.finish();
        if (won) {
            const QString token = QString::number(slot);
            m_held.insert(address + u' ' + token);
            if (!m_renew.isActive())
                m_renew.start();
            return token;
        }
    }
    return {};
}

void SharedSessionLimiter::release(const QString &address, const QString &token)
{
    if (!m_held.remove(address + u' ' + token))
        return;
    QSqlQuery &q = m_db.prepared(u"DELETE FROM mx_slots WHERE address = ? AND slot = ? AND holder = ?"_s);
    q.bindValue(0, address);
    q.bindValue(1, token.toInt());
    q.bindValue(2, m_holder);
    q.exec();
    q.finish();
    if (m_held.isEmpty())
        m_renew.stop();
}

void SharedSessionLimiter::renew()
{
    // The slots held, one by one: a slot whose release failed is not kept alive (it runs out instead).
    QSqlQuery &q = m_db.prepared(u"UPDATE mx_slots SET until = "_s + storage::nowMs(m_db.dialect()) +
                                 u" + ? WHERE address = ? AND slot = ? AND holder = ?"_s);
    for (const QString &held : std::as_const(m_held)) {
        q.bindValue(0, m_ttlMs);
        q.bindValue(1, held.section(u' ', 0, 0));
        q.bindValue(2, held.section(u' ', 1, 1).toInt());
        q.bindValue(3, m_holder);
        q.exec();
        q.finish();
    }
}

} // namespace mailcaff::verify
