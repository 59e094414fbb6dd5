#include "jobstore.h"

#include "storage/database.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QScopeGuard>
#include <QSqlError>
#include <QSqlQuery>
#include <QUuid>

using namespace Qt::StringLiterals;

namespace mailcaff::jobs {

QString toString(JobStatus status)
{
    switch (status) {
    case JobStatus::Processing:
        return u"processing"_s;
    case JobStatus::Completed:
        return u"completed"_s;
    case JobStatus::Failed:
        return u"failed"_s;
    case JobStatus::Cancelled:
        return u"cancelled"_s;
    }
    return {};
}

namespace {

JobStatus statusFromString(const QString &s)
{
    if (s == "completed"_L1)
        return JobStatus::Completed;
    if (s == "failed"_L1)
        return JobStatus::Failed;
    if (s == "cancelled"_L1)
        return JobStatus::Cancelled;
    return JobStatus::Processing;
}

/// Duplicates are the same address whatever the case and surrounding spaces.
QString normalise(const QString &email)
{
    return email.trimmed().toLower();
}

QString domainOf(const QString &normalized)
{
    const qsizetype at = normalized.lastIndexOf(u'@');
    return at < 0 ? QString() : normalized.mid(at + 1);
}

QString nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
}

struct Transaction
{
    explicit Transaction(QSqlDatabase db)
        : m_db(db)
    {
        m_ok = QSqlQuery(m_db).exec(u"BEGIN IMMEDIATE"_s);
    }
    ~Transaction()
    {
        if (m_ok && !m_done)
            QSqlQuery(m_db).exec(u"ROLLBACK"_s);
    }
    bool ok() const { return m_ok; }
    bool commit()
    {
        m_done = QSqlQuery(m_db).exec(u"COMMIT"_s);
        return m_done;
    }

private:
    QSqlDatabase m_db;
    bool m_ok = false;
    bool m_done = false;
};

} // namespace

JobStore::CreateResult JobStore::createVerifyJob(const accounts::ApiKeyInfo *key, const QStringList &emails,
                                                 core::Mode mode, const QString &idempotencyKey)
{
    CreateResult result;
    QSqlDatabase db = m_db.connection();
    // The 202 promises the job survives anything, power loss included: this commit waits for the disk
    // (WAL with synchronous=NORMAL, the default here, may lose the last commits on an OS crash).
    QSqlQuery(db).exec(u"PRAGMA synchronous=FULL"_s);
    const auto restore = qScopeGuard([db] { QSqlQuery(db).exec(u"PRAGMA synchronous=NORMAL"_s); });
    Transaction tx(db);
    if (!tx.ok())
        return result;
    if (key && !idempotencyKey.isEmpty()) {
        // Inside the write lock: two retries arriving together cannot both create the job.
        QSqlQuery seen(db);
        seen.prepare(u"SELECT id FROM jobs WHERE key_id = ? AND idempotency_key = ?"_s);
        seen.addBindValue(key->id);
        seen.addBindValue(idempotencyKey);
        if (seen.exec() && seen.next()) {
            result.outcome = Created::Existing;
            result.jobId = seen.value(0).toString();
            result.usage = m_credits.usage(*key).value_or(accounts::Usage{});
            return result;
        }
    }
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    if (key) {
        // Charged in the same transaction that stores the job: both or neither, whatever happens.
        const accounts::Credits::Result taken =
            m_credits.takeLocked(*key, int(emails.size()), u"bulk verify"_s, u"job:"_s + id);
        result.usage = taken.usage;
        if (taken.failed)
            return result;
        if (!taken.ok) {
            result.outcome = Created::InsufficientCredits;
            return result;
        }
    }
    QSqlQuery job(db);
    job.prepare(u"INSERT INTO jobs(id, key_id, kind, mode, status, total, created_at, completed_at, "
                "idempotency_key) VALUES (?, ?, 'verify', ?, ?, ?, ?, ?, ?)"_s);
    job.addBindValue(id);
    job.addBindValue(key ? QVariant(key->id) : QVariant(QMetaType::fromType<qint64>()));
    job.addBindValue(core::toString(mode));
    // An empty list (possible from the window, not the API) is finished as soon as it exists.
    job.addBindValue(emails.isEmpty() ? u"completed"_s : u"processing"_s);
    job.addBindValue(int(emails.size()));
    job.addBindValue(nowIso());
    job.addBindValue(emails.isEmpty() ? QVariant(nowIso()) : QVariant(QMetaType::fromType<QString>()));
    job.addBindValue(idempotencyKey.isEmpty() ? QVariant(QMetaType::fromType<QString>())
                                              : QVariant(idempotencyKey));
    if (!job.exec())
        return result;
    QSqlQuery item(db);
    item.prepare(
        u"INSERT INTO job_items(job_id, position, input, normalized, domain) VALUES (?, ?, ?, ?, ?)"_s);
    for (qsizetype i = 0; i < emails.size(); ++i) {
        // bindValue by position: addBindValue would append past the placeholders on the second row.
        // A null QString binds as SQL NULL: an empty address is stored as an empty text.
        auto text = [](const QString &v) { return v.isNull() ? u""_s : v; };
        const QString normalized = normalise(emails.at(i));
        item.bindValue(0, id);
        item.bindValue(1, int(i));
        item.bindValue(2, text(emails.at(i)));
        item.bindValue(3, text(normalized));
        item.bindValue(4, text(domainOf(normalized)));
        if (!item.exec())
            return result;
    }
    if (!tx.commit())
        return result;
    result.outcome = Created::Ok;
    result.jobId = id;
    return result;
}

