#include "targetpolicy.h"

#include <algorithm>

#include <array>

using namespace Qt::StringLiterals;

namespace mailcaff::net {

namespace {

struct Range
{
    const char *network;
    int prefix;
    const char *what;
};

// IANA special-purpose registries (RFC 6890 and updates): nothing here is a public mail server or website.
constexpr std::array blocked{
    Range{"0.0.0.0", 8, "a 'this network' address"},
    Range{"10.0.0.0", 8, "a private address"},
    Range{"100.64.0.0", 10, "a carrier-grade NAT address"},
    Range{"127.0.0.0", 8, "a loopback address"},
    Range{"169.254.0.0", 16, "a link-local address (cloud metadata lives here)"},
    Range{"172.16.0.0", 12, "a private address"},
    Range{"192.0.0.0", 24, "an IETF protocol address"},
    Range{"192.0.2.0", 24, "a documentation address"},
    Range{"192.88.99.0", 24, "a deprecated relay address"},
    Range{"192.168.0.0", 16, "a private address"},
    Range{"198.18.0.0", 15, "a benchmarking address"},
    Range{"198.51.100.0", 24, "a documentation address"},
    Range{"203.0.113.0", 24, "a documentation address"},
    Range{"224.0.0.0", 4, "a multicast address"},
    Range{"240.0.0.0", 4, "a reserved address"},
    Range{"::", 128, "the unspecified address"},
    Range{"::1", 128, "a loopback address"},
    Range{"100::", 64, "a discard-only address"},
    Range{"2001:db8::", 32, "a documentation address"},
    Range{"2001::", 23, "an IETF protocol address"},
    Range{"fc00::", 7, "a private (unique local) address"},
    Range{"fe80::", 10, "a link-local address"},
    Range{"fec0::", 10, "a site-local address"},
    Range{"ff00::", 8, "a multicast address"},
};

/// The IPv4 address inside an IPv6 one that carries it (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4
/// 2002:AABB:CCDD::/48), so the IPv4 rules apply to it too.
QHostAddress embeddedIpv4(const QHostAddress &address)
{
    if (address.protocol() != QAbstractSocket::IPv6Protocol)
        return {};
    bool isV4 = false;
    const quint32 mapped = address.toIPv4Address(&isV4);
    if (isV4)
        return QHostAddress(mapped);
    const Q_IPV6ADDR a = address.toIPv6Address();
    auto v4At = [&](int i) {
        return QHostAddress(quint32(a[i]) << 24 | quint32(a[i + 1]) << 16 | quint32(a[i + 2]) << 8 |
                            a[i + 3]);
    };
    if (address.isInSubnet(QHostAddress(u"64:ff9b::"_s), 96))
        return v4At(12);
    if (address.isInSubnet(QHostAddress(u"2002::"_s), 16))
        return v4At(2);
    return {};
}

const Range *blockedRange(const QHostAddress &address)
{
    for (const Range &r : blocked) {
        if (address.isInSubnet(QHostAddress(QString::fromLatin1(r.network)), r.prefix))
            return &r;
    }
    return nullptr;
}

} // namespace

bool TargetPolicy::isPublic(const QHostAddress &address)
{
    if (address.isNull() || address.isBroadcast())
        return false;
    if (const QHostAddress inner = embeddedIpv4(address); !inner.isNull())
        return isPublic(inner);
    return blockedRange(address) == nullptr;
}

bool TargetPolicy::isAllowed(const QHostAddress &address) const
{
    if (address.isNull() || m_allowed.isEmpty())
        return false;
    // ::ffff:10.0.0.25 is 10.0.0.25 (only the mapped form: NAT64 and 6to4 go through other machines).
    bool mapped = false;
    const quint32 v4 = address.toIPv4Address(&mapped);
    const QHostAddress plain =
        address.protocol() == QAbstractSocket::IPv6Protocol && mapped ? QHostAddress(v4) : address;
    return std::any_of(m_allowed.cbegin(), m_allowed.cend(),
                       [&](const Subnet &s) { return plain.isInSubnet(s.first, s.second); });
}

std::optional<QList<TargetPolicy::Subnet>> TargetPolicy::parseSubnets(const QString &text, QString *error)
{
    QList<Subnet> subnets;
    for (const QString &item : text.split(u',', Qt::SkipEmptyParts)) {
        const QString trimmed = item.trimmed();
        Subnet subnet =
            trimmed.contains(u'/') ? QHostAddress::parseSubnet(trimmed) : Subnet{QHostAddress(trimmed), -1};
        if (subnet.first.isNull()) {
            if (error)
                *error = u"'%1' is not an IP address or network (ADDRESS or ADDRESS/BITS)"_s.arg(trimmed);
            return std::nullopt;
        }
        // ::ffff:10.0.0.25 is written for 10.0.0.25: targets are compared in that form.
        bool mapped = false;
        const quint32 v4 = subnet.first.toIPv4Address(&mapped);
        if (subnet.first.protocol() == QAbstractSocket::IPv6Protocol && mapped) {
            subnet.first = QHostAddress(v4);
            subnet.second = subnet.second < 0 ? 32 : std::max(0, subnet.second - 96);
        }
        if (subnet.second < 0)
            subnet.second = subnet.first.protocol() == QAbstractSocket::IPv4Protocol ? 32 : 128;
        if (subnet.second == 0) {
            if (error)
                *error = u"'%1' is every address: that is --allow-private-targets"_s.arg(trimmed);
            return std::nullopt;
        }
        subnets.append(subnet);
    }
    return subnets;
}

QString TargetPolicy::describe(const QHostAddress &address)
{
    if (address.isNull())
        return u"no address"_s;
    if (address.isBroadcast())
        return u"%1 is the broadcast address"_s.arg(address.toString());
    if (const QHostAddress inner = embeddedIpv4(address); !inner.isNull() && !isPublic(inner))
        return u"%1 carries %2"_s.arg(address.toString(), describe(inner));
    if (const Range *r = blockedRange(address))
        return u"%1 is %2"_s.arg(address.toString(), QString::fromLatin1(r->what));
    return u"%1 is a public address"_s.arg(address.toString());
}

} // namespace mailcaff::net
