#pragma once

#include <QString>
#include <QVariant>

namespace mailcaff::storage {

class Database;

/// A setting: its key in the settings table and its default. The registry below is the complete list.
template<typename T> struct Setting
{
    const char *key;
    T defaultValue;
};

namespace setting {
inline const Setting<QString> ListenAddress{"server/listen", QStringLiteral("127.0.0.1")};
inline const Setting<int> Port{"server/port", 8080};
/// PEM files for HTTPS; both empty: plain HTTP.
inline const Setting<QString> TlsCertificate{"server/tls_certificate", QString()};
inline const Setting<QString> TlsKey{"server/tls_key", QString()};
inline const Setting<QString> DnsServers{"dns/servers", QString()};
inline const Setting<QString> HeloName{"smtp/helo_name", QString()};
inline const Setting<QString> MailFrom{"smtp/mail_from", QString()};
inline const Setting<bool> AllowPrivateTargets{"network/allow_private_targets", false};
inline const Setting<bool> Maintenance{"server/maintenance", false};
inline const Setting<int> JobRetentionDays{"jobs/retention_days", 30};
inline const Setting<int> MaintenanceRetryAfter{"server/maintenance_retry_after", 600};
inline const Setting<int> DomainCacheHours{"domain/cache_hours", 7 * 24};
inline const Setting<int> SmtpTimeoutSeconds{"smtp/timeout_seconds",
                                             0}; ///< 0: 8 s to connect, 15 s per reply
inline const Setting<int> PowerDeadlineSeconds{"smtp/power_deadline_seconds", 60};
inline const Setting<int> SessionsPerMx{"smtp/sessions_per_mx", 2};
inline const Setting<bool> FinderGravatar{"finder/gravatar", true};
inline const Setting<bool> FinderScrape{"finder/scrape", true};
inline const Setting<bool> FinderBestGuess{"finder/best_guess", true};
} // namespace setting

/// Typed access to the settings table; each write is one atomic statement.
class Settings
{
public:
    explicit Settings(const Database &db)
        : m_db(db)
    {
    }

    template<typename T> T value(const Setting<T> &s) const
    {
        const QVariant v = raw(QString::fromLatin1(s.key));
        if (!v.isValid())
            return s.defaultValue;
        if constexpr (std::is_same_v<T, bool>)
            return v.toString() == QLatin1StringView("true");
        else
            return v.value<T>();
    }

    template<typename T> bool setValue(const Setting<T> &s, const T &value)
    {
        if constexpr (std::is_same_v<T, bool>)
            return setRaw(QString::fromLatin1(s.key),
                          value ? QStringLiteral("true") : QStringLiteral("false"));
        else
            return setRaw(QString::fromLatin1(s.key), QVariant::fromValue(value).toString());
    }

private:
    QVariant raw(const QString &key) const;
    bool setRaw(const QString &key, const QString &value);

    const Database &m_db;
};

} // namespace mailcaff::storage
