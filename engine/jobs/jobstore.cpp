#include "jobstore.h"

#include "domain/companyname.h"
#include "storage/database.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRandomGenerator>
#include <QScopeGuard>
#include <QSqlError>
#include <QSqlQuery>
#include <QSysInfo>
#include <QUuid>

#include <array>
#include <map>

#ifdef Q_OS_LINUX
#include <cerrno>
#include <csignal>
#endif

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
    case JobStatus::Paused:
        return u"paused"_s;
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
    if (s == "paused"_L1)
        return JobStatus::Paused;
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
    /// `exclusive`: storage::beginWrite() (checks then writes that must not interleave); otherwise a plain
    /// transaction, for writers that lock the rows they take (PostgreSQL's FOR UPDATE).
    explicit Transaction(QSqlDatabase db, bool exclusive = true)
        : m_db(db)
    {
        m_ok = exclusive ? storage::beginWrite(m_db) : m_db.transaction();
    }
    ~Transaction()
    {
        if (m_ok && !m_done)
            m_db.rollback();
    }
    bool ok() const { return m_ok; }
    bool commit()
    {
        m_done = m_db.commit();
        return m_done;
    }

private:
    QSqlDatabase m_db;
    bool m_ok = false;
    bool m_done = false;
};

} // namespace

bool sharesDomainLimit(const JobItem &item)
{
    return item.mode == core::Mode::Power && item.kind == KindVerify && !item.domain.isEmpty();
}

JobStore::NewItem JobStore::verifyItem(const QString &email)
{
    // A null QString binds as SQL NULL: an absent address is stored as an empty text.
    const QString input = email.isNull() ? u""_s : email;
    const QString normalized = normalise(input);
    return {input, normalized, domainOf(normalized)};
}

JobStore::NewItem JobStore::findItem(const QJsonObject &lead)
{
    auto field = [&](QLatin1StringView name) { return lead.value(name).toString().trimmed().toLower(); };
    QString domain = field("domain"_L1);
    // The same person at the same place is the same lead, whatever the case or surrounding spaces.
    const QString place = domain.isEmpty() ? u"company:"_s + field("company_name"_L1) : domain;
    return {QString::fromUtf8(QJsonDocument(lead).toJson(QJsonDocument::Compact)),
            field("first_name"_L1) + u'\x1f' + field("last_name"_L1) + u'\x1f' + place, domain};
}

JobStore::CreateResult JobStore::createVerifyJob(const accounts::ApiKeyInfo *key, const QStringList &emails,
                                                 core::Mode mode, const QString &idempotencyKey)
{
    QList<NewItem> items;
    items.reserve(emails.size());
    for (const QString &email : emails)
        items.append(verifyItem(email));
    return createJob(key, KindVerify, items, mode, idempotencyKey);
}

JobStore::CreateResult JobStore::createFindJob(const accounts::ApiKeyInfo *key,
                                               const QList<QJsonObject> &leads, const QString &idempotencyKey)
{
    QList<NewItem> items;
    items.reserve(leads.size());
    for (const QJsonObject &lead : leads)
        items.append(findItem(lead));
    // A find verifies its candidates by SMTP: the power engine.
    return createJob(key, KindFind, items, core::Mode::Power, idempotencyKey);
}

JobStore::CreateResult JobStore::createDomainJob(const accounts::ApiKeyInfo *key,
                                                 const QStringList &companyNames)
{
    QList<NewItem> items;
    items.reserve(companyNames.size());
    for (const QString &name : companyNames) {
        const domain::CompanyName normalised = domain::normaliseCompanyName(name);
        items.append({name.isNull() ? u""_s : name, normalised.key, normalised.labels.value(0)});
    }
    return createJob(key, KindDomain, items, core::Mode::Power);
}

