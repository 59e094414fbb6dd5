#include "domainfinder.h"

#include "dns/resolver.h"
#include "net/pagefetch.h"

#include <QElapsedTimer>
#include <QPointer>
#include <QRegularExpression>
#include <QSslConfiguration>
#include <QUrl>

using namespace Qt::StringLiterals;

namespace mailcaff::domain {

namespace {

constexpr qint64 MaxPageBytes = 64 * 1024; // enough for a title and a for-sale banner

/// "www.coolblue.nl" and "coolblue.nl" are the same site.
QString siteOf(const QString &host)
{
    QString h = host.toLower();
    if (h.endsWith(u'.'))
        h.chop(1);
    return h.startsWith("www."_L1) ? h.mid(4) : h;
}

QString titleOf(const QByteArray &page)
{
    static const QRegularExpression title(u"<title[^>]*>([^<]{0,300})</title>"_s,
                                          QRegularExpression::CaseInsensitiveOption);
    const auto m = title.match(QString::fromUtf8(page));
    return m.hasMatch() ? m.captured(1).simplified() : QString();
}

} // namespace

bool isParkingHost(const QString &host)
{
    static const QStringList parking{
        u"sedoparking.com"_s,
        u"sedo.com"_s,
        u"bodis.com"_s,
        u"parkingcrew.net"_s,
        u"above.com"_s,
        u"afternic.com"_s,
        u"dan.com"_s,
        u"undeveloped.com"_s,
        u"parklogic.com"_s,
        u"hugedomains.com"_s,
        u"namebrightdns.com"_s,
        u"parked.com"_s,
        u"domainmarket.com"_s,
        u"uniregistrymarket.link"_s,
        u"buydomains.com"_s,
        u"parkpage.foundationapi.com"_s,
        u"smartname.com"_s,
        u"voodoo.com"_s,
        u"domainnamesales.com"_s,
    };
    const QString h = host.toLower();
    return std::any_of(parking.cbegin(), parking.cend(),
                       [&](const QString &p) { return h == p || h.endsWith(u'.' + p); });
}

bool looksForSale(const QByteArray &page)
{
    static const QList<QByteArray> markers{
        "domain is for sale",
        "domain may be for sale",
        "buy this domain",
        "domain for sale",
        "this domain is parked",
        "parked free",
        "domain has been registered",
        "make an offer on this domain",
        "sedoparking",
        "parkingcrew",
        "bodis.com",
        "this web page is parked",
    };
    return std::any_of(markers.cbegin(), markers.cend(),
                       [&](const QByteArray &m) { return page.contains(m); });
}

QString toString(DomainResult::Status status)
{
    switch (status) {
    case DomainResult::Status::Found:
        return u"found"_s;
    case DomainResult::Status::NotFound:
        return u"not_found"_s;
    case DomainResult::Status::Error:
        return u"error"_s;
    }
    return {};
}

QJsonObject DomainResult::toJson() const
{
    auto nullable = [](const QString &s) {
        return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
    };
    return {{u"company_name"_s, companyName},
            {u"domain"_s, nullable(domain)},
            {u"has_mx"_s, hasMx},
            {u"has_website"_s, hasWebsite},
            {u"confidence"_s, nullable(confidence)},
            {u"candidates_checked"_s, candidatesChecked},
            {u"status"_s, toString(status)},
            {u"response_ms"_s, responseMs}};
}

/// One search: the candidates of one label at a time, each checked for MX, NS, addresses and a website.
class DomainSearch : public QObject
{
public:
    DomainSearch(DomainFinder *finder, CompanyName name, std::function<void(const DomainResult &)> done)
        : QObject(finder)
        , m_finder(finder)
        , m_name(std::move(name))
        , m_done(std::move(done))
    {
        m_timer.start();
        m_titleKey = m_name.labels.isEmpty() ? QString() : foldedAlnum(m_name.labels.first());
    }

    void start() { nextLabel(); }

    ~DomainSearch() override = default;

private:
    void nextLabel()
    {
        while (m_pending == 0 && m_label < m_name.labels.size() && !hasHighConfidence()) {
            const QString label = m_name.labels.at(m_label++);
            for (const QString &tld : std::as_const(m_name.tlds))
                check(label + u'.' + tld);
        }
        if (m_pending == 0)
            conclude();
    }

