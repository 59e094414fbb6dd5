#include "finder.h"

#include "core/emailaddress.h"
#include "dns/resolver.h"
#include "domain/domainfinder.h"
#include "lists/lists.h"
#include "net/httpexchange.h"
#include "scrape.h"
#include "smtp/prober.h"
#include "storage/database.h"
#include "verify/providers.h"
#include "verify/verifier.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QPointer>
#include <QRandomGenerator>
#include <QSqlQuery>
#include <QTimer>
#include <QUrl>

using namespace Qt::StringLiterals;

namespace mailcaff::find {

namespace {

QJsonValue nullable(const QString &s)
{
    return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
}

QString cacheKey(const PersonName &name, const QString &domain)
{
    return name.firsts.value(0) + u'|' + name.lasts.value(0) + u'|' + domain;
}

QString randomLocalPart()
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    QString s;
    for (int i = 0; i < 14; ++i)
        s += QLatin1Char(alphabet[QRandomGenerator::global()->bounded(36)]);
    return s;
}

} // namespace

QString normaliseDomain(const QString &text)
{
    QString t = text.trimmed().toLower();
    if (t.startsWith(u'@'))
        t.remove(0, 1);
    if (t.contains("://"_L1))
        t = QUrl(t).host();
    else
        t = t.section(u'/', 0, 0);
    if (t.startsWith("www."_L1))
        t = t.mid(4);
    while (t.endsWith(u'.'))
        t.chop(1);
    if (t.isEmpty())
        return {};
    // The address parser knows what a mail domain may be (labels, IDN, no literals, a real TLD).
    const core::EmailAddress probe = core::EmailAddress::parse(u"x@"_s + t);
    return probe.isValid() ? probe.asciiDomain() : QString();
}

QJsonObject FindResult::toJson(bool bulk) const
{
    QJsonObject o{{u"found"_s, found},
                  {u"email"_s, nullable(email)},
                  {u"confidence"_s, nullable(confidence)},
                  {u"pattern"_s, nullable(pattern)},
                  {u"source"_s, nullable(source)},
                  {u"response_ms"_s, responseMs}};
    // As in the seed's examples: a found answer has no reason; bulk items always carry it.
    if (!found || bulk)
        o.insert(u"reason"_s, found ? QJsonValue(QJsonValue::Null) : nullable(reason));
    return o;
}

FindResult FindResult::fromJson(const QJsonObject &o)
{
    FindResult r;
    r.found = o.value("found"_L1).toBool();
    r.email = o.value("email"_L1).toString();
    r.confidence = o.value("confidence"_L1).toString();
    r.pattern = o.value("pattern"_L1).toString();
    r.source = o.value("source"_L1).toString();
    r.reason = o.value("reason"_L1).toString();
    r.domain = o.value("domain"_L1).toString();
    r.detail = o.value("detail"_L1).toString();
    return r;
}

/// One find in flight.
class FindSearch : public QObject
{
public:
    FindSearch(Finder *finder, FindRequest request, std::function<void(const FindResult &)> done)
        : QObject(finder)
        , m_finder(finder)
        , m_request(std::move(request))
        , m_done(std::move(done))
    {
        m_timer.start();
        m_deadline.setSingleShot(true);
        connect(&m_deadline, &QTimer::timeout, this, [this] {
            if (!m_inEvidence)
                evidence(Unverifiable::Unreachable, u"no SMTP answer in time"_s);
        });
    }

    void start()
    {
        m_deadline.start(m_finder->m_config.deadlineMs);
        m_name = normalisePersonName(m_request.firstName, m_request.lastName);
        if (!m_name.usable())
            return notFound(u"no_pattern_matched"_s,
                            u"the name has no Latin spelling to build an address from"_s);
        if (m_request.domain.trimmed().isEmpty() && !m_request.companyName.trimmed().isEmpty() &&
            m_finder->m_domains)
            return findDomainFirst();
        m_domain = normaliseDomain(m_request.domain);
        if (m_domain.isEmpty())
            return notFound(u"no_mx_records"_s, u"\"%1\" is not a domain"_s.arg(m_request.domain));
        checkDomain();
    }

private:
    enum class Unverifiable { CatchAll, AcceptAllGateway, Unreachable };