std::optional<qint64> JobStore::insertJob(QSqlDatabase &db, const QString &id,
                                          const accounts::ApiKeyInfo *key, QLatin1StringView kind,
                                          core::Mode mode, qsizetype total, const QString &idempotencyKey)
{
    // The job's number: PostgreSQL's identity column gives it; on SQLite the highest so far plus one, read
    // in the same statement under the database's single writer (jobs_seq makes MAX a lookup). A deleted
    // job's number may come again: its items and rows went with it (ON DELETE CASCADE), and nothing keeps
    // a number outside the database. (RETURNING: SQLite 3.35 or later.)
    const bool sqlite = storage::dialectOf(db) == storage::Dialect::SQLite;
    QSqlQuery job(db);
    job.prepare(
        u"INSERT INTO jobs(id, key_id, kind, mode, status, total, created_at, completed_at, "
        "idempotency_key"_s +
        (sqlite ? u", seq) VALUES (?, ?, ?, ?, 'processing', ?, ?, NULL, ?, (SELECT COALESCE(MAX(seq), 0) "
                  "+ 1 FROM jobs))"_s
                : u") VALUES (?, ?, ?, ?, 'processing', ?, ?, NULL, ?)"_s) +
        u" RETURNING seq"_s);
    job.addBindValue(id);
    job.addBindValue(key ? QVariant(key->id) : QVariant(QMetaType::fromType<qint64>()));
    job.addBindValue(QString(kind));
    job.addBindValue(core::toString(mode));
    job.addBindValue(int(total));
    job.addBindValue(nowIso());
    job.addBindValue(idempotencyKey.isEmpty() ? QVariant(QMetaType::fromType<QString>())
                                              : QVariant(idempotencyKey));
    if (!job.exec() || !job.next())
        return std::nullopt;
    const qint64 seq = job.value(0).toLongLong();
    job.finish();
    return seq;
}

bool JobStore::insertItems(QSqlDatabase &db, Insertion &insertion, qsizetype firstPosition,
                           const QList<NewItem> &items, const std::function<void(qsizetype)> &progress)
{
    if (insertion.seed == 0)
        insertion.seed = size_t(QRandomGenerator::global()->generate64()) | 1;
    // 64 bits wherever size_t is shorter: 32 would collide about a hundred times in a million rows.
    auto hash = [seed = insertion.seed](const QString &text) {
        quint64 h = qHash(text, seed);
        if constexpr (sizeof(size_t) < sizeof(quint64))
            h = (h << 32) ^ qHash(text, ~seed);
        return h;
    };
    return storage::insertRows(
        db, u"job_items"_s,
        {u"job"_s, u"position"_s, u"input"_s, u"normalized"_s, u"domain"_s, u"spread"_s, u"dup_of"_s},
        items.size(),
        [&](qsizetype i) {
            // A null QString binds as SQL NULL: an absent value is stored as an empty text.
            const NewItem &n = items.at(i);
            const QString domain = n.domain.isNull() ? u""_s : n.domain;
            const QString normalized = n.normalized.isNull() ? u""_s : n.normalized;
            const int position = int(firstPosition + i);
            // 8 bytes of hash a distinct item, not the address (a million-row list stays small in memory).
            const quint64 key = hash(normalized);
            const auto seen = insertion.firsts.constFind(key);
            QVariant first(QMetaType::fromType<int>()); // NULL: the first of its kind
            if (seen != insertion.firsts.constEnd())
                first = *seen;
            else
                insertion.firsts.insert(key, position);
            return QVariantList{
                insertion.job, position, n.input.isNull() ? u""_s : n.input,
                normalized,    domain,   insertion.inOrder ? position : insertion.turns[domain]++,
                first};
        },
        progress);
}

bool JobStore::confirmDuplicates(QSqlDatabase db, qint64 job)
{
    QSqlQuery q(db);
    q.prepare(u"UPDATE job_items SET dup_of = NULL WHERE job = ? AND dup_of IS NOT NULL AND normalized != "
              "(SELECT f.normalized FROM job_items f WHERE f.job = job_items.job AND f.position = "
              "job_items.dup_of)"_s);
    q.addBindValue(job);
    return q.exec();
}

JobStore::CreateResult JobStore::createInTransaction(const StoreJob &store,
                                                     const std::function<bool(const QString &jobId)> &within,
                                                     bool exclusive)
{
    CreateResult result;
    QSqlDatabase db = m_db.connection();
    // The 202 promises the job survives anything, power loss included: this commit waits for the disk
    // (WAL with synchronous=NORMAL, the default here, may lose the last commits on an OS crash).
    // (PostgreSQL's commits always wait for the disk unless its server is configured otherwise.)
    // The items go in by statements of many rows, and inside a transaction SQLite copies each existing page
    // such a statement changes into a statement journal first (to undo that statement alone). That journal
    // spills to a temporary file past 64 KiB: for a million-row list whose domains come in no order (the
    // index of turns within domains takes entries all over), 3.5 GB written to a file in /var/tmp. Kept in
    // memory it is a page copy each, about a megabyte a statement at most. Only for this transaction:
    // elsewhere, temporary storage in memory would also hold a big sort's spill.
    const bool sqlite = m_db.dialect() == storage::Dialect::SQLite;
    if (sqlite) {
        QSqlQuery(db).exec(u"PRAGMA synchronous=FULL"_s);
        QSqlQuery(db).exec(u"PRAGMA temp_store=MEMORY"_s);
    }
    const auto restore = qScopeGuard([db, sqlite] {
        if (sqlite) {
            QSqlQuery(db).exec(u"PRAGMA synchronous=NORMAL"_s);
            QSqlQuery(db).exec(u"PRAGMA temp_store=DEFAULT"_s);
        }
    });
    Transaction tx(db, exclusive);
    if (!tx.ok())
        return result;
    const QString id = QUuid::createUuid().toString(QUuid::WithoutBraces);
    const std::optional<qsizetype> stored = store(db, id, result);
    if (!stored)
        return result;
    if (within && !within(id))
        return result;
    // An empty list (possible from the window, not the API) is finished as soon as it exists.
    if (*stored == 0 && !finishIfDone(id))
        return result;
    if (!tx.commit())
        return result;
    result.outcome = Created::Ok;
    result.jobId = id;
    return result;
}

