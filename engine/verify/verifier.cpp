#include "verifier.h"

#include "core/emailaddress.h"
#include "core/scoring.h"
#include "dns/resolver.h"
#include "lists/lists.h"
#include "providers.h"

#include <QElapsedTimer>
#include <QPointer>

namespace mailcaff::verify {

using core::Signals;

Verifier::Verifier(dns::Resolver *resolver, std::shared_ptr<const lists::Lists> lists, QObject *parent)
    : QObject(parent)
    , m_resolver(resolver)
    , m_lists(std::move(lists))
{
}

namespace {

Signals::Domain domainSignal(const dns::MailRoute &route)
{
    using K = dns::MailRoute::Kind;
    switch (route.kind) {
    case K::Mx:
        return Signals::Domain::Mx;
    case K::ImplicitMx:
        return Signals::Domain::ImplicitMx;
    case K::NullMx:
        return Signals::Domain::NullMx;
    case K::NoMail:
        return Signals::Domain::NoMail;
    case K::NxDomain:
        return Signals::Domain::NotFound;
    case K::Failure:
        return Signals::Domain::DnsFailure;
    }
    return Signals::Domain::DnsFailure;
}

void finish(core::VerificationResult &r, const Signals &s, const QElapsedTimer &timer)
{
    const core::Score score = core::scoreSignals(s);
    r.status = score.status;
    r.qualityScore = score.qualityScore;
    r.reason = score.reason;
    r.isValid = r.status == core::Status::Valid;
    r.responseMs = timer.elapsed();
}

} // namespace

void Verifier::verify(const QString &email, core::Mode mode, QObject *context,
                      std::function<void(const core::VerificationResult &)> done)
{
    QElapsedTimer timer;
    timer.start();
    const core::EmailAddress address = core::EmailAddress::parse(email);

    auto result = std::make_shared<core::VerificationResult>();
    result->email = email.trimmed();
    result->mode = mode;
    Signals s;
    s.mode = mode;
    s.syntaxValid = address.isValid();

    if (!address.isValid()) {
        result->detail = address.errorText();
        finish(*result, s, timer);
        done(*result);
        return;
    }

    s.disposable = m_lists->isDisposableDomain(address.asciiDomain());
    s.free = !s.disposable && m_lists->isFreeDomain(address.asciiDomain());
    s.role = m_lists->isRoleLocalPart(address.localPart());
    s.spamTrap = m_lists->isSpamTrap(address.localPart(), address.asciiDomain());
    result->isDisposable = s.disposable;
    result->isFreeEmail = s.free;
    result->isRoleAccount = s.role;
    result->isSpamTrap = s.spamTrap;
    result->didYouMean = m_lists->suggestDomain(address.asciiDomain());
    if (!result->didYouMean.isEmpty())
        result->didYouMean = address.localPart() + u'@' + result->didYouMean;

    // DNS even for disposable domains: mx_accepts_mail must be true to the domain, and the answer is cached.
    QPointer<QObject> guard(context);
    m_resolver->lookupMailRoute(address.asciiDomain(), this,
                                [result, s, timer, done = std::move(done), guard,
                                 hasContext = context != nullptr](const dns::MailRoute &route) mutable {
                                    if (hasContext && !guard)
                                        return;
                                    s.domain = domainSignal(route);
                                    result->mxAcceptsMail = route.acceptsMail();
                                    if (route.kind == dns::MailRoute::Kind::Failure)
                                        result->detail = route.error;
                                    if (route.kind == dns::MailRoute::Kind::Mx) {
                                        QStringList hosts;
                                        for (const auto &mx : route.mx)
                                            hosts.append(mx.host);
                                        const Provider provider = identifyProvider(hosts);
                                        result->smtpProvider = provider.name;
                                        s.acceptAllGateway = provider.acceptsAllAtRcpt;
                                    }
                                    finish(*result, s, timer);
                                    done(*result);
                                });
}

} // namespace mailcaff::verify