    void findDomainFirst()
    {
        m_finder->m_domains->find(m_request.companyName, this, [this](const domain::DomainResult &r) {
            if (r.domain.isEmpty() || !r.hasMx)
                return notFound(u"no_mx_records"_s,
                                u"no domain with mail servers found for %1"_s.arg(m_request.companyName));
            m_domain = r.domain;
            m_notes.append(u"domain %1 found for %2"_s.arg(r.domain, m_request.companyName));
            checkDomain();
        });
    }

    void checkDomain()
    {
        m_key = cacheKey(m_name, m_domain);
        if (auto hit = m_finder->cached(m_key)) {
            FindResult r = *hit;
            if (r.found)
                r.source = u"cache"_s;
            r.detail = u"remembered from an earlier search: "_s + r.detail;
            return finish(r, false);
        }
        if (m_finder->m_lists && m_finder->m_lists->isDisposableDomain(m_domain))
            return notFound(u"disposable_domain"_s, u"%1 is a disposable-address provider"_s.arg(m_domain),
                            true);
        m_finder->m_resolver->lookupMailRoute(m_domain, this, [this](const dns::MailRoute &route) {
            using K = dns::MailRoute::Kind;
            if (route.kind == K::Failure)
                return notFound(u"dns_error"_s, u"DNS failed for %1: %2"_s.arg(m_domain, route.error));
            if (!route.acceptsMail())
                return notFound(u"no_mx_records"_s,
                                route.kind == K::NullMx     ? u"%1 accepts no mail (null MX)"_s.arg(m_domain)
                                : route.kind == K::NxDomain ? u"%1 does not exist"_s.arg(m_domain)
                                                            : u"%1 has no mail servers"_s.arg(m_domain),
                                true);
            m_route = route;
            QStringList hosts;
            for (const dns::MxRecord &mx : route.mx)
                hosts.append(mx.host);
            m_provider = verify::identifyProvider(hosts);
            m_learned = m_finder->learnedPatterns(m_domain);
            m_candidates = candidates(m_name, m_learned, m_finder->m_config.maxCandidates);
            if (m_candidates.isEmpty())
                return notFound(u"no_pattern_matched"_s, u"no address can be built from the name"_s, true);
            m_queue = m_candidates;
            if (m_provider.acceptsAllAtRcpt)
                return evidence(Unverifiable::AcceptAllGateway,
                                u"%1 accepts every recipient at RCPT time"_s.arg(m_provider.name));
            if (m_finder->m_verifier && m_finder->m_verifier->cachedCatchAll(m_domain).value_or(false))
                return evidence(Unverifiable::CatchAll, u"%1 is known to accept any address"_s.arg(m_domain));
            resolveTargets(0);
        });
    }

    // --- SMTP -------------------------------------------------------------------------------------------

    /// Every permitted address of every MX, in preference order (three MX hosts at most).
    void resolveTargets(qsizetype index)
    {
        if (index >= m_route.mx.size() || index >= 3) {
            if (m_targets.isEmpty())
                return evidence(Unverifiable::Unreachable, u"no mail server address may be connected to"_s);
            return nextBatch();
        }
        const QString host = m_route.mx.at(index).host;
        auto take = [this, host, index](const QList<QHostAddress> &addresses) {
            for (const QHostAddress &a : addresses)
                if (m_finder->m_config.policy.permits(a))
                    m_targets.append({host, a});
            resolveTargets(index + 1);
        };
        if (m_route.kind == dns::MailRoute::Kind::ImplicitMx)
            return take(m_route.addresses);
        m_finder->m_resolver->lookupAddresses(host, this,
                                              [take](const dns::AddressAnswer &a) { take(a.addresses); });
    }

    void nextBatch()
    {
        const FinderConfig &c = m_finder->m_config;
        const bool first = m_transactions == 0;
        if (m_queue.isEmpty())
            return notFound(u"no_pattern_matched"_s,
                            u"the mail server refused all %1 candidate addresses"_s.arg(m_candidates.size()),
                            true);
        const qsizetype size = first ? c.firstBatch : c.laterBatch;
        m_batch = m_queue.mid(0, size);
        m_queue.remove(0, m_batch.size());
        m_probe.clear();
        // The first transaction also asks about a random address: the only way to know an accepted
        // candidate means anything.
        if (first && !(m_finder->m_verifier && m_finder->m_verifier->cachedCatchAll(m_domain).has_value()))
            m_probe = m_finder->m_verifier ? m_finder->m_verifier->probeRecipient(m_domain)
                                           : randomLocalPart() + u'@' + m_domain;
        m_targetIndex = 0;
        m_greylistRetries = 0;
        sendBatch();
    }

