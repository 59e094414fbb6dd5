#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

#include <optional>

namespace mailcaff::dns {

/// Resource record types the engine reads (RFC 1035 section 3.2.2, RFC 3596 for AAAA, RFC 6891 for OPT).
namespace RrType {
constexpr quint16 A = 1;
constexpr quint16 NS = 2;
constexpr quint16 CNAME = 5;
constexpr quint16 SOA = 6;
constexpr quint16 MX = 15;
constexpr quint16 TXT = 16;
constexpr quint16 AAAA = 28;
constexpr quint16 OPT = 41;
} // namespace RrType

/// One resource record of a parsed message. Names are lowercase ASCII without the trailing dot; the root is
/// the empty string. Bytes outside printable ASCII, and a '.' or '\' inside a label, are written as \DDD
/// (RFC 1035 section 5.1) so a hostile label can never pass for a different name.
struct DnsResourceRecord
{
    QString name;
    quint16 type = 0;
    quint16 rrClass = 0;
    quint32 ttl = 0;
    QByteArray rdata;       ///< raw RDATA; names inside it may be compressed, hence the decoded fields
    QString target;         ///< CNAME/NS target, MX exchange, SOA MNAME
    quint16 preference = 0; ///< MX
    quint32 soaMinimum = 0; ///< SOA MINIMUM (RFC 2308: the negative-caching TTL)
};

/// A DNS response parsed from wire format (RFC 1035 section 4), name compression included. Only what the
/// resolver needs: header, question, answer and authority sections; the additional section is skipped.
struct DnsMessage
{
    quint16 id = 0;
    quint16 flags = 0;
    QString questionName;
    quint16 questionType = 0;
    QList<DnsResourceRecord> answers;
    QList<DnsResourceRecord> authorities;

    int rcode() const { return flags & 0x000f; }
    bool isTruncated() const { return (flags & 0x0200) != 0; }

    /// How long a negative answer (NXDOMAIN or NODATA) may be cached: min(SOA TTL, SOA MINIMUM) of the SOA
    /// in the authority section (RFC 2308 section 5); nullopt without an SOA.
    std::optional<quint32> negativeTtl() const;
    bool hasSoaInAuthority() const;

    /// Nullopt and `error` set on a malformed message (short, bad pointer, compression loop, overlong name).
    static std::optional<DnsMessage> parse(QByteArrayView data, QString *error = nullptr);
};

/// Reads a possibly compressed domain name at `offset`; on success `offset` is moved past the name as it
/// appears at that position (a pointer counts two bytes). Pointers must go strictly backwards, which rules
/// out loops (RFC 1035 section 4.1.4 allows only prior occurrences).
std::optional<QString> readDomainName(QByteArrayView message, int &offset);

} // namespace mailcaff::dns
