#include "onlinelimit.h"

#include <QHash>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <limits>

using mailcaff::bench::bestRcptsPerRoundTrip;
using mailcaff::bench::SessionRules;
using namespace Qt::StringLiterals;

namespace {

/// Mailcaff's own limits as the benchmark reads them (smtp::SessionConfig, EngineConfig).
constexpr SessionRules Ours{5, 8, 20};
constexpr SessionRules Tarpit{10, 10, 0};

/// Mailcaff's policy in the same model, worked out exactly by following every answer: each round as large
/// as the rules allow, QUIT along with the round that reaches the recipient limit, on its own when the
/// answers end the session. RCPTs answered per round trip, the session's two first round trips included.
class Greedy
{
public:
    Greedy(double p, SessionRules rules)
        : m_p(p)
        , m_rules(rules)
    {
        Q_ASSERT(rules.recipients > 0);
    }
    double rate()
    {
        const auto [rcpts, roundTrips] = from(0, 0, 0);
        return rcpts / (2 + roundTrips);
    }

private:
    /// Expected RCPTs and round trips still to come with `n` sent, `e` refused, the last `c` in a row.
    std::pair<double, double> from(int n, int e, int c)
    {
        const int key = (n * 100 + e) * 100 + c;
        if (const auto it = m_memo.constFind(key); it != m_memo.cend())
            return *it;
        std::pair<double, double> out{0, 1}; // QUIT on its own
        const int w = std::min({m_rules.inRow - c, m_rules.refused - e, m_rules.recipients - n});
        if (w > 0) {
            out = {w, 1};
            if (n + w < m_rules.recipients) {
                for (int answers = 0; answers < 1 << w; ++answers) { // bit i set: the i-th RCPT refused
                    double chance = 1;
                    int refused = 0, inRow = c;
                    for (int i = 0; i < w; ++i) {
                        const bool no = answers >> i & 1;
                        chance *= no ? m_p : 1 - m_p;
                        refused += no;
                        inRow = no ? inRow + 1 : 0;
                    }
                    const auto [rcpts, roundTrips] = from(n + w, e + refused, inRow);
                    out.first += chance * rcpts;
                    out.second += chance * roundTrips;
                }
            }
        }
        m_memo.insert(key, out);
        return out;
    }
    double m_p;
    SessionRules m_rules;
    QHash<int, std::pair<double, double>> m_memo;
};

} // namespace

class TestBenchLimits : public QObject
{
    Q_OBJECT
private slots:
    void everyRecipientRefused()
    {
        // The best is one full round with QUIT along: banner, EHLO, then as many as may all be refused.
        QCOMPARE(bestRcptsPerRoundTrip(1.0, Tarpit), 10.0 / 3);
        QCOMPARE(bestRcptsPerRoundTrip(1.0, Ours), 5.0 / 3); // 5 in a row at most
        // A run of refusals goes on across rounds: one RCPT a round does not get round the limit.
        QCOMPARE(bestRcptsPerRoundTrip(1.0, SessionRules{2, 8, 0}), 2.0 / 3);
    }

    void nothingRefused()
    {
        // No refusal ever: the longest session, its rounds as large as could all be refused.
        QCOMPARE(bestRcptsPerRoundTrip(0.0, Ours), 20.0 / 6);                        // 4 rounds of 5
        QCOMPARE(bestRcptsPerRoundTrip(0.0, SessionRules{10, 10, 100}), 100.0 / 12); // 10 rounds of 10
        QCOMPARE(bestRcptsPerRoundTrip(0.0, Tarpit), 10.0); // one endless session, 10 a round
        // Rarely refused: close to that, never above.
        const double rare = bestRcptsPerRoundTrip(0.001, Tarpit);
        QVERIFY2(rare > 9.5 && rare < 10, qPrintable(QString::number(rare)));
    }

    void pastTheLimitIsLateAndLast()
    {
        // Everything refused, no refusal allowed without the tarpit: a round of 5 costs its round trip and
        // one more, and ends the session (QUIT along): 5 RCPTs in 4 round trips.
        QCOMPARE(bestRcptsPerRoundTrip(1.0, SessionRules{5, 0, 0, 1}), 5.0 / 4);
        // Twenty round trips late is not worth it when everything is refused: ten a session, as without.
        QCOMPARE(bestRcptsPerRoundTrip(1.0, SessionRules{19, 10, 0, 20}), 10.0 / 3);
        // With a third refused, the occasional late round pays: bigger rounds than the budget allows.
        QVERIFY(bestRcptsPerRoundTrip(1.0 / 3, SessionRules{19, 10, 0, 20}) >
                bestRcptsPerRoundTrip(1.0 / 3, Tarpit) + 1);
    }

    void mailcaffsPolicyNeverBeatsTheBest()
    {
        for (const double p : {0.0, 0.05, 1.0 / 3, 0.5, 0.9, 1.0}) {
            const double best = bestRcptsPerRoundTrip(p, Ours);
            const double greedy = Greedy(p, Ours).rate();
            QVERIFY2(greedy <= best + 1e-9,
                     qPrintable(u"p %1: greedy %2, best %3"_s.arg(p).arg(greedy).arg(best)));
            QVERIFY(best < 20.0 / 3); // knowing the answers, one round carries every recipient a session has
        }
        // The main workload's refusal rate: an independent value iteration of the same model (written
        // separately, in Python) gives 2.85029; Mailcaff's policy 2.483, since it ends no session early.
        QVERIFY(std::abs(bestRcptsPerRoundTrip(1.0 / 3, Ours) - 2.85029) < 1e-4);
        QVERIFY(std::abs(Greedy(1.0 / 3, Ours).rate() - 2.483) < 1e-3);
        // Nothing refused: Mailcaff's policy is the best there is.
        QCOMPARE(Greedy(0.0, Ours).rate(), bestRcptsPerRoundTrip(0.0, Ours));
    }

    void fewerRefusalsAnswerMore()
    {
        double previous = std::numeric_limits<double>::infinity();
        for (const double p : {0.01, 0.1, 0.2, 0.3, 0.5}) {
            const double rate = bestRcptsPerRoundTrip(p, Tarpit);
            QVERIFY2(rate < previous, qPrintable(u"p %1: %2 after %3"_s.arg(p).arg(rate).arg(previous)));
            QVERIFY(rate > 10.0 / 3); // better than one full round a session
            previous = rate;
        }
        // When most are refused, one full round a session, QUIT along, is the best there is.
        QCOMPARE(bestRcptsPerRoundTrip(0.7, Tarpit), 10.0 / 3);
    }
};

QTEST_GUILESS_MAIN(TestBenchLimits)
#include "tst_benchlimits.moc"
