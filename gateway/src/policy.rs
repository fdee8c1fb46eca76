//! The RBAC policy, compiled for the hot path.
//!
//! Resource patterns go into a `matchit` router (a radix tree: lookup cost grows with the
//! path's length, not the number of resources); each (resource, method) holds the set of
//! roles allowed as a bitset, and a user's roles become a bitset once per request, so the
//! decision is one tree lookup and one AND over a few words however large the policy is.
//!
//! Scopes (`shared::policy::scopes`) are resources too, but not routes: they stay out of the
//! router, and the ones a caller's roles hold are forwarded by name.

use hyper::Method;
use shared::policy::{PolicyDocument, scopes};

use crate::fast_map::FastMap;

/// Roles allowed for one (resource, method), as bits.
#[derive(Debug, Clone, Default)]
pub struct RoleSet(Vec<u64>);

impl RoleSet {
    fn with_capacity(bits: usize) -> Self {
        Self(vec![0; bits.div_ceil(64)])
    }

    fn insert(&mut self, bit: usize) {
        if let Some(word) = self.0.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    pub fn intersects(&self, other: &RoleSet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

#[derive(Debug)]
pub struct MethodRule {
    pub public: bool,
    pub roles: RoleSet,
}

#[derive(Debug)]
struct CompiledResource {
    name: Box<str>,
    pattern: Box<str>,
    methods: [Option<MethodRule>; 5],
}

/// What the policy says about a request.
pub enum Decision<'a> {
    /// No resource has this route: denied (404).
    UnknownRoute,
    /// Anyone may call it.
    Public { resource: &'a str },
    /// Only holders of one of these roles (none: nobody) may call it.
    Protected {
        resource: &'a str,
        roles: Option<&'a RoleSet>,
    },
}

#[derive(Debug)]
pub struct Policy {
    pub version: u64,
    router: matchit::Router<usize>,
    resources: Vec<CompiledResource>,
    /// role id → (bit, name)
    roles: FastMap<i64, (usize, Box<str>)>,
    /// Each scope with the roles that hold it (through any of its permissions).
    scopes: Vec<(Box<str>, RoleSet)>,
}

/// The methods in the order of [`method_index`].
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One route + method a caller may use, as `GET /v1/me/permissions` lists it.
#[derive(Debug, serde::Serialize, PartialEq, Eq)]
pub struct Allowed<'a> {
    pub resource: &'a str,
    pub pattern: &'a str,
    pub method: &'static str,
}

fn method_index(method: &Method) -> Option<usize> {
    // HEAD is decided as GET.
    Some(match *method {
        Method::GET | Method::HEAD => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        _ => return None,
    })
}

impl Policy {
    pub fn compile(document: &PolicyDocument) -> anyhow::Result<Self> {
        let roles: FastMap<i64, (usize, Box<str>)> = document
            .roles
            .iter()
            .enumerate()
            .map(|(bit, role)| (role.id, (bit, role.name.as_str().into())))
            .collect();
        let mut router = matchit::Router::new();
        let mut resources = Vec::with_capacity(document.resources.len());
        let mut scopes = Vec::new();
        for resource in &document.resources {
            if scopes::is_scope(&resource.pattern) {
                let mut holders = RoleSet::with_capacity(roles.len());
                let role_ids = resource.methods.iter().flat_map(|rule| &rule.role_ids);
                for (bit, _) in role_ids.filter_map(|id| roles.get(id)) {
                    holders.insert(*bit);
                }
                scopes.push((resource.name.as_str().into(), holders));
                continue;
            }
            let mut methods: [Option<MethodRule>; 5] = Default::default();
            for rule in &resource.methods {
                let Some(index) = rule
                    .method
                    .parse::<Method>()
                    .ok()
                    .as_ref()
                    .and_then(method_index)
                else {
                    anyhow::bail!("resource {}: unknown method {}", resource.name, rule.method);
                };
                let mut set = RoleSet::with_capacity(roles.len());
                for role_id in &rule.role_ids {
                    if let Some((bit, _)) = roles.get(role_id) {
                        set.insert(*bit);
                    }
                }
                methods[index] = Some(MethodRule {
                    public: rule.public,
                    roles: set,
                });
            }
            router
                .insert(resource.pattern.clone(), resources.len())
                .map_err(|err| anyhow::anyhow!("resource {}: {err}", resource.name))?;
            resources.push(CompiledResource {
                name: resource.name.as_str().into(),
                pattern: resource.pattern.as_str().into(),
                methods,
            });
        }
        Ok(Self {
            version: document.version,
            router,
            resources,
            roles,
            scopes,
        })
    }

    pub fn decide(&self, method: &Method, canonical_path: &str) -> Decision<'_> {
        let Ok(matched) = self.router.at(canonical_path) else {
            return Decision::UnknownRoute;
        };
        let Some(resource) = self.resources.get(*matched.value) else {
            return Decision::UnknownRoute;
        };
        let rule = method_index(method).and_then(|i| resource.methods[i].as_ref());
        match rule {
            Some(rule) if rule.public => Decision::Public {
                resource: &resource.name,
            },
            rule => Decision::Protected {
                resource: &resource.name,
                roles: rule.map(|r| &r.roles),
            },
        }
    }

    /// A user's role ids as a bitset (ids the policy does not know are ignored).
    pub fn role_set(&self, role_ids: &[i64]) -> RoleSet {
        let mut set = RoleSet::with_capacity(self.roles.len());
        for id in role_ids {
            if let Some((bit, _)) = self.roles.get(id) {
                set.insert(*bit);
            }
        }
        set
    }

    /// Every protected route + method `roles` allow, in policy order (public routes are
    /// allowed to everyone and not listed).
    pub fn allowed(&self, roles: &RoleSet) -> Vec<Allowed<'_>> {
        self.resources
            .iter()
            .flat_map(|resource| {
                resource
                    .methods
                    .iter()
                    .zip(METHODS)
                    .filter_map(move |(rule, method)| {
                        let rule = rule.as_ref()?;
                        (!rule.public && rule.roles.intersects(roles)).then_some(Allowed {
                            resource: &resource.name,
                            pattern: &resource.pattern,
                            method,
                        })
                    })
            })
            .collect()
    }