    void sendBatch()
    {
        if (m_targetIndex >= m_targets.size())
            return evidence(Unverifiable::Unreachable,
                            m_lastFailure.isEmpty() ? u"no mail server answered"_s : m_lastFailure);
        QStringList recipients;
        if (!m_probe.isEmpty())
            recipients.append(m_probe);
        for (const Candidate &cand : std::as_const(m_batch))
            recipients.append(cand.localPart + u'@' + m_domain);
        const auto &[host, address] = m_targets.at(m_targetIndex);
        ++m_transactions;
        m_rcpts += int(recipients.size());
        m_finder->m_prober->probe(host, address, recipients, this,
                                  [this](const QList<smtp::RcptOutcome> &outcomes) { onOutcomes(outcomes); });
    }

    void onOutcomes(const QList<smtp::RcptOutcome> &outcomes)
    {
        if (m_inEvidence || m_finished)
            return;
        using V = smtp::Verdict;
        using F = smtp::Failure;
        QHash<QString, smtp::RcptOutcome> by;
        for (const smtp::RcptOutcome &o : outcomes)
            by.insert(o.address.toLower(), o);
        // The session itself failed (down, busy, dropped): the next address or MX, same batch.
        const bool sessionFailed =
            std::all_of(outcomes.cbegin(), outcomes.cend(), [](const smtp::RcptOutcome &o) {
                return o.failure != F::None && o.failure != F::Unused;
            });
        if (outcomes.isEmpty() || sessionFailed) {
            const smtp::RcptOutcome first = outcomes.value(0);
            if (first.senderRefused || first.failure == F::Refused || first.failure == F::Unsupported)
                return evidence(Unverifiable::Unreachable,
                                u"the mail server refused our probe: %1"_s.arg(first.reply.text()));
            m_lastFailure = u"%1: %2"_s.arg(m_targets.at(m_targetIndex).first, smtp::toString(first.failure));
            ++m_targetIndex;
            return sendBatch();
        }
        bool probeSettled =
            m_probe.isEmpty() || (m_finder->m_verifier && m_finder->m_verifier->cachedCatchAll(m_domain));
        if (!m_probe.isEmpty()) {
            const smtp::RcptOutcome p = by.value(m_probe.toLower());
            probeSettled = p.failure == F::None && p.verdict != V::TryLater && p.verdict != V::Unknown;
            if (p.failure == F::None && p.verdict == V::Accepted) {
                if (m_finder->m_verifier && m_targetIndex == 0)
                    m_finder->m_verifier->rememberCatchAll(m_domain, true);
                return evidence(Unverifiable::CatchAll,
                                u"%1 accepted a random address: a catch-all"_s.arg(m_domain));
            }
            if (p.failure == F::None &&
                (p.verdict == V::MailboxNotFound || p.verdict == V::MailboxDisabled)) {
                if (m_finder->m_verifier && m_targetIndex == 0)
                    m_finder->m_verifier->rememberCatchAll(m_domain, false);
            }
        }
        const QList<int> &retries = m_finder->m_config.greylistRetryMs;
        bool later = !probeSettled;
        bool blocked = false;
        QList<Candidate> unanswered;
        for (const Candidate &cand : std::as_const(m_batch)) {
            const smtp::RcptOutcome o = by.value(cand.localPart + u'@' + m_domain);
            if (o.failure != F::None) {
                // Not asked (the session stopped early): again in the next transaction, twice at most.
                if (m_requeued[cand.localPart]++ < 2)
                    unanswered.append(cand);
                continue;
            }
            if (o.verdict == V::Accepted) {
                if (probeSettled)
                    return foundBySmtp(cand, u"high"_s);
                // Accepted, but whether the domain takes any address is not known yet (the random one was
                // greylisted too): ask again after the wait, or say it with less confidence.
                if (m_greylistRetries < retries.size()) {
                    QTimer::singleShot(retries.at(m_greylistRetries++), this, [this] { sendBatch(); });
                    return;
                }
                return foundBySmtp(cand, u"medium"_s);
            }
            later = later || o.verdict == V::TryLater;
            blocked = blocked || o.verdict == V::Blocked;
        }
        m_queue = unanswered + m_queue;
        if (blocked)
            return evidence(Unverifiable::Unreachable, u"the mail server blocks our probes"_s);
        if (later) {
            if (m_greylistRetries < retries.size()) {
                // Greylisting: the same sender and recipients again, after the wait it asks for.
                QTimer::singleShot(retries.at(m_greylistRetries++), this, [this] { sendBatch(); });
                return;
            }
            return evidence(Unverifiable::Unreachable, u"the mail server keeps answering \"try later\""_s);
        }
        nextBatch();
    }

