//! The permission model Waypoint starts with: a resource for every route the services
//! document (integration-tests' route_table holds this list to theirs), the five built-in
//! roles and their grants.
//!
//! Seeding runs at every start and is idempotent: each item (resource, permission, role,
//! grant) is applied once and remembered in `seeded`, so an item an admin has since
//! deleted or changed is never put back. Items added to this file in a later release are
//! applied on the next start.
//!
//! The exception is what the platform cannot work without: the built-in resources
//! ([`ADMIN_API`], [`SIGN_IN`], the scopes services read) with their seeded permissions,
//! and super_admin's grants of
//! the admin API. The API refuses to delete or repoint them (409), and every start
//! restores whatever of them an older release let go missing, touching nothing else.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::ApiError;
use shared::db::{self, DbConnection};
use shared::policy::MY_PERMISSIONS_PATH;
use shared::policy::scopes::{self, ALL_ORDERS};

use crate::domain::{Category, RoutePattern};
use crate::models::{
    NewPermission, NewResource, NewRole, Permission, Resource, ResourceChanges, Role,
};
use crate::schema::{permissions, resources, seeded};

use Category::*;

pub struct SeedResource {
    pub name: &'static str,
    pub pattern: &'static str,
    pub category: Category,
    pub description: &'static str,
    /// (method, callable without signing in)
    pub methods: &'static [(&'static str, bool)],
}

const fn r(
    name: &'static str,
    pattern: &'static str,
    category: Category,
    description: &'static str,
    methods: &'static [(&'static str, bool)],
) -> SeedResource {
    SeedResource {
        name,
        pattern,
        category,
        description,
        methods,
    }
}

const G: (&str, bool) = ("GET", false);
const PUBLIC_GET: (&str, bool) = ("GET", true);
const P: (&str, bool) = ("POST", false);
const PUBLIC_POST: (&str, bool) = ("POST", true);
const PUT: (&str, bool) = ("PUT", false);
const PA: (&str, bool) = ("PATCH", false);
const D: (&str, bool) = ("DELETE", false);

impl SeedResource {
    fn route(&self) -> Result<RoutePattern, ApiError> {
        RoutePattern::parse(self.pattern).map_err(|e| anyhow_err(self.pattern, &e))
    }

    /// Inserts this resource as seeded (no permissions); its id.
    fn insert(&self, conn: &mut DbConnection, now: NaiveDateTime) -> Result<i64, ApiError> {
        let pattern = self.route()?;
        Ok(Resource::insert(
            conn,
            &NewResource {
                name: self.name.into(),
                pattern: pattern.as_str().into(),
                pattern_key: pattern.key().into(),
                category: self.category.as_str().into(),
                description: self.description.into(),
                is_public: false,
                built_in: built_in_because(self.name).is_some(),
                created_at: now,
                updated_at: now,
            },
        )?)
    }

    /// Inserts this resource's seeded permission for `method` on the stored `resource_id`.
    fn insert_permission(
        &self,
        conn: &mut DbConnection,
        resource_id: i64,
        method: &str,
        public: bool,
        now: NaiveDateTime,
    ) -> QueryResult<i64> {
        Permission::insert(
            conn,
            &NewPermission {
                resource_id,
                method: method.into(),
                is_public: public,
                built_in: built_in_because(self.name).is_some(),
                created_at: now,
            },
        )
    }
}

