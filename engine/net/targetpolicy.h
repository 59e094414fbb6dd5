#pragma once

#include <QHostAddress>
#include <QString>

namespace mailcaff::net {

/// Which addresses the engine may connect to when a DNS answer (an MX host, a website, a webhook target)
/// leads there. By default only globally routable unicast addresses: a shared Mailcaff must not become a
/// scanner of its own network (SSRF). `--allow-private-targets` lifts that for tests and private networks.
/// The check is made on the address actually connected to, after DNS, so DNS rebinding cannot slip past.
class TargetPolicy
{
public:
    explicit TargetPolicy(bool allowPrivate = false)
        : m_allowPrivate(allowPrivate)
    {
    }

    bool allowsPrivate() const { return m_allowPrivate; }
    bool permits(const QHostAddress &address) const
    {
        return m_allowPrivate ? !address.isNull() : isPublic(address);
    }

    /// Globally routable unicast: not loopback, private (RFC 1918, RFC 4193), link-local (incl. the cloud
    /// metadata address 169.254.169.254), CGNAT (RFC 6598), multicast, broadcast, unspecified, documentation
    /// or benchmarking ranges, 0.0.0.0/8, 240.0.0.0/4, and IPv6 forms of all of those (mapped, NAT64
    /// well-known prefix, 6to4 of a private address).
    static bool isPublic(const QHostAddress &address);
    /// Why an address is refused, for `reason` texts and logs.
    static QString describe(const QHostAddress &address);

private:
    bool m_allowPrivate = false;
};

} // namespace mailcaff::net