JobStore::CreateResult JobStore::createStreamedJob(QLatin1StringView kind, core::Mode mode,
                                                   const NextBatch &next,
                                                   const std::function<bool(const QString &jobId)> &within)
{
    return createInTransaction(
        [&](QSqlDatabase &db, const QString &id, CreateResult &) -> std::optional<qsizetype> {
            Insertion insertion;
            insertion.inOrder = kind == KindVerify && mode == core::Mode::Quick;
            if (const auto seq = insertJob(db, id, nullptr, kind, mode, 0, {}))
                insertion.job = *seq;
            else
                return std::nullopt;
            qsizetype position = 0;
            QList<NewItem> batch;
            for (;;) {
                batch.clear();
                if (!next(id, insertion.job, position, &batch))
                    return std::nullopt;
                if (batch.isEmpty())
                    break;
                if (!insertItems(db, insertion, position, batch, {}))
                    return std::nullopt;
                position += batch.size();
            }
            if (!confirmDuplicates(db, insertion.job))
                return std::nullopt;
            QSqlQuery total(db);
            total.prepare(u"UPDATE jobs SET total = ? WHERE id = ?"_s);
            total.addBindValue(int(position));
            total.addBindValue(id);
            if (!total.exec())
                return std::nullopt;
            return position;
        },
        within,
        // Nothing checked then written (no key, no credits): a long import holds up no other writer.
        false);
}

JobStore::CreateResult JobStore::createJob(const accounts::ApiKeyInfo *key, QLatin1StringView kind,
                                           const QList<NewItem> &items, core::Mode mode,
                                           const QString &idempotencyKey,
                                           const std::function<bool(const QString &jobId)> &within,
                                           const std::function<void(qsizetype itemsStored)> &progress)
{
    return createInTransaction(
        [&](QSqlDatabase &db, const QString &id, CreateResult &result) -> std::optional<qsizetype> {
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
                    return std::nullopt; // nothing written: the transaction ends unused
                }
            }
            if (key) {
                // Charged in the same transaction that stores the job: both or neither, whatever happens.
                const accounts::Credits::Result taken =
                    m_credits.takeLocked(*key, int(items.size()), u"bulk "_s + kind, u"job:"_s + id);
                result.usage = taken.usage;
                if (taken.failed)
                    return std::nullopt;
                if (!taken.ok) {
                    result.outcome = Created::InsufficientCredits;
                    return std::nullopt;
                }
            }
            Insertion insertion;
            insertion.inOrder = kind == KindVerify && mode == core::Mode::Quick;
            if (const auto seq = insertJob(db, id, key, kind, mode, items.size(), idempotencyKey))
                insertion.job = *seq;
            else
                return std::nullopt;
            if (!insertItems(db, insertion, 0, items, progress) || !confirmDuplicates(db, insertion.job))
                return std::nullopt;
            return items.size();
        },
        within);
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
    c.prepare(u"SELECT status, n FROM job_counts WHERE job = "_s + JobNumberById);
    c.addBindValue(id);
    if (c.exec()) {
        while (c.next()) {
            const int n = c.value(1).toInt();
            const QString status = c.value(0).toString();
            s.processed += n;
            if (status == FindFound)
                s.found += n;
            else if (status == FindNotFound)
                s.notFound += n;
            else if (const auto st = core::statusFromString(status))
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
    storage::beginRead(db);
    const auto done = qScopeGuard([db]() mutable { db.commit(); });
    const auto s = summary(id, keyId);
    if (!s)
        return std::nullopt;
    return std::pair{*s, results(id)};
}

QJsonArray JobStore::results(const QString &id) const
{
    QJsonArray out;
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT i.input, i.result, j.kind FROM jobs j JOIN job_items i ON i.job = j.seq "
              "WHERE j.id = ? AND i.state = 'done' ORDER BY i.position"_s);
    q.addBindValue(id);
    if (!q.exec())
        return out;
    while (q.next()) {
        const QJsonObject stored = QJsonDocument::fromJson(q.value(1).toByteArray()).object();
        const QString kind = q.value(2).toString();
        if (kind == KindDomain) {
            QJsonObject r = stored;
            r.insert(u"company_name"_s, q.value(0).toString()); // as given at this position
            out.append(r);
        } else if (kind == KindFind) {
            // The lead as given at this position, then what was found for it.
            QJsonObject r = QJsonDocument::fromJson(q.value(0).toByteArray()).object();
            for (auto it = stored.begin(); it != stored.end(); ++it)
                r.insert(it.key(), it.value());
            out.append(r);
        } else {
            QJsonObject r = stored;
            r.insert(core::field::Email, q.value(0).toString().trimmed()); // as given at this position
            out.append(r);
        }
    }
    return out;
}

