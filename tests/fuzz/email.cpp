// The address syntax parser: every input a user, a list or an API client can give.
#include "core/emailaddress.h"

#include <QString>

using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QString input = QString::fromUtf8(reinterpret_cast<const char *>(data), qsizetype(size));
    const core::EmailAddress address = core::EmailAddress::parse(input);
    (void)address.errorText();
    if (address.isValid()) {
        // The form used for SMTP and as the cache key parses again, to itself: a valid address keeps one
        // identity however often it goes through the parser.
        const QString ascii = address.ascii();
        const core::EmailAddress again = core::EmailAddress::parse(ascii);
        if (!again.isValid() || again.ascii() != ascii)
            __builtin_trap();
    }
    return 0;
}
