//! How a shard of a distributed test takes its slice of a plan. Pure functions: the runner
//! calls them, and tests check that N shards together are the one-machine test.

use perf_core::{ClosedLoop, OpenLoop, Shard};

use crate::{ArrivalSchedule, ScheduledArrival};

/// The arrivals of `profile` that are `shard`'s, each with its index in the one-machine
/// schedule (which also picks its query: arrival `k` sends query `k % len`).
///
/// The whole schedule is generated from the shared seed and arrival `k` goes to the shard
/// whose slot is `k % N`. Splitting by index rather than by time keeps every shape: each
/// shard's arrivals are a 1-in-N thinning of the one-machine arrivals, at the very same
/// instants, so constant, ramp, spike and step stages keep their form at 1/N of the rate,
/// a Poisson schedule stays the one-machine Poisson schedule when the shards are put
/// together (each shard alone sees the same times, thinned regularly), and the union of
/// the shards is exactly the configured schedule, arrival for arrival.
pub fn shard_arrivals(
    profile: &OpenLoop,
    seed: u64,
    shard: Shard,
) -> impl Iterator<Item = (u64, ScheduledArrival)> {
    ArrivalSchedule::new(profile, seed)
        .enumerate()
        .map(|(k, a)| (k as u64, a))
        .filter(move |(k, _)| shard.owns(*k))
}

/// A shard's in-flight cap for an open loop: the configured cap split by N, rounded up,
/// at least 1 (so the shards together allow at least the configured cap).
pub fn shard_max_in_flight(max_in_flight: usize, shard: Shard) -> usize {
    max_in_flight.div_ceil(shard.total() as usize).max(1)
}

/// A shard's part of a closed loop.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedShare {
    /// The shard's users, think time and rate ceiling.
    pub load: ClosedLoop,
    /// Shards that have users: `min(N, users)`.
    pub active: u64,
    /// This shard's position among them: it takes chain `c` when `c % active == slot`.
    pub slot: u64,
}

impl ClosedShare {
    /// The chain index in the one-machine order of this shard's `local`-th chain.
    pub fn global_chain(&self, local: u64) -> u64 {
        local.saturating_mul(self.active).saturating_add(self.slot)
    }
}

/// `shard`'s part of a closed loop, or `None` when it gets no user (fewer users than
/// shards: the shards past the users run no closed-loop work, and the others share the
/// queries among themselves).
///
/// User `u` goes to shard `u % N`; the queries go in chains (single queries, or a
/// hostile query and its probe) to the shards with users, chain `c` to the shard
/// `c % min(N, users)`; the run-wide rate ceiling is divided among those shards, so the
/// ceilings add up to the configured one.
pub fn shard_closed(c: &ClosedLoop, shard: Shard) -> Option<ClosedShare> {
    let users = c.users as u64;
    let active = users.min(u64::from(shard.total()));
    if shard.slot() >= active {
        return None;
    }
    let my_users = shard.share_of(users);
    Some(ClosedShare {
        load: ClosedLoop {
            users: usize::try_from(my_users).unwrap_or(usize::MAX),
            rate_limit_per_second: c.rate_limit_per_second.map(|r| r / active as f64),
            ..c.clone()
        },
        active,
        slot: shard.slot(),
    })
}

