//! The rbac tables: rows, insert and change forms, and the queries on them.

pub mod permission;
pub mod resource;
pub mod role;
pub mod user_role;

pub use permission::{NewPermission, Permission, PermissionView};
pub use resource::{NewResource, Resource, ResourceChanges};
pub use role::{NewRole, Role, RoleChanges};
pub use user_role::UserRoles;
