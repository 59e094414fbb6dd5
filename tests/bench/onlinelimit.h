#pragma once

// What the benchmark's simulated limits allow a verifier that learns each answer only when the server gives
// it (tests/bench/sim.cpp's onlineLimitMs; checked by tests/tst_benchlimits.cpp).

namespace mailcaff::bench {

/// Limits of one SMTP session: never more refused RCPTs in a row than `inRow` (receivers hang up beyond),
/// nor in the session than `refused`, whatever the answers; `recipients` at most (0: no limit). With
/// `lateRoundTrips` above 0 a round may take the session past `refused` after all: its answers then come
/// that many round trips late (a tarpit) and the session ends.
struct SessionRules
{
    int inRow = 10;
    int refused = 10;
    int recipients = 0;
    int lateRoundTrips = 0;
};

/// RCPTs one connection slot gets answered per round trip, in the long run, by the best verifier that
/// learns each answer only when it comes, each RCPT refused with probability `p`. A session: two round
/// trips (banner, EHLO), then rounds of pipelined RCPTs (MAIL FROM rides with the first), each no larger
/// than `rules` allow if every one of them were refused; QUIT rides with the round chosen as the last, or
/// takes a round trip of its own when the session stops after its answers. The best policy's rate is the
/// λ at which a session's best value, every round trip costing λ and every RCPT earning 1, is zero
/// (renewal reward: no policy does better on average); found by bisection over an exact solution of the
/// session's rounds. With nothing refused and no recipient limit, the largest round a round trip.
double bestRcptsPerRoundTrip(double p, SessionRules rules);

} // namespace mailcaff::bench