bool JobStore::cancel(const QString &id, const accounts::ApiKeyInfo *key)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db);
    if (!tx.ok())
        return false;
    QSqlQuery job(db);
    job.prepare(u"UPDATE jobs SET status = 'cancelled', completed_at = ? WHERE id = ? AND "
                "key_id IS NOT DISTINCT FROM ? AND status IN ('processing', 'paused')"_s);
    job.addBindValue(nowIso());
    job.addBindValue(id);
    job.addBindValue(key ? QVariant(key->id) : QVariant(QMetaType::fromType<qint64>()));
    if (!job.exec() || job.numRowsAffected() != 1)
        return false;
    QSqlQuery items(db);
    items.prepare(u"UPDATE job_items SET state = 'cancelled', lease_until = NULL WHERE job = "_s +
                  JobNumberById + u" AND state != 'done'"_s);
    items.addBindValue(id);
    if (!items.exec())
        return false;
    const int unprocessed = items.numRowsAffected();
    if (key && unprocessed > 0 &&
        !m_credits.refundLocked(*key, unprocessed, u"bulk job cancelled"_s, u"job:"_s + id + u":cancel"_s,
                                u"job:"_s + id))
        return false;
    return tx.commit();
}

bool JobStore::setPaused(const QString &id, bool paused)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db);
    if (!tx.ok())
        return false;
    QSqlQuery q(db);
    q.prepare(u"UPDATE jobs SET status = ? WHERE id = ? AND status = ?"_s);
    q.addBindValue(paused ? u"paused"_s : u"processing"_s);
    q.addBindValue(id);
    q.addBindValue(paused ? u"processing"_s : u"paused"_s);
    if (!q.exec() || q.numRowsAffected() != 1)
        return false;
    // Items that finished while it was paused may have been its last.
    if (!paused && !finishIfDone(id))
        return false;
    return tx.commit();
}

bool JobStore::remove(const QString &id)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM jobs WHERE id = ? AND status != 'processing'"_s);
    q.addBindValue(id);
    return q.exec() && q.numRowsAffected() == 1;
}

