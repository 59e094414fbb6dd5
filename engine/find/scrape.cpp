#include "scrape.h"

#include <QRegularExpression>

using namespace Qt::StringLiterals;

namespace mailcaff::find {

namespace {

/// Cloudflare's email protection: hex pairs, the first the XOR key of the rest.
QString decodeCfEmail(const QString &hex)
{
    if (hex.size() < 4 || hex.size() % 2 != 0)
        return {};
    bool ok = false;
    const int key = hex.left(2).toInt(&ok, 16);
    if (!ok)
        return {};
    QString out;
    for (qsizetype i = 2; i + 1 < hex.size(); i += 2) {
        const int b = hex.mid(i, 2).toInt(&ok, 16);
        if (!ok)
            return {};
        out += QChar(char16_t((b ^ key) & 0xff));
    }
    return out;
}

QString decodeEntities(QString text)
{
    static const QRegularExpression numeric(u"&#(x[0-9a-fA-F]+|[0-9]+);?"_s);
    QString out;
    qsizetype last = 0;
    auto it = numeric.globalMatch(text);
    while (it.hasNext()) {
        const auto m = it.next();
        out += QStringView(text).mid(last, m.capturedStart() - last);
        const QString v = m.captured(1);
        bool ok = false;
        const uint code = v.startsWith(u'x') ? v.mid(1).toUInt(&ok, 16) : v.toUInt(&ok, 10);
        out += ok && code > 0 && code < 0x10000 ? QString(QChar(char16_t(code))) : m.captured(0);
        last = m.capturedEnd();
    }
    out += QStringView(text).mid(last);
    out.replace(u"&commat;"_s, u"@"_s);
    out.replace(u"&period;"_s, u"."_s);
    out.replace(u"&amp;"_s, u"&"_s);
    return out;
}

} // namespace

QStringList contactPaths()
{
    return {u"/"_s, u"/contact"_s, u"/about"_s, u"/team"_s, u"/impressum"_s, u"/imprint"_s};
}

QStringList extractEmails(const QByteArray &html, const QString &domain)
{
    QString text = decodeEntities(QString::fromUtf8(html));
    // Cloudflare: data-cfemail="…" and /cdn-cgi/l/email-protection#… both carry the encoded address.
    static const QRegularExpression cf(u"(?:data-cfemail=\"|email-protection#)([0-9a-fA-F]{6,})"_s);
    QStringList decoded;
    for (auto it = cf.globalMatch(text); it.hasNext();)
        decoded.append(decodeCfEmail(it.next().captured(1)));
    text += u' ' + decoded.join(u' ');
    // Spelled-out separators: "jane [at] acme [dot] com", "jane(at)acme.com", "jane at acme dot com".
    static const QRegularExpression at(u"\\s*(?:\\[at\\]|\\(at\\)|\\{at\\}|\\s+at\\s+)\\s*"_s,
                                       QRegularExpression::CaseInsensitiveOption);
    static const QRegularExpression dot(u"\\s*(?:\\[dot\\]|\\(dot\\)|\\{dot\\}|\\s+dot\\s+)\\s*"_s,
                                        QRegularExpression::CaseInsensitiveOption);
    text.replace(at, u"@"_s);
    text.replace(dot, u"."_s);
    text.replace(u"%40"_s, u"@"_s); // mailto:jane%40acme.com
    const QString escaped = QRegularExpression::escape(domain);
    const QRegularExpression address(u"([a-z0-9][a-z0-9._%+-]{0,63})@"_s + escaped + u"(?![a-z0-9-]|\\.[a-z0-9])"_s,
                                     QRegularExpression::CaseInsensitiveOption);
    QStringList out;
    for (auto it = address.globalMatch(text); it.hasNext();) {
        QString local = it.next().captured(1).toLower();
        while (local.endsWith(u'.'))
            local.chop(1);
        const QString email = local + u'@' + domain;
        if (!local.isEmpty() && !out.contains(email))
            out.append(email);
    }
    return out;
}

} // namespace mailcaff::find
