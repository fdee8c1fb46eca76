//! Counters and a latency histogram shared by every socket task (lock-free).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// 50 µs buckets up to 2 s; slower deliveries land in the last bucket.
const BUCKET_MICROS: u64 = 50;
const BUCKETS: usize = 40_000;

pub struct Stats {
    pub connected: AtomicUsize,
    pub failed_connects: AtomicUsize,
    pub measuring: AtomicBool,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub delivered: AtomicU64,
    pub errors: AtomicU64,
    pub closed: AtomicU64,
    histogram: Vec<AtomicU64>,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            connected: AtomicUsize::new(0),
            failed_connects: AtomicUsize::new(0),
            measuring: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            histogram: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub fn measuring(&self) -> bool {
        self.measuring.load(Ordering::Relaxed)
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_delivery(&self, latency: Duration) {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let bucket = (latency.as_micros() as u64 / BUCKET_MICROS).min(BUCKETS as u64 - 1);
        self.histogram[bucket as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The latency below which `quantile` of the deliveries fell.
    pub fn percentile(&self, quantile: f64) -> Duration {
        let counts: Vec<u64> = self
            .histogram
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let target = (total as f64 * quantile).ceil() as u64;
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= target && total > 0 {
                return Duration::from_micros((bucket as u64 + 1) * BUCKET_MICROS);
            }
        }
        Duration::ZERO
    }
}
