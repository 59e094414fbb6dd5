#include "credits.h"

#include "storage/database.h"

#include <QHash>
#include <QList>
#include <QMap>
#include <QSqlError>
#include <QSqlQuery>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace mailcaff::accounts {

Credits::Credits(const storage::Database &db, Clock clock)
    : m_db(db)
    , m_clock(std::move(clock))
{
}

QDateTime Credits::now() const
{
    return m_clock ? m_clock().toUTC() : QDateTime::currentDateTimeUtc();
}

QString Credits::monthOf(const QDateTime &utc)
{
    return utc.toUTC().toString(u"yyyy-MM"_s);
}

QDateTime Credits::startOfNextMonth(const QDateTime &utc)
{
    const QDate d = utc.toUTC().date();
    return QDateTime(QDate(d.year(), d.month(), 1).addMonths(1), QTime(0, 0), Qt::UTC);
}

bool Credits::record(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                     const QString &month)
{
    return recordLedger(key, amount, reason, reference, month) && addUsage(key, amount, month);
}

bool Credits::recordLedger(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                           const QString &month)
{
    // Every charged API request: the statements are prepared once per thread.
    QSqlQuery &insert = m_db.prepared(u"INSERT INTO credit_ledger(key_id, month, amount, reason, reference, "
                                      "created_at) VALUES (?, ?, ?, ?, ?, ?)"_s);
    insert.bindValue(0, key.id);
    insert.bindValue(1, month);
    insert.bindValue(2, amount);
    insert.bindValue(3, reason);
    insert.bindValue(4, reference.isEmpty() ? QVariant(QMetaType::fromType<QString>()) : QVariant(reference));
    insert.bindValue(5, now().toString(Qt::ISODate));
    const bool inserted = insert.exec();
    insert.finish();
    return inserted;
}

bool Credits::addUsage(const ApiKeyInfo &key, int amount, const QString &month)
{
    QSqlQuery &total =
        m_db.prepared(u"INSERT INTO credit_usage(key_id, month, used) VALUES (?, ?, ?) "
                      "ON CONFLICT(key_id, month) DO UPDATE SET used = credit_usage.used + excluded.used"_s);
    total.bindValue(0, key.id);
    total.bindValue(1, month);
    total.bindValue(2, amount);
    const bool added = total.exec();
    total.finish();
    return added;
}

std::optional<Usage> Credits::compute(const ApiKeyInfo &key) const
{
    return compute(key, now());
}

std::optional<Usage> Credits::compute(const ApiKeyInfo &key, const QDateTime &current) const
{
    QSqlQuery &q = m_db.prepared(u"SELECT month, used FROM credit_usage WHERE key_id = ?"_s);
    q.bindValue(0, key.id);
    if (!q.exec())
        return std::nullopt;
    QHash<QString, int> used;
    while (q.next())
        used.insert(q.value(0).toString(), q.value(1).toInt());
    q.finish();
    QSqlQuery &h = m_db.prepared(u"SELECT month, plan FROM plan_history WHERE key_id = ? ORDER BY month"_s);
    h.bindValue(0, key.id);
    if (!h.exec())
        return std::nullopt;
    QMap<QString, Plan> history; // month ("yyyy-MM", sorts as text) -> the plan from then on
    while (h.next())
        if (const auto p = planFromString(h.value(1).toString()))
            history.insert(h.value(0).toString(), *p);
    h.finish();
    auto planOf = [&](const QString &month) {
        auto it = history.upperBound(month);
        return it == history.begin() ? key.plan : std::prev(it).value();
    };

    // Walk from the key's first month to this one: each month's carry is what its plan left unused the
    // month before, after that month's own carry was spent first, capped at the receiving month's plan.
    QDate month = key.createdAt.isValid() ? key.createdAt.toUTC().date() : current.date();
    month = QDate(month.year(), month.month(), 1);
    const QDate thisMonth(current.date().year(), current.date().month(), 1);
    if (month > thisMonth)
        month = thisMonth;
    int carry = 0;
    while (month < thisMonth) {
        const QString name = month.toString(u"yyyy-MM"_s);
        const int spent = used.value(name);
        const int left = monthlyCredits(planOf(name)) - std::max(0, spent - carry);
        month = month.addMonths(1);
        carry = std::clamp(left, 0, monthlyCredits(planOf(month.toString(u"yyyy-MM"_s))));
    }
    const Plan plan = history.isEmpty() ? key.plan : planOf(monthOf(current));
    Usage u;
    u.plan = plan;
    u.planCredits = monthlyCredits(plan);
    u.carriedOver = carry;
    u.monthlyLimit = u.planCredits + carry;
    u.monthlyUsed = std::max(0, used.value(monthOf(current)));
    u.remaining = std::max(0, u.monthlyLimit - u.monthlyUsed);
    u.resetsAt = startOfNextMonth(current);
    return u;
}

