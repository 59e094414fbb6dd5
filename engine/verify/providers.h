#pragma once

#include <QString>
#include <QStringList>

namespace mailcaff::verify {

/// A mail provider recognised from its MX host names.
struct Provider
{
    QString name; ///< API `smtp_provider`: "google", "microsoft", "yahoo", "proofpoint", …
    /// Accepts every recipient at RCPT time and bounces later (Yahoo, many security gateways): an accepted
    /// RCPT proves nothing there.
    bool acceptsAllAtRcpt = false;
};

/// The provider behind a set of MX hosts (the most preferred recognised one), or an empty name.
Provider identifyProvider(const QStringList &mxHosts);

} // namespace mailcaff::verify
