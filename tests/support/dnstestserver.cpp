#include "dnstestserver.h"

#include <QNetworkDatagram>
#include <QNetworkProxy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTimer>
#include <QUdpSocket>

#include <algorithm>
#include <memory>
#include <optional>

using namespace Qt::StringLiterals;

namespace mailcaff::test {

namespace {

constexpr int HeaderSize = 12;
constexpr quint16 TypeOpt = 41;
constexpr quint16 ClassIn = 1;
constexpr int RcodeFormErr = 1;
constexpr int RcodeServFail = 2;
constexpr int RcodeNxDomain = 3;
constexpr int RcodeNotImp = 4;
constexpr int RcodeRefused = 5;
// What this server offers as its own EDNS payload size (DNS Flag Day 2020).
constexpr int ServerUdpPayload = 1232;

quint16 read16(const QByteArray &data, int offset)
{
    return quint16((quint8(data[offset]) << 8) | quint8(data[offset + 1]));
}

/// RFC 1035 section 4.1.4: labels, or a pointer to an earlier name. Pointers must go backwards (no loops).
std::optional<QString> decodeName(const QByteArray &data, int &offset)
{
    QString name;
    int pos = offset;
    int limit = offset;
    bool jumped = false;
    int length = 1;
    while (pos >= 0 && pos < data.size()) {
        const auto len = quint8(data[pos]);
        if ((len & 0xc0) == 0xc0) {
            if (pos + 1 >= data.size())
                return std::nullopt;
            const int target = ((len & 0x3f) << 8) | quint8(data[pos + 1]);
            if (target >= limit)
                return std::nullopt;
            limit = target;
            if (!jumped)
                offset = pos + 2;
            jumped = true;
            pos = target;
            continue;
        }
        if (len & 0xc0)
            return std::nullopt;
        if (len == 0) {
            if (!jumped)
                offset = pos + 1;
            return name;
        }
        if (pos + 1 + len > data.size() || (length += len + 1) > 255)
            return std::nullopt;
        if (!name.isEmpty())
            name += u'.';
        name += QString::fromLatin1(data.constData() + pos + 1, len);
        pos += 1 + len;
    }
    return std::nullopt;
}

/// Builds a message, compressing names against every name written before (RFC 1035 section 4.1.4).
class Writer
{
public:
    QByteArray out;