std::optional<Usage> Credits::usage(const ApiKeyInfo &key) const
{
    return compute(key);
}

Credits::Result Credits::take(const ApiKeyInfo &key, int amount, const QString &reason,
                              const QString &reference)
{
    QSqlDatabase db = m_db.connection();
    // IMMEDIATE: the write lock is taken before reading the balance, so two takers (threads or processes)
    // cannot both see the same last credits.
    if (!storage::beginWrite(db)) {
        Result failed;
        failed.failed = true;
        return failed;
    }
    Result result = takeLocked(key, amount, reason, reference);
    if (result.ok && !result.failed && !db.commit()) {
        result.ok = false;
        result.failed = true;
    }
    if (!result.ok || result.failed)
        db.rollback();
    return result;
}

QList<Credits::Result> Credits::takeAll(const QList<Charge> &charges)
{
    QList<Result> results(charges.size());
    QSqlDatabase db = m_db.connection();
    auto failAll = [&](bool rollback) {
        if (rollback)
            db.rollback();
        for (Result &r : results)
            r = Result{false, true, {}};
        return results;
    };
    if (charges.isEmpty())
        return results;
    if (!m_db.beginWrite())
        return failAll(false);
    const QDateTime at = now(); // one month for all: the balance checked and the month charged agree
    QHash<qint64, Usage> usage; // per key, as the charges before left it
    QHash<qint64, std::pair<ApiKeyInfo, int>> taken; // per key: the month's total grows once, at the end
    // The ledger gets one row per key and reason for the whole batch (e.g. "verify", 37), written at the
    // end in the order first seen: a row per request cost the API server a tenth of its time under load.
    struct LedgerRow
    {
        ApiKeyInfo key;
        QString reason;
        int amount = 0;
    };
    QList<LedgerRow> ledger;
    for (qsizetype i = 0; i < charges.size(); ++i) {
        const Charge &c = charges.at(i);
        auto it = usage.find(c.key.id);
        if (it == usage.end()) {
            const std::optional<Usage> before = compute(c.key, at);
            if (!before)
                return failAll(true);
            it = usage.insert(c.key.id, *before);
        }
        Result &r = results[i];
        r.usage = *it;
        if (it->remaining < c.amount)
            continue;
        auto row = std::find_if(ledger.begin(), ledger.end(), [&](const LedgerRow &l) {
            return l.key.id == c.key.id && l.reason == c.reason;
        });
        if (row == ledger.end())
            ledger.append({c.key, c.reason, c.amount});
        else
            row->amount += c.amount;
        auto &[takenKey, amount] = taken[c.key.id];
        takenKey = c.key;
        amount += c.amount;
        r.ok = true;
        r.usage.monthlyUsed += c.amount;
        r.usage.remaining -= c.amount;
        *it = r.usage;
    }
    for (const LedgerRow &l : std::as_const(ledger))
        if (!recordLedger(l.key, l.amount, l.reason, {}, monthOf(at)))
            return failAll(true);
    for (const auto &[k, amount] : std::as_const(taken))
        if (!addUsage(k, amount, monthOf(at)))
            return failAll(true);
    if (!m_db.commit())
        return failAll(true);
    return results;
}

