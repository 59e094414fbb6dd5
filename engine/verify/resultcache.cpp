#include "resultcache.h"

#include "storage/database.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QSqlQuery>

using namespace Qt::StringLiterals;

namespace mailcaff::verify {

namespace {

QString cacheKey(const QString &asciiAddress)
{
    return asciiAddress.toLower();
}

} // namespace

std::optional<core::VerificationResult> ResultCache::find(const QString &asciiAddress) const
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"SELECT result FROM verification_cache WHERE address = ? AND expires_at > ?"_s);
    q.addBindValue(cacheKey(asciiAddress));
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    if (!q.exec() || !q.next())
        return std::nullopt;
    return core::VerificationResult::fromJson(QJsonDocument::fromJson(q.value(0).toByteArray()).object());
}

bool ResultCache::store(const QString &asciiAddress, const core::VerificationResult &result)
{
    int days = 0;
    switch (result.status) {
    case core::Status::Valid:
        days = m_policy.validDays;
        break;
    case core::Status::Invalid:
        days = m_policy.invalidDays;
        break;
    case core::Status::Risky:
        days = m_policy.riskyDays;
        break;
    default:
        return true; // unknown, disposable, error: not worth keeping
    }
    if (result.mode != core::Mode::Power || days <= 0)
        return true;
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    QSqlQuery q(m_db.connection());
    q.prepare(u"INSERT INTO verification_cache(address, status, result, verified_at, expires_at) VALUES (?, "
              u"?, ?, ?, ?) "
              "ON CONFLICT(address) DO UPDATE SET status = excluded.status, result = excluded.result, "
              "verified_at = excluded.verified_at, expires_at = excluded.expires_at"_s);
    q.addBindValue(cacheKey(asciiAddress));
    q.addBindValue(core::toString(result.status));
    q.addBindValue(QJsonDocument(result.toJson()).toJson(QJsonDocument::Compact));
    q.addBindValue(now);
    q.addBindValue(now + qint64(days) * 86400);
    return q.exec();
}

int ResultCache::purgeExpired()
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"DELETE FROM verification_cache WHERE expires_at <= ?"_s);
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    return q.exec() ? q.numRowsAffected() : 0;
}

} // namespace mailcaff::verify
