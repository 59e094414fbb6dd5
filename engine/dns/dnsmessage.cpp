#include "dnsmessage.h"

#include <algorithm>

namespace mailcaff::dns {

namespace {

constexpr int HeaderSize = 12;
constexpr int MaxNameLength = 255; // RFC 1035 section 2.3.4, in wire octets

quint16 read16(QByteArrayView data, int offset)
{
    return quint16((quint8(data[offset]) << 8) | quint8(data[offset + 1]));
}

quint32 read32(QByteArrayView data, int offset)
{
    return (quint32(read16(data, offset)) << 16) | read16(data, offset + 2);
}

void appendLabel(QString &name, QByteArrayView label)
{
    if (!name.isEmpty())
        name += u'.';
    for (char ch : label) {
        const auto byte = quint8(ch);
        if (byte > 0x20 && byte < 0x7f && ch != '.' && ch != '\\') {
            name += QChar(ushort(byte >= 'A' && byte <= 'Z' ? byte + 32 : byte));
        } else {
            name += u'\\';
            name += QString::number(byte).rightJustified(3, u'0');
        }
    }
}

bool fail(QString *error, const QString &text)
{
    if (error)
        *error = text;
    return false;
}

bool readRecord(QByteArrayView data, int &offset, DnsResourceRecord &rr, QString *error)
{
    const auto name = readDomainName(data, offset);
    if (!name)
        return fail(error, QStringLiteral("bad owner name"));
    if (offset + 10 > data.size())
        return fail(error, QStringLiteral("record header truncated"));
    rr.name = *name;
    rr.type = read16(data, offset);
    rr.rrClass = read16(data, offset + 2);
    // RFC 2181 section 8: a TTL with the top bit set is treated as zero.
    const quint32 ttl = read32(data, offset + 4);
    rr.ttl = (ttl & 0x80000000u) ? 0 : ttl;
    const int rdLength = read16(data, offset + 8);
    offset += 10;
    if (offset + rdLength > data.size())
        return fail(error, QStringLiteral("record data truncated"));
    const int rdStart = offset;
    rr.rdata = data.sliced(rdStart, rdLength).toByteArray();
    offset += rdLength;

    // Names in RDATA may point anywhere earlier in the message, so they are decoded here, with the message.
    int pos = rdStart;
    switch (rr.type) {
    case RrType::CNAME:
    case RrType::NS: {
        const auto target = readDomainName(data, pos);
        if (!target || pos > offset)
            return fail(error, QStringLiteral("bad name in record data"));
        rr.target = *target;
        break;
    }
    case RrType::MX: {
        if (rdLength < 3)
            return fail(error, QStringLiteral("MX record too short"));
        rr.preference = read16(data, pos);
        pos += 2;
        const auto exchange = readDomainName(data, pos);
        if (!exchange || pos > offset)
            return fail(error, QStringLiteral("bad MX exchange"));
        rr.target = *exchange;
        break;
    }
    case RrType::SOA: {
        const auto mname = readDomainName(data, pos);
        if (!mname || !readDomainName(data, pos) || pos + 20 > offset)
            return fail(error, QStringLiteral("bad SOA record"));
        rr.target = *mname;
        rr.soaMinimum = read32(data, pos + 16);
        break;
    }
    default:
        break;
    }
    return true;
}

} // namespace

std::optional<QString> readDomainName(QByteArrayView message, int &offset)
{
    QString name;
    int pos = offset;
    int wireLength = 1; // the terminating root label
    int lowestTarget = offset;
    bool jumped = false;
    while (true) {
        if (pos < 0 || pos >= message.size())
            return std::nullopt;
        const auto length = quint8(message[pos]);
        if ((length & 0xc0) == 0xc0) {
            if (pos + 1 >= message.size())
                return std::nullopt;
            const int target = ((length & 0x3f) << 8) | quint8(message[pos + 1]);
            // Only strictly backward jumps: every pointer lands before the previous one, so no loop.
            if (target >= lowestTarget)
                return std::nullopt;
            lowestTarget = target;
            if (!jumped)
                offset = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (length & 0xc0) // 0x40 and 0x80: extended label types (RFC 6891 deprecated them); not supported
            return std::nullopt;
        if (length == 0) {
            if (!jumped)
                offset = pos + 1;
            return name;
        }
        if (pos + 1 + length > message.size())
            return std::nullopt;
        wireLength += 1 + length;
        if (wireLength > MaxNameLength)
            return std::nullopt;
        appendLabel(name, message.sliced(pos + 1, length));
        pos += 1 + length;
    }
}

std::optional<quint32> DnsMessage::negativeTtl() const
{
    std::optional<quint32> result;
    for (const auto &rr : authorities) {
        if (rr.type != RrType::SOA)
            continue;
        const quint32 ttl = std::min(rr.ttl, rr.soaMinimum);
        result = result ? std::min(*result, ttl) : ttl;
    }
    return result;
}

bool DnsMessage::hasSoaInAuthority() const
{
    return std::any_of(authorities.cbegin(), authorities.cend(),
                       [](const DnsResourceRecord &rr) { return rr.type == RrType::SOA; });
}

std::optional<DnsMessage> DnsMessage::parse(QByteArrayView data, QString *error)
{
    if (data.size() < HeaderSize) {
        fail(error, QStringLiteral("message shorter than a DNS header"));
        return std::nullopt;
    }
    DnsMessage message;
    message.id = read16(data, 0);
    message.flags = read16(data, 2);
    const int qdCount = read16(data, 4);
    const int anCount = read16(data, 6);
    const int nsCount = read16(data, 8);
    int offset = HeaderSize;

    for (int i = 0; i < qdCount; ++i) {
        const auto name = readDomainName(data, offset);
        if (!name || offset + 4 > data.size()) {
            fail(error, QStringLiteral("bad question"));
            return std::nullopt;
        }
        if (i == 0) {
            message.questionName = *name;
            message.questionType = read16(data, offset);
        }
        offset += 4;
    }
    for (int i = 0; i < anCount + nsCount; ++i) {
        DnsResourceRecord rr;
        if (!readRecord(data, offset, rr, error))
            return std::nullopt;
        (i < anCount ? message.answers : message.authorities).append(std::move(rr));
    }
    return message;
}

} // namespace mailcaff::dns
