//! The gateway's one handler: canonicalise, decide by policy, authenticate, throttle,
//! authorise, forward.

use std::sync::Arc;

use hyper::header::HeaderName;
use hyper::http::request::Parts;
use hyper::upgrade::OnUpgrade;
use hyper::{Method, StatusCode};
use shared::policy::MY_PERMISSIONS_PATH;
use shared::{ApiError, Code, ErrorKind};

use crate::auth;
use crate::auth::session::{Edge, session_ended, unavailable};
use crate::body::{self, Answer};
use crate::client_headers::ClientHeaders;
use crate::client_ip;
use crate::path::canonicalize;
use crate::policy::{Decision, Policy, RoleSet};
use crate::proxy::{self, ClientBody, Forwarding, Granted, RequestBody};
use crate::ratelimit::{self, Verdict};
use crate::server::{Handled, RequestInfo, Worker};
use crate::startup::GatewayState;
use crate::upstreams::{self, Upstream};
use crate::wire::Decimal;

/// What became of a request, for the metrics: the route it took and whether it reached
/// its service (whatever the service answered, the gateway allowed it).
#[derive(Default)]
struct Outcome {
    route: Option<String>,
    forwarded: bool,
}

/// A request as the server hands it on: its head, the headers the gateway reads (picked
/// in the server's one pass over them), its body and its hold on the connection for a
/// WebSocket handshake.
pub struct Received<'a> {
    pub head: &'a Parts,
    pub sent: &'a ClientHeaders<'a>,
    pub body: ClientBody,
    /// `None` when the server read the request itself (it never asks to switch).
    pub upgrade: Option<OnUpgrade>,
}

pub async fn gateway(
    worker: &Arc<Worker>,
    request: Received<'_>,
    info: &RequestInfo<'_>,
) -> Handled {
    let mut outcome = Outcome::default();
    // Boxed: its future is kilobytes, and the server moves a request's future more than
    // once (into the span, the trace's scope, its connection's slot); a box moves as a
    // pointer.
    let decided = Box::pin(decide_and_forward(worker, request, info, &mut outcome));
    let answer = match decided.await {
        Ok(answer) => answer,
        Err(err) => body::error(&err),
    };
    worker.state.metrics.decided(outcome.forwarded, &answer);
    Handled {
        answer,
        route: outcome.route,
    }
}

