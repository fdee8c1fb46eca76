//! Single-use WebSocket tickets.
//!
//! Browsers cannot set headers on a WebSocket, and an access token in a URL ends up in logs
//! and history. So a signed-in client asks for a ticket (256 random bits) over an ordinary
//! authenticated request and opens the socket with `?ticket=…` within the ticket's
//! lifetime. Redis keeps only the ticket's SHA-256, bound to the user and the session;
//! redeeming is one `GETDEL`, so a ticket works once, on whichever replica sees it first.

use std::time::Duration;

use sha2::{Digest, Sha256};
use shared::redis::{Redis, RedisError};

/// Whom a redeemed ticket was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHolder {
    pub user_id: i64,
    pub session_id: String,
}

#[derive(Clone)]
pub struct Tickets {
    redis: Redis,
    ttl: Duration,
}

impl Tickets {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        Self { redis, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub async fn issue(&self, user_id: i64, session_id: &str) -> Result<String, RedisError> {
        let ticket = shared::random::token_hex(32);
        self.redis
            .query::<()>(
                redis::cmd("SET")
                    .arg(self.key(&ticket))
                    .arg(format!("{user_id}:{session_id}"))
                    .arg("PX")
                    .arg(self.ttl.as_millis() as u64),
            )
            .await?;
        Ok(ticket)
    }

    /// The holder of `ticket`, consuming it; `None` when it is malformed, expired or spent.
    pub async fn redeem(&self, ticket: &str) -> Result<Option<TicketHolder>, RedisError> {
        let well_formed = ticket.len() == 64 && ticket.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Ok(None);
        }
        let value: Option<String> = self
            .redis
            .query(redis::cmd("GETDEL").arg(self.key(ticket)))
            .await?;
        Ok(value.and_then(|value| {
            let (user, session) = value.split_once(':')?;
            Some(TicketHolder {
                user_id: user.parse().ok()?,
                session_id: session.to_owned(),
            })
        }))
    }

    fn key(&self, ticket: &str) -> String {
        let digest = Sha256::digest(ticket.to_ascii_lowercase().as_bytes());
        self.redis
            .key(format_args!("chat:ticket:{}", hex::encode(digest)))
    }
}
