#include "onlinelimit.h"

#include <QList>
#include <QMap>

#include <algorithm>
#include <cmath>
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
        out.append({it.key().first, it.key().second, it.value()});
    return out;
}

} // namespace

double bestRcptsPerRoundTrip(double p, SessionRules rules)
{
    if (p <= 0 && rules.recipients <= 0)
        return std::numeric_limits<double>::infinity();           // one session answers everything
    const int most = rules.recipients > 0 ? rules.recipients : 0; // the count matters only when limited
    const int maxRound = std::min(rules.inRow, rules.refused);
    QList<QList<RoundOutcome>> outcomes{{}};
    for (int w = 1; w <= maxRound; ++w)
        outcomes.append(roundOutcomes(w, p));
    // State: recipients so far (0 when unlimited), refused so far, refused in a row at the end.
    const int nRefused = rules.refused + 1, nInRow = rules.inRow + 1;
    auto index = [&](int n, int e, int c) { return (n * nRefused + e) * nInRow + c; };
    auto sessionValue = [&](double lambda) {
        QList<double> value((most + 1) * nRefused * nInRow, 0.0);
        for (int iteration = 0; iteration < 100'000; ++iteration) {
            double change = 0;
            for (int n = most; n >= 0; --n) {
                for (int e = rules.refused; e >= 0; --e) {
                    for (int c = 0; c <= std::min(e, rules.inRow); ++c) {
                        double best = -lambda; // QUIT on its own
                        const int room =
                            std::min({rules.inRow - c, rules.refused - e, most > 0 ? most - n : maxRound});
                        for (int w = 1; w <= room; ++w) {
                            best = std::max(best, w - lambda); // the last round, QUIT along
                            const int next = most > 0 ? n + w : 0;
                            double expected = 0;
                            for (const RoundOutcome &o : outcomes.at(w))
                                expected += o.chance * value.at(index(next, e + o.refused,
                                                                      o.refused == w ? c + w : o.trailing));
                            best = std::max(best, w - lambda + expected);
                        }
                        double &v = value[index(n, e, c)];
                        change = std::max(change, std::abs(best - v));
                        v = best;
                    }
                }
            }
            if (change < 1e-9)
                break;
        }
        return value.at(index(0, 0, 0)) - 2 * lambda; // the session's two round trips before any RCPT
    };
    double low = 0, high = 1000;
    for (int i = 0; i < 60; ++i) {
        const double mid = (low + high) / 2;
        (sessionValue(mid) > 0 ? low : high) = mid;
    }
    return low;
}

} // namespace mailcaff::bench