Credits::Result Credits::takeLocked(const ApiKeyInfo &key, int amount, const QString &reason,
                                    const QString &reference)
{
    Result result;
    QSqlDatabase db = m_db.connection();
    if (!reference.isEmpty()) {
        QSqlQuery seen(db);
        seen.prepare(u"SELECT 1 FROM credit_ledger WHERE reference = ?"_s);
        seen.addBindValue(reference);
        if (seen.exec() && seen.next()) {
            result.ok = true; // charged before: never twice
            result.usage = compute(key).value_or(Usage{});
            return result;
        }
    }
    // One reading of the clock: the balance checked and the month charged are the same month.
    const QDateTime at = now();
    const std::optional<Usage> before = compute(key, at);
    if (!before) {
        result.failed = true;
        return result;
    }
    if (before->remaining < amount) {
        result.usage = *before;
        return result;
    }
    if (!record(key, amount, reason, reference, monthOf(at))) {
        result.failed = true;
        return result;
    }
    result.ok = true;
    result.usage = *before;
    result.usage.monthlyUsed += amount;
    result.usage.remaining -= amount;
    return result;
}

bool Credits::changePlan(const ApiKeyInfo &key, Plan plan)
{
    QSqlDatabase db = m_db.connection();
    if (!storage::beginWrite(db))
        return false;
    auto fail = [&] {
        db.rollback();
        return false;
    };
    QSqlQuery current(db);
    current.prepare(u"SELECT plan FROM api_keys WHERE id = ? AND revoked_at IS NULL"_s);
    current.addBindValue(key.id);
    if (!current.exec() || !current.next())
        return fail();
    const QString oldPlan = current.value(0).toString();
    current.finish();
    // The first change also records the plan the key had until then, from its first month.
    QSqlQuery first(db);
    first.prepare(u"INSERT INTO plan_history(key_id, month, plan) SELECT ?, ?, ? WHERE NOT EXISTS "
                  "(SELECT 1 FROM plan_history WHERE key_id = ?) ON CONFLICT DO NOTHING"_s);
    first.addBindValue(key.id);
    first.addBindValue(monthOf(key.createdAt.isValid() ? key.createdAt : now()));
    first.addBindValue(oldPlan);
    first.addBindValue(key.id);
    QSqlQuery change(db);
    change.prepare(u"INSERT INTO plan_history(key_id, month, plan) VALUES (?, ?, ?) "
                   "ON CONFLICT(key_id, month) DO UPDATE SET plan = excluded.plan"_s);
    change.addBindValue(key.id);
    change.addBindValue(monthOf(now()));
    change.addBindValue(toString(plan));
    QSqlQuery keys(db);
    keys.prepare(u"UPDATE api_keys SET plan = ? WHERE id = ?"_s);
    keys.addBindValue(toString(plan));
    keys.addBindValue(key.id);
    if (!first.exec() || !change.exec() || !keys.exec())
        return fail();
    const bool committed = db.commit() || fail();
    m_db.noteChange(); // a key's plan is part of what authentication answers
    return committed;
}

bool Credits::refund(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                     const QString &chargeReference)
{
    return storage::inWriteTransaction(
        m_db.connection(), [&] { return refundLocked(key, amount, reason, reference, chargeReference); });
}

bool Credits::refundLocked(const ApiKeyInfo &key, int amount, const QString &reason, const QString &reference,
                           const QString &chargeReference)
{
    // A savepoint: a failed refund is undone without undoing the caller's transaction (a cancelled job's).
    QSqlDatabase db = m_db.connection();
    if (!QSqlQuery(db).exec(u"SAVEPOINT refund"_s))
        return false;
    // A refund goes back to the month that was charged, and never beyond what was charged there: a job
    // charged on the 31st and cancelled on the 1st gives back the old month's credits (and so its carry),
    // not extra credits in the new one.
    QString month = monthOf(now());
    if (!chargeReference.isEmpty()) {
        QSqlQuery charge(db);
        charge.prepare(u"SELECT month, amount FROM credit_ledger WHERE reference = ? AND key_id = ?"_s);
        charge.addBindValue(chargeReference);
        charge.addBindValue(key.id);
        if (charge.exec() && charge.next()) {
            month = charge.value(0).toString();
            amount = std::min(amount, charge.value(1).toInt());
        }
    }
    if (amount <= 0 || !record(key, -amount, reason, reference, month)) {
        QSqlQuery(db).exec(u"ROLLBACK TO refund"_s);
        QSqlQuery(db).exec(u"RELEASE refund"_s);
        return amount <= 0;
    }
    return QSqlQuery(db).exec(u"RELEASE refund"_s);
}

} // namespace mailcaff::accounts
