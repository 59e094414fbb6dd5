// DNS answers in wire format: what any server (or anyone spoofing one) can send back.
#include "dns/dnsmessage.h"

using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArrayView message(reinterpret_cast<const char *>(data), qsizetype(size));
    QString error;
    const auto parsed = dns::DnsMessage::parse(message, &error);
    if (!parsed && error.isEmpty())
        __builtin_trap(); // a refusal says why
    int offset = 12;
    (void)dns::readDomainName(message, offset);
    return 0;
}