async fn decide_and_forward(
    worker: &Worker,
    request: Received<'_>,
    info: &RequestInfo<'_>,
    outcome: &mut Outcome,
) -> Result<Answer, ApiError> {
    let (state, sessions) = (&*worker.state, &worker.sessions);
    let Received {
        head,
        sent,
        body: incoming,
        upgrade,
    } = request;
    let path = canonicalize(head.uri.path())?;
    if !shared::http::accepts_json(sent.accept.and_then(|v| v.to_str().ok())) {
        return Err(ApiError::from_kind(ErrorKind::NotAcceptable));
    }
    let policy = state.policy.get()?;
    let forwarded_for = sent.forwarded_for.and_then(|v| v.to_str().ok());
    let client_ip = client_ip::resolve(forwarded_for, info.peer.ip(), &state.trusted_proxies);
    let now = shared::time::now_millis();

    // `None`: a public route; `Some(allowed)`: the roles allowed on it (none: nobody).
    let method = &head.method;
    let (resource, required) = match policy.decide(method, &path) {
        Decision::UnknownRoute => return Err(unknown_route(method, &path)),
        Decision::Public { resource } => (resource, None),
        Decision::Protected { resource, roles } => (resource, Some(roles)),
    };
    outcome.route = Some(resource.to_owned());
    let (caller, granted, verdict) = match required {
        // "Public" means "no credentials needed", not "credentials ignored": a request
        // that sends them is authenticated as on any route (a bad token is a 401) and
        // reaches the service as its caller's.
        None if sent.authorization.is_none() => {
            let counters = state
                .limits
                .counters(resource, method, None, client_ip, now);
            // Public routes stay up without Redis; they are only left uncounted.
            let started = state.metrics.clock();
            let counted = sessions.count(&counters, now).await;
            if counted.as_ref().is_ok_and(|c| c.round_trip) {
                state.metrics.redis_round_trip("anonymous", started);
            }
            let verdict = match counted {
                Ok(counted) => ratelimit::verdict(&counters, &counted.counts),
                Err(err) => {
                    tracing::warn!(error = %err, "rate limits not counted: Redis unavailable");
                    None
                }
            };
            (None, None, verdict)
        }
        required => {
            // Until a request proves who it is, it is an anonymous caller of its address,
            // counted against the `anon` limit BEFORE its token is checked: requests with
            // no token, a forged one (each a fresh RSA check) or a dead session's count,
            // and once the address is over the limit they get 429 without reaching the
            // verifier.
            let anonymous = state
                .limits
                .counters(resource, method, None, client_ip, now);
            let token = auth::bearer_token(sent.authorization);
            // A token this replica has already verified needs no RSA check: it skips that
            // count and goes straight to the one round trip below, which counts it as
            // anonymous only if its session turns out dead. So a signed-in request stays
            // one Redis round trip; a new token costs one more, once per replica.
            let known = token
                .as_ref()
                .ok()
                .and_then(|t| state.verifier.cached(t, now));
            let (caller, if_ended, counted) = match known {
                Some(caller) => (caller, anonymous.as_slice(), None),
                None => {
                    let started = state.metrics.clock();
                    let counted = sessions.count(&anonymous, now).await.map_err(unavailable)?;
                    if counted.round_trip {
                        state.metrics.redis_round_trip("anonymous", started);
                    }
                    let verdict = ratelimit::verdict(&anonymous, &counted.counts);
                    if let Some(v) = verdict.filter(|v| v.exceeded) {
                        return Ok(with_rate_headers(body::error(&throttled(v)), Some(v)));
                    }
                    match token.and_then(|t| state.verifier.verify(t)) {
                        Ok(caller) => (caller, &[][..], verdict),
                        Err(err) => return Ok(with_rate_headers(body::error(&err), verdict)),
                    }
                }
            };
            tracing::Span::current().record("user_id", caller.user_id);
            let counters =
                state
                    .limits
                    .counters(resource, method, Some(caller.user_id), client_ip, now);
            let started = state.metrics.clock();
            let checked = sessions.signed_in(&caller, &counters, if_ended, now).await;
            if !matches!(&checked, Ok(Edge::Live(s)) if !s.round_trip) {
                state.metrics.redis_round_trip("signed_in", started);
            }
            let signed_in = match checked? {
                Edge::Live(signed_in) => signed_in,
                Edge::Ended(counts) => {
                    let verdict = ratelimit::verdict(if_ended, &counts).or(counted);
                    return Ok(refuse(session_ended(), verdict));
                }
            };
            let verdict = ratelimit::verdict(&counters, &signed_in.counts);
            if let Some(v) = verdict.filter(|v| v.exceeded) {
                return Ok(with_rate_headers(body::error(&throttled(v)), Some(v)));
            }
            let role_ids = match signed_in.cached_roles {
                Some(ids) => ids,
                // Boxed: a cache miss's HTTP call is a large future, and rare (a request's
                // future is moved whole into the server's).
                None => Box::pin(state.roles.fetch(&worker.client, caller.user_id))
                    .await?
                    .into(),
            };
            let role_set = policy.role_set(&role_ids);
            let allowed =
                required.is_none_or(|allowed| allowed.is_some_and(|set| set.intersects(&role_set)));
            if !allowed {
                let denied = ApiError::new(
                    Code::Forbidden,
                    format!("Your roles do not allow {method} on this route."),
                )
                .with_details(serde_json::json!({ "resource": resource }));
                return Ok(with_rate_headers(body::error(&denied), verdict));
            }
            if path == MY_PERMISSIONS_PATH {
                let mine = my_permissions(&policy, &role_ids, &role_set);
                return Ok(with_rate_headers(mine, verdict));
            }
            let granted = Granted {
                roles: policy.role_names(&role_ids),
                scopes: policy.scope_names(&role_set),
            };
            (Some(caller), Some(granted), verdict)
        }
    };
    if let Some(v) = verdict.filter(|v| v.exceeded) {
        return Ok(with_rate_headers(body::error(&throttled(v)), Some(v)));
    }

    let replicas = state
        .routes
        .find(&path)
        .ok_or_else(|| unknown_route(method, &path))?;
    // Sent to each replica tried in turn, with its `upstream` set to that replica.
    let first = Upstream {
        base_url: replicas.url(0).clone(),
    };
    let forwarding = Forwarding {
        upstream: &first,
        canonical_path: &path,
        peer: info.peer.ip(),
        client_ip,
        request: info,
        client: sent,
        caller: caller.as_ref(),
        granted: granted.as_ref(),
        internal_token: &state.internal_token,
    };
    outcome.forwarded = true;
    if sent.upgrade
        && crate::websocket::is_upgrade(method, &head.headers)
        && let Some(upgrade) = upgrade
    {
        return Box::pin(crate::websocket::forward(
            head,
            upgrade,
            replicas,
            forwarding,
            &worker.drain,
        ))
        .await;
    }
    let safe = upstreams::safe_to_repeat(method, sent.idempotency_key);
    let mut body = RequestBody::read(sent, incoming).await?;
    let mut failure = None;
    for replica in upstreams::attempts(replicas) {
        let Some(attempt) = body.attempt() else {
            break;
        };
        let upstream = Upstream {
            base_url: replicas.url(replica).clone(),
        };
        let forwarding = Forwarding {
            upstream: &upstream,
            ..forwarding
        };
        let forwarded = proxy::forward(
            &worker.connections,
            head,
            attempt,
            forwarding,
            &state.metrics,
        )
        .await;
        let err = match forwarded {
            Ok(response) => {
                replicas.answered(replica);
                return Ok(with_rate_headers(response, verdict));
            }
            Err(err) => err,
        };
        let (pass_over, retry) = upstreams::after_failure(&err, safe);
        if pass_over {
            replicas.failed(replica);
        }
        failure = Some(err);
        if !retry {
            break;
        }
    }
    Err(failure.unwrap_or_else(|| {
        ApiError::new(
            Code::UpstreamUnavailable,
            "The service is unavailable; retry shortly.",
        )
    }))
}

