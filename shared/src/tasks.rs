//! Background tasks that cannot die unnoticed.
//!
//! A service's loops (chat's writers and fan-out, payment's jobs, recommend's model
//! rebuilds, the gateway's key and policy refreshers) run beside the HTTP server. Spawned
//! and forgotten, a panic would end one silently while `/readyz` stayed green. Under
//! [`Tasks::supervise`] a task that panics or returns is logged as an error and started
//! again after a back-off, and `/readyz` reports it `down` until it runs again (see
//! [`Tasks::checks_with`]): a task that keeps failing keeps its replica unready.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The first pause before a restart; it doubles with each failure in a row.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest pause before a restart.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A task that ran this long before failing starts again after [`FIRST_BACKOFF`].
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// The supervised tasks of one service instance.
#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<Mutex<Vec<Task>>>,
}

struct Task {
    name: &'static str,
    up: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl Tasks {
    /// Runs the task `start` makes under `name`, for as long as this instance runs: when it
    /// panics or returns, it is logged and started again.
    pub fn supervise<F, Fut>(&self, name: &'static str, start: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let up = Arc::new(AtomicBool::new(true));
        let handle = tokio::spawn(keep_running(name, start, up.clone()));
        self.lock().push(Task { name, up, handle });
    }

    /// `deps` (a service's dependency checks) followed by one `task:{name}` check per task.
    pub fn checks_with(&self, deps: &[(&str, bool)]) -> Vec<(String, bool)> {
        let tasks = self.lock();
        deps.iter()
            .map(|(name, ok)| ((*name).to_owned(), *ok))
            .chain(
                tasks
                    .iter()
                    .map(|t| (format!("task:{}", t.name), t.up.load(Ordering::Relaxed))),
            )
            .collect()
    }

    /// Stops every task (the instance is shutting down).
    pub fn abort_all(&self) {
        for task in self.lock().drain(..) {
            task.handle.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Task>> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn keep_running<F, Fut>(name: &'static str, mut start: F, up: Arc<AtomicBool>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        // The task runs inside this future, so aborting the supervisor aborts it too.
        let outcome = AssertUnwindSafe(start()).catch_unwind().await;
        up.store(false, Ordering::Relaxed);
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        match outcome {
            Ok(()) => tracing::error!(task = name, ?backoff, "background task ended; restarting"),
            Err(panic) => tracing::error!(
                task = name,
                ?backoff,
                panic = panic_message(panic.as_ref()),
                "background task panicked; restarting"
            ),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        up.store(true, Ordering::Relaxed);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(not a string)")
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    fn task_up(tasks: &Tasks) -> bool {
        tasks.checks_with(&[])[0].1
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_is_reported_down_then_restarted() {
        let tasks = Tasks::default();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        tasks.supervise("flaky", move || {
            let run = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if run == 0 {
                    panic!("first run fails");
                }
                std::future::pending::<()>().await
            }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(tasks.checks_with(&[("redis", true)])[1].0, "task:flaky");
        assert!(!task_up(&tasks), "down while waiting to restart");
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        tokio::time::sleep(FIRST_BACKOFF).await;
        assert!(task_up(&tasks), "up again after the back-off");
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn readyz_names_a_dead_task() {
        use actix_web::{App, test, web};

        let tasks = Tasks::default();
        tasks.supervise("doomed", || async { panic!("always fails") });
        tasks.supervise("steady", std::future::pending::<()>);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let readyz = {
            let tasks = tasks.clone();
            move || {
                let checks = tasks.checks_with(&[("redis", true)]);
                async move { crate::http::readiness(&checks) }
            }
        };
        let app = test::init_service(App::new().route("/readyz", web::get().to(readyz))).await;
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["checks"]["task:doomed"], "down");
        assert_eq!(body["checks"]["task:steady"], "ok");
        assert_eq!(body["checks"]["redis"], "ok");
        tasks.abort_all();
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_keeps_ending_backs_off_longer_each_time() {
        let tasks = Tasks::default();
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        tasks.supervise("quits", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        // Runs at 0, 1 s, 3 s, 7 s, 15 s: five in the first 16 s, not sixteen.
        tokio::time::sleep(Duration::from_millis(16_100)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        assert!(!task_up(&tasks));
    }

    #[tokio::test(start_paused = true)]
    async fn aborting_stops_the_task_itself() {
        let tasks = Tasks::default();
        let ticks = Arc::new(AtomicU32::new(0));
        let counted = ticks.clone();
        tasks.supervise("ticker", move || {
            let counted = counted.clone();
            async move {
                loop {
                    counted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        tasks.abort_all();
        let seen = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(ticks.load(Ordering::SeqCst), seen);
        assert!(tasks.checks_with(&[]).is_empty());
    }
}
