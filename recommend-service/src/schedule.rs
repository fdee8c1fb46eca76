//! When a replica may refit its recommendation model.
//!
//! A fit reads every rating and signal and takes seconds at a million ratings, while
//! views and ratings arrive all the time. Refitting whenever something changed would keep
//! a core busy for good, so two rules space the fits:
//!
//! - changes are looked for every `check_every`; any number of them in between cost one
//!   fit (the dirty flag and the data version coalesce them);
//! - a fit starts no sooner than `spacing` × the previous fit's duration after that fit
//!   ended, so fitting takes at most 1 / (1 + `spacing`) of one core's time, whatever
//!   the traffic, and a slow fit (a large data set, a busy machine) spaces itself out.
//!
//! Between fits a user's own new ratings and signals still count at once: ranking reads
//! the user's profile from the database at request time; only the similarities between
//! trips wait for the next fit.

use std::time::{Duration, Instant};

/// `MODEL_REFRESH_INTERVAL` and `MODEL_REBUILD_SPACING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildRule {
    /// How often to look for changed ratings and signals.
    pub check_every: Duration,
    /// How many times its own duration a fit is followed by no other fit (0: none).
    pub spacing: u32,
}

/// A finished fit.
#[derive(Debug, Clone, Copy)]
pub struct Fit {
    pub ended: Instant,
    pub took: Duration,
}

impl RebuildRule {
    /// When to look for changes next, `now` being the last look (or start).
    pub fn next_check(&self, now: Instant, last_fit: Option<Fit>) -> Instant {
        let checked = now + self.check_every;
        match last_fit {
            Some(fit) => checked.max(fit.ended + fit.took * self.spacing),
            None => checked,
        }
    }

    /// The most of one core's time that fitting can take.
    pub fn max_fitting_share(&self) -> f64 {
        1.0 / (1.0 + f64::from(self.spacing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fits started in `window` when every check finds something changed and each fit
    /// takes `fit`: a simulated clock, no sleeping.
    fn fits_under_continuous_changes(rule: RebuildRule, fit: Duration, window: Duration) -> u32 {
        let start = Instant::now();
        let mut now = start;
        let mut last = None;
        let mut fits = 0;
        loop {
            now = rule.next_check(now, last);
            if now >= start + window {
                return fits;
            }
            fits += 1;
            now += fit;
            last = Some(Fit {
                ended: now,
                took: fit,
            });
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    fn rule(spacing: u32) -> RebuildRule {
        RebuildRule {
            check_every: Duration::from_secs(2),
            spacing,
        }
    }

    #[test]
    fn slow_fits_under_continuous_changes_take_at_most_their_share_of_a_core() {
        let fit = Duration::from_secs(12);
        let fits = fits_under_continuous_changes(rule(9), fit, HOUR);
        // One fit per 12 s + 9 × 12 s: 30 in an hour, 10 % of a core.
        assert_eq!(fits, 30);
        let share = (fit * fits).as_secs_f64() / HOUR.as_secs_f64();
        assert!(share <= rule(9).max_fitting_share(), "{share}");
        // Without spacing the same traffic keeps a core 86 % busy (257 fits).
        assert_eq!(fits_under_continuous_changes(rule(0), fit, HOUR), 257);
    }

    #[test]
    fn fast_fits_follow_the_check_interval() {
        let fits = fits_under_continuous_changes(rule(9), Duration::from_millis(50), HOUR);
        // Every 2 s + 50 ms: spacing (450 ms) never comes into play.
        assert_eq!(fits, 1756);
    }
}
