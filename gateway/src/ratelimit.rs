//! Rate limits per scope, as in Django REST framework: anonymous callers by client
//! address, signed-in callers by user, plus stricter scopes for signing in and for
//! writes. Each scope is a fixed window with one counter in Redis, so one limit across
//! every replica. `login` and `write` count each request there (exactly, in the same round
//! trip as the session check when there is one); `anon` and `user`, the high-volume
//! scopes, count in process and add their counts to Redis every `RATE_LIMIT_SYNC`
//! ([`local`]).

pub mod local;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use hyper::Method;
use smallvec::SmallVec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u64,
    pub window: Duration,
}

impl Rate {
    /// `100/min` style: a count per `sec`, `min`, `hour` or `day`; `off` disables the scope.
    pub fn parse(text: &str) -> Result<Option<Rate>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let (count, unit) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not like 100/min"))?;
        let limit: u64 = count
            .trim()
            .parse()
            .map_err(|_| format!("{text:?}: {count:?} is not a count"))?;
        let seconds = match unit.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3_600,
            "d" | "day" => 86_400,
            other => {
                return Err(format!(
                    "{text:?}: unknown unit {other:?} (sec, min, hour, day)"
                ));
            }
        };
        if limit == 0 {
            return Err(format!("{text:?}: the count must be positive"));
        }
        Ok(Some(Rate {
            limit,
            window: Duration::from_secs(seconds),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Anon,
    User,
    Login,
    Write,
}

impl Scope {
    /// Counted in process between syncs; the others count each request in Redis.
    pub fn counted_locally(self) -> bool {
        matches!(self, Self::Anon | Self::User)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Anon => "anon",
            Self::User => "user",
            Self::Login => "login",
            Self::Write => "write",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RateLimits {
    pub anon: Option<Rate>,
    pub user: Option<Rate>,
    pub login: Option<Rate>,
    pub write: Option<Rate>,
    /// `RATE_LIMIT_SYNC`: how often the `anon` and `user` counts made in process are added
    /// to Redis; `None` (`off`): every scope counts each request in Redis.
    pub sync: Option<Duration>,
}

/// `RATE_LIMIT_SYNC`'s default.
pub const DEFAULT_SYNC: Duration = Duration::from_millis(100);

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            anon: None,
            user: None,
            login: None,
            write: None,
            sync: Some(DEFAULT_SYNC),
        }
    }
}

/// Resources that sign people in or create accounts: the `login` scope.
const LOGIN_RESOURCES: &[&str] = &[
    "auth-login",
    "auth-register",
    "auth-refresh",
    "wechat-callback",
    "wechat-exchange",
];

/// Whose requests a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Address(IpAddr),
    User(i64),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(ip) => write!(f, "ip:{ip}"),
            Self::User(id) => write!(f, "u:{id}"),
        }
    }
}

/// One counter a request increments: `subject`'s requests in `scope` during fixed window
/// number `window` (epoch ms / window ms).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    pub scope: Scope,
    pub rate: Rate,
    pub subject: Subject,
    pub window: i64,
}

impl Counter {
    /// Its Redis key (made only when Redis is asked: the local path needs no string).
    pub fn key(&self) -> String {
        format!("rl:{}:{}:{}", self.scope.name(), self.subject, self.window)
    }

    pub fn window_ms(&self) -> u64 {
        self.rate.window.as_millis() as u64
    }

    /// Ms from `now_ms` to the end of its window.
    pub fn reset_ms(&self, now_ms: i64) -> i64 {
        (self.window + 1) * self.window_ms() as i64 - now_ms
    }
}

impl RateLimits {
    fn rate(&self, scope: Scope) -> Option<Rate> {
        match scope {
            Scope::Anon => self.anon,
            Scope::User => self.user,
            Scope::Login => self.login,
            Scope::Write => self.write,
        }
    }

