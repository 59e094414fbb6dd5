#include "apikeys.h"

#include "storage/database.h"

#include <QCryptographicHash>
#include <QSqlError>
#include <QSqlQuery>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <array>

using namespace Qt::StringLiterals;

namespace mailcaff::accounts {

namespace {

constexpr std::array planNames{"free", "starter", "growth", "scale"};
constexpr std::array planCredits{600, 10'000, 50'000, 250'000};

QByteArray hashKey(const QString &key)
{
    return QCryptographicHash::hash(key.toUtf8(), QCryptographicHash::Sha256);
}

/// 40 base62 characters: about 238 bits from the CSPRNG (rejection sampling keeps them uniform).
std::optional<QString> randomSecret()
{
    static constexpr char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    QString out = u"mc_"_s;
    while (out.size() < 43) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1)
            return std::nullopt;
        for (unsigned char b : buf) {
            if (b < 248 && out.size() < 43) // 248 = 4 × 62
                out += QLatin1Char(alphabet[b % 62]);
        }
    }
    return out;
}

ApiKeyInfo readInfo(const QSqlQuery &q)
{
    ApiKeyInfo info;
    info.id = q.value(0).toLongLong();
    info.name = q.value(1).toString();
    info.prefix = q.value(2).toString();
    info.plan = planFromString(q.value(3).toString()).value_or(Plan::Free);
    info.createdAt = QDateTime::fromString(q.value(4).toString(), Qt::ISODate);
    info.revoked = !q.value(5).isNull();
    if (info.revoked)
        info.revokedAt = QDateTime::fromString(q.value(5).toString(), Qt::ISODate);
    return info;
}

QString nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODate);
}

} // namespace

QString toString(Plan plan)
{
    return QString::fromLatin1(planNames[size_t(plan)]);
}

std::optional<Plan> planFromString(const QString &text)
{
    for (size_t i = 0; i < planNames.size(); ++i) {
        if (text.compare(QLatin1StringView(planNames[i]), Qt::CaseInsensitive) == 0)
            return Plan(i);
    }
    return std::nullopt;
}

int monthlyCredits(Plan plan)
{
    return planCredits[size_t(plan)];
}

std::optional<ApiKeys::Created> ApiKeys::create(const QString &name, Plan plan, QString *error)
{
    const QString trimmed = name.trimmed();
    if (trimmed.isEmpty() || trimmed.size() > 100) {
        if (error)
            *error = u"a key name must have 1 to 100 characters"_s;
        return std::nullopt;
    }
    const auto secret = randomSecret();
    if (!secret) {
        if (error)
            *error = u"the system's random number generator failed"_s;
        return std::nullopt;
    }
    Created created;
    created.secret = *secret;
    created.info.name = trimmed;
    created.info.prefix = secret->left(PrefixLength);
    created.info.plan = plan;
    created.info.createdAt = QDateTime::fromString(nowIso(), Qt::ISODate);

    QSqlQuery q(m_db.connection());
    q.prepare(
        u"INSERT INTO api_keys(name, prefix, hash, plan, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id"_s);
    q.addBindValue(created.info.name);
    q.addBindValue(created.info.prefix);
    q.addBindValue(hashKey(created.secret));
    q.addBindValue(toString(plan));
    q.addBindValue(created.info.createdAt.toString(Qt::ISODate));
    if (!q.exec() || !q.next()) {
        if (error)
            *error = q.lastError().text();
        return std::nullopt;
    }
    created.info.id = q.value(0).toLongLong();
    q.finish();
    m_db.noteChange();
    return created;
}

std::optional<QList<ApiKeyInfo>> ApiKeys::list(QString *error) const
{
    QList<ApiKeyInfo> keys;
    QSqlQuery q(m_db.connection());
    if (!q.exec(u"SELECT id, name, prefix, plan, created_at, revoked_at FROM api_keys ORDER BY id"_s)) {
        if (error)
            *error = q.lastError().text();
        return std::nullopt;
    }
    while (q.next())
        keys.append(readInfo(q));
    return keys;
}

bool ApiKeys::revoke(qint64 id, QString *error)
{
    QSqlQuery q(m_db.connection());
    q.prepare(u"UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"_s);
    q.addBindValue(nowIso());
    q.addBindValue(id);
    if (!q.exec()) {
        if (error)
            *error = q.lastError().text();
        return false;
    }
    m_db.noteChange();
    if (q.numRowsAffected() != 1) {
        if (error)
            *error = u"no active key with id %1"_s.arg(id);
        return false;
    }
    return true;
}

std::optional<ApiKeyInfo> ApiKeys::authenticate(const QString &presented) const
{
    if (presented.size() != 43 || !presented.startsWith(u"mc_"_s))
        return std::nullopt;
    const QByteArray hash = hashKey(presented);
    // Every API request: prepared once per thread.
    QSqlQuery &q = m_db.prepared(
        u"SELECT id, name, prefix, plan, created_at, revoked_at, hash FROM api_keys WHERE prefix = ?"_s);
    q.bindValue(0, presented.left(PrefixLength));
    if (!q.exec())
        return std::nullopt;
    std::optional<ApiKeyInfo> match;
    // Compare every candidate's hash in constant time; a revoked key matches like any other but is refused.
    while (q.next()) {
        const QByteArray stored = q.value(6).toByteArray();
        if (stored.size() == hash.size() &&
            CRYPTO_memcmp(stored.constData(), hash.constData(), size_t(hash.size())) == 0)
            match = readInfo(q);
    }
    q.finish();
    if (match && match->isRevoked())
        return std::nullopt;
    return match;
}

} // namespace mailcaff::accounts
