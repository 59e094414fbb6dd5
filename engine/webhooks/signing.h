#pragma once

#include <QByteArray>
#include <QString>

namespace mailcaff::webhooks {

/// The secret prefix of the Standard Webhooks specification: "whsec_" followed by the base64 key.
inline constexpr char SecretPrefix[] = "whsec_";

/// A new endpoint secret: "whsec_" + base64 of 24 random bytes from the system's CSPRNG.
QByteArray generateSecret();

/// A new message id ("msg_" + 22 random base64url characters); it names one delivery and stays the same
/// across its retries, so receivers can drop duplicates (Standard Webhooks, "webhook-id").
QString generateMessageId();

/// The Standard Webhooks signature "v1,<base64 HMAC-SHA256 of 'msgId.timestamp.body'>", keyed with the
/// base64-decoded part of `secretWithPrefix` (the "whsec_" prefix is optional). Empty when the secret is
/// not valid base64.
QString sign(const QByteArray &secretWithPrefix, const QString &msgId, qint64 timestamp,
             const QByteArray &body);

} // namespace mailcaff::webhooks