    /// The counters a request counts against: `subject` is the user id when signed in,
    /// else the client address.
    pub fn counters(
        &self,
        resource: &str,
        method: &Method,
        user: Option<i64>,
        client: IpAddr,
        now_ms: i64,
    ) -> Counters {
        let caller = if user.is_some() {
            Scope::User
        } else {
            Scope::Anon
        };
        let login = LOGIN_RESOURCES.contains(&resource);
        let writes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let scopes = [
            Some(caller),
            login.then_some(Scope::Login),
            (writes && user.is_some()).then_some(Scope::Write),
        ];
        scopes
            .into_iter()
            .flatten()
            .filter_map(|scope| {
                let rate = self.rate(scope)?;
                let window_ms = rate.window.as_millis() as i64;
                let subject = match (scope, user) {
                    (Scope::Login | Scope::Anon, _) | (_, None) => Subject::Address(client),
                    (_, Some(user)) => Subject::User(user),
                };
                Some(Counter {
                    scope,
                    rate,
                    subject,
                    window: now_ms / window_ms,
                })
            })
            .collect()
    }
}

/// A request's counters: at most three (its caller's scope, `login`, `write`), held in
/// place (a signed-in request makes two sets; a `Vec` was two allocations each).
pub type Counters = SmallVec<[Counter; 3]>;

/// The outcome of counting: the tightest scope, for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub limit: u64,
    pub remaining: u64,
    pub reset_secs: u64,
    pub exceeded: bool,
}

/// Combines each counter's (count, ms to reset) into one verdict.
pub fn verdict(counters: &[Counter], counts: &[(u64, i64)]) -> Option<Verdict> {
    counters
        .iter()
        .zip(counts)
        .map(|(counter, (count, pttl))| {
            let reset_ms = if *pttl > 0 {
                *pttl as u64
            } else {
                counter.rate.window.as_millis() as u64
            };
            Verdict {
                limit: counter.rate.limit,
                remaining: counter.rate.limit.saturating_sub(*count),
                reset_secs: reset_ms.div_ceil(1000),
                exceeded: *count > counter.rate.limit,
            }
        })
        .min_by_key(|v| (!v.exceeded, v.remaining))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(1, 2, 3, 4));

    #[test]
    fn rates_parse_in_drf_style() {
        assert_eq!(
            Rate::parse("100/min").unwrap(),
            Some(Rate {
                limit: 100,
                window: Duration::from_secs(60)
            })
        );
        assert_eq!(
            Rate::parse("5/sec").unwrap().unwrap().window,
            Duration::from_secs(1)
        );
        assert_eq!(
            Rate::parse("1000/day").unwrap().unwrap().window,
            Duration::from_secs(86_400)
        );
        assert_eq!(Rate::parse("off").unwrap(), None);
        for bad in ["100", "x/min", "0/min", "10/fortnight", "-1/min"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requests_count_against_the_right_scopes() {
        let limits = RateLimits {
            anon: Rate::parse("10/min").unwrap(),
            user: Rate::parse("100/min").unwrap(),
            login: Rate::parse("5/min").unwrap(),
            write: Rate::parse("20/min").unwrap(),
            ..Default::default()
        };
        let scopes = |resource, method, user| -> Vec<Scope> {
            limits
                .counters(resource, &method, user, CLIENT, 0)
                .iter()
                .map(|c| c.scope)
                .collect()
        };
        assert_eq!(scopes("trips", Method::GET, None), [Scope::Anon]);
        assert_eq!(
            scopes("auth-login", Method::POST, None),
            [Scope::Anon, Scope::Login]
        );
        assert_eq!(scopes("orders", Method::GET, Some(7)), [Scope::User]);
        assert_eq!(
            scopes("orders", Method::POST, Some(7)),
            [Scope::User, Scope::Write]
        );
    }

    #[test]
    fn the_tightest_scope_is_reported() {
        let limits = RateLimits {
            user: Rate::parse("100/min").unwrap(),
            write: Rate::parse("3/min").unwrap(),
            ..Default::default()
        };
        let counters = limits.counters("orders", &Method::POST, Some(7), CLIENT, 0);
        let v = verdict(&counters, &[(10, 30_000), (3, 30_000)]).unwrap();
        assert_eq!(
            (v.limit, v.remaining, v.reset_secs, v.exceeded),
            (3, 0, 30, false)
        );
        let v = verdict(&counters, &[(10, 30_000), (4, 1)]).unwrap();
        assert!(v.exceeded);
        assert_eq!(v.reset_secs, 1);
    }
}
