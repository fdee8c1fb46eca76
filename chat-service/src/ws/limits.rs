//! The per-socket rate limit: a token bucket for frames, and a second, slower bucket for
//! refusals. A client over the rate gets an `error` frame per refused frame; one that keeps
//! at it (the refusal bucket runs dry) is closed with 1008.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Over the rate: answer with an error frame.
    Refused,
    /// Over the rate for too long: close the socket.
    Exhausted,
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(capacity: u32, per_second: f64, now: Instant) -> Self {
        Self {
            capacity: f64::from(capacity.max(1)),
            per_second,
            tokens: f64::from(capacity.max(1)),
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
pub struct RateLimit {
    frames: Bucket,
    refusals: Bucket,
}

impl RateLimit {
    /// `per_second` frames sustained, `burst` at once; `tolerance` refusals (recovering one
    /// per second) before the socket is closed.
    pub fn new(per_second: u32, burst: u32, tolerance: u32, now: Instant) -> Self {
        Self {
            frames: Bucket::new(burst, f64::from(per_second.max(1)), now),
            refusals: Bucket::new(tolerance, 1.0, now),
        }
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        if self.frames.take(now) {
            Admission::Allowed
        } else if self.refusals.take(now) {
            Admission::Refused
        } else {
            Admission::Exhausted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_passes_then_excess_is_refused_and_a_flood_exhausts_the_tolerance() {
        let start = Instant::now();
        let mut limit = RateLimit::new(10, 5, 3, start);
        let verdicts: Vec<Admission> = (0..10).map(|_| limit.admit(start)).collect();
        assert_eq!(verdicts[..5], [Admission::Allowed; 5]);
        assert_eq!(verdicts[5..8], [Admission::Refused; 3]);
        assert_eq!(verdicts[8..], [Admission::Exhausted; 2]);
    }

    #[test]
    fn a_client_within_the_rate_is_never_refused() {
        let start = Instant::now();
        let mut limit = RateLimit::new(10, 2, 1, start);
        for i in 0..1_000 {
            let now = start + Duration::from_millis(100 * i);
            assert_eq!(limit.admit(now), Admission::Allowed, "frame {i}");
        }
    }
}
