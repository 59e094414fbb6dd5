// List import: bytes of a CSV or text file in any encoding, decoded, split into records, the address
// column guessed, and the records written back out.
#include "core/csv.h"

using namespace mailcaff;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const QByteArray bytes(reinterpret_cast<const char *>(data), qsizetype(size));
    const QString text = core::csv::decode(bytes);
    const QChar delimiter = core::csv::detectDelimiter(text.left(64 * 1024));
    const QList<QStringList> rows = core::csv::parse(text, delimiter);
    bool header = false;
    (void)core::csv::guessAddressColumn(rows, &header);
    for (const QStringList &row : rows)
        (void)core::csv::record(row, delimiter);
    return 0;
}
