#pragma once

#include "companyname.h"
#include "net/pagefetch.h"
#include "net/targetpolicy.h"

#include <QDeadlineTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QSslCertificate>

#include <functional>

namespace mailcaff::dns {
class Resolver;
}

namespace mailcaff::domain {

struct DomainFinderConfig
{
    quint16 httpPort = 80; ///< tests point these at loopback servers
    quint16 httpsPort = 443;
    int httpTimeoutMs = 5000; ///< per request
    int maxRedirects = 5;
    int cacheSeconds = 7 * 24 * 3600; ///< found and not-found answers are kept this long (errors never)
    net::TargetPolicy policy;
    QList<QSslCertificate> extraCa; ///< trusted besides the system's (tests)
};

/// What was learnt about one candidate domain.
struct DomainCandidate
{
    QString domain;
    int order = 0;           ///< its place in the candidate list (label, then TLD order)
    bool hasMx = false;      ///< MX records that accept mail (not a null MX)
    bool hasAddress = false; ///< A/AAAA
    bool hasWebsite = false; ///< a page answered (2xx, or 401/403 from a site that exists)
    bool parked = false;     ///< parking name servers or host, or a for-sale page
    bool dnsFailed = false;  ///< SERVFAIL, timeout: we cannot tell
    bool titleMatches = false;
    bool redirectTarget = false; ///< another candidate's website sends visitors here
    QString redirectsTo;         ///< the other domain this one's website sends visitors to
    QString title;
    QString note; ///< why parked, what failed
};

struct DomainResult
{
    enum class Status { Found, NotFound, Error };
    QString companyName;
    QString domain; ///< empty when none qualifies
    bool hasMx = false;
    bool hasWebsite = false;
    QString confidence; ///< "high", "medium", "low"; empty when not found
    int candidatesChecked = 0;
    Status status = Status::NotFound;
    int responseMs = 0;
    bool fromCache = false;
    QList<DomainCandidate> candidates; ///< every candidate checked, best first (for the window)

    /// API.md's response body.
    QJsonObject toJson() const;
};
QString toString(DomainResult::Status status);

/// From a company name to its mail domain: candidates from the normalised name × TLDs, each checked for MX,
/// name servers (parking), addresses and a website (https then http, HEAD then GET, redirects followed up to
/// `maxRedirects`), all through the engine's resolver and the SSRF guard. Candidates are checked one label
/// at a time ("coolblue" on every TLD, then "cool-blue" …), stopping once a website with MX is found.
/// Lives on the engine thread.
class DomainFinder : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DomainFinder)
public:
    DomainFinder(dns::Resolver *resolver, DomainFinderConfig config, QObject *parent = nullptr);
    ~DomainFinder() override;

    /// `done` runs on this object's thread, unless `context` was destroyed first.
    void find(const QString &companyName, QObject *context, std::function<void(const DomainResult &)> done);

    void clearCache() { m_cache.clear(); }

private:
    friend class DomainSearch;
    dns::Resolver *m_resolver;
    DomainFinderConfig m_config;
    net::PageFetchConfig m_pages;
    struct Cached
    {
        DomainResult result;
        QDeadlineTimer expires;
    };
    QHash<QString, Cached> m_cache;
};

/// Parking services' name servers and hosts, and for-sale page wording (lowercase).
bool isParkingHost(const QString &host);
bool looksForSale(const QByteArray &pageLowercase);

} // namespace mailcaff::domain
