//! The RBAC contract between rbac-service, which owns the permission model, and the
//! gateway, which enforces it: the policy document, and the Redis names both use.
//!
//! - `rbac:policy-version` holds a counter rbac-service increments after every change to
//!   resources, permissions or roles, and `rbac:policy` is the channel it publishes the new
//!   version on. Gateways reload on the message, and also compare the counter every second,
//!   so a lost message delays a change by at most a second.
//! - `rbac:user-roles:{user_id}` caches a user's role ids as `"{version}|{id},{id}"`. Only
//!   rbac-service writes it, with a compare-and-set on the version (see its `role_cache`),
//!   so a slow reader can never put back roles that a grant or revocation replaced.

use serde::{Deserialize, Serialize};

/// Permissions that are not routes: how far a caller's reach goes beyond their own data.
///
/// A scope is an RBAC resource under [`PREFIX`](scopes::PREFIX), granted like any
/// permission (to the seeded roles by rbac-service's seed, to any role through the admin
/// API). The gateway never routes it; it forwards the names of the scopes a caller holds in
/// `X-User-Scopes`, and a service widens what it shows or acts on only for a holder.
pub mod scopes {
    pub const PREFIX: &str = "/v1/scopes/";

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Scope {
        /// The resource's name, as forwarded in `X-User-Scopes`.
        pub name: &'static str,
        /// The resource's pattern: [`PREFIX`] then the name.
        pub pattern: &'static str,
        pub description: &'static str,
    }

    /// Every order, not only one's own: list, read (with payment events) and act on them
    /// as far as one's route permissions go (e.g. refunds).
    pub const ALL_ORDERS: Scope = Scope {
        name: "orders-all",
        pattern: "/v1/scopes/orders-all",
        description: "Every order, not only one's own (a scope, not a route)",
    };

    pub const ALL: &[Scope] = &[ALL_ORDERS];

    /// Whether a resource with this pattern is a scope rather than a route.
    pub fn is_scope(pattern: &str) -> bool {
        pattern.starts_with(PREFIX)
    }
}

/// `GET` here answers what the caller may do: the gateway answers it itself, from the
/// policy it enforces, so a client (the web UI) shows what a role allows whatever the role
/// is called. rbac-service seeds it for every role.
pub const MY_PERMISSIONS_PATH: &str = "/v1/me/permissions";

pub const POLICY_VERSION_KEY: &str = "rbac:policy-version";
pub const POLICY_CHANNEL: &str = "rbac:policy";

pub fn user_roles_key(user_id: i64) -> String {
    format!("rbac:user-roles:{user_id}")
}

/// The value a fenced entry holds instead of role ids (`"{version}|fenced"`): a change of
/// that version is being committed, so readers must ask rbac-service (the database).
pub const FENCED_ROLES: &str = "fenced";

/// Parses a cached role set (`"{version}|{id},{id}"`) into its role ids; a fenced entry or
/// garbage is `None` (not cached).
pub fn parse_cached_roles(value: &str) -> Option<Vec<i64>> {
    let (_, ids) = value.split_once('|')?;
    ids.split(',')
        .filter(|id| !id.is_empty())
        .map(|id| id.parse().ok())
        .collect()
}

/// The whole policy, as `GET /internal/policy` serves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyDocument {
    pub version: u64,
    pub roles: Vec<RoleRef>,
    pub resources: Vec<ResourcePolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourcePolicy {
    pub name: String,
    pub pattern: String,
    pub methods: Vec<MethodPolicy>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodPolicy {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// Callable without signing in.
    pub public: bool,
    /// Roles allowed to call it.
    pub role_ids: Vec<i64>,
}

/// A user's roles, as `GET /internal/users/{id}/roles` serves them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRolesDocument {
    pub user_id: i64,
    pub version: i64,
    pub role_ids: Vec<i64>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_scope_pattern_is_the_prefix_and_its_name() {
        for scope in super::scopes::ALL {
            assert_eq!(
                scope.pattern,
                format!("{}{}", super::scopes::PREFIX, scope.name)
            );
            assert!(super::scopes::is_scope(scope.pattern));
        }
        assert!(!super::scopes::is_scope("/v1/orders"));
    }

    #[test]
    fn cached_role_sets_parse_and_garbage_does_not() {
        assert_eq!(super::parse_cached_roles("3|1,4"), Some(vec![1, 4]));
        assert_eq!(super::parse_cached_roles("0|"), Some(vec![]));
        assert_eq!(super::parse_cached_roles("junk"), None);
        assert_eq!(super::parse_cached_roles("1|x"), None);
        let fenced = format!("4|{}", super::FENCED_ROLES);
        assert_eq!(super::parse_cached_roles(&fenced), None);
    }
}