/// `GET /v1/me/permissions`: what the policy this gateway enforces allows the caller.
fn my_permissions(policy: &Policy, role_ids: &[i64], roles: &RoleSet) -> Answer {
    let mine = serde_json::json!({
        "roles": policy.named_roles(role_ids),
        "scopes": policy.held_scopes(roles),
        "permissions": policy.allowed(roles),
    });
    body::json(StatusCode::OK, &mine)
}

fn unknown_route(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        Code::RouteNotFound,
        format!("No route for {method} {path}."),
    )
}

fn throttled(verdict: Verdict) -> ApiError {
    ApiError::too_many_requests(verdict.reset_secs)
}

/// `err`, or 429 if the request was over a limit, with the limit's headers either way.
fn refuse(err: ApiError, verdict: Option<Verdict>) -> Answer {
    let err = match verdict {
        Some(v) if v.exceeded => throttled(v),
        _ => err,
    };
    with_rate_headers(body::error(&err), verdict)
}

/// The rate-limit headers every counted answer gets: the limit, what is left of it, and
/// the seconds until its window resets.
pub(crate) const RATE_LIMIT_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("ratelimit-limit"),
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
];

fn with_rate_headers(mut response: Answer, verdict: Option<Verdict>) -> Answer {
    let Some(v) = verdict else {
        return response;
    };
    let fields = &mut response.body_mut().fields;
    for (name, number) in RATE_LIMIT_HEADERS
        .iter()
        .zip([v.limit, v.remaining, v.reset_secs])
    {
        fields.push(name, Decimal::new(number).as_bytes());
    }
    response
}

/// `/readyz`: Redis answers, the signing keys and the policy are loaded, and the refreshers
/// that keep them current are running.
pub async fn readyz(state: &GatewayState) -> Answer {
    let redis = state.redis.ping().await;
    body::readiness(&state.tasks.checks_with(&[
        ("redis", redis),
        ("jwks", state.keys.is_loaded()),
        ("policy", state.policy.get().is_ok()),
    ]))
}