    void u8(int value) { out.append(char(value & 0xff)); }
    void u16(int value)
    {
        u8(value >> 8);
        u8(value);
    }
    void u32(quint32 value)
    {
        u16(int(value >> 16));
        u16(int(value & 0xffff));
    }
    void name(const QString &dotted)
    {
        QString rest = dotted;
        if (rest.endsWith(u'.'))
            rest.chop(1);
        while (!rest.isEmpty()) {
            const QString suffixKey = rest.toLower();
            const auto known = m_offsets.constFind(suffixKey);
            if (known != m_offsets.cend()) {
                u16(0xc000 | *known);
                return;
            }
            if (out.size() < 0x3fff)
                m_offsets.insert(suffixKey, int(out.size()));
            const qsizetype dot = rest.indexOf(u'.');
            const QByteArray label = (dot < 0 ? rest : rest.left(dot)).toLatin1().left(63);
            u8(int(label.size()));
            out.append(label);
            rest = dot < 0 ? QString() : rest.mid(dot + 1);
        }
        u8(0);
    }
    int beginRdata()
    {
        const int at = int(out.size());
        u16(0);
        return at;
    }
    void endRdata(int at)
    {
        const int length = int(out.size()) - at - 2;
        out[at] = char(length >> 8);
        out[at + 1] = char(length & 0xff);
    }

private:
    QHash<QString, int> m_offsets;
};

QString zoneOf(const QString &name)
{
    const auto labels = name.split(u'.', Qt::SkipEmptyParts);
    if (labels.size() <= 2)
        return labels.join(u'.');
    return labels.mid(labels.size() - 2).join(u'.');
}

QString countKey(const QString &name, quint16 type, DnsTestServer::Transport transport)
{
    return u"%1|%2|%3"_s.arg(name).arg(type).arg(transport == DnsTestServer::Transport::Udp ? 0 : 1);
}

} // namespace

DnsTestServer::DnsTestServer(QObject *parent)
    : QObject(parent)
{
}

DnsTestServer::~DnsTestServer() = default;

bool DnsTestServer::listen(const QHostAddress &address, quint16 port)
{
    close();
    // UDP picks the ephemeral port, TCP must get the same one; another process may hold it for TCP, so try a
    // few ports before giving up.
    for (int attempt = 0; attempt < 20; ++attempt) {
        auto udp = std::make_unique<QUdpSocket>(this);
        udp->setProxy(QNetworkProxy::NoProxy); // loopback: never through a proxy from the environment
        if (!udp->bind(address, port)) {
            m_error = udp->errorString();
            return false;
        }
        auto tcp = std::make_unique<QTcpServer>(this);
        tcp->setProxy(QNetworkProxy::NoProxy);
        if (tcp->listen(address, udp->localPort())) {
            m_udp = udp.release();
            m_tcp = tcp.release();
            connect(m_udp, &QUdpSocket::readyRead, this, &DnsTestServer::readDatagrams);
            // Hundreds of queries may arrive at once (a benchmark's first second): none dropped here.
            m_udp->setSocketOption(QAbstractSocket::ReceiveBufferSizeSocketOption, 4 * 1024 * 1024);
            connect(m_tcp, &QTcpServer::newConnection, this, &DnsTestServer::acceptConnections);
            m_error.clear();
            return true;
        }
        m_error = tcp->errorString();
        if (port != 0)
            return false;
    }
    return false;
}

void DnsTestServer::close()
{
    delete m_udp;
    m_udp = nullptr;
    delete m_tcp; // its connections are its children
    m_tcp = nullptr;
}

bool DnsTestServer::isListening() const
{
    return m_udp && m_tcp && m_tcp->isListening();
}

QHostAddress DnsTestServer::address() const
{
    return m_udp ? m_udp->localAddress() : QHostAddress();
}

quint16 DnsTestServer::port() const
{
    return m_udp ? m_udp->localPort() : 0;
}

QString DnsTestServer::serverString() const
{
    const QHostAddress host = address();
    if (host.protocol() == QAbstractSocket::IPv6Protocol)
        return u"[%1]:%2"_s.arg(host.toString()).arg(port());
    return u"%1:%2"_s.arg(host.toString()).arg(port());
}

QString DnsTestServer::errorString() const
{
    return m_error;
}

QString DnsTestServer::key(const QString &name)
{
    QString k = name.trimmed().toLower();
    if (k.endsWith(u'.'))
        k.chop(1);
    return k;
}

void DnsTestServer::addRecord(const QString &name, Record record)
{
    m_records[key(name)].append(std::move(record));
}

void DnsTestServer::addMx(const QString &name, quint16 preference, const QString &host, quint32 ttl)
{
    Record r;
    r.type = RecordType::MX;
    r.ttl = ttl;
    r.preference = preference;
    r.target = host == u"."_s ? QString() : host;
    addRecord(name, r);
}

void DnsTestServer::addNullMx(const QString &name, quint32 ttl)
{
    addMx(name, 0, QString(), ttl);
}

void DnsTestServer::addA(const QString &name, const QString &ipv4, quint32 ttl)
{
    const QHostAddress address(ipv4);
    Q_ASSERT(address.protocol() == QAbstractSocket::IPv4Protocol);
    addAddress(name, address, ttl);
}

void DnsTestServer::addAAAA(const QString &name, const QString &ipv6, quint32 ttl)
{
    const QHostAddress address(ipv6);
    Q_ASSERT(address.protocol() == QAbstractSocket::IPv6Protocol);
    addAddress(name, address, ttl);
}

DnsTestServer::Record DnsTestServer::addressRecord(const QHostAddress &address, quint32 ttl)
{
    Record r;
    r.ttl = ttl;
    if (address.protocol() == QAbstractSocket::IPv4Protocol) {
        r.type = RecordType::A;
        const quint32 v4 = address.toIPv4Address();
        for (int shift = 24; shift >= 0; shift -= 8)
            r.data.append(char((v4 >> shift) & 0xff));
    } else {
        r.type = RecordType::AAAA;
        const Q_IPV6ADDR v6 = address.toIPv6Address();
        r.data = QByteArray(reinterpret_cast<const char *>(v6.c), 16);
    }
    return r;
}

void DnsTestServer::addAddress(const QString &name, const QHostAddress &address, quint32 ttl)
{
    addRecord(name, addressRecord(address, ttl));
}

void DnsTestServer::setAddressRotation(const QString &name, const QList<QHostAddress> &addresses)
{
    QList<Record> records;
    for (const QHostAddress &a : addresses)
        records.append(addressRecord(a, 0));
    m_rotations.insert(key(name), records);
    // The name exists (its other types are NODATA, not NXDOMAIN).
    m_records[key(name)];
}

void DnsTestServer::addCname(const QString &name, const QString &target, quint32 ttl)
{
    Record r;
    r.type = RecordType::CNAME;
    r.ttl = ttl;
    r.target = target;
    addRecord(name, r);
}

void DnsTestServer::addNs(const QString &name, const QString &host, quint32 ttl)
{
    Record r;
    r.type = RecordType::NS;
    r.ttl = ttl;
    r.target = host;
    addRecord(name, r);
}

void DnsTestServer::addTxt(const QString &name, const QString &text, quint32 ttl)
{
    Record r;
    r.type = RecordType::TXT;
    r.ttl = ttl;
    // One TXT record may hold several character-strings of at most 255 octets (RFC 1035 section 3.3.14).
    const QByteArray utf8 = text.toUtf8();
    for (qsizetype i = 0; i < utf8.size(); i += 255)
        r.text.append(utf8.mid(i, 255));
    if (r.text.isEmpty())
        r.text.append(QByteArray());
    addRecord(name, r);
}

void DnsTestServer::removeRecords(const QString &name, RecordType type)
{
    const auto it = m_records.find(key(name));
    if (it == m_records.end())
        return;
    it->removeIf([type](const Record &r) { return r.type == type; });
    if (it->isEmpty())
        m_records.erase(it);
}

void DnsTestServer::removeName(const QString &name)
{
    m_records.remove(key(name));
    m_behaviours.remove(key(name));
    m_delays.remove(key(name));
}

void DnsTestServer::clear()
{
    m_records.clear();
    m_rotations.clear();
    m_rotationTurns.clear();
    m_behaviours.clear();
    m_delays.clear();
}

void DnsTestServer::setBehaviour(const QString &name, Behaviour behaviour)
{
    if (behaviour == Behaviour::Normal)
        m_behaviours.remove(key(name));
    else
        m_behaviours.insert(key(name), behaviour);
}

DnsTestServer::Behaviour DnsTestServer::behaviour(const QString &name) const
{
    return m_behaviours.value(key(name), Behaviour::Normal);
}

void DnsTestServer::setDefaultBehaviour(Behaviour behaviour)
{
    m_defaultBehaviour = behaviour;
}

void DnsTestServer::setChaseCnames(bool chase)
{
    m_chaseCnames = chase;
}

void DnsTestServer::setSoa(quint32 ttl, quint32 minimum)
{
    m_soaTtl = ttl;
    m_soaMinimum = minimum;
}

void DnsTestServer::setDelay(const QString &name, int milliseconds)
{
    if (milliseconds > 0)
        m_delays.insert(key(name), milliseconds);
    else
        m_delays.remove(key(name));
}

void DnsTestServer::setDefaultDelay(int milliseconds)
{
    m_defaultDelay = std::max(milliseconds, 0);
}

int DnsTestServer::queryCount(const QString &name, RecordType type) const
{
    return queryCount(name, type, Transport::Udp) + queryCount(name, type, Transport::Tcp);
}

int DnsTestServer::queryCount(const QString &name, RecordType type, Transport transport) const
{
    return m_counts.value(countKey(key(name), quint16(type), transport));
}

int DnsTestServer::totalQueries() const
{
    return m_total;
}

void DnsTestServer::resetCounts()
{
    m_counts.clear();
    m_total = 0;
}

void DnsTestServer::readDatagrams()
{
    while (m_udp && m_udp->hasPendingDatagrams()) {
        const QNetworkDatagram datagram = m_udp->receiveDatagram();
        int delay = 0;
        const QByteArray reply = respond(datagram.data(), Transport::Udp, &delay);
        if (reply.isEmpty())
            continue;
        const QHostAddress to = datagram.senderAddress();
        const quint16 toPort = quint16(datagram.senderPort());
        if (delay <= 0) {
            m_udp->writeDatagram(reply, to, toPort);
        } else if (m_maxOutstanding > 0 && m_outstanding >= m_maxOutstanding) {
            ++m_dropped; // a busy forwarder: no answer at all
        } else {
            QUdpSocket *udp = m_udp;
            ++m_outstanding;
            QTimer::singleShot(delay, udp, [this, udp, reply, to, toPort] {
                --m_outstanding;
                udp->writeDatagram(reply, to, toPort);
            });
        }
    }
}

void DnsTestServer::acceptConnections()
{
    while (QTcpSocket *socket = m_tcp->nextPendingConnection()) {
        connect(socket, &QTcpSocket::readyRead, this, [this, socket] { readTcp(socket); });
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    }
}

void DnsTestServer::readTcp(QTcpSocket *socket)
{
    // Several queries may share one connection (RFC 7766 section 6.2.1), each behind its length prefix.
    QByteArray buffer = socket->property("dnsBuffer").toByteArray() + socket->readAll();
    while (buffer.size() >= 2) {
        const int length = read16(buffer, 0);
        if (buffer.size() < 2 + length)
            break;
        const QByteArray query = buffer.mid(2, length);
        buffer.remove(0, 2 + length);
        int delay = 0;
        const QByteArray reply = respond(query, Transport::Tcp, &delay);
        if (reply.isEmpty())
            continue;
        QByteArray framed;
        framed.append(char(reply.size() >> 8)).append(char(reply.size() & 0xff)).append(reply);
        if (delay <= 0)
            socket->write(framed);
        else
            QTimer::singleShot(delay, socket, [socket, framed] { socket->write(framed); });
    }
    socket->setProperty("dnsBuffer", buffer);
}

QByteArray DnsTestServer::respond(const QByteArray &query, Transport transport, int *delay)
{
    if (query.size() < HeaderSize)
        return {};
    Question q;
    q.id = read16(query, 0);
    q.flags = read16(query, 2);
    if (q.flags & 0x8000) // a response, not a query: drop it
        return {};
    const int qdCount = read16(query, 4);
    const int anCount = read16(query, 6);
    const int nsCount = read16(query, 8);
    const int arCount = read16(query, 10);
    const int opcode = (q.flags >> 11) & 0xf;

    int offset = HeaderSize;
    bool parsed = false;
    if (qdCount == 1) {
        if (auto name = decodeName(query, offset); name && offset + 4 <= query.size()) {
            q.name = *name;
            q.type = read16(query, offset);
            q.qclass = read16(query, offset + 2);
            offset += 4;
            parsed = true;
        }
    }
    // The additional section may hold an OPT record (RFC 6891): the client's UDP payload size.
    for (int i = 0; parsed && i < anCount + nsCount + arCount; ++i) {
        if (!decodeName(query, offset) || offset + 10 > query.size()) {
            parsed = false;
            break;
        }
        const quint16 type = read16(query, offset);
        const quint16 rrClass = read16(query, offset + 2);
        const int rdLength = read16(query, offset + 8);
        offset += 10 + rdLength;
        if (offset > query.size()) {
            parsed = false;
            break;
        }
        if (type == TypeOpt && i >= anCount + nsCount) {
            q.edns = true;
            q.udpPayload = std::max<int>(512, rrClass);
        }
    }

    const QString k = key(q.name);
    if (parsed) {
        ++m_counts[countKey(k, q.type, transport)];
        ++m_total;
        Q_EMIT queryReceived(k, q.type, transport);
    }
    *delay = m_delays.value(k, m_defaultDelay);

    struct Answer
    {
        QString owner;
        Record record;
    };
    int rcode = 0;
    QList<Answer> answers;
    bool soa = false;
    bool silent = false;
    bool malformed = false;

    auto effective = [this](const QString &nameKey) {
        const auto it = m_behaviours.constFind(nameKey);
        if (it != m_behaviours.cend())
            return *it;
        return m_records.contains(nameKey) ? Behaviour::Normal : m_defaultBehaviour;
    };

    bool truncate = false;
    if (!parsed) {
        rcode = RcodeFormErr;
    } else if (opcode != 0) {
        rcode = RcodeNotImp;
    } else {
        // Follow the name through CNAMEs the way a recursive resolver fills its answer (RFC 1034 section
        // 3.6.2); a loop or a chain over 16 links just ends the answer there.
        QString name = q.name;
        QStringList seen;
        for (int hop = 0; hop < 16; ++hop) {
            const QString nameKey = key(name);
            seen.append(nameKey);
            Behaviour b = effective(nameKey);
            if (b == Behaviour::Truncated) {
                if (hop == 0 && transport == Transport::Udp) {
                    truncate = true;
                    break;
                }
                b = Behaviour::Normal;
            }
            if (b == Behaviour::Silent) {
                silent = true;
                break;
            }
            if (b == Behaviour::Malformed) {
                malformed = true;
                break;
            }
            if (b == Behaviour::ServFail || b == Behaviour::Refused) {
                rcode = b == Behaviour::ServFail ? RcodeServFail : RcodeRefused;
                answers.clear();
                break;
            }
            if (b == Behaviour::NxDomain) {
                rcode = RcodeNxDomain;
                soa = true;
                break;
            }
            if (b == Behaviour::NoData) {
                soa = true;
                break;
            }
            if (const auto rotation = m_rotations.constFind(nameKey); rotation != m_rotations.cend()) {
                // One address of the asked family per answer, the next one each time.
                QList<Record> family;
                for (const Record &r : *rotation)
                    if (quint16(r.type) == q.type)
                        family.append(r);
                if (!family.isEmpty()) {
                    int &turn = m_rotationTurns[nameKey + QString::number(q.type)];
                    answers.append({name, family.at(turn++ % family.size())});
                    break;
                }
            }
            const QList<Record> records = m_records.value(nameKey);
            bool matched = false;
            for (const auto &record : records) {
                if (quint16(record.type) == q.type || q.type == 255 /* ANY */) {
                    answers.append({name, record});
                    matched = true;
                }
            }
            if (matched)
                break;
            const auto cname = std::find_if(records.cbegin(), records.cend(),
                                            [](const Record &r) { return r.type == RecordType::CNAME; });
            if (cname == records.cend()) {
                soa = true; // NODATA: the name exists, nothing of this type
                break;
            }
            answers.append({name, *cname});
            if (!m_chaseCnames || seen.contains(key(cname->target)))
                break;
            name = cname->target;
        }
    }
    if (silent)
        return {};

    auto encode = [&](bool truncated) {
        Writer w;
        w.u16(q.id);
        int flags = 0x8000 | (opcode << 11) | 0x0400 /* AA */ | (q.flags & 0x0100) /* RD */ | 0x0080 /* RA */;
        if (truncated)
            flags |= 0x0200;
        w.u16(flags | rcode);
        w.u16(parsed ? 1 : 0);
        const bool withRecords = !truncated;
        w.u16(withRecords ? int(answers.size()) : 0);
        w.u16(withRecords && soa ? 1 : 0);
        w.u16(q.edns ? 1 : 0);
        if (parsed) {
            w.name(q.name);
            w.u16(q.type);
            w.u16(q.qclass);
        }
        if (withRecords) {
            for (const auto &[owner, record] : std::as_const(answers)) {
                w.name(owner);
                w.u16(int(record.type));
                w.u16(ClassIn);
                w.u32(record.ttl);
                const int at = w.beginRdata();
                switch (record.type) {
                case RecordType::A:
                case RecordType::AAAA:
                    w.out.append(record.data);
                    break;
                case RecordType::MX:
                    w.u16(record.preference);
                    w.name(record.target);
                    break;
                case RecordType::CNAME:
                case RecordType::NS:
                    w.name(record.target);
                    break;
                case RecordType::TXT:
                    for (const auto &string : record.text) {
                        w.u8(int(string.size()));
                        w.out.append(string);
                    }
                    break;
                case RecordType::SOA:
                    break;
                }
                w.endRdata(at);
            }
            if (soa) {
                const QString zone = zoneOf(q.name);
                w.name(zone);
                w.u16(int(RecordType::SOA));
                w.u16(ClassIn);
                w.u32(m_soaTtl);
                const int at = w.beginRdata();
                w.name(u"ns."_s + zone);
                w.name(u"hostmaster."_s + zone);
                w.u32(1);     // serial
                w.u32(3600);  // refresh
                w.u32(600);   // retry
                w.u32(86400); // expire
                w.u32(m_soaMinimum);
                w.endRdata(at);
            }
        }
        if (q.edns) {
            w.u8(0); // root
            w.u16(TypeOpt);
            w.u16(ServerUdpPayload);
            w.u32(0);
            w.u16(0);
        }
        return w.out;
    };

    if (malformed) {
        answers.clear();
        soa = false;
        QByteArray bad = encode(false);
        bad[7] = 2; // two answers claimed
        // The first answer's owner name: a compression pointer to itself (offset of this very byte).
        const int at = int(bad.size());
        bad.append(char(0xc0 | (at >> 8)));
        bad.append(char(at & 0xff));
        bad.append("\x00\x0f\x00", 3); // TYPE MX, then the CLASS and everything after it missing
        return bad;
    }
    QByteArray reply = encode(truncate);
    // Over UDP an answer larger than the client can take is cut, with TC set (RFC 1035 section 4.2.1).
    const int limit = std::min(q.udpPayload, ServerUdpPayload);
    if (transport == Transport::Udp && !truncate && reply.size() > limit)
        reply = encode(true);
    return reply;
}

} // namespace mailcaff::test
