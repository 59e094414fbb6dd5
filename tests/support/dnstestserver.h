#pragma once

#include <QByteArray>
#include <QHash>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QString>
#include <QStringList>

class QTcpServer;
class QTcpSocket;
class QUdpSocket;

namespace mailcaff::test {

/// A scriptable DNS server on loopback for tests and benchmarks: UDP and TCP (RFC 1035 section 4.2; TCP
/// messages carry a two-byte length prefix) on the same port. It answers like a recursive resolver would
/// (RA set, CNAME chains followed in the answer) from records the test adds, with per-name behaviours for
/// the failure cases. Names are matched case-insensitively, without a trailing dot; unknown names get the
/// default behaviour (NXDOMAIN unless changed). Wire format is encoded and decoded here, independently of
/// the engine's parser, so the two check each other.
///
/// Usage:
///     DnsTestServer dns;
///     QVERIFY(dns.listen());
///     dns.addMx(u"example.com"_s, 10, u"mx1.example.com"_s);
///     resolver.setServers(dns.serverString());
class DnsTestServer : public QObject
{
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DnsTestServer)
public:
    enum class RecordType : quint16 { A = 1, NS = 2, CNAME = 5, SOA = 6, MX = 15, TXT = 16, AAAA = 28 };
    Q_ENUM(RecordType)

    enum class Behaviour {
        Normal,    ///< answer from the records (NODATA if the name has records of other types only)
        NxDomain,  ///< RCODE 3 with the SOA in the authority section
        NoData,    ///< NOERROR, empty answer, SOA in the authority section, whatever records the name has
        ServFail,  ///< RCODE 2
        Refused,   ///< RCODE 5
        Truncated, ///< over UDP: TC bit and no answer, so the client retries over TCP, which gets the records
        Silent,    ///< never answers (timeouts); TCP connections are accepted and left waiting
        Malformed  ///< the right ID and question, then an answer record that cannot be parsed (a name
                   ///< compression pointer to itself, and the record cut short)
    };
    Q_ENUM(Behaviour)

    enum class Transport { Udp, Tcp };
    Q_ENUM(Transport)

    explicit DnsTestServer(QObject *parent = nullptr);
    ~DnsTestServer() override;

    /// Binds UDP and TCP on the same port; port 0 picks a free ephemeral port. Bind loopback only.
    bool listen(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    void close();
    bool isListening() const;
    QHostAddress address() const;
    quint16 port() const;
    /// "127.0.0.1:PORT" or "[::1]:PORT", as Resolver::setServers takes it.
    QString serverString() const;
    QString errorString() const;

    // Records. `ttl` is the TTL served; a host of "" or "." is the root (null MX, RFC 7505).
    void addMx(const QString &name, quint16 preference, const QString &host, quint32 ttl = 300);
    void addNullMx(const QString &name, quint32 ttl = 300);
    void addA(const QString &name, const QString &ipv4, quint32 ttl = 300);
    void addAAAA(const QString &name, const QString &ipv6, quint32 ttl = 300);
    void addAddress(const QString &name, const QHostAddress &address, quint32 ttl = 300);
    void addCname(const QString &name, const QString &target, quint32 ttl = 300);
    void addTxt(const QString &name, const QString &text, quint32 ttl = 300);
    void addNs(const QString &name, const QString &host, quint32 ttl = 300);
    /// DNS rebinding: A and AAAA questions for `name` are answered with one of `addresses` (of the family
    /// asked), the next one each time, with TTL 0.
    void setAddressRotation(const QString &name, const QList<QHostAddress> &addresses);
    void removeRecords(const QString &name, RecordType type);
    void removeName(const QString &name);
    /// Removes all records, behaviours and delays (not the counters).
    void clear();

    void setBehaviour(const QString &name, Behaviour behaviour);
    Behaviour behaviour(const QString &name) const;
    /// What a name without records and without its own behaviour gets (default NxDomain).
    void setDefaultBehaviour(Behaviour behaviour);

    /// True (default): a CNAME answer carries the chain and the target's records of the type asked, as a
    /// recursive resolver sends it. False: only the CNAME ("bare"), so the client must ask about the target.
    void setChaseCnames(bool chase);
    /// The SOA served in negative answers: its record TTL and its MINIMUM field (RFC 2308: the negative TTL
    /// is the smaller of the two). Defaults 3600 and 300.
    void setSoa(quint32 ttl, quint32 minimum);
    /// Delays the answers for `name` (or all names) by `milliseconds`; 0 removes the delay.
    void setDelay(const QString &name, int milliseconds);
    void setDefaultDelay(int milliseconds);
    /// Like dnsmasq's dns-forward-max: at most `queries` UDP questions being answered (delayed) at once; the
    /// ones beyond are dropped without a reply (0, the default: no limit).
    void setMaxOutstanding(int queries) { m_maxOutstanding = queries; }
    /// Questions dropped so far for setMaxOutstanding().
    int droppedQueries() const { return m_dropped; }

    int queryCount(const QString &name, RecordType type) const;
    int queryCount(const QString &name, RecordType type, Transport transport) const;
    int totalQueries() const;
    void resetCounts();

Q_SIGNALS:
    void queryReceived(const QString &name, quint16 type, mailcaff::test::DnsTestServer::Transport transport);

private:
    struct Record
    {
        RecordType type = RecordType::A;
        quint32 ttl = 0;
        quint16 preference = 0;
        QString target;         // MX, CNAME, NS
        QByteArray data;        // A/AAAA address bytes
        QList<QByteArray> text; // TXT character-strings
    };
    struct Question
    {
        quint16 id = 0;
        quint16 flags = 0;
        QString name;
        quint16 type = 0;
        quint16 qclass = 0;
        QByteArray rawName;
        int udpPayload = 512;
        bool edns = false;
    };

    static QString key(const QString &name);
    static Record addressRecord(const QHostAddress &address, quint32 ttl);
    void addRecord(const QString &name, Record record);
    void readDatagrams();
    void acceptConnections();
    void readTcp(QTcpSocket *socket);
    /// The answer to `query`, or an empty array when the server keeps silent.
    QByteArray respond(const QByteArray &query, Transport transport, int *delay);

    QUdpSocket *m_udp = nullptr;
    QTcpServer *m_tcp = nullptr;
    QString m_error;
    QHash<QString, QList<Record>> m_records;
    QHash<QString, QList<Record>> m_rotations;
    QHash<QString, int> m_rotationTurns;
    QHash<QString, Behaviour> m_behaviours;
    QHash<QString, int> m_delays;
    Behaviour m_defaultBehaviour = Behaviour::NxDomain;
    int m_defaultDelay = 0;
    int m_maxOutstanding = 0;
    int m_outstanding = 0;
    int m_dropped = 0;
    bool m_chaseCnames = true;
    quint32 m_soaTtl = 3600;
    quint32 m_soaMinimum = 300;
    QHash<QString, int> m_counts; // "name|type|transport"
    int m_total = 0;
};

} // namespace mailcaff::test
