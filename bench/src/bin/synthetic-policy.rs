//! Grows rbac-service's database to a synthetic policy: `resources` routes × 5 methods and
//! `roles` roles, each role granted a fifth of the permissions, then tells gateways to
//! reload. Used by `bench/gateway` to show the decision cost does not grow with the policy.
//!
//! `synthetic-policy <database-url> <redis-url> <key-prefix> <resources> <roles>`

use diesel::prelude::*;
use rbac_service::models::{NewPermission, NewResource, NewRole, Permission, Resource, Role};
use shared::config::RedisSettings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database_url, redis_url, prefix, resources, roles] = args.as_slice() else {
        anyhow::bail!(
            "usage: synthetic-policy <database-url> <redis-url> <key-prefix> <resources> <roles>"
        );
    };
    let (resources, roles): (usize, usize) = (resources.parse()?, roles.parse()?);
    let db = shared::db::Db::connect(database_url, 2, rbac_service::startup::MIGRATIONS)?;
    db.run(move |conn| {
        shared::db::write_transaction(conn, |conn| {
            let now = shared::time::now();
            let mut permission_ids = Vec::new();
            for i in 0..resources {
                let pattern = format!("/v1/synthetic/r{i}/{{id}}");
                let resource_id = Resource::insert(
                    conn,
                    &NewResource {
                        name: format!("synthetic-{i}"),
                        pattern_key: format!("/v1/synthetic/r{i}/{{}}"),
                        pattern,
                        category: "other".into(),
                        description: "synthetic".into(),
                        is_public: false,
                        built_in: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                    permission_ids.push(Permission::insert(
                        conn,
                        &NewPermission {
                            resource_id,
                            method: method.into(),
                            is_public: false,
                            built_in: false,
                            created_at: now,
                        },
                    )?);
                }
            }
            for r in 0..roles {
                let role_id = Role::insert(
                    conn,
                    &NewRole {
                        name: format!("synthetic-role-{r}"),
                        description: "synthetic".into(),
                        built_in: false,
                        created_at: now,
                        updated_at: now,
                    },
                )?;
                for (n, permission_id) in permission_ids.iter().enumerate() {
                    if (n + r) % 5 == 0 {
                        Role::grant(conn, role_id, *permission_id)?;
                    }
                }
            }
            Ok::<_, shared::ApiError>(())
        })
    })
    .await
    .map_err(|err| anyhow::anyhow!("{err:?}"))?;
    let redis = shared::redis::Redis::connect(&RedisSettings {
        url: redis_url.clone(),
        timeout: std::time::Duration::from_secs(2),
        key_prefix: prefix.clone(),
        sentinel: None,
    })?;
    rbac_service::policy::changed(&redis).await;
    let count = db
        .run(|conn| {
            use rbac_service::schema::role_permissions;
            Ok(role_permissions::table.count().get_result::<i64>(conn)?)
        })
        .await
        .map_err(|err| anyhow::anyhow!("{err:?}"))?;
    println!(
        "policy grown: +{resources} resources x 5 methods, +{roles} roles, {count} grants in all"
    );
    Ok(())
}
