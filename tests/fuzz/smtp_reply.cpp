// The SMTP reply parser and classifier: every byte a mail server sends, split into reads at any point.
#include "smtp/classifier.h"
#include "smtp/reply.h"

using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    // The first byte picks the read size, as the network would split the stream.
    const qsizetype chunk = 1 + data[0] % 64;
    const QByteArrayView stream(reinterpret_cast<const char *>(data) + 1, qsizetype(size) - 1);
    smtp::ReplyParser parser;
    for (qsizetype at = 0; at < stream.size(); at += chunk) {
        parser.feed(stream.sliced(at, std::min(chunk, stream.size() - at)));
        while (const auto reply = parser.next()) {
            if (reply->code < 200 || reply->code > 599)
                __builtin_trap(); // a reply always has a three-digit code
            for (const auto stage :
                 {smtp::Stage::Banner, smtp::Stage::Helo, smtp::Stage::MailFrom, smtp::Stage::RcptTo})
                (void)smtp::toString(smtp::classify(*reply, stage));
        }
        if (parser.hasError())
            break;
    }
    (void)parser.pendingBytes();
    return 0;
}
