//! The hash map of what a request looks up in process (tokens verified, sessions held,
//! rate-limit counters, the policy's roles, connections by replica): foldhash, not std's
//! SipHash, which cost a signed-in request ~1,700 of its ~39,000 instructions over seven
//! lookups (`bench/gateway profile`).
//!
//! foldhash is seeded afresh in each process, so keys that collide cannot be worked out
//! ahead of time; and few keys are a client's choice at all. Tokens and sessions enter
//! these maps only once verified (issued by auth-service); the rate-limit counters are
//! keyed by the client's address among others (its own, or what trusted proxies say), and
//! their number is capped.

pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
