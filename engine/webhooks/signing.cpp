#include "signing.h"

#include <QMessageAuthenticationCode>
#include <QRandomGenerator>

using namespace Qt::StringLiterals;

namespace mailcaff::webhooks {

namespace {

QByteArray randomBytes(qsizetype count)
{
    QByteArray bytes(count, Qt::Uninitialized);
    // QRandomGenerator::system() is the OS CSPRNG (getrandom on Linux): fit for secrets.
    QRandomGenerator::system()->generate(bytes.begin(), bytes.end());
    return bytes;
}

} // namespace

QByteArray generateSecret()
{
    return QByteArray(SecretPrefix) + randomBytes(24).toBase64();
}

QString generateMessageId()
{
    return u"msg_"_s + QString::fromLatin1(randomBytes(16).toBase64(QByteArray::Base64UrlEncoding |
                                                                    QByteArray::OmitTrailingEquals));
}

QString sign(const QByteArray &secretWithPrefix, const QString &msgId, qint64 timestamp,
             const QByteArray &body)
{
    QByteArray encoded = secretWithPrefix;
    if (encoded.startsWith(SecretPrefix))
        encoded.remove(0, qsizetype(sizeof SecretPrefix - 1));
    const auto key = QByteArray::fromBase64Encoding(encoded, QByteArray::AbortOnBase64DecodingErrors);
    if (!key || key.decoded.isEmpty())
        return {};
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, key.decoded);
    mac.addData(msgId.toUtf8());
    mac.addData(".");
    mac.addData(QByteArray::number(timestamp));
    mac.addData(".");
    mac.addData(body);
    return u"v1,"_s + QString::fromLatin1(mac.result().toBase64());
}

} // namespace mailcaff::webhooks