    void foundBySmtp(const Candidate &cand, const QString &confidence)
    {
        const bool certain = confidence == "high"_L1;
        if (certain)
            m_finder->teach(m_domain, cand.pattern); // only what the server confirmed teaches the domain
        FindResult r = base();
        r.found = true;
        r.email = cand.localPart + u'@' + m_domain;
        r.confidence = confidence;
        r.pattern = cand.pattern;
        r.source = u"learned"_s;
        m_notes.append(
            certain
                ? u"the mail server accepted %1 and refuses unknown addresses"_s.arg(r.email)
                : u"the mail server accepted %1; whether it accepts any address is not known"_s.arg(r.email));
        finish(r, certain);
    }

    // --- Evidence when SMTP cannot tell --------------------------------------------------------------

    void evidence(Unverifiable why, const QString &note)
    {
        if (m_inEvidence || m_finished)
            return;
        m_inEvidence = true;
        m_why = why;
        m_notes.append(note);
        // 1. The domain's own pattern, learned from earlier SMTP-verified finds.
        QString best;
        int hits = 0;
        for (auto it = m_learned.cbegin(); it != m_learned.cend(); ++it) {
            if (it.value() > hits) {
                hits = it.value();
                best = it.key();
            }
        }
        if (hits > 0) {
            for (const Candidate &cand : std::as_const(m_candidates)) {
                if (cand.pattern == best) {
                    m_notes.append(u"%1 verified finds at %2 use %3"_s.arg(hits).arg(m_domain, best));
                    return foundBy(cand, u"medium"_s, u"pattern_db"_s);
                }
            }
        }
        gravatar();
    }

    /// 2. A Gravatar for one of the likeliest candidates.
    void gravatar()
    {
        const FinderConfig &c = m_finder->m_config;
        if (!c.gravatar)
            return scrape();
        m_gravatarAnswers.clear();
        const qsizetype n = std::min<qsizetype>(5, m_candidates.size());
        m_gravatarPending = int(n);
        for (qsizetype i = 0; i < n; ++i) {
            const QString email = m_candidates.at(i).localPart + u'@' + m_domain;
            const QByteArray hash =
                QCryptographicHash::hash(email.trimmed().toLower().toUtf8(), QCryptographicHash::Sha256)
                    .toHex();
            net::HttpExchange::Request r;
            r.url = QUrl(c.gravatarUrl + QString::fromLatin1(hash) + u"?d=404"_s);
            r.method = "GET";
            r.userAgent = "Mailcaff/" MAILCAFF_VERSION;
            auto self = std::make_shared<QPointer<net::HttpExchange>>();
            auto *exchange = new net::HttpExchange(
                r, m_finder->m_resolver, c.pages.policy, c.pages.caCertificates, c.pages.timeoutMs,
                [this, i, self](const net::HttpExchange::Outcome &o) {
                    if (*self)
                        (*self)->deleteLater();
                    m_gravatarAnswers.insert(int(i), o.status == 200);
                    if (--m_gravatarPending == 0)
                        gravatarDone();
                },
                this);
            *self = exchange;
            exchange->start();
        }
        if (n == 0)
            scrape();
    }

    void gravatarDone()
    {
        for (qsizetype i = 0; i < m_candidates.size(); ++i) {
            if (m_gravatarAnswers.value(int(i))) {
                m_notes.append(u"Gravatar knows %1@%2"_s.arg(m_candidates.at(i).localPart, m_domain));
                return foundBy(m_candidates.at(i), u"medium"_s, u"gravatar"_s);
            }
        }
        scrape();
    }

