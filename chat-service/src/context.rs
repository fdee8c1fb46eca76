//! What every handler and socket of chat-service works with, behind one cloneable handle.

use std::sync::Arc;

use shared::db::Db;
use shared::redis::Redis;

use crate::config::SocketSettings;
use crate::directory::Directory;
use crate::presence::Presence;
use crate::sessions::SessionCheck;
use crate::tickets::Tickets;
use crate::writer::MessageWriter;
use crate::ws::fanout::Fanout;
use crate::ws::hub::Hub;

pub struct ChatContext {
    pub(crate) db: Db,
    pub(crate) redis: Redis,
    /// The writers, the fan-out subscriber and the upkeep loop, reported by `/readyz`.
    pub(crate) tasks: shared::tasks::Tasks,
    pub(crate) directory: Directory,
    pub(crate) tickets: Tickets,
    pub(crate) sessions: SessionCheck,
    pub(crate) presence: Presence,
    pub(crate) fanout: Fanout,
    pub(crate) hub: Arc<Hub>,
    pub(crate) writer: MessageWriter,
    pub(crate) socket: SocketSettings,
    pub(crate) metrics: crate::metrics::ChatMetrics,
}

impl ChatContext {
    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    pub fn tickets(&self) -> &Tickets {
        &self.tickets
    }

    pub fn sessions(&self) -> &SessionCheck {
        &self.sessions
    }

    pub fn presence(&self) -> &Presence {
        &self.presence
    }

    pub fn fanout(&self) -> &Fanout {
        &self.fanout
    }

    pub fn writer(&self) -> &MessageWriter {
        &self.writer
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    pub fn metrics(&self) -> &crate::metrics::ChatMetrics {
        &self.metrics
    }

    pub fn socket_settings(&self) -> &SocketSettings {
        &self.socket
    }
}
