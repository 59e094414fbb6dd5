#pragma once

#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

#include <functional>
#include <memory>
#include <optional>

namespace mailcaff::dns {

/// How a DNS question ended. NoData (the name exists, no record of that type) and NxDomain (the name does
/// not exist) are different answers for mail routing (RFC 5321 section 5.1), and both differ from the
/// failures (ServFail, Timeout, Refused, Error) that say nothing about the domain.
enum class DnsStatus { Ok, NoData, NxDomain, ServFail, Timeout, Refused, Error };

QString toString(DnsStatus status);

/// One MX record; `host` is lowercase ASCII without the trailing dot ("." for a null MX target).
struct MxRecord
{
    QString host;
    quint16 preference = 0;
    friend bool operator==(const MxRecord &, const MxRecord &) = default;
};

struct MxAnswer
{
    DnsStatus status = DnsStatus::Error;
    QList<MxRecord> records; ///< sorted by preference, then host
    quint32 ttl = 0;         ///< seconds the answer may be cached (negative answers: from the SOA)
    bool fromCache = false;
    QString error; ///< human-readable detail for failures
};

struct AddressAnswer
{
    DnsStatus status = DnsStatus::Error;
    QList<QHostAddress> addresses; ///< IPv4 and IPv6, in the order the server gave them
    quint32 ttl = 0;
    bool fromCache = false;
    QString error;
};

/// The name servers of a zone (the domain finder reads them to recognise parked domains).
struct NsAnswer
{
    DnsStatus status = DnsStatus::Error;
    QStringList hosts; ///< lowercase, without the trailing dot, sorted
    QString error;
};

/// Where mail for a domain goes, after RFC 5321 section 5.1 and RFC 7505.
struct MailRoute
{
    enum class Kind {
        Mx,         ///< MX records, sorted by preference
        ImplicitMx, ///< no MX, but the domain has A/AAAA: the domain itself is the mail host
        NullMx,     ///< the single MX "0 ." (RFC 7505): the domain accepts no mail
        NoMail,     ///< no MX and no address: nowhere to deliver
        NxDomain,   ///< the domain does not exist
        Failure     ///< SERVFAIL, timeout, refused: we cannot tell
    };
    Kind kind = Kind::Failure;
    QList<MxRecord> mx;                ///< for Mx; for ImplicitMx one record: the domain, preference 0
    QList<QHostAddress> addresses;     ///< for ImplicitMx: the domain's own addresses
    DnsStatus failure = DnsStatus::Ok; ///< for Failure: which one
    bool fromCache = false;
    QString error;

    bool acceptsMail() const { return kind == Kind::Mx || kind == Kind::ImplicitMx; }
};

/// Asynchronous DNS through c-ares on the Qt event loop of the thread that owns it: c-ares' sockets are
/// watched with QSocketNotifier (ARES_OPT_SOCK_STATE_CB), its timeouts driven by a QTimer re-armed from
/// ares_timeout(). No call blocks. Answers are cached honouring TTLs, negative answers too.
///
/// Callbacks run on the resolver's thread, possibly before the lookup call returns (cache hits); they are
/// dropped when `context` is destroyed first.
class Resolver : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Resolver)
public:
    explicit Resolver(QObject *parent = nullptr);
    ~Resolver() override;

    /// "IP[:PORT][,IP[:PORT]…]", IPv6 as "[::1]:53". Empty: the system's resolvers. False and `error` set
    /// on a malformed list (nothing changed then).
    bool setServers(const QString &servers, QString *error = nullptr);
    QString servers() const;
    /// Per-try timeout and number of tries (defaults 2000 ms × 2: interactive checks should not wait 20 s).
    void setTimeout(int milliseconds, int tries);
    /// Caps every cached TTL (default 3600 s); 0 disables the cache.
    void setMaxCacheTtl(quint32 seconds);
    void clearCache();

    void lookupMx(const QString &asciiDomain, QObject *context, std::function<void(const MxAnswer &)> done);
    void lookupAddresses(const QString &asciiHost, QObject *context,
                         std::function<void(const AddressAnswer &)> done);
    /// NS records of `asciiDomain` (not cached: asked rarely, and only by the domain finder, whose results
    /// are cached whole).
    void lookupNs(const QString &asciiDomain, QObject *context, std::function<void(const NsAnswer &)> done);
    /// MX, then RFC 7505 null MX, then RFC 5321 implicit MX (A/AAAA) when the domain has no MX.
    void lookupMailRoute(const QString &asciiDomain, QObject *context,
                         std::function<void(const MailRoute &)> done);
    /// Thread-safe: the route lookupMailRoute() would give at once from the cache, or nothing when that
    /// needs a query (not cached, expired, or a failure, which is never cached).
    std::optional<MailRoute> cachedMailRoute(const QString &asciiDomain) const;

    /// Number of entries in the cache (for tests and statistics).
    int cacheSize() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace mailcaff::dns
