//! `/v1/roles` and the permissions each role holds.

pub mod create;
pub mod delete;
pub mod get;
pub mod grant_permission;
pub mod list;
pub mod list_permissions;
pub mod revoke_permission;
pub mod update;
