//! Closing client connections that sit idle, or dribble a request head, for the keep-alive
//! time. hyper's own header-read timeout does it with a timer armed for every request (an
//! allocation, two timer-wheel updates and clock reads: ~2,000 of a signed-in request's
//! ~43,000 instructions); here each connection is looked at a few times per period instead,
//! and a request costs two counter increments and a reference count.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::time::MissedTickBehavior;

/// A connection's requests: how many began (their head was read) and how many ended
/// (their answer's body was sent whole, or given up).
#[derive(Default)]
pub struct Activity {
    began: AtomicU64,
    ended: AtomicU64,
}

/// One request, from its head until its answer's body is done with.
pub struct InFlight(Arc<Activity>);

impl Activity {
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.began.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many times per period a connection is looked at.
const LOOKS: u32 = 4;

/// Ticks `times` per `period`, the first after one of them (at least a millisecond apart:
/// tokio's interval panics on zero), late ones not caught up: the looks of this module
/// and of the upstream deadlines ([`crate::connections::Connections::wake_to_look`]).
pub fn looks(period: Duration, times: u32) -> tokio::time::Interval {
    let every = (period / times).max(Duration::from_millis(1));
    let mut looks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    looks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    looks
}

/// Completes once the connection has had no request in flight and begun none for `limit`:
/// between `limit` and 1.25 × `limit` after its last answer ended (or it opened), give or
/// take a scheduling delay, however many bytes of a head arrived meanwhile.
pub async fn quiet_for(activity: &Activity, limit: Duration) {
    let mut looks = looks(limit, LOOKS);
    let mut last = activity.began.load(Ordering::Relaxed);
    // The looks since the last answer ended, this one included: it closes at the one
    // after LOOKS more, at least LOOKS periods after the end.
    let mut quiet = 0;
    loop {
        looks.tick().await;
        let began = activity.began.load(Ordering::Relaxed);
        quiet = if began != activity.ended.load(Ordering::Relaxed) {
            0
        } else if began != last {
            // Began and ended since the look before.
            1
        } else {
            quiet + 1
        };
        last = began;
        if quiet > LOOKS {
            return;
        }
    }
}

/// An answer's body that ends its request's [`InFlight`] when hyper is done with it.
pub struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B> Tracked<B> {
    pub fn new(body: B, in_flight: InFlight) -> Self {
        Self {
            body,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::{Activity, quiet_for};

    const LIMIT: Duration = Duration::from_millis(400);

    #[tokio::test]
    async fn a_quiet_connection_is_given_the_whole_limit_and_not_much_more() {
        let activity = Activity::default();
        let started = Instant::now();
        quiet_for(&activity, LIMIT).await;
        let waited = started.elapsed();
        assert!(waited >= LIMIT, "closed after {waited:?}");
        // 1.25 × the limit, with room for a busy machine.
        assert!(waited < LIMIT * 3, "closed after {waited:?}");
    }

    #[tokio::test]
    async fn a_request_in_flight_keeps_it_open_and_its_end_starts_the_count() {
        let activity = Arc::new(Activity::default());
        let in_flight = activity.begin();
        let outlived = tokio::time::timeout(LIMIT * 3, quiet_for(&activity, LIMIT)).await;
        assert!(outlived.is_err(), "closed with a request in flight");

        let watch = tokio::spawn({
            let activity = activity.clone();
            async move { quiet_for(&activity, LIMIT).await }
        });
        tokio::time::sleep(LIMIT * 2).await;
        let ended = Instant::now();
        drop(in_flight);
        watch.await.unwrap();
        // The first look that finds it quiet comes after the end; the last, four periods
        // after that look was due (a look a scheduling delay late may come after the end
        // though due before it).
        let after_end = ended.elapsed();
        let slack = LIMIT / 4;
        assert!(
            after_end >= LIMIT - slack,
            "closed {after_end:?} after the answer"
        );
    }

    #[tokio::test]
    async fn requests_that_keep_coming_keep_it_open() {
        let activity = Arc::new(Activity::default());
        let watch = quiet_for(&activity, LIMIT);
        let traffic = async {
            for _ in 0..30 {
                drop(activity.begin());
                tokio::time::sleep(LIMIT / 5).await;
            }
        };
        tokio::select! {
            () = watch => panic!("closed while requests came"),
            () = traffic => {}
        }
    }
}
