//! What every handler of auth-service works with, behind one cloneable handle.

use shared::db::Db;
use shared::redis::Redis;

use crate::metrics::AuthMetrics;
use crate::sessions::SessionStore;
use crate::throttle::LoginThrottle;
use crate::tokens::{TokenIssuer, TokenPair};
use crate::wechat::WeChat;

pub struct AuthContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) sessions: SessionStore,
    pub(crate) throttle: LoginThrottle,
    pub(crate) tokens: TokenIssuer,
    /// `None` when WeChat sign-in is not configured.
    pub(crate) wechat: Option<WeChat>,
    pub(crate) metrics: AuthMetrics,
}

impl AuthContext {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    pub fn throttle(&self) -> &LoginThrottle {
        &self.throttle
    }

    pub fn tokens(&self) -> &TokenIssuer {
        &self.tokens
    }

    /// WeChat sign-in, or the 501 of a server without it.
    pub fn wechat(&self) -> Result<&WeChat, shared::ApiError> {
        self.wechat
            .as_ref()
            .ok_or_else(crate::wechat::not_configured)
    }

    /// Starts a session for `user_id` and returns its first token pair.
    pub async fn start_session(
        &self,
        user_id: i64,
        user_agent: &str,
        ip: &str,
    ) -> Result<TokenPair, shared::ApiError> {
        let (sid, refresh_token) = self.sessions.create(user_id, user_agent, ip).await?;
        self.metrics.session_started("password");
        self.tokens.pair(user_id, &sid, refresh_token)
    }

    pub fn metrics(&self) -> &AuthMetrics {
        &self.metrics
    }

    /// Ends one session of `user_id`, counted under `cause`; false if it was not live.
    pub async fn end_session(
        &self,
        user_id: i64,
        sid: &str,
        cause: &'static str,
    ) -> Result<bool, shared::ApiError> {
        let ended = self.sessions.end(user_id, sid).await?;
        if ended {
            self.metrics.sessions_ended(cause, 1);
        }
        Ok(ended)
    }

    /// Ends every session of `user_id` but `keep`, counted under `cause`.
    pub async fn end_sessions(
        &self,
        user_id: i64,
        keep: Option<&str>,
        cause: &'static str,
    ) -> Result<u64, shared::ApiError> {
        let ended = self.sessions.end_all(user_id, keep).await?;
        self.metrics.sessions_ended(cause, ended);
        Ok(ended)
    }
}