    bool hasHighConfidence() const
    {
        return std::any_of(m_candidates.cbegin(), m_candidates.cend(),
                           [](const DomainCandidate &c) { return c.hasMx && c.hasWebsite && !c.parked; });
    }

    void check(const QString &domain)
    {
        if (m_index.contains(domain))
            return;
        DomainCandidate c;
        c.domain = domain;
        c.order = int(m_candidates.size());
        m_index.insert(domain, int(m_candidates.size()));
        m_candidates.append(c);
        m_pending += 3; // mail route, name servers, addresses (then the website)
        dns::Resolver *resolver = m_finder->m_resolver;
        resolver->lookupMailRoute(domain, this, [this, domain](const dns::MailRoute &route) {
            DomainCandidate &entry = candidate(domain);
            entry.hasMx = route.kind == dns::MailRoute::Kind::Mx;
            entry.dnsFailed = route.kind == dns::MailRoute::Kind::Failure;
            if (entry.dnsFailed)
                entry.note = route.error;
            settle();
        });
        resolver->lookupNs(domain, this, [this, domain](const dns::NsAnswer &ns) {
            DomainCandidate &entry = candidate(domain);
            for (const QString &host : ns.hosts) {
                if (isParkingHost(host)) {
                    entry.parked = true;
                    entry.note = u"parked: name server %1"_s.arg(host);
                }
            }
            settle();
        });
        resolver->lookupAddresses(domain, this, [this, domain](const dns::AddressAnswer &a) {
            const bool has = a.status == dns::DnsStatus::Ok && !a.addresses.isEmpty();
            candidate(domain).hasAddress = has;
            if (a.status == dns::DnsStatus::NxDomain) {
                settle(); // no such domain: no www. under it either
                return;
            }
            // Many sites answer only on www.
            startWebCheck(domain, has ? domain : u"www."_s + domain);
        });
    }

    void startWebCheck(const QString &domain, const QString &host)
    {
        net::PageFetch::fetch(m_finder->m_resolver, m_finder->m_pages, host, u"/"_s, true, this,
                              [this, domain](const net::PageFetch::Outcome &o) {
                                  DomainCandidate &c = candidate(domain);
                                  // A site that exists answers 2xx, or 401/403 to a robot it does not like.
                                  const bool answered = (o.status >= 200 && o.status < 300) ||
                                                        o.status == 401 || o.status == 403;
                                  const bool forSale = looksForSale(o.body.toLower());
                                  const bool parkingHost = isParkingHost(o.finalHost());
                                  c.hasWebsite = answered && !forSale && !parkingHost;
                                  c.title = titleOf(o.body);
                                  c.titleMatches =
                                      !m_titleKey.isEmpty() && foldedAlnum(c.title).contains(m_titleKey);
                                  if (forSale || parkingHost) {
                                      c.parked = true;
                                      c.note = parkingHost ? u"parked: redirects to %1"_s.arg(o.finalHost())
                                                           : u"parked: the page offers the domain for sale"_s;
                                  } else if (answered && siteOf(o.finalHost()) != siteOf(domain)) {
                                      // coolblue.com → coolblue.nl: the target is where the company is.
                                      c.redirectsTo = siteOf(o.finalHost());
                                      const QString target = c.redirectsTo;
                                      check(target);
                                      candidate(target).redirectTarget = true;
                                  } else if (!answered && !o.error.isEmpty() && c.note.isEmpty()) {
                                      c.note = u"no website: "_s + o.error;
                                  }
                                  settle();
                              });
    }

    DomainCandidate &candidate(const QString &domain) { return m_candidates[m_index.value(domain)]; }

    void settle()
    {
        if (--m_pending == 0)
            nextLabel();
    }

    static int tier(const DomainCandidate &c)
    {
        if (c.parked)
            return 0;
        return c.hasMx && c.hasWebsite ? 3 : c.hasMx ? 2 : c.hasWebsite ? 1 : 0;
    }

