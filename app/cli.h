#pragma once

namespace mailcaff::app {

/// The whole program: parses the command line, then runs a verb (`keys …`, `verify …`), the API server
/// alone (`--headless`), or the window with the API server. Returns the process exit code: 0 success,
/// 1 runtime failure, 2 usage error.
int run(int argc, char **argv);

/// The window's identity for the desktop: the application icon (every size, from the resources) and the
/// desktop file's id, so title bars, task bars and docks show Mailcaff's icon and name.
void setDesktopIdentity();

} // namespace mailcaff::app
