//! The background work of a replica's sockets: closing those whose session ended, and
//! keeping their presence entries fresh.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use super::hub::Stop;
use crate::context::ChatContext;
use crate::sessions::SessionProbe;

/// A session in active use slides its idle timeout at most this often.
const SLIDE_EVERY: Duration = Duration::from_secs(60);
/// Sessions per round trip.
const CHUNK: usize = 1_000;

pub async fn run(ctx: Arc<ChatContext>) {
    let settings = ctx.socket_settings().clone();
    let mut sessions = tokio::time::interval(settings.session_check_interval);
    let mut presence = tokio::time::interval(ctx.presence().ttl() / 3);
    sessions.set_missed_tick_behavior(MissedTickBehavior::Delay);
    presence.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut slid: HashMap<String, Instant> = HashMap::new();
    loop {
        tokio::select! {
            _ = sessions.tick() => check_sessions(&ctx, &mut slid).await,
            _ = presence.tick() => {
                let members = ctx.hub().members();
                if let Err(err) = ctx.presence().refresh(&members).await {
                    tracing::warn!(error = %err, "presence not refreshed");
                }
            }
        }
    }
}

async fn check_sessions(ctx: &ChatContext, slid: &mut HashMap<String, Instant>) {
    let probes: Vec<SessionProbe> = ctx
        .hub()
        .session_probes()
        .into_iter()
        .map(|(session_id, user_id, active)| SessionProbe {
            slide: active
                && slid
                    .get(&session_id)
                    .is_none_or(|at| at.elapsed() >= SLIDE_EVERY),
            session_id,
            user_id,
        })
        .collect();
    let current: HashSet<&str> = probes.iter().map(|p| p.session_id.as_str()).collect();
    slid.retain(|sid, _| current.contains(sid.as_str()));
    for chunk in probes.chunks(CHUNK) {
        let live = match ctx.sessions().check_all(chunk).await {
            Ok(live) => live,
            Err(err) => {
                // Keep the sockets: a Redis blip must not disconnect everyone. Sessions
                // ended meanwhile are caught on the next check that gets through.
                tracing::warn!(error = %err, "sessions not checked");
                return;
            }
        };
        for (probe, live) in chunk.iter().zip(live) {
            if !live {
                tracing::info!(
                    user_id = probe.user_id,
                    "session ended; closing its sockets"
                );
                ctx.hub()
                    .stop_session(&probe.session_id, probe.user_id, Stop::SessionEnded);
            } else if probe.slide {
                slid.insert(probe.session_id.clone(), Instant::now());
            }
        }
    }
}
