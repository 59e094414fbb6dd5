#pragma once

#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QString>

#include <optional>

namespace mailcaff::net {

/// Which addresses the engine may connect to when a DNS answer (an MX host, a website, a webhook target)
/// leads there. By default only globally routable unicast addresses: a shared Mailcaff must not become a
/// scanner of its own network (SSRF). `--allow-private-targets` lifts that for tests and private networks.
/// The check is made on the address actually connected to, after DNS, so DNS rebinding cannot slip past.
class TargetPolicy
{
public:
    using Subnet = QPair<QHostAddress, int>;

    /// `allowed`: networks permitted although not public (`--allow-target`: the company's own mail server
    /// on 10.0.0.25, say), without opening every private address.
    explicit TargetPolicy(bool allowPrivate = false, QList<Subnet> allowed = {})
        : m_allowPrivate(allowPrivate)
        , m_allowed(std::move(allowed))
    {
    }

    bool allowsPrivate() const { return m_allowPrivate; }
    QList<Subnet> allowed() const { return m_allowed; }
    bool permits(const QHostAddress &address) const
    {
        return m_allowPrivate ? !address.isNull() : isPublic(address) || isAllowed(address);
    }

    /// "ADDRESS[/BITS]" items separated by commas (e.g. "10.0.0.25,fd00:1::/64"); nothing, with `error`
    /// set, when one is not an address or network.
    static std::optional<QList<Subnet>> parseSubnets(const QString &text, QString *error);

    /// Globally routable unicast: not loopback, private (RFC 1918, RFC 4193), link-local (incl. the cloud
    /// metadata address 169.254.169.254), CGNAT (RFC 6598), multicast, broadcast, unspecified, documentation
    /// or benchmarking ranges, 0.0.0.0/8, 240.0.0.0/4, and IPv6 forms of all of those (mapped, NAT64
    /// well-known prefix, 6to4 of a private address).
    static bool isPublic(const QHostAddress &address);
    /// Why an address is refused, for `reason` texts and logs.
    static QString describe(const QHostAddress &address);

private:
    bool isAllowed(const QHostAddress &address) const;

    bool m_allowPrivate = false;
    QList<Subnet> m_allowed;
};

} // namespace mailcaff::net
