#include "requests.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QStringDecoder>

using namespace Qt::StringLiterals;

namespace mailcaff::server::requests {

namespace {

/// A string field that must be there and not blank; 400 naming the field (after `prefix`) otherwise.
std::optional<HttpResponse> requiredString(const QJsonObject &body, const QString &name, QString *out,
                                           qsizetype maxLength = 1000, const QString &prefix = {})
{
    const QJsonValue value = body.value(name);
    const QString field = prefix + name;
    if (value.isUndefined() || value.isNull())
        return HttpResponse::error(400, u"Missing required field: %1"_s.arg(field));
    if (!value.isString())
        return HttpResponse::error(400, u"Invalid field '%1': must be a string"_s.arg(field));
    if (value.toString().trimmed().isEmpty())
        return HttpResponse::error(400, u"Invalid field '%1': must not be empty"_s.arg(field));
    if (value.toString().size() > maxLength)
        return HttpResponse::error(
            400, u"Invalid field '%1': longer than %2 characters"_s.arg(field).arg(maxLength));
    *out = value.toString();
    return std::nullopt;
}

/// The optional "mode" field: power (default) or quick; anything else is a 400 naming the field.
std::optional<HttpResponse> mode(const QJsonObject &body, core::Mode *mode)
{
    const QJsonValue value = body.value(u"mode"_s);
    if (value.isUndefined() || value.isNull())
        return std::nullopt;
    const auto parsed = value.isString() ? core::modeFromString(value.toString()) : std::nullopt;
    if (!parsed)
        return HttpResponse::error(400, u"Invalid field 'mode': must be \"power\" or \"quick\""_s);
    *mode = *parsed;
    return std::nullopt;
}

/// A required array of 1 to MaxBulkItems values.
std::optional<HttpResponse> bulkArray(const QJsonObject &body, const QString &name, const QString &what,
                                      const QString &items, QJsonArray *out)
{
    const QJsonValue value = body.value(name);
    if (value.isUndefined() || value.isNull())
        return HttpResponse::error(400, u"Missing required field: %1"_s.arg(name));
    if (!value.isArray())
        return HttpResponse::error(400, u"Invalid field '%1': must be an array of %2"_s.arg(name, what));
    *out = value.toArray();
    if (out->isEmpty() || out->size() > MaxBulkItems)
        return HttpResponse::error(400, u"Invalid field '%1': must hold 1 to %2 %3 (got %4)"_s.arg(name)
                                            .arg(MaxBulkItems)
                                            .arg(items)
                                            .arg(out->size()));
    return std::nullopt;
}

} // namespace

std::optional<HttpResponse> jsonObject(const QByteArray &contentType, const QByteArray &body,
                                       QJsonObject *out)
{
    const QByteArray type = contentType.split(';').first().trimmed().toLower();
    if (!type.isEmpty() && type != "application/json")
        return HttpResponse::error(
            400, u"Content-Type must be application/json, not %1"_s.arg(QString::fromLatin1(type.left(100))));
    if (body.trimmed().isEmpty())
        return HttpResponse::error(400, u"Missing request body: send a JSON object"_s);
    QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
    [[maybe_unused]] const QString decoded = utf8.decode(body);
    if (utf8.hasError())
        return HttpResponse::error(400, u"The request body is not valid UTF-8"_s);
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        return HttpResponse::error(
            400,
            u"Invalid JSON body: %1 at offset %2"_s.arg(parseError.errorString()).arg(parseError.offset));
    if (!doc.isObject())
        return HttpResponse::error(400, u"The request body must be a JSON object"_s);
    *out = doc.object();
    return std::nullopt;
}

std::optional<HttpResponse> verify(const QJsonObject &body, Verify *out)
{
    if (auto bad = requiredString(body, u"email"_s, &out->email))
        return bad;
    return mode(body, &out->mode);
}

std::optional<HttpResponse> verifyBulk(const QJsonObject &body, VerifyBulk *out)
{
    QJsonArray list;
    if (auto bad = bulkArray(body, u"emails"_s, u"strings"_s, u"addresses"_s, &list))
        return bad;
    out->emails.clear();
    for (qsizetype i = 0; i < list.size(); ++i) {
        if (!list.at(i).isString())
            return HttpResponse::error(400, u"Invalid field 'emails': item %1 is not a string"_s.arg(i));
        out->emails.append(list.at(i).toString());
    }
    return mode(body, &out->mode);
}

std::optional<HttpResponse> lead(const QJsonObject &body, find::FindRequest *out, const QString &where)
{
    if (auto bad = requiredString(body, u"first_name"_s, &out->firstName, 200, where))
        return bad;
    if (auto bad = requiredString(body, u"last_name"_s, &out->lastName, 200, where))
        return bad;
    auto given = [&](const QString &name) {
        const QJsonValue v = body.value(name);
        return !v.isUndefined() && !v.isNull();
    };
    if (!given(u"domain"_s) && !given(u"company_name"_s))
        return HttpResponse::error(400, u"Missing required field: %1domain (or %1company_name)"_s.arg(where));
    if (!given(u"domain"_s))
        return requiredString(body, u"company_name"_s, &out->companyName, 200, where);
    if (auto bad = requiredString(body, u"domain"_s, &out->domain, 253, where))
        return bad;
    if (find::normaliseDomain(out->domain).isEmpty())
        return HttpResponse::error(400, u"Invalid field '%1domain': \"%2\" is not a domain name"_s.arg(
                                            where, out->domain.left(100)));
    return std::nullopt;
}

std::optional<HttpResponse> findBulk(const QJsonObject &body, FindBulk *out)
{
    QJsonArray list;
    if (auto bad = bulkArray(body, u"leads"_s, u"objects"_s, u"leads"_s, &list))
        return bad;
    out->leads.clear();
    out->stored.clear();
    for (qsizetype i = 0; i < list.size(); ++i) {
        if (!list.at(i).isObject())
            return HttpResponse::error(400, u"Invalid field 'leads': item %1 is not an object"_s.arg(i));
        find::FindRequest one;
        if (auto bad = lead(list.at(i).toObject(), &one, u"leads[%1]."_s.arg(i)))
            return bad;
        // The lead as given, its fields only (results echo them).
        QJsonObject o{{u"first_name"_s, one.firstName}, {u"last_name"_s, one.lastName}};
        if (!one.domain.isEmpty())
            o.insert(u"domain"_s, one.domain);
        else
            o.insert(u"company_name"_s, one.companyName);
        out->leads.append(one);
        out->stored.append(o);
    }
    return std::nullopt;
}

std::optional<HttpResponse> findDomain(const QJsonObject &body, QString *company)
{
    return requiredString(body, u"company_name"_s, company, 200);
}

std::optional<HttpResponse> webhookUrl(const QJsonObject &body, QString *url)
{
    const QJsonValue value = body.value(u"url"_s);
    if (!value.isString() || value.toString().trimmed().isEmpty())
        return HttpResponse::error(400, value.isUndefined() || value.isNull()
                                            ? u"Missing required field: url"_s
                                            : u"Invalid field 'url': must be a non-empty string"_s);
    *url = value.toString().trimmed();
    return std::nullopt;
}

} // namespace mailcaff::server::requests
