//! A service as a set of replicas: several base URLs behind one name, taken in turn (round
//! robin) with passive health checks.
//!
//! Nobody probes the replicas: a caller that cannot connect to one (or, for the gateway,
//! waits for it in vain) reports it with [`Replicas::failed`], and it is skipped for
//! [`SKIP_FOR`], then tried again. When every replica is skipped, requests still go to
//! them (the one back soonest first): a skip is a guess, never a reason to refuse.
//!
//! Configured as a list of base URLs separated by `|` (or, where the setting holds nothing
//! else, commas or whitespace): `http://10.0.0.1:8101|http://10.0.0.2:8101`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a replica that failed is passed over.
pub const SKIP_FOR: Duration = Duration::from_secs(5);

pub struct Replicas {
    urls: Box<[Arc<str>]>,
    next: AtomicUsize,
    /// Per replica: until when it is skipped, in milliseconds since `epoch` (0: never).
    skipped_until: Box<[AtomicU64]>,
    epoch: Instant,
}

impl Replicas {
    /// The replicas listed in `text`: http(s) base URLs separated by `|`, `,` or whitespace.
    pub fn parse(text: &str) -> Result<Self, String> {
        let urls = text
            .split(|c: char| c == '|' || c == ',' || c.is_whitespace())
            .filter(|url| !url.is_empty())
            .map(|url| {
                if url.starts_with("http://") || url.starts_with("https://") {
                    Ok(Arc::from(url.trim_end_matches('/')))
                } else {
                    Err(format!("{url:?} is not an http(s) URL"))
                }
            })
            .collect::<Result<Box<[Arc<str>]>, String>>()?;
        if urls.is_empty() {
            return Err(format!("{text:?} lists no URL"));
        }
        Ok(Self {
            skipped_until: urls.iter().map(|_| AtomicU64::new(0)).collect(),
            urls,
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
        })
    }

    pub fn urls(&self) -> &[Arc<str>] {
        &self.urls
    }

    pub fn url(&self, replica: usize) -> &Arc<str> {
        &self.urls[replica]
    }

    /// The replicas to try for one request, in order: those not skipped, starting with the
    /// next in turn, then the skipped ones, the one back soonest first.
    pub fn candidates(&self) -> Candidates {
        let count = self.urls.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        // The usual case, no replica passed over: the turn alone, without a clock read or
        // an allocation (this runs on every forwarded request).
        if self
            .skipped_until
            .iter()
            .all(|until| until.load(Ordering::Relaxed) == 0)
        {
            return Candidates::InTurn {
                start,
                count,
                taken: 0,
            };
        }
        let now = self.now();
        let (mut ready, mut skipped): (Vec<usize>, Vec<usize>) = (0..count)
            .map(|i| (start + i) % count)
            .partition(|&i| self.skipped_until[i].load(Ordering::Relaxed) <= now);
        skipped.sort_by_key(|&i| self.skipped_until[i].load(Ordering::Relaxed));
        ready.append(&mut skipped);
        Candidates::Ordered(ready.into_iter())
    }

    /// `replica` refused a connection or did not answer: pass it over for [`SKIP_FOR`].
    pub fn failed(&self, replica: usize) {
        let until = self.now() + SKIP_FOR.as_millis() as u64;
        self.skipped_until[replica].store(until, Ordering::Relaxed);
        tracing::warn!(url = %self.urls[replica], skip_for = ?SKIP_FOR, "replica failed; passing it over");
    }

    /// `replica` answered: it is back, whatever it was before.
    pub fn answered(&self, replica: usize) {
        if self.skipped_until[replica].load(Ordering::Relaxed) != 0 {
            self.skipped_until[replica].store(0, Ordering::Relaxed);
        }
    }

    /// Calls `request` with a replica's base URL, moving to the next replica when it fails
    /// before anything was sent (`refused` says which errors those are): the helper every
    /// service-to-service client shares. The last replica's error is returned.
    pub async fn call<T, E, Fut>(
        &self,
        mut request: impl FnMut(&str) -> Fut,
        refused: impl Fn(&E) -> bool,
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let candidates = self.candidates();
        let last = candidates.len() - 1;
        for (attempt, replica) in candidates.into_iter().enumerate() {
            match request(&self.urls[replica]).await {
                Err(err) if refused(&err) => {
                    self.failed(replica);
                    if attempt == last {
                        return Err(err);
                    }
                }
                outcome => {
                    self.answered(replica);
                    return outcome;
                }
            }
        }
        unreachable!("a replica list is never empty")
    }

    fn now(&self) -> u64 {
        // Never 0, which means "not skipped".
        self.epoch.elapsed().as_millis() as u64 + 1
    }
}