    /// 3. Addresses on the domain's own pages: the person's own, or the pattern of colleagues'.
    void scrape()
    {
        const FinderConfig &c = m_finder->m_config;
        if (!c.scrape)
            return guess();
        const QStringList paths = contactPaths();
        m_scrapePending = int(paths.size());
        for (const QString &path : paths) {
            net::PageFetch::fetch(m_finder->m_resolver, c.pages, m_domain, path, false, this,
                                  [this](const net::PageFetch::Outcome &o) {
                                      if (o.status >= 200 && o.status < 300)
                                          for (const QString &e : extractEmails(o.body, m_domain))
                                              if (!m_scraped.contains(e))
                                                  m_scraped.append(e);
                                      if (--m_scrapePending == 0)
                                          scrapeDone();
                                  });
        }
    }

    void scrapeDone()
    {
        for (const Candidate &cand : std::as_const(m_candidates)) {
            if (m_scraped.contains(cand.localPart + u'@' + m_domain)) {
                m_notes.append(u"%1 is on the domain's website"_s.arg(cand.localPart + u'@' + m_domain));
                return foundBy(cand, u"medium"_s, u"scraped"_s);
            }
        }
        // Colleagues' addresses show the domain's pattern (role accounts such as info@ say nothing).
        QHash<QString, int> shapes;
        for (const QString &email : std::as_const(m_scraped)) {
            const QString local = email.section(u'@', 0, 0);
            if (m_finder->m_lists && m_finder->m_lists->isRoleLocalPart(local))
                continue;
            const QString shape = shapeOf(local);
            if (!shape.isEmpty())
                shapes[shape] += 1;
        }
        QString best;
        for (auto it = shapes.cbegin(); it != shapes.cend(); ++it)
            if (best.isEmpty() || it.value() > shapes.value(best))
                best = it.key();
        if (!best.isEmpty()) {
            for (const Candidate &cand : std::as_const(m_candidates)) {
                if (cand.pattern == best) {
                    m_notes.append(u"addresses on the domain's website follow %1"_s.arg(best));
                    return foundBy(cand, u"medium"_s, u"scraped"_s);
                }
            }
        }
        guess();
    }

    /// 4. The likeliest address, said to be a guess; or nothing, if guesses are off.
    void guess()
    {
        const bool cacheIt = m_why != Unverifiable::Unreachable;
        if (!m_finder->m_config.bestGuess)
            return notFound(m_why == Unverifiable::Unreachable ? u"no_pattern_matched"_s
                                                               : u"catchall_detected"_s,
                            u"nothing supports a guess (best guesses are off)"_s, cacheIt);
        m_notes.append(u"a best guess from the most common pattern"_s);
        foundBy(m_candidates.first(), u"low"_s,
                m_why == Unverifiable::CatchAll ? u"pattern_db"_s : u"mx_intel"_s);
    }

    void foundBy(const Candidate &cand, const QString &confidence, const QString &source)
    {
        FindResult r = base();
        r.found = true;
        r.email = cand.localPart + u'@' + m_domain;
        r.confidence = confidence;
        r.pattern = cand.pattern;
        r.source = source;
        // An unreachable server may answer next time: only what the server itself told is remembered.
        finish(r, m_why != Unverifiable::Unreachable);
    }

    // --- Answers ------------------------------------------------------------------------------------------

    FindResult base() const
    {
        FindResult r;
        r.domain = m_domain;
        r.smtpTransactions = m_transactions;
        r.rcpts = m_rcpts;
        return r;
    }

    void notFound(const QString &reason, const QString &note, bool cacheIt = false)
    {
        FindResult r = base();
        r.reason = reason;
        m_notes.append(note);
        finish(r, cacheIt);
    }

    void finish(FindResult r, bool cacheIt)
    {
        if (m_finished)
            return;
        m_finished = true;
        m_deadline.stop();
        if (r.detail.isEmpty())
            r.detail = m_notes.join(u"; "_s);
        if (cacheIt && !m_key.isEmpty())
            m_finder->remember(m_key, r);
        r.responseMs = int(m_timer.elapsed());
        auto done = std::move(m_done);
        done(r);
        deleteLater();
    }

