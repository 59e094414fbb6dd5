// The website email extractor: any page a company's site (or an attacker's) serves.
#include "find/scrape.h"

using namespace Qt::StringLiterals;
using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray html(reinterpret_cast<const char *>(data), qsizetype(size));
    const QStringList found = find::extractEmails(html, u"example.com"_s);
    for (const QString &address : found)
        if (!address.endsWith(u"@example.com"_s))
            __builtin_trap(); // only the company's own addresses
    return 0;
}