/// The items of a list that `shard` sends when the list is dealt in chains of `chain`
/// (1 for single queries, 2 for hostile/probe pairs) to `active` shards: chain `c` goes to
/// slot `c % active`, so a pair is never split.
pub fn shard_chains<T: Clone>(items: &[T], chain: usize, share: &ClosedShare) -> Vec<T> {
    items
        .chunks(chain.max(1))
        .enumerate()
        .filter(|(c, _)| *c as u64 % share.active == share.slot)
        .flat_map(|(_, chunk)| chunk.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use perf_core::{Arrival, LoadProfile};

    use super::*;

    fn open(p: LoadProfile) -> OpenLoop {
        match p {
            LoadProfile::Open(o) => o,
            LoadProfile::Closed(_) => unreachable!("open-loop profile expected"),
        }
    }

    fn shards(n: u32) -> Vec<Shard> {
        (1..=n).map(|i| Shard::new(i, n, "s").unwrap()).collect()
    }

    fn profiles() -> Vec<(&'static str, OpenLoop)> {
        let s = Duration::from_secs;
        let mut poisson = open(LoadProfile::constant(40.0, s(10), 50));
        poisson.arrival = Arrival::Poisson;
        vec![
            ("constant", open(LoadProfile::constant(30.0, s(10), 50))),
            ("ramp", open(LoadProfile::ramp(0.0, 60.0, s(10), 50))),
            (
                "spike",
                open(LoadProfile::spike(5.0, 80.0, s(12), s(2), 50)),
            ),
            ("poisson", poisson),
        ]
    }

    #[test]
    fn every_arrival_is_in_exactly_one_shard_at_its_one_machine_time() {
        for (name, p) in profiles() {
            let whole: Vec<ScheduledArrival> = ArrivalSchedule::new(&p, 7).collect();
            for n in [1, 2, 3, 4, 7] {
                let mut seen = vec![0u32; whole.len()];
                for shard in shards(n) {
                    for (k, a) in shard_arrivals(&p, 7, shard) {
                        let k = k as usize;
                        seen[k] += 1;
                        assert_eq!(a, whole[k], "{name}: arrival {k} moved in shard {shard}");
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "{name} with {n} shards");
            }
        }
    }

    /// Arrivals per stage and per second of the schedule, for one shard.
    fn per_second(arrivals: impl Iterator<Item = ScheduledArrival>, secs: usize) -> Vec<u64> {
        let mut v = vec![0u64; secs];
        for a in arrivals {
            if let Some(c) = v.get_mut(a.offset.as_secs() as usize) {
                *c += 1;
            }
        }
        v
    }

    #[test]
    fn rates_add_up_and_each_shard_keeps_the_shape() {
        for (name, p) in profiles() {
            let secs = p
                .stages
                .iter()
                .map(|s| s.duration)
                .sum::<Duration>()
                .as_secs() as usize;
            let whole = per_second(ArrivalSchedule::new(&p, 3), secs);
            let n = 4;
            let parts: Vec<Vec<u64>> = shards(n)
                .into_iter()
                .map(|s| per_second(shard_arrivals(&p, 3, s).map(|(_, a)| a), secs))
                .collect();
            for t in 0..secs {
                let sum: u64 = parts.iter().map(|p| p[t]).sum();
                assert_eq!(sum, whole[t], "{name}: second {t}");
                for part in &parts {
                    // 1-in-4 thinning: each shard's second is a quarter of the whole one,
                    // give or take the one arrival a round-robin deal can shift.
                    let quarter = whole[t] as f64 / f64::from(n);
                    assert!(
                        (part[t] as f64 - quarter).abs() <= 1.0,
                        "{name}: second {t}: shard has {} of {}",
                        part[t],
                        whole[t]
                    );
                }
            }
            if name == "ramp" {
                // The shape is kept: a shard's last second has far more than its first.
                assert!(parts[0][secs - 1] > 5 * parts[0][0].max(1));
            }
            if name == "spike" {
                // 80/s for two seconds in the middle, 5/s around it, at a quarter.
                assert!(parts[1][5] >= 19 && parts[1][0] <= 2, "{:?}", parts[1]);
            }
        }
    }

    #[test]
    fn in_flight_caps_cover_the_configured_one() {
        for n in 1..=8u32 {
            for cap in 1..=20usize {
                let sum: usize = shards(n).iter().map(|&s| shard_max_in_flight(cap, s)).sum();
                assert!(sum >= cap && sum < cap + n as usize + 1);
            }
        }
    }

    #[test]
    fn closed_loop_users_and_ceilings_add_up() {
        let c = ClosedLoop {
            users: 10,
            think_time: Duration::ZERO,
            rate_limit_per_second: Some(12.0),
            duration: None,
        };
        let parts: Vec<ClosedShare> = shards(4)
            .into_iter()
            .filter_map(|s| shard_closed(&c, s))
            .collect();
        assert_eq!(
            parts.iter().map(|p| p.load.users).collect::<Vec<_>>(),
            vec![3, 3, 2, 2]
        );
        let rate: f64 = parts
            .iter()
            .filter_map(|p| p.load.rate_limit_per_second)
            .sum();
        assert!((rate - 12.0).abs() < 1e-9);

        // Fewer users than shards: the shards past them get nothing, and the rest share
        // the ceiling and every query.
        let two = ClosedLoop { users: 2, ..c };
        let parts: Vec<Option<ClosedShare>> = shards(4)
            .into_iter()
            .map(|s| shard_closed(&two, s))
            .collect();
        assert!(parts[2].is_none() && parts[3].is_none());
        let queries: Vec<u32> = (0..9).collect();
        let mut all = BTreeSet::new();
        for p in parts.iter().flatten() {
            assert_eq!(p.load.users, 1);
            assert_eq!(p.load.rate_limit_per_second, Some(6.0));
            for q in shard_chains(&queries, 1, p) {
                assert!(all.insert(q), "query {q} sent twice");
            }
        }
        assert_eq!(all.len(), queries.len());
    }

    #[test]
    fn pairs_are_never_split() {
        let c = ClosedLoop {
            users: 8,
            think_time: Duration::ZERO,
            rate_limit_per_second: None,
            duration: None,
        };
        // (hostile, probe) pairs: 2k is hostile number k and 2k+1 its probe.
        let items: Vec<u32> = (0..22).collect();
        let mut seen = BTreeSet::new();
        for s in shards(3) {
            let share = shard_closed(&c, s).unwrap();
            let mine = shard_chains(&items, 2, &share);
            assert_eq!(mine.len() % 2, 0);
            for pair in mine.chunks(2) {
                assert_eq!(pair[0] % 2, 0);
                assert_eq!(pair[1], pair[0] + 1, "probe away from its hostile query");
                seen.insert(pair[0]);
                seen.insert(pair[1]);
            }
            // The runner's claims map to the same chains.
            let chains: Vec<u64> = (0..4).map(|l| share.global_chain(l)).collect();
            assert!(chains.iter().all(|c| s.owns(*c)));
        }
        assert_eq!(seen.len(), items.len());
    }
}
