#pragma once

#include <QStringList>

namespace mailcaff::test {

/// What /proc says about a process (this one when `pid` is 0): for checks that nothing leaks.
namespace proc {

/// A "Name:  N kB" field of /proc/PID/status (e.g. "VmRSS:", "VmHWM:"), in KiB; -1 when unknown.
qint64 statusKb(const char *field, qint64 pid = 0);
/// CPU time used so far, user and system, in seconds; -1 when unknown.
double cpuSeconds(qint64 pid = 0);
/// What each open descriptor points to ("socket:[…]", a path …).
QStringList openFileTargets(qint64 pid = 0);
/// Open descriptors, sockets included.
int openFiles(qint64 pid = 0);
/// Open sockets (TCP, UDP, Unix).
int openSockets(qint64 pid = 0);

} // namespace proc
} // namespace mailcaff::test
