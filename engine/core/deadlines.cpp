#include "deadlines.h"

#include <algorithm>
#include <limits>

namespace mailcaff::core {

Deadline::Deadline(Deadlines &queue, std::function<void()> onTimeout)
    : m_queue(queue)
    , m_onTimeout(std::move(onTimeout))
{
}

Deadline::~Deadline()
{
    stop();
}

void Deadline::start(qint64 ms)
{
    stop();
    m_queue.add(this, m_queue.now() + std::max<qint64>(0, ms));
}

void Deadline::stop()
{
    if (m_active)
        m_queue.remove(this);
}

int Deadline::remainingTime() const
{
    if (!m_active)
        return -1;
    return int(std::clamp<qint64>(m_at->first - m_queue.now(), 0, std::numeric_limits<int>::max()));
}

Deadlines::Deadlines()
{
    m_clock.start();
    m_timer.setSingleShot(true);
    QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] { fire(); });
}

Deadlines::~Deadlines()
{
    // Deadlines still running say they are not: nothing refers to this queue any more.
    for (auto &[at, deadline] : m_queue)
        deadline->m_active = false;
}

void Deadlines::add(Deadline *deadline, qint64 at)
{
    deadline->m_at = m_queue.emplace(at, deadline);
    deadline->m_active = true;
    if (!m_timer.isActive() || at < m_armedFor)
        arm();
}

void Deadlines::remove(Deadline *deadline)
{
    // The timer stays armed: when it fires for nothing it is armed again for the earliest left. Deadlines
    // mostly end in the order they began, so re-arming at each would cost more than one idle wake-up.
    m_queue.erase(deadline->m_at);
    deadline->m_active = false;
    if (m_queue.empty())
        m_timer.stop();
}

void Deadlines::fire()
{
    const qint64 t = now();
    while (!m_queue.empty() && m_queue.begin()->first <= t) {
        Deadline *due = m_queue.begin()->second;
        m_queue.erase(m_queue.begin());
        due->m_active = false;
        // A copy: the callback may destroy `due`, and with it the function.
        const std::function<void()> onTimeout = due->m_onTimeout;
        onTimeout();
    }
    arm();
}

void Deadlines::arm()
{
    if (m_queue.empty()) {
        m_timer.stop();
        return;
    }
    m_armedFor = m_queue.begin()->first;
    m_timer.start(int(std::clamp<qint64>(m_armedFor - now(), 0, std::numeric_limits<int>::max())));
}

} // namespace mailcaff::core
