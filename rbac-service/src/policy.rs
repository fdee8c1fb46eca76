//! The policy document the gateway enforces, and telling gateways it changed.

use std::collections::HashMap;

use diesel::QueryResult;
use shared::db::DbConnection;
use shared::policy::{
    MethodPolicy, POLICY_CHANNEL, POLICY_VERSION_KEY, PolicyDocument, ResourcePolicy, RoleRef,
};
use shared::redis::{Redis, RedisError};

use crate::models::{Resource, Role};
use crate::schema::permissions;

/// The whole policy as it stands in the database, stamped with `version`.
pub fn document(conn: &mut DbConnection, version: u64) -> QueryResult<PolicyDocument> {
    use diesel::prelude::*;
    let roles = Role::all(conn)?;
    let resources = Resource::all(conn)?;
    let perms: Vec<(i64, i64, String, bool)> = permissions::table
        .order(permissions::id)
        .select((
            permissions::id,
            permissions::resource_id,
            permissions::method,
            permissions::is_public,
        ))
        .load(conn)?;
    let mut holders: HashMap<i64, Vec<i64>> = HashMap::new();
    for (role_id, permission_id) in Role::all_grants(conn)? {
        holders.entry(permission_id).or_default().push(role_id);
    }
    let mut methods: HashMap<i64, Vec<MethodPolicy>> = HashMap::new();
    for (id, resource_id, method, public) in perms {
        let mut role_ids = holders.remove(&id).unwrap_or_default();
        role_ids.sort_unstable();
        methods.entry(resource_id).or_default().push(MethodPolicy {
            method,
            public,
            role_ids,
        });
    }
    Ok(PolicyDocument {
        version,
        roles: roles
            .into_iter()
            .map(|r| RoleRef {
                id: r.id,
                name: r.name,
            })
            .collect(),
        resources: resources
            .into_iter()
            .map(|resource| {
                let mut methods = methods.remove(&resource.id).unwrap_or_default();
                if resource.is_public {
                    methods.iter_mut().for_each(|m| m.public = true);
                }
                ResourcePolicy {
                    name: resource.name,
                    pattern: resource.pattern,
                    methods,
                }
            })
            .collect(),
    })
}

/// The current policy version in Redis (0 before the first change).
pub async fn current_version(redis: &Redis) -> Result<u64, RedisError> {
    let version: Option<u64> = redis
        .query(redis::cmd("GET").arg(redis.key(POLICY_VERSION_KEY)))
        .await?;
    Ok(version.unwrap_or(0))
}

/// Bumps the version and tells every gateway; how far it got: `published`, `unpublished`
/// (bumped; gateways see it on their periodic reload) or `not_bumped` (Redis refused). A
/// failure is logged, not returned: the change is committed, and gateways also reload on
/// their own periodically.
pub async fn changed(redis: &Redis) -> &'static str {
    let result: Result<u64, RedisError> = redis
        .query(redis::cmd("INCR").arg(redis.key(POLICY_VERSION_KEY)))
        .await;
    match result {
        Ok(version) => {
            if let Err(err) = redis.publish(POLICY_CHANNEL, &version.to_string()).await {
                tracing::warn!(error = %err, version, "policy change not published; gateways will notice by polling");
                "unpublished"
            } else {
                tracing::info!(version, "policy changed");
                "published"
            }
        }
        Err(err) => {
            tracing::error!(error = %err, "policy version not bumped; gateways catch up on their periodic reload");
            "not_bumped"
        }
    }
}
