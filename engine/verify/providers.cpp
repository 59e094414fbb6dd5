#include "providers.h"

#include <QHash>

#include <array>

using namespace Qt::StringLiterals;

namespace mailcaff::verify {

namespace {

struct Rule
{
    const char *suffix;
    const char *name;
    bool acceptsAll;
};

// MX host suffixes as the providers publish them. Yahoo/AOL and the security gateways accept every
// recipient during the SMTP dialogue and bounce afterwards, so an accepted RCPT there is not a verdict.
constexpr std::array rules{
    Rule{"google.com", "google", false},
    Rule{"googlemail.com", "google", false},
    Rule{"mail.protection.outlook.com", "microsoft", false},
    Rule{"olc.protection.outlook.com", "microsoft", false},
    Rule{"outlook.com", "microsoft", false},
    Rule{"hotmail.com", "microsoft", false},
    Rule{"yahoodns.net", "yahoo", true},
    Rule{"yahoo.com", "yahoo", true},
    Rule{"aol.com", "yahoo", true},
    Rule{"pphosted.com", "proofpoint", true},
    Rule{"ppe-hosted.com", "proofpoint", true},
    Rule{"mimecast.com", "mimecast", true},
    Rule{"mimecast.co.za", "mimecast", true},
    Rule{"barracudanetworks.com", "barracuda", true},
    Rule{"iphmx.com", "cisco", true},
    Rule{"messagelabs.com", "broadcom", true},
    Rule{"trendmicro.com", "trendmicro", true},
    Rule{"sophos.com", "sophos", true},
    Rule{"zoho.com", "zoho", false},
    Rule{"zoho.eu", "zoho", false},
    Rule{"icloud.com", "apple", false},
    Rule{"me.com", "apple", false},
    Rule{"protonmail.ch", "proton", false},
    Rule{"yandex.net", "yandex", false},
    Rule{"yandex.ru", "yandex", false},
    Rule{"mail.ru", "mailru", false},
    Rule{"qq.com", "tencent", false},
    Rule{"gmx.net", "gmx", false},
    Rule{"web.de", "webde", false},
    Rule{"fastmail.com", "fastmail", false},
    Rule{"messagingengine.com", "fastmail", false},
    Rule{"secureserver.net", "godaddy", false},
    Rule{"ovh.net", "ovh", false},
    Rule{"ionos.com", "ionos", false},
    Rule{"kundenserver.de", "ionos", false},
};

bool hostMatches(const QString &host, QLatin1StringView suffix)
{
    return host == suffix || (host.endsWith(suffix) && host.at(host.size() - suffix.size() - 1) == u'.');
}

/// The rule matching `raw`, or -1. Asked for every verification: the answers are kept per host (this
/// thread's, a bounded number).
int ruleFor(const QString &raw)
{
    thread_local QHash<QString, int> known;
    if (const auto it = known.constFind(raw); it != known.cend())
        return *it;
    const QString host = raw.toLower();
    int found = -1;
    for (int i = 0; i < int(rules.size()) && found < 0; ++i) {
        if (hostMatches(host, QLatin1StringView(rules[i].suffix)))
            found = i;
    }
    if (known.size() >= 4096)
        known.clear();
    known.insert(raw, found);
    return found;
}

} // namespace

Provider identifyProvider(const QStringList &mxHosts)
{
    for (const QString &raw : mxHosts) {
        if (const int i = ruleFor(raw); i >= 0)
            return {QString::fromLatin1(rules[i].name), rules[i].acceptsAll};
    }
    return {};
}

} // namespace mailcaff::verify
