//! The chat socket: frames, the per-replica hub, fan-out through Redis, and the task that
//! serves one connection.

pub mod connection;
pub mod fanout;
pub mod frames;
pub mod hub;
pub mod limits;
pub mod sequencer;
pub mod upkeep;
