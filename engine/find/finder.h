#pragma once

#include "net/pagefetch.h"
#include "patterns.h"

#include <QJsonObject>
#include <QObject>

#include <functional>
#include <memory>

namespace mailcaff::dns {
class Resolver;
}
namespace mailcaff::smtp {
class Prober;
}
namespace mailcaff::verify {
class Verifier;
}
namespace mailcaff::lists {
class Lists;
}
namespace mailcaff::storage {
class Database;
}
namespace mailcaff::domain {
class DomainFinder;
}

namespace mailcaff::find {

struct FinderConfig
{
    bool gravatar =
        true;           ///< ask Gravatar about candidates on catch-all domains (a privacy choice: a setting)
    bool scrape = true; ///< read the domain's contact pages for addresses
    bool bestGuess = true; ///< on a catch-all domain with no evidence, answer the likeliest address (low)
    QString gravatarUrl = QStringLiteral("https://gravatar.com/avatar/");
    net::PageFetchConfig pages; ///< website and Gravatar requests (ports, timeouts, SSRF guard)
    int foundCacheDays = 30;    ///< a found address is reused this long
    int notFoundCacheDays = 7;  ///< and a definite "not found"
    int maxCandidates = 24;     ///< addresses tried at most per person
    int firstBatch = 5;         ///< candidates in the first SMTP transaction (with the catch-all probe)
    int laterBatch = 10;        ///< in each further one
    QList<int> greylistRetryMs{5'000};
    int deadlineMs = 60'000;
    net::TargetPolicy policy;
};

struct FindRequest
{
    QString firstName;
    QString lastName;
    QString domain;      ///< or empty with companyName
    QString companyName; ///< the domain finder runs first when there is no domain
};

/// API.md's find answer, plus what the window and the statistics want.
struct FindResult
{
    bool found = false;
    QString email;
    QString confidence; ///< high, medium, low
    QString pattern;
    QString source; ///< learned, cache, mx_intel, gravatar, pattern_db, scraped
    QString reason; ///< when not found: no_mx_records, disposable_domain, catchall_detected,
                    ///< no_pattern_matched (ours: dns_error when DNS itself failed)
    QString domain; ///< the domain searched (from company_name: the one found)
    int responseMs = 0;
    int smtpTransactions = 0; ///< probe transactions sent (each one session's MAIL FROM … RCPT …)
    int rcpts = 0;            ///< recipients asked about
    QString detail;           ///< how the answer was reached, in words

    /// API.md's body. `bulk`: a bulk item (reason always present, null when found).
    QJsonObject toJson(bool bulk = false) const;
    static FindResult fromJson(const QJsonObject &json);
};

/// The email finder: from a person's name and a domain to an address. Candidates from the name and the
/// domain's learned patterns are asked about by SMTP in few transactions (a random address in the first
/// one tells a catch-all apart); on a catch-all, behind an accept-all gateway or when SMTP cannot be used,
/// evidence decides: the domain's learned pattern, Gravatar, addresses on the domain's own pages, else the
/// likeliest pattern as a low-confidence guess. Lives on the engine thread.
class Finder : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Finder)
public:
    Finder(dns::Resolver *resolver, smtp::Prober *prober, verify::Verifier *verifier,
           std::shared_ptr<const lists::Lists> lists, const storage::Database *db,
           domain::DomainFinder *domains, FinderConfig config, QObject *parent = nullptr);
    ~Finder() override;

    /// `done` runs on this thread unless `context` is destroyed first.
    void find(const FindRequest &request, QObject *context, std::function<void(const FindResult &)> done);

    /// The domain's SMTP-verified patterns and how often each was found.
    QHash<QString, int> learnedPatterns(const QString &domain) const;

private:
    friend class FindSearch;
    void teach(const QString &domain, const QString &pattern);
    std::optional<FindResult> cached(const QString &key) const;
    void remember(const QString &key, const FindResult &result);

    dns::Resolver *m_resolver;
    smtp::Prober *m_prober;
    verify::Verifier *m_verifier;
    std::shared_ptr<const lists::Lists> m_lists;
    const storage::Database *m_db;
    domain::DomainFinder *m_domains;
    FinderConfig m_config;
};

/// Normalised domain from what a user may type: "https://www.Acme.com/contact" → "acme.com" (IDN to
/// ASCII). Empty when it cannot be a domain.
QString normaliseDomain(const QString &text);

} // namespace mailcaff::find
