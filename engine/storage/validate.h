#pragma once

#include <QHostAddress>
#include <QString>

namespace mailcaff::storage::validate {

// Checks for the values a user sets on the command line or in the window's Settings page. Each returns an
// empty string when the value is fine, otherwise what is wrong, in words (the caller names the field).

QString listenAddress(const QString &text, QHostAddress *out = nullptr);
QString port(const QString &text, quint16 *out = nullptr);
QString dnsServers(const QString &text);
/// The EHLO argument: a fully qualified host name (RFC 5321 4.1.1.1); empty means "not set".
QString heloName(const QString &text);
/// The envelope sender for probes; empty means "not set".
QString mailFrom(const QString &text);

} // namespace mailcaff::storage::validate