pub const RESOURCES: &[SeedResource] = &[
    r(
        "auth-register",
        "/v1/auth/register",
        Other,
        "Create an account",
        &[PUBLIC_POST],
    ),
    r(
        "auth-login",
        "/v1/auth/login",
        Other,
        "Sign in with a password",
        &[PUBLIC_POST],
    ),
    r(
        "auth-refresh",
        "/v1/auth/refresh",
        Other,
        "Exchange a refresh token",
        &[PUBLIC_POST],
    ),
    r(
        "auth-logout",
        "/v1/auth/logout",
        Other,
        "End this session",
        &[P],
    ),
    r(
        "auth-logout-all",
        "/v1/auth/logout-all",
        Other,
        "End every session",
        &[P],
    ),
    r("auth-me", "/v1/auth/me", Other, "The signed-in user", &[G]),
    r(
        "auth-sessions",
        "/v1/auth/sessions",
        Other,
        "My sessions",
        &[G],
    ),
    r(
        "auth-sessions-detail",
        "/v1/auth/sessions/{sid}",
        Other,
        "End one of my sessions",
        &[D],
    ),
    r(
        "auth-password",
        "/v1/auth/password",
        Other,
        "Change my password",
        &[PUT],
    ),
    r(
        "auth-jwks",
        "/v1/auth/jwks.json",
        Other,
        "Token verification keys",
        &[PUBLIC_GET],
    ),
    r(
        "wechat-authorize",
        "/v1/auth/oauth/wechat/authorize",
        Other,
        "Start WeChat sign-in",
        &[PUBLIC_GET],
    ),
    r(
        "wechat-callback",
        "/v1/auth/oauth/wechat/callback",
        Other,
        "WeChat sign-in callback",
        &[PUBLIC_GET],
    ),
    r(
        "wechat-exchange",
        "/v1/auth/oauth/wechat/exchange",
        Other,
        "Exchange a WeChat sign-in code for tokens",
        &[PUBLIC_POST],
    ),
    r(
        "wechat-link",
        "/v1/auth/oauth/wechat/link",
        Other,
        "Link or unlink WeChat",
        &[P, D],
    ),
    r("users", "/v1/users", Permission, "User accounts", &[G]),
    r(
        "users-detail",
        "/v1/users/{id}",
        Permission,
        "One user account",
        &[G, PA],
    ),
    r(
        "user-roles",
        "/v1/users/{id}/roles",
        Permission,
        "A user's roles",
        &[G, P],
    ),
    r(
        "user-roles-detail",
        "/v1/users/{id}/roles/{role_id}",
        Permission,
        "Revoke a user's role",
        &[D],
    ),
    r(
        "resources",
        "/v1/resources",
        Permission,
        "Protected routes",
        &[G, P],
    ),
    r(
        "resources-detail",
        "/v1/resources/{id}",
        Permission,
        "One protected route",
        &[G, PUT, PA, D],
    ),
    r(
        "permissions",
        "/v1/permissions",
        Permission,
        "Route + method permissions",
        &[G, P],
    ),
    r(
        "permissions-detail",
        "/v1/permissions/{id}",
        Permission,
        "One permission",
        &[G, D],
    ),
    r("roles", "/v1/roles", Permission, "Roles", &[G, P]),
    r(
        "roles-detail",
        "/v1/roles/{id}",
        Permission,
        "One role",
        &[G, PA, D],
    ),
    r(
        "role-permissions",
        "/v1/roles/{id}/permissions",
        Permission,
        "A role's permissions",
        &[G, P],
    ),
    r(
        "role-permissions-detail",
        "/v1/roles/{id}/permissions/{permission_id}",
        Permission,
        "Revoke a role's permission",
        &[D],
    ),
    r(
        "chat-experts",
        "/v1/chat/experts",
        Content,
        "Travel experts and their presence",
        &[G],
    ),
    r(
        "chat-conversations",
        "/v1/chat/conversations",
        Content,
        "My conversations",
        &[G, P],
    ),
    r(
        "chat-conversations-detail",
        "/v1/chat/conversations/{id}",
        Content,
        "One of my conversations",
        &[G],
    ),
    r(
        "chat-messages",
        "/v1/chat/conversations/{id}/messages",
        Content,
        "Messages of a conversation",
        &[G, P],
    ),
    r(
        "chat-messages-detail",
        "/v1/chat/conversations/{id}/messages/{message_id}",
        Content,
        "One message of a conversation",
        &[G],
    ),
    r(
        "chat-read",
        "/v1/chat/conversations/{id}/read",
        Content,
        "Mark a conversation read",
        &[P],
    ),
    r(
        "chat-ws-ticket",
        "/v1/chat/ws-ticket",
        Content,
        "A ticket to open the chat socket",
        &[P],
    ),
    r(
        "chat-ws",
        "/v1/chat/ws",
        Content,
        "The chat socket (authenticated by its ticket)",
        &[PUBLIC_GET],
    ),
    r("orders", "/v1/orders", Order, "Orders", &[G, P]),
    r("orders-detail", "/v1/orders/{id}", Order, "One order", &[G]),
    r(
        "orders-pay",
        "/v1/orders/{id}/pay",
        Order,
        "Pay an order with Alipay",
        &[P],
    ),
    r(
        "orders-refund",
        "/v1/orders/{id}/refund",
        Order,
        "Refund an order",
        &[P],
    ),
    // A scope, not a route: see `shared::policy::scopes`.
    r(
        ALL_ORDERS.name,
        ALL_ORDERS.pattern,
        Order,
        ALL_ORDERS.description,
        &[G],
    ),
    r(
        "orders-cancel",
        "/v1/orders/{id}/cancel",
        Order,
        "Cancel an unpaid order",
        &[P],
    ),
    r(
        "alipay-notify",
        "/v1/payments/alipay/notify",
        Order,
        "Alipay's signed notifications",
        &[PUBLIC_POST],
    ),
    r(
        "alipay-return",
        "/v1/payments/alipay/return",
        Order,
        "Where Alipay sends the payer back",
        &[PUBLIC_GET],
    ),
    r(
        "trips",
        "/v1/trips",
        Product,
        "The trip catalog",
        &[PUBLIC_GET, P],
    ),
    r(
        "trips-detail",
        "/v1/trips/{id}",
        Product,
        "One trip",
        &[PUBLIC_GET, PUT, PA, D],
    ),
    r(
        "trips-similar",
        "/v1/trips/{id}/similar",
        Product,
        "Trips like this one",
        &[PUBLIC_GET],
    ),
    r(
        "trips-favourite",
        "/v1/trips/{id}/favourite",
        Marketing,
        "Favourite a trip",
        &[P, D],
    ),
    r("ratings", "/v1/ratings", Marketing, "My ratings", &[G, P]),
    r(
        "ratings-detail",
        "/v1/ratings/{id}",
        Marketing,
        "Delete one of my ratings",
        &[D],
    ),
    r(
        "recommendations",
        "/v1/recommendations",
        Marketing,
        "Trips you may like",
        &[G],
    ),
    r(
        "openapi",
        "/v1/openapi.json",
        Other,
        "The API description",
        &[PUBLIC_GET],
    ),
    r(
        MY_PERMISSIONS,
        MY_PERMISSIONS_PATH,
        Other,
        "What my roles allow (answered by the gateway)",
        &[G],
    ),
];

