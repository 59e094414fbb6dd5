#include "procstats.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>

#include <algorithm>

#include <unistd.h>

using namespace Qt::StringLiterals;

namespace mailcaff::test::proc {

namespace {

QString procPath(qint64 pid, const QString &leaf)
{
    return u"/proc/%1/%2"_s.arg(pid != 0 ? pid : QCoreApplication::applicationPid()).arg(leaf);
}

} // namespace

qint64 statusKb(const char *field, qint64 pid)
{
    QFile f(procPath(pid, u"status"_s));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray name(field);
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith(name))
            return line.mid(name.size()).trimmed().split(' ').first().toLongLong();
    return -1;
}

double cpuSeconds(qint64 pid)
{
    QFile f(procPath(pid, u"stat"_s));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    // "PID (comm) state …": the command may hold spaces and parentheses, so fields count from the last ')'.
    // utime and stime are fields 14 and 15, in clock ticks.
    const QByteArray stat = f.readAll();
    const QList<QByteArray> fields = stat.mid(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.size() < 13)
        return -1;
    const long ticks = sysconf(_SC_CLK_TCK);
    return double(fields.at(11).toLongLong() + fields.at(12).toLongLong()) / double(ticks > 0 ? ticks : 100);
}

QStringList openFileTargets(qint64 pid)
{
    QStringList targets;
    const QDir fds(procPath(pid, u"fd"_s));
    for (const QString &fd : fds.entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System))
        targets.append(QFile::symLinkTarget(fds.filePath(fd)));
    return targets;
}

int openFiles(qint64 pid)
{
    return int(openFileTargets(pid).size());
}

int openSockets(qint64 pid)
{
    const QStringList targets = openFileTargets(pid);
    return int(std::count_if(targets.cbegin(), targets.cend(),
                             [](const QString &t) { return t.contains(u"socket:"_s); }));
}

} // namespace mailcaff::test::proc
