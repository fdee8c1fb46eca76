//! What diesel's `MultiConnection` cannot express: `INSERT … ON CONFLICT` exists on both
//! backends but not on the multi-backend, so such statements are written once and
//! type-checked for each backend here.

/// Runs `$body` with `$conn` bound to the concrete connection of either backend.
#[macro_export]
macro_rules! each_backend {
    ($conn:ident => $body:expr) => {
        match $conn {
            shared::db::DbConnection::Sqlite($conn) => $body,
            shared::db::DbConnection::Postgresql($conn) => $body,
        }
    };
}
