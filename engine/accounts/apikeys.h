#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

#include <optional>

namespace mailcaff::storage {
class Database;
}

namespace mailcaff::accounts {

/// The plans of API.md with their monthly credits.
enum class Plan { Free, Starter, Growth, Scale };
QString toString(Plan plan);
std::optional<Plan> planFromString(const QString &text);
int monthlyCredits(Plan plan);

struct ApiKeyInfo
{
    qint64 id = 0;
    QString name;
    QString prefix; ///< the visible start of the key, e.g. "mc_3fK9a2Qx"
    Plan plan = Plan::Free;
    QDateTime createdAt;
    QDateTime revokedAt;  ///< when it was revoked (for display)
    bool revoked = false; ///< from the column's NULL-ness, not from parsing a date
    bool isRevoked() const { return revoked; }
};

/// API keys: generated from OpenSSL's CSPRNG, shown once, stored only as a SHA-256 hash plus a short prefix
/// for display and lookup; a presented key is compared with CRYPTO_memcmp (constant time).
class ApiKeys
{
public:
    explicit ApiKeys(const storage::Database &db)
        : m_db(db)
    {
    }

    struct Created
    {
        ApiKeyInfo info;
        QString secret; ///< the whole key: shown to the user once, never stored
    };
    std::optional<Created> create(const QString &name, Plan plan, QString *error = nullptr);
    /// Every key, active and revoked; nothing when the database cannot be read.
    std::optional<QList<ApiKeyInfo>> list(QString *error = nullptr) const;
    /// False when no active key has this id.
    bool revoke(qint64 id, QString *error = nullptr);
    /// The active key matching `presented`, or nothing (unknown, revoked, malformed: all alike).
    std::optional<ApiKeyInfo> authenticate(const QString &presented) const;

    static constexpr int PrefixLength = 11;

private:
    const storage::Database &m_db;
};

} // namespace mailcaff::accounts
