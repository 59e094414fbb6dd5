// The finder's normalisers: a company name, and a person's first and last names (split at the first
// newline), as an API client or a list gives them.
#include "domain/companyname.h"
#include "find/personname.h"

using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString text = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    (void)domain::normaliseCompanyName(text);
    (void)domain::foldedAlnum(text);
    const qsizetype newline = text.indexOf(u'\n');
    (void)find::normalisePersonName(text.left(newline), newline < 0 ? QString() : text.mid(newline + 1));
    return 0;
}