QList<JobItem> JobStore::lease(int max, int leaseSeconds, const QSet<QString> &inFlight,
                               const QStringList &kinds, const QString &onlyJob, const DomainLimit &perDomain)
{
    QList<JobItem> out;
    if (max <= 0 || kinds.isEmpty())
        return out;
    QSqlDatabase db = m_db.connection();
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    // SQLite: read without the write lock (an idle poll costs a read), then claim each row only if it is
    // still free: another runner may have taken it meanwhile. PostgreSQL, where several servers lease at
    // once: the rows read are locked as they are read (FOR UPDATE SKIP LOCKED) until the claim commits, so
    // each server reads rows the others are not taking, and no server waits for another. Expired leases (a
    // lost callback, a process that died) are free again.
    const bool skipLocked = m_db.dialect() == storage::Dialect::PostgreSQL;
    const QString lockRows = skipLocked ? u" FOR UPDATE SKIP LOCKED"_s : QString();
    std::optional<Transaction> claim;
    if (skipLocked) {
        claim.emplace(db, false);
        if (!claim->ok())
            return out;
    }
    QStringList marks;
    for (qsizetype i = 0; i < kinds.size(); ++i)
        marks.append(u"?"_s);
    QSqlQuery jobsQuery(db);
    jobsQuery.prepare(u"SELECT id, kind, mode, seq FROM jobs WHERE status = 'processing' AND kind IN ("_s +
                      marks.join(u',') + u")"_s + (onlyJob.isEmpty() ? QString() : u" AND id = ?"_s) +
                      u" ORDER BY created_at, id"_s);
    for (const QString &kind : kinds)
        jobsQuery.addBindValue(kind);
    if (!onlyJob.isEmpty())
        jobsQuery.addBindValue(onlyJob);
    if (!jobsQuery.exec())
        return out;
    struct Job
    {
        QString id, kind;
        core::Mode mode;
        qint64 seq;
    };
    QList<Job> active;
    while (jobsQuery.next())
        active.append({jobsQuery.value(0).toString(), jobsQuery.value(1).toString(),
                       core::modeFromString(jobsQuery.value(2).toString()).value_or(core::Mode::Power),
                       jobsQuery.value(3).toLongLong()});
    jobsQuery.finish();
    if (active.isEmpty())
        return out;

    // Each job's due items, its domains dealt out one item at a time (each item's turn within its domain,
    // then the domain); then the jobs dealt out one after the other, so every job moves. Queued items come in
    // index order (job_items_spread) and stop at the limit; leases that ran out (a lost answer, a dead
    // process) are few and read apart. In power mode, a domain with its share in flight gets no more now:
    // its mail servers would only queue them, and the wait would count against each one's deadline.
    const QString columns =
        u"SELECT position, input, normalized, attempts, deferrals, domain, dup_of FROM job_items WHERE "_s;
    QSqlQuery queued(db);
    queued.prepare(columns +
                   u"job = ? AND state = 'queued' AND (not_before IS NULL OR not_before <= ?) "
                   "ORDER BY spread, domain, position LIMIT ?"_s +
                   lockRows);
    QSqlQuery expired(db);
    expired.prepare(columns + u"job = ? AND state = 'leased' AND lease_until < ? LIMIT ?"_s + lockRows);
    QSet<QString> taken = inFlight;
    QHash<QString, int> domainLoad = perDomain.inFlight;
    int newWork = perDomain.newWork;
    const qint64 clock = QDeadlineTimer::current().deadline();
    qint64 due = m_nextExpiredCheck.load();
    const bool expiredFirst =
        clock >= due && m_nextExpiredCheck.compare_exchange_strong(due, clock + ExpiredCheckMs);
    QList<QList<JobItem>> perJob;
    for (const Job &job : std::as_const(active)) {
        QList<JobItem> items;
        // Without room for new work, only power items can still join their domain's: nothing to read here.
        const bool joinable = perDomain.max > 0 && job.mode == core::Mode::Power && job.kind == KindVerify;
        for (QSqlQuery *q : expiredFirst ? std::array{&expired, &queued} : std::array{&queued, &expired}) {
            if (newWork == 0 && !joinable)
                break;
            if (q == &expired && !expiredFirst && items.size() >= max)
                continue; // the queue filled this lease: leases that ran out wait for the next check
            q->bindValue(0, job.seq);
            q->bindValue(1, q == &queued ? nowMs : now);
            q->bindValue(2, max * 2 + perDomain.max);
            if (!q->exec())
                return out;
            while (q->next() && items.size() < max && (newWork != 0 || joinable)) {
                JobItem item;
                item.jobId = job.id;
                item.jobKey = job.seq;
                item.kind = job.kind;
                item.mode = job.mode;
                item.position = q->value(0).toInt();
                item.input = q->value(1).toString();
                item.normalized = q->value(2).toString();
                item.attempts = q->value(3).toInt() + 1;
                item.deferrals = q->value(4).toInt();
                item.domain = q->value(5).toString();
                item.first = q->value(6).isNull() ? -1 : q->value(6).toInt();
                const QString key = item.jobId + u'\n' + item.normalized;
                if (taken.contains(key))
                    continue; // a duplicate of work in flight: answered with it
                bool joins = false;
                if (perDomain.max > 0 && sharesDomainLimit(item)) {
                    int &load = domainLoad[item.domain];
                    if (load >= perDomain.max)
                        continue;
                    joins = load > 0;
                    if (!joins && newWork == 0)
                        continue;
                    ++load;
                } else if (newWork == 0) {
                    continue;
                }
                if (!joins && newWork > 0)
                    --newWork;
                taken.insert(key);
                items.append(item);
            }
            q->finish();
        }
        if (!items.isEmpty())
            perJob.append(items);
    }
    for (qsizetype round = 0; out.size() < max; ++round) {
        bool any = false;
        for (const QList<JobItem> &items : std::as_const(perJob)) {
            if (round < items.size() && out.size() < max) {
                out.append(items.at(round));
                any = true;
            }
        }
        if (!any)
            break;
    }
    if (out.isEmpty())
        return out;
    if (!claim)
        claim.emplace(db);
    if (!claim->ok())
        return {};
    storage::RepeatedStatement mark(
        db,
        u"UPDATE job_items SET state = 'leased', lease_until = ?, leased_by = ?, attempts = attempts + 1 "
        "WHERE job = ? AND position = ? AND (state = 'queued' OR (state = 'leased' AND lease_until < ?))"_s);
    QList<JobItem> claimed;
    const QVariant runner =
        m_runnerId.isEmpty() ? QVariant(QMetaType::fromType<QString>()) : QVariant(m_runnerId);
    for (const JobItem &item : std::as_const(out)) {
        const std::optional<qint64> marked =
            mark.exec({now + leaseSeconds, runner, item.jobKey, item.position, now});
        if (!marked)
            return {};
        if (*marked == 1)
            claimed.append(item);
    }
    if (!claim->commit())
        return {};
    return claimed;
}

