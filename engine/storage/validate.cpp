#include "validate.h"

#include "core/emailaddress.h"
#include "dns/resolver.h"

#include <QRegularExpression>

using namespace Qt::StringLiterals;

namespace mailcaff::storage::validate {

QString listenAddress(const QString &text, QHostAddress *out)
{
    QHostAddress address;
    if (text == "localhost"_L1) {
        address = QHostAddress::LocalHost;
    } else if ((!text.contains(u':') && text.count(u'.') != 3) || !address.setAddress(text)) {
        // QHostAddress takes inet_aton shorthands ("127.1"): refuse them, they are typos.
        return u"'%1' is not an IP address"_s.arg(text);
    }
    if (out)
        *out = address;
    return {};
}

QString port(const QString &text, quint16 *out)
{
    bool ok = false;
    const uint value = text.trimmed().toUInt(&ok);
    if (!ok || value > 65535)
        return u"'%1' is not a port number (0-65535)"_s.arg(text);
    if (out)
        *out = quint16(value);
    return {};
}

QString dnsServers(const QString &text)
{
    dns::Resolver check;
    QString error;
    if (!check.setServers(text, &error))
        return error;
    return {};
}

QString heloName(const QString &text)
{
    if (text.isEmpty())
        return {};
    static const QRegularExpression re(u"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                                       "(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"_s);
    if (!re.match(text).hasMatch())
        return u"'%1' is not a fully qualified host name (e.g. verify.example.com)"_s.arg(text);
    return {};
}

QString mailFrom(const QString &text)
{
    if (text.isEmpty())
        return {};
    const auto address = core::EmailAddress::parse(text);
    if (!address.isValid())
        return address.errorText();
    return {};
}

} // namespace mailcaff::storage::validate