/// The replicas to try for one request, in order ([`Replicas::candidates`]).
pub enum Candidates {
    /// Every replica, from `start` on.
    InTurn {
        start: usize,
        count: usize,
        taken: usize,
    },
    /// Some passed over: those last.
    Ordered(std::vec::IntoIter<usize>),
}

impl Iterator for Candidates {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            Self::InTurn {
                start,
                count,
                taken,
            } => (*taken < *count).then(|| {
                *taken += 1;
                (*start + *taken - 1) % *count
            }),
            Self::Ordered(order) => order.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self {
            Self::InTurn { count, taken, .. } => count - taken,
            Self::Ordered(order) => order.len(),
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for Candidates {}

impl fmt::Display for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.urls.join("|"))
    }
}

impl fmt::Debug for Replicas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Replicas({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(replicas: &Replicas, order: impl IntoIterator<Item = usize>) -> Vec<String> {
        order
            .into_iter()
            .map(|i| replicas.url(i).to_string())
            .collect()
    }

    #[test]
    fn lists_are_parsed_and_bad_ones_refused() {
        let replicas = Replicas::parse("http://a:1/|http://b:2, https://c:3").unwrap();
        assert_eq!(replicas.to_string(), "http://a:1|http://b:2|https://c:3");
        assert!(Replicas::parse("").is_err());
        assert!(Replicas::parse(" | ").is_err());
        assert!(Replicas::parse("http://a|ftp://b").is_err());
        assert!(Replicas::parse("a:1").is_err());
    }

    #[test]
    fn requests_take_the_replicas_in_turn() {
        let replicas = Replicas::parse("http://a|http://b|http://c").unwrap();
        let firsts: Vec<usize> = (0..6)
            .map(|_| replicas.candidates().next().unwrap())
            .collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        assert_eq!(replicas.candidates().collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(replicas.candidates().len(), 3);
    }

    #[test]
    fn a_failed_replica_is_passed_over_but_still_last_resort() {
        let replicas = Replicas::parse("http://a|http://b").unwrap();
        replicas.failed(0);
        for _ in 0..4 {
            assert_eq!(
                urls(&replicas, replicas.candidates()),
                ["http://b", "http://a"]
            );
        }
        replicas.failed(1);
        // Both skipped: still both tried, the one skipped first (back soonest) first.
        assert_eq!(replicas.candidates().len(), 2);
        replicas.answered(0);
        replicas.answered(1);
        let firsts: Vec<usize> = (0..2)
            .map(|_| replicas.candidates().next().unwrap())
            .collect();
        assert_eq!(firsts.iter().sum::<usize>(), 1, "both in turn again");
    }

    #[test]
    fn a_skipped_replica_is_tried_again_after_the_pause() {
        let replicas = Replicas::parse("http://a|http://b").unwrap();
        replicas.skipped_until[0].store(replicas.now() + 1, Ordering::Relaxed);
        assert_eq!(urls(&replicas, replicas.candidates())[0], "http://b");
        std::thread::sleep(Duration::from_millis(5));
        let firsts: Vec<String> = (0..2)
            .map(|_| urls(&replicas, replicas.candidates())[0].clone())
            .collect();
        assert!(firsts.contains(&"http://a".to_owned()), "{firsts:?}");
    }

    #[tokio::test]
    async fn call_moves_on_only_when_nothing_was_sent() {
        let replicas = Replicas::parse("http://down|http://up").unwrap();
        let outcome: Result<String, String> = replicas
            .call(
                |base| {
                    let base = base.to_owned();
                    async move {
                        match base.as_str() {
                            "http://down" => Err("refused".to_owned()),
                            _ => Ok(base),
                        }
                    }
                },
                |err| err == "refused",
            )
            .await;
        assert_eq!(outcome.unwrap(), "http://up");
        // Whichever came first, the refusing replica is now passed over.
        assert_eq!(urls(&replicas, replicas.candidates())[0], "http://up");

        // Any other failure is the caller's answer: no second replica is asked.
        let mut calls = 0;
        let outcome: Result<(), String> = replicas
            .call(
                |_| {
                    calls += 1;
                    async { Err("500".to_owned()) }
                },
                |err| err == "refused",
            )
            .await;
        assert_eq!(outcome.unwrap_err(), "500");
        assert_eq!(calls, 1);

        // Every replica refusing: the last refusal comes back after each was tried once.
        let mut calls = 0;
        let outcome: Result<(), String> = replicas
            .call(
                |_| {
                    calls += 1;
                    async { Err("refused".to_owned()) }
                },
                |err| err == "refused",
            )
            .await;
        assert_eq!(outcome.unwrap_err(), "refused");
        assert_eq!(calls, 2);
    }
}
