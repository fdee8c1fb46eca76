//! The `anon` and `user` scopes counted in process, as Kong's `sync_rate`: each request
//! adds to this replica's count of its (scope, subject, window), and every
//! `RATE_LIMIT_SYNC` one script adds every count made since the last sync to the shared
//! Redis counters and reads back the fleet's totals. A request is decided on the fleet
//! total last read plus what this replica counted since, so a limit is shared by every
//! replica up to what the others counted since their last sync: the overshoot bound in
//! the README (Rate limits).
//!
//! A counter is used here only while its fleet total is fresh: read by a sync or an exact
//! count less than `STALE_AFTER_SYNCS` intervals ago. Otherwise (its first request on this
//! replica, a subject back after a pause, or syncs failing because Redis is down or slow)
//! [`LocalCounts::count`] answers `None`: the request is counted in Redis exactly, failing
//! as that does (503 on a signed-in request, uncounted on a public one), and the total it
//! read is kept ([`LocalCounts::seed`]). What was counted here and not yet sent goes with
//! the next sync that succeeds.

use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::Script;
use shared::redis::{Redis, RedisError};
use shared::tasks::Tasks;

use super::{Counter, Rate, Scope, Subject};
use crate::fast_map::FastMap;

/// Intervals after which a counter's fleet total is too old to decide on.
const STALE_AFTER_SYNCS: i64 = 3;
/// Counters held at most; beyond it, new ones are counted in Redis.
const MAX_SLOTS: usize = 200_000;
/// Counters per script call.
const BATCH: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct SlotKey {
    scope: Scope,
    subject: Subject,
    window: i64,
}

struct Slot {
    rate: Rate,
    /// The fleet's total at the last sync (this replica's synced counts included).
    fleet: u64,
    /// Counted here since, not yet sent.
    pending: u64,
    /// Sent by the sync under way.
    in_flight: u64,
    /// When `fleet` was read (a sync's start, or an exact count).
    read_ms: i64,
}

impl Slot {
    fn counter(&self, key: SlotKey) -> Counter {
        Counter {
            scope: key.scope,
            rate: self.rate,
            subject: key.subject,
            window: key.window,
        }
    }
}

pub struct LocalCounts {
    interval: Duration,
    slots: Mutex<FastMap<SlotKey, Slot>>,
}

fn slot_key(counter: &Counter) -> SlotKey {
    SlotKey {
        scope: counter.scope,
        subject: counter.subject,
        window: counter.window,
    }
}

impl LocalCounts {
    pub fn new(interval: Duration) -> Arc<Self> {
        Arc::new(Self {
            interval,
            slots: Mutex::default(),
        })
    }

    fn stale_after_ms(&self) -> i64 {
        STALE_AFTER_SYNCS * self.interval.as_millis() as i64
    }

    /// Counts one request against `counter` here: (count as this replica knows it, ms to
    /// the window's end); `None` when it must be counted in Redis instead.
    pub fn count(&self, counter: &Counter, now_ms: i64) -> Option<(u64, i64)> {
        if !counter.scope.counted_locally() {
            return None;
        }
        let mut slots = self.slots.lock().ok()?;
        let slot = slots.get_mut(&slot_key(counter))?;
        if now_ms - slot.read_ms > self.stale_after_ms() {
            return None;
        }
        slot.pending += 1;
        let count = slot.fleet + slot.in_flight + slot.pending;
        Some((count, counter.reset_ms(now_ms)))
    }

    /// Keeps the total an exact count in Redis read at `now_ms`, so that the next requests
    /// are counted here.
    pub fn seed(&self, counter: &Counter, total: u64, now_ms: i64) {
        if !counter.scope.counted_locally() {
            return;
        }
        let Ok(mut slots) = self.slots.lock() else {
            return;
        };
        let key = slot_key(counter);
        if slots.len() >= MAX_SLOTS && !slots.contains_key(&key) {
            return;
        }
        let slot = slots.entry(key).or_insert(Slot {
            rate: counter.rate,
            fleet: 0,
            pending: 0,
            in_flight: 0,
            read_ms: now_ms,
        });
        // Totals only grow within a window: the larger is the later.
        slot.fleet = slot.fleet.max(total);
        slot.read_ms = slot.read_ms.max(now_ms);
    }

    pub fn spawn(self: &Arc<Self>, tasks: &Tasks, redis: Redis) {
        let counts = Arc::clone(self);
        tasks.supervise("rate-limit-sync", move || counts.clone().run(redis.clone()));
    }