/// The resource a client asks what its caller may do (the web UI shows what it allows).
pub const MY_PERMISSIONS: &str = "my-permissions";

/// What every signed-in person needs for their own account.
const SELF: &[(&str, &str)] = &[
    (MY_PERMISSIONS, "GET"),
    ("auth-logout", "POST"),
    ("auth-logout-all", "POST"),
    ("auth-me", "GET"),
    ("auth-sessions", "GET"),
    ("auth-sessions-detail", "DELETE"),
    ("auth-password", "PUT"),
    ("wechat-link", "POST"),
    ("wechat-link", "DELETE"),
];

const CHAT: &[(&str, &str)] = &[
    ("chat-experts", "GET"),
    ("chat-conversations", "GET"),
    ("chat-conversations-detail", "GET"),
    ("chat-messages", "GET"),
    ("chat-messages-detail", "GET"),
    ("chat-messages", "POST"),
    ("chat-read", "POST"),
    ("chat-ws-ticket", "POST"),
];

const TRAVELLER: &[(&str, &str)] = &[
    ("chat-conversations", "POST"),
    ("orders", "GET"),
    ("orders", "POST"),
    ("orders-detail", "GET"),
    ("orders-pay", "POST"),
    ("orders-cancel", "POST"),
    ("trips-favourite", "POST"),
    ("trips-favourite", "DELETE"),
    ("ratings", "GET"),
    ("ratings", "POST"),
    ("ratings-detail", "DELETE"),
    ("recommendations", "GET"),
];

