#include "onlinelimit.h"

#include <QList>
#include <QMap>

#include <algorithm>
#include <limits>
#include <utility>

namespace mailcaff::bench {

namespace {

/// One round of `w` pipelined RCPTs, each refused with probability `p`: the chance that `refused` of them
/// are refused, the last `trailing` in a row (refused == trailing == w: all of them).
struct RoundOutcome
{
    int refused = 0;
    int trailing = 0;
    double chance = 0;
};

QList<RoundOutcome> roundOutcomes(int w, double p)
{
    QMap<std::pair<int, int>, double> chances{{{0, 0}, 1.0}};
    for (int i = 0; i < w; ++i) {
        QMap<std::pair<int, int>, double> next;
        for (auto it = chances.cbegin(); it != chances.cend(); ++it) {
            next[{it.key().first + 1, it.key().second + 1}] += it.value() * p;
            next[{it.key().first, 0}] += it.value() * (1 - p);
        }
        chances = next;
    }
    QList<RoundOutcome> out;
    for (auto it = chances.cbegin(); it != chances.cend(); ++it)
        if (it.value() > 0) // none that cannot happen (p 0 or 1): their values need not be finite
            out.append({it.key().first, it.key().second, it.value()});
    return out;
}

} // namespace

double bestRcptsPerRoundTrip(double p, SessionRules rules)
{
    p = std::clamp(p, 0.0, 1.0);
    const bool late = rules.lateRoundTrips > 0;
    const int most = rules.recipients > 0 ? rules.recipients : 0; // the count matters only when limited
    // A round never passes the run limit; it passes the session's refusal limit only when that costs time
    // rather than being ruled out.
    const int maxRound = late ? rules.inRow : std::min(rules.inRow, rules.refused);
    QList<QList<RoundOutcome>> outcomes{{}};
    for (int w = 1; w <= maxRound; ++w)
        outcomes.append(roundOutcomes(w, p));
    // State: recipients so far (0 when unlimited), refused so far, refused in a row at the end. One pass in
    // this order is exact: every state a round leads to comes later in the session (more recipients or more
    // refusals) or, when unlimited and nothing was refused, is the same refusal count with no run, which is
    // solved first and in closed form when the round leads back to it.
    const int nRefused = rules.refused + 1, nInRow = rules.inRow + 1;
    auto index = [&](int n, int e, int c) { return (n * nRefused + e) * nInRow + c; };
    auto sessionValue = [&](double lambda) {
        QList<double> value((most + 1) * nRefused * nInRow, 0.0);
        for (int n = most; n >= 0; --n) {
            for (int e = rules.refused; e >= 0; --e) {
                for (int c = 0; c <= std::min(e, rules.inRow); ++c) {
                    double best = -lambda; // QUIT on its own
                    const int room = std::min({rules.inRow - c, late ? maxRound : rules.refused - e,
                                               most > 0 ? most - n : maxRound});
                    for (int w = 1; w <= room; ++w) {
                        const int next = most > 0 ? n + w : 0;
                        for (const bool last : {true, false}) { // QUIT along with this round, or not
                            double gain = w - lambda;           // every answer counts, on time or late
                            double again = 0; // the chance of coming back to this very state
                            for (const RoundOutcome &o : outcomes.at(w)) {
                                if (e + o.refused > rules.refused) {
                                    // Past the limit: the answers come late, and the session ends there.
                                    gain += o.chance * (-lambda * rules.lateRoundTrips - (last ? 0 : lambda));
                                } else if (last) {
                                    continue;
                                } else {
                                    const int i =
                                        index(next, e + o.refused, o.refused == w ? c + w : o.trailing);
                                    if (i == index(n, e, c))
                                        again += o.chance;
                                    else
                                        gain += o.chance * value.at(i);
                                }
                            }
                            if (again >= 1 - 1e-12) // nothing is ever refused: the session never ends
                                best = gain > 0 ? std::numeric_limits<double>::infinity() : best;
                            else
                                best = std::max(best, gain / (1 - again));
                        }
                    }
                    value[index(n, e, c)] = best;
                }
            }
        }
        return value.at(index(0, 0, 0)) - 2 * lambda; // the session's two round trips before any RCPT
    };
    // The value falls as the price of a round trip rises; no rate passes the largest round a round trip.
    double low = 0, high = maxRound + 1;
    for (int i = 0; i < 60; ++i) {
        const double mid = (low + high) / 2;
        (sessionValue(mid) > 0 ? low : high) = mid;
    }
    return low;
}

} // namespace mailcaff::bench