std::optional<QString> JobStore::complete(const JobItem &item, const core::VerificationResult &result)
{
    return complete(item, ItemOutcome{core::toString(result.status), {}, result.toJsonBytes()});
}

std::optional<QString> JobStore::complete(const JobItem &item, const ItemOutcome &outcome)
{
    const std::optional<QStringList> ended = completeAll({{item, outcome}});
    return ended && !ended->isEmpty() ? std::optional<QString>(ended->first()) : std::nullopt;
}

std::optional<QStringList> JobStore::completeAll(const QList<std::pair<JobItem, ItemOutcome>> &done)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db);
    if (!tx.ok())
        return std::nullopt;
    // The item and every duplicate of it in the job (the first of them by its position, the others by
    // theirs: two statements, each on its own index), unless cancelled meanwhile.
    const QString update = u"UPDATE job_items SET state = 'done', lease_until = NULL, not_before = NULL, "
                           "status = ?, result = ?, done_at = ? WHERE job = ? "
                           "AND state IN ('queued', 'leased') AND "_s;
    storage::RepeatedStatement first(db, update + u"position = ?"_s);
    storage::RepeatedStatement duplicates(db, update + u"dup_of = ?"_s);
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    QStringList jobs;
    // Items done per job and status, for job_counts (in this transaction, so they always agree with the
    // items; the transaction holds the database's write lock, so no two servers update counters at once).
    std::map<std::pair<qint64, QString>, qint64> counted;
    // Most lists have no duplicates: their items need no second statement (a duplicate is marked when
    // the list is stored and never gains one later).
    QHash<qint64, bool> hasDuplicates; // per job, asked once
    QSqlQuery anyDuplicate(db);
    anyDuplicate.prepare(u"SELECT EXISTS (SELECT 1 FROM job_items WHERE job = ? AND dup_of IS NOT NULL)"_s);
    for (const auto &[item, outcome] : done) {
        auto known = hasDuplicates.constFind(item.jobKey);
        if (known == hasDuplicates.cend()) {
            anyDuplicate.bindValue(0, item.jobKey);
            if (!anyDuplicate.exec() || !anyDuplicate.next())
                return std::nullopt;
            known = hasDuplicates.insert(item.jobKey, anyDuplicate.value(0).toBool());
            anyDuplicate.finish();
        }
        const QString result = QString::fromUtf8(
            outcome.json.isEmpty() ? QJsonDocument(outcome.result).toJson(QJsonDocument::Compact)
                                   : outcome.json);
        const QVariantList values{outcome.status, result, now, item.jobKey,
                                  item.first >= 0 ? item.first : item.position};
        for (storage::RepeatedStatement *q : {&first, &duplicates}) {
            if (q == &duplicates && !*known)
                continue;
            const std::optional<qint64> changed = q->exec(values);
            if (!changed)
                return std::nullopt;
            counted[{item.jobKey, outcome.status}] += *changed;
        }
        if (!jobs.contains(item.jobId))
            jobs.append(item.jobId);
    }
    QSqlQuery count(db);
    count.prepare(
        u"INSERT INTO job_counts (job, status, n) VALUES (?, ?, ?) ON CONFLICT (job, status) DO UPDATE "
        "SET n = job_counts.n + excluded.n"_s);
    for (const auto &[key, n] : counted) {
        if (n == 0)
            continue; // cancelled meanwhile, or done already
        count.bindValue(0, key.first);
        count.bindValue(1, key.second);
        count.bindValue(2, n);
        if (!count.exec())
            return std::nullopt;
    }
    QStringList ended;
    for (const QString &jobId : std::as_const(jobs)) {
        const std::optional<bool> finished = finishIfDone(jobId);
        if (!finished)
            return std::nullopt;
        if (*finished)
            ended.append(jobId);
    }
    if (!tx.commit())
        return std::nullopt;
    return ended;
}

