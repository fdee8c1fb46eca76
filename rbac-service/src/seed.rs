//! The permission model Waypoint starts with: a resource for every route of DESIGN's API
//! table (services not built yet included), the five built-in roles and their grants.
//!
//! Seeding runs at every start and is idempotent: each item (resource, permission, role,
//! grant) is applied once and remembered in `seeded`, so an item an admin has since
//! deleted or changed is never put back. Items added to this file in a later release are
//! applied on the next start.

use diesel::prelude::*;
use shared::ApiError;
use shared::db::{self, DbConnection};

use crate::domain::{Category, RoutePattern};
use crate::models::{NewPermission, NewResource, NewRole, Permission, Resource, Role};
use crate::schema::seeded;

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
        "chat-messages",
        "/v1/chat/conversations/{id}/messages",
        Content,
        "Messages of a conversation",
        &[G, P],
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
];

/// What every signed-in person needs for their own account.
const SELF: &[(&str, &str)] = &[
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
    ("chat-messages", "GET"),
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

pub const ROLES: &[(&str, &str)] = &[
    ("super_admin", "Everything, including users and permissions"),
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
            grants.push(("super_admin", resource.name, *method));
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
        let now = shared::time::now();
        let mut changed = false;
        for resource in RESOURCES {
            if first_time(conn, &format!("resource:{}", resource.name))?
                && Resource::find_by_name(conn, resource.name)?.is_none()
            {
                let pattern = RoutePattern::parse(resource.pattern)
                    .map_err(|e| anyhow_err(resource.pattern, &e))?;
                Resource::insert(
                    conn,
                    &NewResource {
                        name: resource.name.into(),
                        pattern: pattern.as_str().into(),
                        pattern_key: pattern.key().into(),
                        category: resource.category.as_str().into(),
                        description: resource.description.into(),
                        is_public: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                changed = true;
            }
            for (method, public) in resource.methods {
                if first_time(conn, &format!("permission:{}:{method}", resource.name))?
                    && let Some(found) = Resource::find_by_name(conn, resource.name)?
                    && Permission::find_by(conn, found.id, method)?.is_none()
                {
                    Permission::insert(
                        conn,
                        &NewPermission {
                            resource_id: found.id,
                            method: (*method).into(),
                            is_public: *public,
                            created_at: now,
                        },
                    )?;
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
        Ok(changed)
    })
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
