#pragma once

#include "core/result.h"
#include "find/finder.h"
#include "httpresponse.h"

#include <QJsonObject>
#include <QStringList>

#include <optional>

namespace mailcaff::server::requests {

// The request bodies of API.md, read and checked without touching the engine: each function fills `out`
// and returns nothing, or returns the 400 to send (the field named). Fuzzed: tests/fuzz/json_request.cpp.

/// The body as a JSON object: Content-Type (when given) application/json, UTF-8, JSON, an object.
std::optional<HttpResponse> jsonObject(const QByteArray &contentType, const QByteArray &body,
                                       QJsonObject *out);

/// POST /verify: `email` (required) and `mode` (power, the default, or quick).
struct Verify
{
    QString email;
    core::Mode mode = core::Mode::Power;
};
std::optional<HttpResponse> verify(const QJsonObject &body, Verify *out);

/// POST /verify/bulk: `emails`, 1 to 500 strings (checked one by one later, as items), and `mode`.
struct VerifyBulk
{
    QStringList emails;
    core::Mode mode = core::Mode::Power;
};
std::optional<HttpResponse> verifyBulk(const QJsonObject &body, VerifyBulk *out);

/// POST /find, or one lead of /find/bulk: `first_name`, `last_name`, and `domain` or `company_name`.
/// `where` prefixes the field names in errors ("leads[3].").
std::optional<HttpResponse> lead(const QJsonObject &body, find::FindRequest *out, const QString &where = {});

/// POST /find/bulk: `leads`, 1 to 500 of them; `stored` holds each lead's own fields, as results echo them.
struct FindBulk
{
    QList<find::FindRequest> leads;
    QList<QJsonObject> stored;
};
std::optional<HttpResponse> findBulk(const QJsonObject &body, FindBulk *out);

/// POST /find-domain: `company_name`.
std::optional<HttpResponse> findDomain(const QJsonObject &body, QString *company);

/// PUT /webhook: `url`, a non-empty string (its target is checked by the webhook store).
std::optional<HttpResponse> webhookUrl(const QJsonObject &body, QString *url);

/// The most items a bulk request takes (API.md).
inline constexpr int MaxBulkItems = 500;

} // namespace mailcaff::server::requests
