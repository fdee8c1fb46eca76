//! recommend-service: the trips catalog behind a consistent Redis cache, ratings and
//! implicit signals, and collaborative-filtering recommendations served from memory.

pub mod recommend;
