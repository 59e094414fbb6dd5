#pragma once

#include "core/result.h"

#include <QObject>

#include <functional>
#include <memory>

namespace mailcaff::dns {
class Resolver;
}
namespace mailcaff::lists {
class Lists;
}

namespace mailcaff::verify {

/// The verification pipeline: syntax, lists, DNS (and, with the power-mode issue, SMTP). Lives on the
/// engine thread with the resolver; every step is asynchronous.
class Verifier : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(Verifier)
public:
    Verifier(dns::Resolver *resolver, std::shared_ptr<const lists::Lists> lists, QObject *parent = nullptr);

    /// Power mode needs the SMTP engine, which is not built yet.
    static bool supports(core::Mode mode) { return mode == core::Mode::Quick; }

    /// `done` runs on this object's thread, unless `context` was destroyed first.
    void verify(const QString &email, core::Mode mode, QObject *context,
                std::function<void(const core::VerificationResult &)> done);

private:
    dns::Resolver *m_resolver;
    std::shared_ptr<const lists::Lists> m_lists;
};

} // namespace mailcaff::verify