    void conclude()
    {
        if (m_concluded || m_pending > 0)
            return;
        m_concluded = true;
        QList<DomainCandidate> ranked = m_candidates;
        std::stable_sort(ranked.begin(), ranked.end(),
                         [](const DomainCandidate &a, const DomainCandidate &b) {
                             if (tier(a) != tier(b))
                                 return tier(a) > tier(b);
                             if (a.redirectTarget != b.redirectTarget)
                                 return a.redirectTarget;
                             if (a.titleMatches != b.titleMatches)
                                 return a.titleMatches;
                             return a.order < b.order;
                         });
        DomainResult r;
        r.companyName = m_name.original;
        r.candidatesChecked = int(m_candidates.size());
        r.candidates = ranked;
        if (!ranked.isEmpty() && tier(ranked.first()) > 0) {
            const DomainCandidate &best = ranked.first();
            r.status = DomainResult::Status::Found;
            r.domain = best.domain;
            r.hasMx = best.hasMx;
            r.hasWebsite = best.hasWebsite;
            r.confidence = tier(best) == 3 ? u"high"_s : tier(best) == 2 ? u"medium"_s : u"low"_s;
        } else if (!m_candidates.isEmpty() &&
                   std::all_of(m_candidates.cbegin(), m_candidates.cend(),
                               [](const DomainCandidate &c) { return c.dnsFailed; })) {
            r.status = DomainResult::Status::Error; // DNS itself failed: we cannot say there is none
        }
        r.responseMs = int(m_timer.elapsed());
        auto done = std::move(m_done);
        done(r);
        deleteLater();
    }

    DomainFinder *m_finder;
    CompanyName m_name;
    std::function<void(const DomainResult &)> m_done;
    QElapsedTimer m_timer;
    QString m_titleKey;
    QList<DomainCandidate> m_candidates;
    QHash<QString, int> m_index;
    qsizetype m_label = 0;
    int m_pending = 0;
    bool m_concluded = false;
};

DomainFinder::DomainFinder(dns::Resolver *resolver, DomainFinderConfig config, QObject *parent)
    : QObject(parent)
    , m_resolver(resolver)
    , m_config(std::move(config))
{
    m_pages.httpPort = m_config.httpPort;
    m_pages.httpsPort = m_config.httpsPort;
    m_pages.timeoutMs = m_config.httpTimeoutMs;
    m_pages.maxRedirects = m_config.maxRedirects;
    m_pages.maxBodyBytes = MaxPageBytes;
    m_pages.policy = m_config.policy;
    if (!m_config.extraCa.isEmpty()) {
        static const QList<QSslCertificate> systemRoots = QSslConfiguration::systemCaCertificates();
        m_pages.caCertificates = systemRoots + m_config.extraCa;
    }
}

DomainFinder::~DomainFinder() = default;

void DomainFinder::find(const QString &companyName, QObject *context,
                        std::function<void(const DomainResult &)> done)
{
    QElapsedTimer timer;
    timer.start();
    CompanyName name = normaliseCompanyName(companyName);
    QPointer<QObject> guard(context ? context : this);
    auto answer = [guard, done = std::move(done)](const DomainResult &r) {
        if (guard)
            done(r);
    };
    if (name.labels.isEmpty()) {
        DomainResult r;
        r.companyName = companyName;
        r.responseMs = int(timer.elapsed());
        answer(r);
        return;
    }
    const auto cached = m_cache.constFind(name.key);
    if (cached != m_cache.constEnd() && !cached->expires.hasExpired()) {
        DomainResult r = cached->result;
        r.companyName = companyName;
        r.fromCache = true;
        r.responseMs = int(timer.elapsed());
        answer(r);
        return;
    }
    const QString key = name.key;
    auto *search = new DomainSearch(this, std::move(name), [this, key, answer](const DomainResult &r) {
        if (r.status != DomainResult::Status::Error && m_config.cacheSeconds > 0)
            m_cache.insert(key, {r, QDeadlineTimer(std::chrono::seconds(m_config.cacheSeconds))});
        answer(r);
    });
    search->start();
}

} // namespace mailcaff::domain
