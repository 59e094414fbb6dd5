#pragma once

#include <QElapsedTimer>
#include <QTimer>

#include <functional>
#include <map>

namespace mailcaff::core {

class Deadlines;

/// A single-shot timer on a shared Deadlines queue, with QTimer's start, stop, isActive and remainingTime,
/// but no Qt timer of its own. Qt keeps a thread's timers in one sorted list, and each restart of a timer
/// walks it: with a timer per verification in flight (thousands, in a bulk job), every SMTP session's
/// command timer paid for all of them. Thousands of Deadlines cost one Qt timer.
class Deadline
{
    Q_DISABLE_COPY_MOVE(Deadline)
public:
    /// `onTimeout` runs on the queue's thread when the time is up; it may destroy this Deadline.
    Deadline(Deadlines &queue, std::function<void()> onTimeout);
    ~Deadline();
    /// (Re)starts: times out `ms` from now.
    void start(qint64 ms);
    void stop();
    bool isActive() const { return m_active; }
    /// Milliseconds left; 0 when overdue, -1 when not running (as QTimer::remainingTime()).
    int remainingTime() const;

private:
    friend class Deadlines;
    Deadlines &m_queue;
    std::function<void()> m_onTimeout;
    std::multimap<qint64, Deadline *>::iterator m_at;
    bool m_active = false;
};

/// The queue behind Deadline objects: one Qt timer, armed for the earliest of them. Lives on, and is used
/// from, one thread; it must outlive its Deadlines.
class Deadlines
{
    Q_DISABLE_COPY_MOVE(Deadlines)
public:
    Deadlines();
    ~Deadlines();
    /// How many are running, for tests.
    std::size_t size() const { return m_queue.size(); }

private:
    friend class Deadline;
    qint64 now() const { return m_clock.elapsed(); }
    void add(Deadline *deadline, qint64 at);
    void remove(Deadline *deadline);
    void fire();
    void arm();

    QElapsedTimer m_clock;
    QTimer m_timer;
    std::multimap<qint64, Deadline *> m_queue; ///< by due time, in m_clock's milliseconds
    qint64 m_armedFor = -1;                    ///< when m_timer fires, in m_clock's milliseconds
};

} // namespace mailcaff::core