std::optional<bool> JobStore::finishIfDone(const QString &jobId)
{
    QSqlDatabase db = m_db.connection();
    QSqlQuery left(db);
    // Whether anything is left: stops at the first row (a count would visit them all, every time).
    left.prepare(u"SELECT EXISTS (SELECT 1 FROM job_items WHERE job = "_s + JobNumberById +
                 u" AND state IN ('queued', 'leased'))"_s);
    left.addBindValue(jobId);
    if (!left.exec() || !left.next())
        return std::nullopt;
    if (left.value(0).toBool())
        return false;
    left.finish();
    // Failed: nothing in it could be processed (an empty list has nothing that failed: completed). Read
    // from the job's counts per status, which the transactions finishing its items keep.
    QSqlQuery usable(db);
    usable.prepare(u"SELECT COALESCE(SUM(CASE WHEN status = 'error' THEN n ELSE 0 END), 0) = 0 OR "
                   "COALESCE(SUM(CASE WHEN status != 'error' THEN n ELSE 0 END), 0) > 0 FROM job_counts "
                   "WHERE job = "_s +
                   JobNumberById);
    usable.addBindValue(jobId);
    if (!usable.exec() || !usable.next())
        return std::nullopt;
    const bool completed = usable.value(0).toBool();
    usable.finish();
    QSqlQuery job(db);
    job.prepare(u"UPDATE jobs SET status = ?, completed_at = ? WHERE id = ? AND status = 'processing'"_s);
    job.addBindValue(completed ? u"completed"_s : u"failed"_s);
    job.addBindValue(nowIso());
    job.addBindValue(jobId);
    if (!job.exec())
        return std::nullopt;
    if (job.numRowsAffected() != 1)
        return false; // cancelled meanwhile, or already ended
    if (m_endedHook) {
        const auto ended = summary(jobId);
        if (!ended || !m_endedHook(*ended))
            return std::nullopt;
    }
    return true;
}

bool JobStore::defer(const JobItem &item, qint64 notBeforeMs)
{
    QSqlDatabase db = m_db.connection();
    Transaction tx(db, false); // the rows updated are the only lock needed
    if (!tx.ok())
        return false;
    // The item and its duplicates, as completeAll() finds them.
    for (const QLatin1StringView column : {"position"_L1, "dup_of"_L1}) {
        QSqlQuery q(db);
        q.prepare(u"UPDATE job_items SET state = 'queued', lease_until = NULL, attempts = 0, "
                  "deferrals = deferrals + 1, not_before = ? WHERE job = ? "
                  "AND state IN ('queued', 'leased') AND "_s +
                  column + u" = ?"_s);
        q.addBindValue(notBeforeMs);
        q.addBindValue(item.jobKey);
        q.addBindValue(item.first >= 0 ? item.first : item.position);
        if (!q.exec())
            return false;
    }
    return tx.commit();
}

namespace {

/// Puts back in the queue the leases of `runner` (null: leases that no runner owns). Through the jobs that
/// can have leases (job_items_spread serves each one), not a scan of every item.
int requeueLeases(QSqlDatabase db, const QVariant &runner, const QString &onlyJob = {})
{
    QSqlQuery q(db);
    q.prepare(u"UPDATE job_items SET state = 'queued', lease_until = NULL, leased_by = NULL WHERE state = "
              "'leased' AND leased_by "_s +
              (runner.isNull() ? u"IS NULL"_s : u"= ?"_s) +
              u" AND job IN (SELECT seq FROM jobs WHERE status IN ('processing', 'paused')"_s +
              (onlyJob.isEmpty() ? QString() : u" AND id = ?"_s) + u")"_s);
    if (!runner.isNull())
        q.addBindValue(runner);
    if (!onlyJob.isEmpty())
        q.addBindValue(onlyJob);
    return q.exec() ? q.numRowsAffected() : -1;
}

bool processGone(qint64 pid)
{
#ifdef Q_OS_LINUX
    return pid > 0 && ::kill(pid_t(pid), 0) == -1 && errno == ESRCH;
#else
    Q_UNUSED(pid);
    return false;
#endif
}

} // namespace

