//! Logging through `tracing`: readable lines locally, one JSON object per line with
//! `LOG_FORMAT=json`. `RUST_LOG` filters (default `info`).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The production JSON line: the event's fields flat, the current span (with its request
/// id, trace id and part) and the spans around it.
fn json_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_target(false)
        .with_writer(writer)
}

/// Installs the global subscriber; later calls (tests) are no-ops.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = crate::config::raw("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let result = if json {
        tracing_subscriber::registry()
            .with(json_layer(std::io::stdout).with_filter(filter))
            .try_init()
            .map_err(|err| err.to_string())
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .try_init()
            .map_err(|err| err.to_string())
    };
    if result.is_ok() {
        tracing::debug!(service, "telemetry initialised");
    }
}

/// For tests: logs only when `TEST_LOG` is set, so a failing test can be rerun verbosely;
/// with the `testing` feature, also the JSON lines a [`capture::LogCapture`] asks for.
pub fn init_for_tests() {
    let verbose = std::env::var_os("TEST_LOG").is_some().then(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("debug"));
        tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(filter)
    });
    let registry = tracing_subscriber::registry().with(verbose);
    #[cfg(feature = "testing")]
    let registry = registry.with(capture::layer());
    let _ = registry.try_init();
}

#[cfg(feature = "testing")]
pub mod capture {
    //! The production JSON log lines of everything running in a test process, kept while
    //! a test holds a [`LogCapture`] (nothing is formatted otherwise).

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::filter_fn;

    static CAPTURING: AtomicUsize = AtomicUsize::new(0);
    static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

    struct Buffer;

    impl std::io::Write for Buffer {
        /// The formatter hands over each line whole, so lines never interleave.
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            lines().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines() -> std::sync::MutexGuard<'static, Vec<u8>> {
        LINES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn layer<S>() -> impl Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        super::json_layer(|| Buffer).with_filter(filter_fn(|meta| {
            CAPTURING.load(Ordering::Relaxed) > 0 && *meta.level() <= tracing::Level::INFO
        }))
    }

    /// Keeps the log lines written from now until dropped (other tests' too: tell yours
    /// apart by their fields).
    pub struct LogCapture {
        from: usize,
    }

    impl LogCapture {
        pub fn start() -> Self {
            super::init_for_tests();
            CAPTURING.fetch_add(1, Ordering::Relaxed);
            Self {
                from: lines().len(),
            }
        }

        /// Every line written since the start, parsed.
        pub fn lines(&self) -> Vec<serde_json::Value> {
            let all = lines();
            let text = String::from_utf8_lossy(&all[self.from.min(all.len())..]).into_owned();
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        }
    }

    impl Drop for LogCapture {
        fn drop(&mut self) {
            if CAPTURING.fetch_sub(1, Ordering::Relaxed) == 1 {
                lines().clear();
            }
        }
    }
}