std::optional<JobSummary> JobStore::summary(const QString &id, std::optional<qint64> keyId) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(
        u"SELECT id, key_id, kind, mode, status, total, created_at, completed_at FROM jobs WHERE id = ?"_s);
    q.addBindValue(id);
    if (!q.exec() || !q.next())
        return std::nullopt;
    JobSummary s;
    s.id = q.value(0).toString();
    s.keyId = q.value(1).toLongLong();
    if (keyId && *keyId != s.keyId)
        return std::nullopt; // another key's job: the same answer as a missing one
    s.kind = q.value(2).toString();
    s.mode = core::modeFromString(q.value(3).toString()).value_or(core::Mode::Power);
    s.status = statusFromString(q.value(4).toString());
    s.total = q.value(5).toInt();
    s.createdAt = QDateTime::fromString(q.value(6).toString(), Qt::ISODate);
    if (!q.value(7).isNull())
        s.completedAt = QDateTime::fromString(q.value(7).toString(), Qt::ISODate);
    QSqlQuery c(m_db.connection());
    c.prepare(
        u"SELECT status, COUNT(*) FROM job_items WHERE job_id = ? AND state = 'done' GROUP BY status"_s);
    c.addBindValue(id);
    if (c.exec()) {
        while (c.next()) {
            const int n = c.value(1).toInt();
            s.processed += n;
            if (const auto st = core::statusFromString(c.value(0).toString()))
                s.counts[*st] += n;
        }
    }
    return s;
}

std::optional<std::pair<JobSummary, QJsonArray>> JobStore::snapshot(const QString &id,
                                                                    std::optional<qint64> keyId) const
{
    // One read transaction: the counts and the results describe the same moment.
    QSqlDatabase db = m_db.connection();
    QSqlQuery(db).exec(u"BEGIN"_s);
    const auto done = qScopeGuard([db] { QSqlQuery(db).exec(u"COMMIT"_s); });
    const auto s = summary(id, keyId);
    if (!s)
        return std::nullopt;
    return std::pair{*s, results(id)};
}

QJsonArray JobStore::results(const QString &id) const
{
    QJsonArray out;
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT input, result FROM job_items WHERE job_id = ? AND state = 'done' ORDER BY position"_s);
    q.addBindValue(id);
    if (!q.exec())
        return out;
    while (q.next()) {
        QJsonObject r = QJsonDocument::fromJson(q.value(1).toByteArray()).object();
        r.insert(core::field::Email, q.value(0).toString().trimmed()); // as given at this position
        out.append(r);
    }
    return out;
}

bool JobStore::cancel(const QString &id, const accounts::ApiKeyInfo &key)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db);
    if (!tx.ok())
        return false;
    QSqlQuery job(db);
    job.prepare(u"UPDATE jobs SET status = 'cancelled', completed_at = ? WHERE id = ? AND key_id = ? AND "
                "status = 'processing'"_s);
    job.addBindValue(nowIso());
    job.addBindValue(id);
    job.addBindValue(key.id);
    if (!job.exec() || job.numRowsAffected() != 1)
        return false;
    QSqlQuery items(db);
    items.prepare(
        u"UPDATE job_items SET state = 'cancelled', lease_until = NULL WHERE job_id = ? AND state != 'done'"_s);
    items.addBindValue(id);
    if (!items.exec())
        return false;
    const int unprocessed = items.numRowsAffected();
    if (unprocessed > 0 && !m_credits.refund(key, unprocessed, u"bulk job cancelled"_s,
                                             u"job:"_s + id + u":cancel"_s, u"job:"_s + id))
        return false;
    return tx.commit();
}

