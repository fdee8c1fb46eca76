//! What every handler of auth-service works with, behind one cloneable handle.

use shared::db::Db;
use shared::redis::Redis;

use crate::sessions::SessionStore;
use crate::throttle::LoginThrottle;
use crate::tokens::{TokenIssuer, TokenPair};

pub struct AuthContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    pub(crate) sessions: SessionStore,
    pub(crate) throttle: LoginThrottle,
    pub(crate) tokens: TokenIssuer,
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

    /// Starts a session for `user_id` and returns its first token pair.
    pub async fn start_session(
        &self,
        user_id: i64,
        user_agent: &str,
        ip: &str,
    ) -> Result<TokenPair, shared::ApiError> {
        let (sid, refresh_token) = self.sessions.create(user_id, user_agent, ip).await?;
        self.tokens.pair(user_id, &sid, refresh_token)
    }
}