    async fn run(self: Arc<Self>, redis: Redis) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = self.sync(&redis, shared::time::now_millis()).await {
                tracing::warn!(error = %err, "rate-limit counts not synced");
            }
        }
    }

    /// Sends what was counted since the last sync and reads back the fleet's totals; drops
    /// the counters with nothing to send whose total is too old to use (idle, or of a past
    /// window).
    async fn sync(&self, redis: &Redis, now_ms: i64) -> Result<(), RedisError> {
        let due: Vec<(SlotKey, Counter, u64)> = {
            let Ok(mut slots) = self.slots.lock() else {
                return Ok(());
            };
            let stale_after = self.stale_after_ms();
            slots.retain(|key, slot| {
                let ended = slot.counter(*key).reset_ms(now_ms) <= 0;
                let stale = now_ms - slot.read_ms > stale_after;
                slot.pending > 0 || slot.in_flight > 0 || !(ended || stale)
            });
            slots
                .iter_mut()
                .filter(|(_, slot)| slot.pending > 0)
                .map(|(key, slot)| {
                    slot.in_flight = std::mem::take(&mut slot.pending);
                    (*key, slot.counter(*key), slot.in_flight)
                })
                .collect()
        };
        for (sent, batch) in due.chunks(BATCH).enumerate() {
            let mut invocation = SYNC.prepare_invoke();
            for (_, counter, delta) in batch {
                invocation.key(redis.key(counter.key()));
                invocation.arg(*delta).arg(counter.window_ms());
            }
            // Not repeated on a dropped connection: a failed batch is sent again at the
            // next sync, and if it had been applied the counts err towards throttling.
            let totals: Result<Vec<i64>, RedisError> = redis.script(&invocation).await;
            let Ok(mut slots) = self.slots.lock() else {
                return Ok(());
            };
            match totals {
                Ok(totals) => {
                    for ((key, _, _), total) in batch.iter().zip(totals) {
                        if let Some(slot) = slots.get_mut(key) {
                            slot.fleet = slot.fleet.max(total.max(0) as u64);
                            slot.in_flight = 0;
                            slot.read_ms = slot.read_ms.max(now_ms);
                        }
                    }
                }
                Err(err) => {
                    // This batch and the ones not sent yet go with the next sync.
                    for (key, _, _) in due[sent * BATCH..].iter() {
                        if let Some(slot) = slots.get_mut(key) {
                            slot.pending += std::mem::take(&mut slot.in_flight);
                        }
                    }
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// KEYS: counters. ARGV: per counter, the count to add and its window (ms). Returns each
/// counter's total. A counter gets its expiry when created, as `session.rs`' COUNT does.
static SYNC: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local totals = {}
for i = 1, #KEYS do
  local delta = tonumber(ARGV[2 * i - 1])
  local n = redis.call('INCRBY', KEYS[i], delta)
  if n == delta then redis.call('PEXPIRE', KEYS[i], ARGV[2 * i]) end
  totals[i] = n
end
return totals
"#,
    )
});

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn counter(scope: Scope) -> Counter {
        Counter {
            scope,
            rate: Rate::parse("10/min").unwrap().unwrap(),
            subject: Subject::Address(Ipv4Addr::LOCALHOST.into()),
            window: 1,
        }
    }

    fn counts() -> Arc<LocalCounts> {
        LocalCounts::new(Duration::from_millis(100))
    }

    #[test]
    fn counts_are_local_only_for_the_high_volume_scopes() {
        let counts = counts();
        for scope in [Scope::Anon, Scope::User, Scope::Login, Scope::Write] {
            counts.seed(&counter(scope), 1, 60_000);
            let local = counts.count(&counter(scope), 60_000).is_some();
            assert_eq!(local, scope.counted_locally(), "{scope:?}");
        }
        assert!(!Scope::Login.counted_locally() && !Scope::Write.counted_locally());
    }

    #[test]
    fn a_request_sees_the_fleet_total_plus_what_this_replica_counted_since() {
        let counts = counts();
        let anon = counter(Scope::Anon);
        assert_eq!(counts.count(&anon, 60_000), None, "first counted in Redis");
        counts.seed(&anon, 7, 60_000);
        assert_eq!(counts.count(&anon, 60_000), Some((8, 60_000)));
        assert_eq!(counts.count(&anon, 60_050), Some((9, 59_950)));
    }

    #[test]
    fn a_total_not_read_for_three_intervals_is_not_decided_on() {
        let counts = counts();
        let anon = counter(Scope::Anon);
        counts.seed(&anon, 1, 60_000);
        assert!(counts.count(&anon, 60_300).is_some());
        assert!(
            counts.count(&anon, 60_301).is_none(),
            "counted in Redis again (three syncs missed, or nothing to sync)"
        );
        counts.seed(&anon, 5, 60_301);
        assert_eq!(
            counts.count(&anon, 60_301),
            Some((7, 59_699)),
            "5 read + 2 unsent"
        );
    }
}