/// The role that administers everything; it keeps its grants of [`ADMIN_API`].
pub const SUPER_ADMIN: &str = "super_admin";

/// Built-in resources through which the platform administers itself (users, roles,
/// permissions, resources). super_admin's grants of them are built in too.
pub const ADMIN_API: &[&str] = &[
    "users",
    "users-detail",
    "user-roles",
    "user-roles-detail",
    "resources",
    "resources-detail",
    "permissions",
    "permissions-detail",
    "roles",
    "roles-detail",
    "role-permissions",
    "role-permissions-detail",
];

/// Built-in resources through which people sign up, in and out.
pub const SIGN_IN: &[&str] = &[
    "auth-register",
    "auth-login",
    "auth-refresh",
    "auth-jwks",
    "wechat-authorize",
    "wechat-callback",
    "wechat-exchange",
    "auth-me",
    "auth-logout",
    "auth-logout-all",
];

/// Why the seeded resource `name` is built in, or `None` when it is not.
pub fn built_in_because(name: &str) -> Option<&'static str> {
    if ADMIN_API.contains(&name) {
        Some("the platform is administered through it")
    } else if SIGN_IN.contains(&name) {
        Some("people sign up, in or out through it")
    } else if name == MY_PERMISSIONS {
        Some("clients learn what the caller may do from it")
    } else if scopes::ALL.iter().any(|scope| scope.name == name) {
        Some("services widen what a caller reaches by it")
    } else {
        None
    }
}

pub const ROLES: &[(&str, &str)] = &[
    (SUPER_ADMIN, "Everything, including users and permissions"),
    ("product_admin", "Manages the trip catalog"),
    ("order_admin", "Sees all orders and refunds them"),
    ("expert", "Chats with travellers as a travel expert"),
    (
        "traveller",
        "Browses, rates, orders and chats; every new user holds it",
    ),
];

/// The seeded grants: (role, resource, method).
pub fn grants() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut grants = Vec::new();
    for resource in RESOURCES {
        for (method, _) in resource.methods {
            grants.push((SUPER_ADMIN, resource.name, *method));
            let by_category = match resource.category {
                Product => Some("product_admin"),
                Order => Some("order_admin"),
                _ => None,
            };
            if let Some(role) = by_category {
                grants.push((role, resource.name, *method));
            }
        }
    }
    for role in ["product_admin", "order_admin", "expert", "traveller"] {
        grants.extend(
            SELF.iter()
                .map(|(resource, method)| (role, *resource, *method)),
        );
    }
    for role in ["expert", "traveller"] {
        grants.extend(
            CHAT.iter()
                .map(|(resource, method)| (role, *resource, *method)),
        );
    }
    grants.extend(
        TRAVELLER
            .iter()
            .map(|(resource, method)| ("traveller", *resource, *method)),
    );
    grants.sort_unstable();
    grants.dedup();
    grants
}