int JobStore::reclaimLeases(const QString &onlyJob)
{
    return std::max(0, requeueLeases(m_db.connection(), QVariant(QMetaType::fromType<QString>()), onlyJob));
}

QString JobStore::hostKey()
{
#ifdef Q_OS_LINUX
    const QString ns = QFileInfo(u"/proc/self/ns/pid"_s).symLinkTarget();
    const QByteArray boot = QSysInfo::bootUniqueId();
    if (!ns.isEmpty() && !boot.isEmpty())
        return QString::fromLatin1(boot) + u' ' + QFileInfo(ns).fileName();
#endif
    return {};
}

bool JobStore::registerRunner(const QString &runnerId)
{
    // Times in the database's clock: servers on other machines compare them.
    const QString now = storage::nowMs(m_db.dialect());
    QSqlQuery q(m_db.connection());
    q.prepare(
        u"INSERT INTO runners(id, host, host_key, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, "_s +
        now + u", "_s + now + u") ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at"_s);
    q.addBindValue(runnerId);
    q.addBindValue(QSysInfo::machineHostName());
    q.addBindValue(hostKey());
    q.addBindValue(QCoreApplication::applicationPid());
    return q.exec();
}

bool JobStore::heartbeat(const QString &runnerId)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"UPDATE runners SET heartbeat_at = "_s + storage::nowMs(m_db.dialect()) + u" WHERE id = ?"_s);
    q.addBindValue(runnerId);
    if (!q.exec())
        return false;
    // Reaped while it could not beat (a database outage, a stopped process): its leases went back to the
    // queue; it starts again as a new arrival.
    return q.numRowsAffected() == 1 || registerRunner(runnerId);
}

int JobStore::reapRunners(const QString &self, qint64 timeoutMs)
{
    QSqlDatabase db = m_db.connection();
    const QString now = storage::nowMs(m_db.dialect());
    QSqlQuery q(db);
    q.prepare(u"SELECT id, host_key, pid, heartbeat_at < "_s + now + u" - ? FROM runners WHERE id != ?"_s);
    q.addBindValue(timeoutMs);
    q.addBindValue(self);
    if (!q.exec())
        return -1;
    const QString here = hostKey();
    QList<std::pair<QString, bool>> suspects; // id, and whether its process is gone from this machine
    while (q.next()) {
        const bool gone =
            !here.isEmpty() && q.value(1).toString() == here && processGone(q.value(2).toLongLong());
        if (q.value(3).toBool() || gone)
            suspects.append({q.value(0).toString(), gone});
    }
    q.finish();
    int requeued = 0;
    for (const auto &suspect : std::as_const(suspects)) {
        // (Not a structured binding: clang 14, which builds the fuzzers, cannot capture those.)
        const QString &id = suspect.first;
        const bool gone = suspect.second;
        const bool ok = storage::inWriteTransaction(db, [&] {
            // Looked at again under the lock: a runner that beat meanwhile is alive after all.
            QSqlQuery forget(db);
            forget.prepare(u"DELETE FROM runners WHERE id = ?"_s +
                           (gone ? QString() : u" AND heartbeat_at < "_s + now + u" - ?"_s));
            forget.addBindValue(id);
            if (!gone)
                forget.addBindValue(timeoutMs);
            if (!forget.exec())
                return false;
            if (forget.numRowsAffected() != 1)
                return true;
            const int n = requeueLeases(db, id);
            if (n < 0)
                return false;
            requeued += n;
            return true;
        });
        if (!ok)
            return -1;
    }
    return requeued;
}

bool JobStore::unregisterRunner(const QString &runnerId)
{
    QSqlDatabase db = m_db.connection();
    return storage::inWriteTransaction(db, [&] {
        if (requeueLeases(db, runnerId) < 0)
            return false;
        QSqlQuery forget(db);
        forget.prepare(u"DELETE FROM runners WHERE id = ?"_s);
        forget.addBindValue(runnerId);
        return forget.exec();
    });
}

int JobStore::purgeFinishedBefore(int days)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM jobs WHERE status != 'processing' AND completed_at < ?"_s);
    q.addBindValue(QDateTime::currentDateTimeUtc().addDays(-days).toString(Qt::ISODate));
    return q.exec() ? q.numRowsAffected() : 0;
}

} // namespace mailcaff::jobs