    Finder *m_finder;
    FindRequest m_request;
    std::function<void(const FindResult &)> m_done;
    QElapsedTimer m_timer;
    QTimer m_deadline;
    PersonName m_name;
    QString m_domain;
    QString m_key;
    dns::MailRoute m_route;
    verify::Provider m_provider;
    QHash<QString, int> m_learned;
    QList<Candidate> m_candidates;
    QList<std::pair<QString, QHostAddress>> m_targets;
    qsizetype m_targetIndex = 0;
    QList<Candidate> m_queue; ///< candidates not asked about yet
    QHash<QString, int> m_requeued;
    QList<Candidate> m_batch;
    QString m_probe;
    QString m_lastFailure;
    int m_greylistRetries = 0;
    int m_transactions = 0;
    int m_rcpts = 0;
    Unverifiable m_why = Unverifiable::Unreachable;
    bool m_inEvidence = false;
    QHash<int, bool> m_gravatarAnswers;
    int m_gravatarPending = 0;
    QStringList m_scraped;
    int m_scrapePending = 0;
    QStringList m_notes;
    bool m_finished = false;
};

Finder::Finder(dns::Resolver *resolver, smtp::Prober *prober, verify::Verifier *verifier,
               std::shared_ptr<const lists::Lists> lists, const storage::Database *db,
               domain::DomainFinder *domains, FinderConfig config, QObject *parent)
    : QObject(parent)
    , m_resolver(resolver)
    , m_prober(prober)
    , m_verifier(verifier)
    , m_lists(std::move(lists))
    , m_db(db)
    , m_domains(domains)
    , m_config(std::move(config))
{
}

Finder::~Finder() = default;

void Finder::find(const FindRequest &request, QObject *context, std::function<void(const FindResult &)> done)
{
    QPointer<QObject> guard(context ? context : this);
    auto *search = new FindSearch(this, request, [guard, done = std::move(done)](const FindResult &r) {
        if (guard)
            done(r);
    });
    search->start();
}

QHash<QString, int> Finder::learnedPatterns(const QString &domain) const
{
    QHash<QString, int> out;
    if (!m_db)
        return out;
    QSqlQuery q(m_db->connection());
    q.prepare(u"SELECT pattern, hits FROM domain_patterns WHERE domain = ?"_s);
    q.addBindValue(domain);
    if (q.exec())
        while (q.next())
            out.insert(q.value(0).toString(), q.value(1).toInt());
    return out;
}

void Finder::teach(const QString &domain, const QString &pattern)
{
    if (!m_db)
        return;
    QSqlQuery q(m_db->connection());
    q.prepare(
        u"INSERT INTO domain_patterns(domain, pattern, hits, updated_at) VALUES (?, ?, 1, ?) "
        "ON CONFLICT(domain, pattern) DO UPDATE SET hits = domain_patterns.hits + 1, updated_at = excluded.updated_at"_s);
    q.addBindValue(domain);
    q.addBindValue(pattern);
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    q.exec();
}

std::optional<FindResult> Finder::cached(const QString &key) const
{
    if (!m_db)
        return std::nullopt;
    QSqlQuery q(m_db->connection());
    q.prepare(u"SELECT result, found, created_at FROM find_cache WHERE key = ?"_s);
    q.addBindValue(key);
    if (!q.exec() || !q.next())
        return std::nullopt;
    const int days = q.value(1).toBool() ? m_config.foundCacheDays : m_config.notFoundCacheDays;
    if (q.value(2).toLongLong() + qint64(days) * 86400 < QDateTime::currentSecsSinceEpoch())
        return std::nullopt;
    return FindResult::fromJson(QJsonDocument::fromJson(q.value(0).toByteArray()).object());
}

void Finder::remember(const QString &key, const FindResult &result)
{
    if (!m_db)
        return;
    QJsonObject stored = result.toJson(true);
    stored.insert(u"domain"_s, result.domain);
    stored.insert(u"detail"_s, result.detail);
    QSqlQuery q(m_db->connection());
    q.prepare(
        u"INSERT INTO find_cache(key, result, found, created_at) VALUES (?, ?, ?, ?) ON CONFLICT(key) DO "
        "UPDATE SET result = excluded.result, found = excluded.found, created_at = excluded.created_at"_s);
    q.addBindValue(key);
    q.addBindValue(QString::fromUtf8(QJsonDocument(stored).toJson(QJsonDocument::Compact)));
    q.addBindValue(result.found ? 1 : 0);
    q.addBindValue(QDateTime::currentSecsSinceEpoch());
    q.exec();
}

} // namespace mailcaff::find