QList<JobItem> JobStore::lease(int max, int leaseSeconds, const QSet<QString> &inFlight)
{
    QList<JobItem> out;
    if (max <= 0)
        return out;
    QSqlDatabase db = m_db.connection();
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    // Read without the write lock (an idle poll costs a read), then claim each row only if it is still
    // free: another runner may have taken it meanwhile. Expired leases (a lost callback, a process that
    // died) are free again.
    QSqlQuery q(db);
    q.prepare(u"SELECT i.job_id, i.position, i.input, i.normalized, j.mode FROM job_items i JOIN jobs j ON "
              "j.id = i.job_id WHERE (i.state = 'queued' OR (i.state = 'leased' AND i.lease_until < ?)) "
              "AND j.status = 'processing' ORDER BY j.created_at, i.job_id, i.domain, i.position LIMIT ?"_s);
    q.addBindValue(now);
    q.addBindValue(max * 4);
    if (!q.exec())
        return out;
    QSet<QString> taken = inFlight;
    while (q.next() && out.size() < max) {
        JobItem item;
        item.jobId = q.value(0).toString();
        item.position = q.value(1).toInt();
        item.input = q.value(2).toString();
        item.normalized = q.value(3).toString();
        item.mode = core::modeFromString(q.value(4).toString()).value_or(core::Mode::Power);
        const QString key = item.jobId + u'\n' + item.normalized;
        if (taken.contains(key))
            continue; // a duplicate of an address in flight: answered with it
        taken.insert(key);
        out.append(item);
    }
    q.finish();
    if (out.isEmpty())
        return out;
    Transaction tx(db);
    if (!tx.ok())
        return {};
    QSqlQuery mark(db);
    mark.prepare(
        u"UPDATE job_items SET state = 'leased', lease_until = ? WHERE job_id = ? AND position = ? AND "
        "(state = 'queued' OR (state = 'leased' AND lease_until < ?))"_s);
    QList<JobItem> claimed;
    for (const JobItem &item : std::as_const(out)) {
        mark.bindValue(0, now + leaseSeconds);
        mark.bindValue(1, item.jobId);
        mark.bindValue(2, item.position);
        mark.bindValue(3, now);
        if (!mark.exec())
            return {};
        if (mark.numRowsAffected() == 1)
            claimed.append(item);
    }
    if (!tx.commit())
        return {};
    return claimed;
}

std::optional<QString> JobStore::complete(const JobItem &item, const core::VerificationResult &result)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db);
    if (!tx.ok())
        return std::nullopt;
    QSqlQuery done(db);
    // The item and every duplicate of it in the job, unless cancelled meanwhile.
    done.prepare(
        u"UPDATE job_items SET state = 'done', lease_until = NULL, status = ?, result = ? WHERE job_id = ? "
        "AND normalized = ? AND state IN ('queued', 'leased')"_s);
    done.addBindValue(core::toString(result.status));
    done.addBindValue(QJsonDocument(result.toJson()).toJson(QJsonDocument::Compact));
    done.addBindValue(item.jobId);
    done.addBindValue(item.normalized);
    if (!done.exec())
        return std::nullopt;
    QSqlQuery left(db);
    // Whether anything is left: stops at the first row (a count would visit them all, every time).
    left.prepare(
        u"SELECT EXISTS (SELECT 1 FROM job_items WHERE job_id = ? AND state IN ('queued', 'leased'))"_s);
    left.addBindValue(item.jobId);
    bool finished = false;
    if (left.exec() && left.next() && !left.value(0).toBool()) {
        QSqlQuery job(db);
        job.prepare(
            u"UPDATE jobs SET status = 'completed', completed_at = ? WHERE id = ? AND status = 'processing'"_s);
        job.addBindValue(nowIso());
        job.addBindValue(item.jobId);
        finished = job.exec() && job.numRowsAffected() == 1;
    }
    if (!tx.commit())
        return std::nullopt;
    return finished ? std::optional<QString>(item.jobId) : std::nullopt;
}

int JobStore::reclaimLeases()
{
    QSqlQuery q(m_db.connection());
    return q.exec(u"UPDATE job_items SET state = 'queued', lease_until = NULL WHERE state = 'leased'"_s)
               ? q.numRowsAffected()
               : 0;
}

QStringList JobStore::unannouncedJobs(int days) const
{
    QStringList out;
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT j.id FROM jobs j JOIN webhook_endpoints e ON e.key_id = j.key_id AND e.enabled = 1 "
              "WHERE j.status IN ('completed', 'failed') AND j.completed_at >= ? AND "
              "NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.job_id = j.id) "
              "AND j.completed_at >= strftime('%Y-%m-%dT%H:%M:%SZ', e.created_at, 'unixepoch')"_s);
    q.addBindValue(QDateTime::currentDateTimeUtc().addDays(-days).toString(Qt::ISODate));
    if (q.exec()) {
        while (q.next())
            out.append(q.value(0).toString());
    }
    return out;
}

int JobStore::purgeFinishedBefore(int days)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM jobs WHERE status != 'processing' AND completed_at < ?"_s);
    q.addBindValue(QDateTime::currentDateTimeUtc().addDays(-days).toString(Qt::ISODate));
    return q.exec() ? q.numRowsAffected() : 0;
}

} // namespace mailcaff::jobs
