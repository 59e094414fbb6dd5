#include "pagefetch.h"

#include <QPointer>

using namespace Qt::StringLiterals;

namespace mailcaff::net {

void PageFetch::fetch(dns::Resolver *resolver, const PageFetchConfig &config, const QString &host,
                      const QString &path, bool headFirst, QObject *context,
                      std::function<void(const Outcome &)> done)
{
    auto *f = new PageFetch(resolver, config, host, path, std::move(done), context);
    f->request(QUrl(u"https://"_s + host + path), headFirst ? "HEAD" : "GET");
}

PageFetch::PageFetch(dns::Resolver *resolver, const PageFetchConfig &config, QString host, QString path,
                     std::function<void(const Outcome &)> done, QObject *parent)
    : QObject(parent)
    , m_resolver(resolver)
    , m_config(config)
    , m_host(std::move(host))
    , m_path(std::move(path))
    , m_done(std::move(done))
{
}

void PageFetch::request(const QUrl &url, const QByteArray &method)
{
    HttpExchange::Request r;
    r.url = url;
    r.method = method;
    r.userAgent = "Mozilla/5.0 (compatible; Mailcaff/" MAILCAFF_VERSION ")";
    r.headers = "Accept: text/html,*/*;q=0.8\r\n";
    r.port = url.port() > 0 ? 0 : (url.scheme() == "https"_L1 ? m_config.httpsPort : m_config.httpPort);
    r.maxBodyBytes = method == "GET" ? m_config.maxBodyBytes : 0;
    auto self = std::make_shared<QPointer<HttpExchange>>();
    auto *exchange = new HttpExchange(
        r, m_resolver, m_config.policy, m_config.caCertificates, m_config.timeoutMs,
        [this, url, method, self](const HttpExchange::Outcome &o) {
            if (*self)
                (*self)->deleteLater();
            answered(url, method, o);
        },
        this);
    *self = exchange;
    exchange->start();
}

void PageFetch::answered(const QUrl &url, const QByteArray &method, const HttpExchange::Outcome &o)
{
    m_outcome.finalUrl = url;
    m_outcome.status = o.status;
    m_outcome.body = o.body;
    if (o.status == 0) {
        // Nothing answered on https: the plain site, as many small companies still have.
        if (url.scheme() == "https"_L1 && m_outcome.redirects == 0)
            return request(QUrl(u"http://"_s + m_host + m_path), method);
        m_outcome.error = o.error;
        return finish();
    }
    if (o.status >= 300 && o.status < 400 && !o.location.isEmpty()) {
        const QUrl next = url.resolved(QUrl::fromEncoded(o.location));
        if (!next.isValid() || (next.scheme() != "http"_L1 && next.scheme() != "https"_L1) ||
            next.host().isEmpty()) {
            m_outcome.error = u"redirect to an unusable location"_s;
            return finish();
        }
        if (++m_outcome.redirects > m_config.maxRedirects) {
            m_outcome.error = u"more than %1 redirects"_s.arg(m_config.maxRedirects);
            return finish();
        }
        return request(next, method);
    }
    if (method == "HEAD" && ((o.status >= 200 && o.status < 300) || o.status == 405 || o.status == 501 ||
                             o.status == 403 || o.status == 400)) {
        // A page is there, or HEAD is not served: read it.
        return request(url, "GET");
    }
    if (o.status < 200 || o.status >= 300)
        m_outcome.error = u"HTTP %1"_s.arg(o.status);
    finish();
}

void PageFetch::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    auto done = std::move(m_done);
    done(m_outcome);
    deleteLater();
}

} // namespace mailcaff::net
