#pragma once

namespace mailcaff::app {

/// The whole program: parses the command line, then runs a verb (`keys …`, `verify …`), the API server
/// alone (`--headless`), or the window with the API server. Returns the process exit code: 0 success,
/// 1 runtime failure, 2 usage error.
int run(int argc, char **argv);

} // namespace mailcaff::app
