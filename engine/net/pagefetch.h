#pragma once

#include "httpexchange.h"

#include <QObject>
#include <QUrl>

#include <functional>

namespace mailcaff::net {

/// Where and how to fetch pages of a website.
struct PageFetchConfig
{
    quint16 httpPort = 80; ///< tests point these at loopback servers
    quint16 httpsPort = 443;
    int timeoutMs = 5000; ///< per request
    int maxRedirects = 5;
    qint64 maxBodyBytes = 64 * 1024;
    TargetPolicy policy;
    QList<QSslCertificate> caCertificates; ///< empty: the system's
};

/// One page of a site, as a browser would reach it: https:// then http:// when https does not answer,
/// optionally HEAD before GET (cheap when only existence matters; servers that refuse HEAD get the GET),
/// redirects followed up to a limit, every hop resolved and checked against the SSRF guard. Reports once,
/// then deletes itself.
class PageFetch : public QObject
{
public:
    struct Outcome
    {
        int status = 0;  ///< of the last answer; 0: none came
        QUrl finalUrl;   ///< after redirects
        QByteArray body; ///< up to maxBodyBytes (empty after a HEAD-only answer)
        int redirects = 0;
        QString error;
        QString finalHost() const { return finalUrl.host().toLower(); }
    };

    /// `path` starts with '/'. `headFirst`: existence checks; the GET then only follows a 2xx HEAD or a
    /// refused HEAD.
    static void fetch(dns::Resolver *resolver, const PageFetchConfig &config, const QString &host,
                      const QString &path, bool headFirst, QObject *context,
                      std::function<void(const Outcome &)> done);

private:
    PageFetch(dns::Resolver *resolver, const PageFetchConfig &config, QString host, QString path,
              std::function<void(const Outcome &)> done, QObject *parent);
    void request(const QUrl &url, const QByteArray &method);
    void answered(const QUrl &url, const QByteArray &method, const HttpExchange::Outcome &o);
    void finish();

    dns::Resolver *m_resolver;
    PageFetchConfig m_config;
    QString m_host;
    QString m_path;
    std::function<void(const Outcome &)> m_done;
    Outcome m_outcome;
    bool m_finished = false;
};

} // namespace mailcaff::net
