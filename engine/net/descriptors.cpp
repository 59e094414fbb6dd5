#include "descriptors.h"

#include <algorithm>

#include <sys/resource.h>

namespace mailcaff::net {

int raiseDescriptorLimit()
{
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return -1;
    // The soft limit is 1024 by default for select()'s sake; Qt uses poll(). Up to the hard limit, within
    // reason.
    const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, 65536);
    if (limit.rlim_cur < wanted) {
        rlimit raised = limit;
        raised.rlim_cur = wanted;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    return limit.rlim_cur == RLIM_INFINITY ? 65536 : int(std::min<rlim_t>(limit.rlim_cur, 65536));
}

} // namespace mailcaff::net
