//! `/v1/permissions`: a method on a resource.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