    /// The names of the scopes a user's roles hold.
    pub fn held_scopes(&self, roles: &RoleSet) -> Vec<&str> {
        self.scopes
            .iter()
            .filter(|(_, holders)| holders.intersects(roles))
            .map(|(name, _)| &**name)
            .collect()
    }

    /// The names of a user's roles.
    pub fn named_roles(&self, role_ids: &[i64]) -> Vec<&str> {
        role_ids
            .iter()
            .filter_map(|id| self.roles.get(id).map(|(_, name)| &**name))
            .collect()
    }

    /// The names of the scopes a user's roles hold, for `X-User-Scopes`.
    pub fn scope_names(&self, roles: &RoleSet) -> String {
        self.held_scopes(roles).join(",")
    }

    /// The names of a user's roles, for `X-User-Roles`.
    pub fn role_names(&self, role_ids: &[i64]) -> String {
        self.named_roles(role_ids).join(",")
    }
}

#[cfg(test)]
mod tests {
    use shared::policy::{MethodPolicy, ResourcePolicy, RoleRef};

    use super::*;

    fn document() -> PolicyDocument {
        let rule = |method: &str, public: bool, role_ids: Vec<i64>| MethodPolicy {
            method: method.into(),
            public,
            role_ids,
        };
        PolicyDocument {
            version: 7,
            roles: vec![
                RoleRef {
                    id: 10,
                    name: "traveller".into(),
                },
                RoleRef {
                    id: 20,
                    name: "product_admin".into(),
                },
            ],
            resources: vec![
                ResourcePolicy {
                    name: "trips".into(),
                    pattern: "/v1/trips".into(),
                    methods: vec![rule("GET", true, vec![]), rule("POST", false, vec![20])],
                },
                ResourcePolicy {
                    name: "trips-detail".into(),
                    pattern: "/v1/trips/{id}".into(),
                    methods: vec![rule("GET", true, vec![]), rule("DELETE", false, vec![20])],
                },
                ResourcePolicy {
                    name: scopes::ALL_ORDERS.name.into(),
                    pattern: scopes::ALL_ORDERS.pattern.into(),
                    methods: vec![rule("GET", false, vec![20])],
                },
            ],
        }
    }

    fn allowed(policy: &Policy, method: Method, path: &str, roles: &[i64]) -> Option<bool> {
        match policy.decide(&method, path) {
            Decision::UnknownRoute => None,
            Decision::Public { .. } => Some(true),
            Decision::Protected { roles: rule, .. } => {
                Some(rule.is_some_and(|r| r.intersects(&policy.role_set(roles))))
            }
        }
    }

    #[test]
    fn decisions_follow_the_policy() {
        let policy = Policy::compile(&document()).unwrap();
        assert_eq!(allowed(&policy, Method::GET, "/v1/trips", &[]), Some(true));
        assert_eq!(
            allowed(&policy, Method::HEAD, "/v1/trips/3", &[]),
            Some(true)
        );
        assert_eq!(
            allowed(&policy, Method::POST, "/v1/trips", &[10]),
            Some(false)
        );
        assert_eq!(
            allowed(&policy, Method::POST, "/v1/trips", &[10, 20]),
            Some(true)
        );
        assert_eq!(
            allowed(&policy, Method::DELETE, "/v1/trips/3", &[20]),
            Some(true)
        );
        assert_eq!(
            allowed(&policy, Method::PUT, "/v1/trips/3", &[20]),
            Some(false),
            "no permission for PUT at all"
        );
        assert_eq!(
            allowed(&policy, Method::OPTIONS, "/v1/trips", &[20]),
            Some(false)
        );
        assert_eq!(
            allowed(&policy, Method::POST, "/v1/trips", &[99]),
            Some(false),
            "unknown role ids count for nothing"
        );
        assert_eq!(allowed(&policy, Method::GET, "/v1/nowhere", &[20]), None);
        assert_eq!(policy.role_names(&[20, 10, 99]), "product_admin,traveller");
    }

    #[test]
    fn scopes_are_forwarded_to_their_holders_and_never_routed() {
        let policy = Policy::compile(&document()).unwrap();
        assert_eq!(
            policy.scope_names(&policy.role_set(&[10, 20])),
            scopes::ALL_ORDERS.name
        );
        assert_eq!(policy.scope_names(&policy.role_set(&[10])), "");
        assert_eq!(
            allowed(&policy, Method::GET, scopes::ALL_ORDERS.pattern, &[20]),
            None,
            "a scope is no route, even for its holders"
        );
    }

    #[test]
    fn role_sets_span_many_words() {
        let mut set = RoleSet::with_capacity(130);
        set.insert(129);
        let mut other = RoleSet::with_capacity(130);
        other.insert(128);
        assert!(!set.intersects(&other));
        other.insert(129);
        assert!(set.intersects(&other));
    }
}
