#pragma once

namespace mailcaff::net {

/// Raises this process's soft limit on open descriptors towards the hard one (at most 65536) and returns
/// it; -1 when unknown. Every SMTP session, HTTP connection and database file is a descriptor, and the
/// soft limit is often 1024.
int raiseDescriptorLimit();

} // namespace mailcaff::net