/// Applies the seed items not applied before; true when anything changed.
pub fn apply(conn: &mut DbConnection) -> Result<bool, ApiError> {
    db::write_transaction(conn, |conn| {
        // Replicas starting together seed one after the other: the second finds it done.
        db::fleet_lock(conn, "rbac-seed")?;
        let now = shared::time::now();
        let mut changed = false;
        for resource in RESOURCES {
            if first_time(conn, &format!("resource:{}", resource.name))?
                && Resource::find_by_name(conn, resource.name)?.is_none()
            {
                resource.insert(conn, now)?;
                changed = true;
            }
            for (method, public) in resource.methods {
                if first_time(conn, &format!("permission:{}:{method}", resource.name))?
                    && let Some(found) = Resource::find_by_name(conn, resource.name)?
                    && Permission::find_by(conn, found.id, method)?.is_none()
                {
                    resource.insert_permission(conn, found.id, method, *public, now)?;
                    changed = true;
                }
            }
        }
        for (name, description) in ROLES {
            if first_time(conn, &format!("role:{name}"))?
                && Role::find_by_name(conn, name)?.is_none()
            {
                Role::insert(
                    conn,
                    &NewRole {
                        name: (*name).into(),
                        description: (*description).into(),
                        built_in: true,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                changed = true;
            }
        }
        for (role, resource, method) in grants() {
            if first_time(conn, &format!("grant:{role}:{resource}:{method}"))?
                && let Some(role) = Role::find_by_name(conn, role)?
                && let Some(resource) = Resource::find_by_name(conn, resource)?
                && let Some(permission) = Permission::find_by(conn, resource.id, method)?
            {
                changed |= Role::grant(conn, role.id, permission.id)?;
            }
        }
        changed |= restore_built_ins(conn, now)?;
        Ok(changed)
    })
}

/// Puts back what an older release let an admin delete or change of the built-in items:
/// each built-in resource (found by its route, else by its name) with its name, route and
/// public flag, its seeded permissions, and super_admin's grants of the admin API. True when
/// anything changed.
fn restore_built_ins(conn: &mut DbConnection, now: NaiveDateTime) -> Result<bool, ApiError> {
    let (super_admin, mut changed) = match Role::find_by_name(conn, SUPER_ADMIN)? {
        Some(role) => (role.id, false),
        None => {
            let id = Role::insert(
                conn,
                &NewRole {
                    name: SUPER_ADMIN.into(),
                    description: ROLES
                        .iter()
                        .find(|(name, _)| *name == SUPER_ADMIN)
                        .map_or("", |(_, description)| *description)
                        .into(),
                    built_in: true,
                    created_at: now,
                    updated_at: now,
                },
            )?;
            (id, true)
        }
    };
    for seed in RESOURCES {
        if built_in_because(seed.name).is_none() {
            continue;
        }
        let (resource_id, restored) = restore_resource(conn, seed, now)?;
        changed |= restored;
        for (method, public) in seed.methods {
            let permission_id = match Permission::find_by(conn, resource_id, method)? {
                Some(found) => {
                    if !found.built_in || found.is_public != *public {
                        diesel::update(permissions::table.find(found.id))
                            .set((
                                permissions::built_in.eq(true),
                                permissions::is_public.eq(*public),
                            ))
                            .execute(conn)?;
                        changed = true;
                    }
                    found.id
                }
                None => {
                    tracing::warn!(resource = seed.name, method, "built-in permission restored");
                    changed = true;
                    seed.insert_permission(conn, resource_id, method, *public, now)?
                }
            };
            if ADMIN_API.contains(&seed.name) {
                changed |= Role::grant(conn, super_admin, permission_id)?;
            }
        }
    }
    Ok(changed)
}

/// The built-in resource `seed` as it must be; returns its id and whether it changed.
fn restore_resource(
    conn: &mut DbConnection,
    seed: &SeedResource,
    now: NaiveDateTime,
) -> Result<(i64, bool), ApiError> {
    let pattern = RoutePattern::parse(seed.pattern).map_err(|e| anyhow_err(seed.pattern, &e))?;
    let found = match Resource::find_by_route(conn, pattern.key())? {
        Some(found) => Some(found),
        None => Resource::find_by_name(conn, seed.name)?,
    };
    let Some(found) = found else {
        tracing::warn!(resource = seed.name, "built-in resource restored");
        return Ok((seed.insert(conn, now)?, true));
    };
    // Found by route under another name: the seeded name comes back if it is free (the
    // gateway's rate-limit scopes go by name). Found by name: its route is free.
    let rename = found.name != seed.name && Resource::find_by_name(conn, seed.name)?.is_none();
    let repoint = found.pattern_key != pattern.key();
    let changes = ResourceChanges {
        name: rename.then(|| seed.name.to_owned()),
        pattern: repoint.then(|| pattern.as_str().to_owned()),
        pattern_key: repoint.then(|| pattern.key().to_owned()),
        is_public: found.is_public.then_some(false),
        updated_at: Some(now),
        ..ResourceChanges::default()
    };
    if changes.is_empty() && found.built_in {
        return Ok((found.id, false));
    }
    tracing::warn!(resource = seed.name, "built-in resource repaired");
    diesel::update(resources::table.find(found.id))
        .set((&changes, resources::built_in.eq(true)))
        .execute(conn)?;
    Ok((found.id, true))
}

/// Records `item` as seeded; true if it was not before.
pub fn first_time(conn: &mut DbConnection, item: &str) -> QueryResult<bool> {
    let already =
        diesel::select(diesel::dsl::exists(seeded::table.find(item))).get_result::<bool>(conn)?;
    if !already {
        diesel::insert_into(seeded::table)
            .values((
                seeded::item.eq(item),
                seeded::created_at.eq(shared::time::now()),
            ))
            .execute(conn)?;
    }
    Ok(!already)
}

fn anyhow_err(pattern: &str, err: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!("seed pattern {pattern}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seeded_pattern_is_valid_and_unique() {
        let mut keys: Vec<String> = RESOURCES
            .iter()
            .map(|r| RoutePattern::parse(r.pattern).unwrap().key().to_owned())
            .collect();
        let total = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), total);
    }

    #[test]
    fn every_grant_names_a_seeded_permission() {
        for (role, resource, method) in grants() {
            assert!(ROLES.iter().any(|(name, _)| *name == role), "{role}");
            let seeded = RESOURCES
                .iter()
                .find(|r| r.name == resource)
                .unwrap_or_else(|| panic!("{resource}"));
            assert!(
                seeded.methods.iter().any(|(m, _)| *m == method),
                "{resource} {method}"
            );
        }
    }

    #[test]
    fn built_in_resources_are_seeded_and_super_admin_holds_the_admin_api() {
        let grants = grants();
        for name in ADMIN_API.iter().chain(SIGN_IN) {
            let seeded = RESOURCES
                .iter()
                .find(|r| r.name == *name)
                .unwrap_or_else(|| panic!("{name}"));
            assert!(built_in_because(name).is_some(), "{name}");
            if ADMIN_API.contains(name) {
                for (method, _) in seeded.methods {
                    assert!(grants.contains(&(SUPER_ADMIN, *name, *method)));
                }
            }
        }
        assert!(built_in_because("resources").is_some());
        assert!(built_in_because("auth-login").is_some());
        assert!(built_in_because("ratings").is_none());
    }

    #[test]
    fn every_scope_services_read_is_seeded_built_in_and_nothing_else_is_a_scope() {
        for scope in scopes::ALL {
            let seeded = RESOURCES
                .iter()
                .find(|r| r.name == scope.name)
                .unwrap_or_else(|| panic!("scope {} is not seeded", scope.name));
            assert_eq!(seeded.pattern, scope.pattern);
            assert!(built_in_because(scope.name).is_some(), "{}", scope.name);
        }
        for resource in RESOURCES.iter().filter(|r| scopes::is_scope(r.pattern)) {
            assert!(
                scopes::ALL.iter().any(|scope| scope.name == resource.name),
                "{} lies under the scope prefix but no service reads it",
                resource.name
            );
        }
        let grants = grants();
        for role in [SUPER_ADMIN, "order_admin"] {
            assert!(grants.contains(&(role, ALL_ORDERS.name, "GET")), "{role}");
        }
        for role in ["product_admin", "expert", "traveller"] {
            assert!(!grants.contains(&(role, ALL_ORDERS.name, "GET")), "{role}");
        }
    }

    #[test]
    fn admins_get_their_category_and_travellers_do_not_manage() {
        let grants = grants();
        let holds =
            |role: &str, resource: &str, method: &str| grants.contains(&(role, resource, method));
        assert!(holds("product_admin", "trips-detail", "PUT"));
        assert!(!holds("product_admin", "orders-refund", "POST"));
        assert!(holds("order_admin", "orders-refund", "POST"));
        assert!(!holds("traveller", "orders-refund", "POST"));
        assert!(!holds("traveller", "trips", "POST"));
        assert!(holds("traveller", "orders", "POST"));
        assert!(!holds("expert", "chat-conversations", "POST"));
        assert!(holds("super_admin", "user-roles", "POST"));
        assert!(!holds("order_admin", "users", "GET"));
    }
}
