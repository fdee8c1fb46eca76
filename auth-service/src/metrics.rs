//! auth-service's own signals: logins by outcome, sessions started and ended by cause,
//! refresh-token reuse.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use shared::metrics::{Labels, Metrics};
use shared::{ApiError, Code};

pub struct AuthMetrics {
    logins: Family<Labels, Counter>,
    sessions_started: Family<Labels, Counter>,
    sessions_ended: Family<Labels, Counter>,
    refresh_reuse: Family<Labels, Counter>,
}

impl AuthMetrics {
    pub fn new(metrics: &Metrics) -> Self {
        Self {
            logins: metrics.counter(
                "auth_logins",
                "Password logins by outcome: ok, failed, throttled, disabled, error",
            ),
            sessions_started: metrics.counter(
                "auth_sessions_started",
                "Sessions started, by sign-in method",
            ),
            sessions_ended: metrics.counter(
                "auth_sessions_ended",
                "Sessions ended by cause (logout, logout_all, revoked, password_changed, \
                 account_disabled, refresh_reuse); expiry is Redis' and not counted",
            ),
            refresh_reuse: metrics.counter(
                "auth_refresh_token_reuse",
                "Refresh tokens presented again after their rotation (the session is ended)",
            ),
        }
    }

    pub fn login<T>(&self, result: &Result<T, ApiError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(err) => match err.code() {
                Code::InvalidCredentials => "failed",
                Code::LoginThrottled => "throttled",
                Code::AccountDisabled => "disabled",
                _ => "error",
            },
        };
        self.logins.get_or_create(&vec![("outcome", outcome)]).inc();
    }

    pub fn session_started(&self, method: &'static str) {
        self.sessions_started
            .get_or_create(&vec![("method", method)])
            .inc();
    }

    pub fn sessions_ended(&self, cause: &'static str, count: u64) {
        self.sessions_ended
            .get_or_create(&vec![("cause", cause)])
            .inc_by(count);
    }

    pub fn refresh_reused(&self) {
        self.refresh_reuse.get_or_create(&vec![]).inc();
        self.sessions_ended("refresh_reuse", 1);
    }
}
