//! `/v1/users/{id}/roles`: which roles a user holds.

pub mod grant;
pub mod list;
pub mod revoke;
