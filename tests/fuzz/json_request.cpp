// The API's request bodies (server/requests.h): whatever a client sends as a body, every endpoint's reader
// either gives a request within API.md's limits or a 400 whose body is API.md's one error object, short.
#include "requests.h"

#include <QJsonDocument>

using namespace mailcaff;
using namespace mailcaff::server;

namespace {

void checkError(const HttpResponse &response)
{
    if (response.status != 400 || response.body.size() > 2048)
        __builtin_trap(); // a 400, never an echo of the whole input
    const QJsonDocument doc = QJsonDocument::fromJson(response.body);
    if (!doc.isObject() || doc.object().size() != 1 || doc.object().value(u"error").toString().isEmpty())
        __builtin_trap(); // {"error": "..."}
}

bool filled(const QString &value, qsizetype maxLength)
{
    return !value.trimmed().isEmpty() && value.size() <= maxLength;
}

void checkLead(const find::FindRequest &lead)
{
    if (!filled(lead.firstName, 200) || !filled(lead.lastName, 200))
        __builtin_trap();
    if (lead.domain.isEmpty() ? !filled(lead.companyName, 200)
                              : (lead.domain.size() > 253 || find::normaliseDomain(lead.domain).isEmpty()))
        __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray body(reinterpret_cast<const char *>(data), qsizetype(size));
    QJsonObject object;
    if (auto bad = requests::jsonObject("application/json; charset=utf-8", body, &object)) {
        checkError(*bad);
        return 0;
    }

    requests::Verify verify;
    if (auto bad = requests::verify(object, &verify))
        checkError(*bad);
    else if (!filled(verify.email, 1000))
        __builtin_trap();

    requests::VerifyBulk bulk;
    if (auto bad = requests::verifyBulk(object, &bulk))
        checkError(*bad);
    else if (bulk.emails.isEmpty() || bulk.emails.size() > requests::MaxBulkItems)
        __builtin_trap();

    find::FindRequest lead;
    if (auto bad = requests::lead(object, &lead))
        checkError(*bad);
    else
        checkLead(lead);

    requests::FindBulk leads;
    if (auto bad = requests::findBulk(object, &leads)) {
        checkError(*bad);
    } else {
        if (leads.leads.isEmpty() || leads.leads.size() > requests::MaxBulkItems ||
            leads.stored.size() != leads.leads.size())
            __builtin_trap();
        for (const find::FindRequest &one : std::as_const(leads.leads))
            checkLead(one);
    }

    QString company;
    if (auto bad = requests::findDomain(object, &company))
        checkError(*bad);
    else if (!filled(company, 200))
        __builtin_trap();

    QString url;
    if (auto bad = requests::webhookUrl(object, &url))
        checkError(*bad);
    else if (url.isEmpty() || url != url.trimmed())
        __builtin_trap();
    return 0;
}
