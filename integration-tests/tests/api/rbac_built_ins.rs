//! What the platform needs to administer itself and to let people in cannot be taken away
//! through the API (409), and a restart puts back what an older release let go missing.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::testing::RedisServer;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, Stack, error_code};

/// The first record the list at `path` answers.
async fn first(stack: &Stack, path: &str) -> Value {
    let page = stack.admin(Method::GET, path, None, StatusCode::OK).await;
    page["results"][0].clone()
}

/// How many records the list at `path` counts.
async fn count(stack: &Stack, path: &str) -> Value {
    stack.admin(Method::GET, path, None, StatusCode::OK).await["count"].clone()
}

/// What `GET /v1/resources` answers the admin on each gateway.
async fn admin_api(stack: &Stack) -> [StatusCode; 2] {
    let mut statuses = [StatusCode::OK; 2];
    for (gateway, status) in statuses.iter_mut().enumerate() {
        let token = Some(stack.admin_token.as_str());
        *status = stack
            .call(gateway, Method::GET, "/v1/resources", token, None)
            .await
            .0;
    }
    statuses
}

/// A call as the admin that must be refused with a 409 `code` whose message says why.
async fn refused(stack: &Stack, method: Method, path: &str, body: Option<Value>, code: &str) {
    let (status, response) = stack
        .call(0, method.clone(), path, Some(&stack.admin_token), body)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{method} {path}: {response}");
    assert_eq!(error_code(&response), code, "{method} {path}: {response}");
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.contains("built in"), "{message}");
}

#[tokio::test]
async fn the_admin_api_and_sign_in_cannot_be_deleted_repointed_or_revoked_from_super_admin() {
    let stack = Stack::start().await;
    let resources = first(&stack, "/v1/resources?name=resources").await;
    assert_eq!(resources["built_in"], true, "{resources}");
    let path = format!("/v1/resources/{}", resources["id"]);
    refused(&stack, Method::DELETE, &path, None, "built_in_resource").await;
    let detail = first(&stack, "/v1/resources?name=resources-detail").await;
    let detail_path = format!("/v1/resources/{}", detail["id"]);
    refused(
        &stack,
        Method::DELETE,
        &detail_path,
        None,
        "built_in_resource",
    )
    .await;
    for change in [
        json!({ "pattern": "/v1/elsewhere" }),
        json!({ "is_public": true }),
        json!({ "name": "stuff" }),
    ] {
        refused(
            &stack,
            Method::PATCH,
            &path,
            Some(change),
            "built_in_resource",
        )
        .await;
    }
    let put = json!({ "name": "resources", "pattern": "/v1/elsewhere", "category": "permission", "description": "", "is_public": false });
    refused(&stack, Method::PUT, &path, Some(put), "built_in_resource").await;
    // What the platform does not depend on may still change.
    let described = stack
        .admin(
            Method::PATCH,
            &path,
            Some(json!({ "description": "Routes", "pattern": "/v1/resources" })),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (&described["description"], &described["pattern"]),
        (&json!("Routes"), &json!("/v1/resources"))
    );
    assert_eq!(
        admin_api(&stack).await,
        [StatusCode::OK; 2],
        "the admin API still works"
    );

    let login = first(&stack, "/v1/permissions?resource=auth-login&method=POST").await;
    assert_eq!(
        (&login["built_in"], &login["is_public"]),
        (&json!(true), &json!(true))
    );
    let login_path = format!("/v1/permissions/{}", login["id"]);
    refused(
        &stack,
        Method::DELETE,
        &login_path,
        None,
        "built_in_permission",
    )
    .await;
    for gateway in 0..2 {
        let (status, body) = stack.login_via(gateway, ADMIN, ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "signing in still works: {body}");
    }
    stack.sign_up_and_in("alice").await;

    let super_admin = stack.role_id("super_admin").await;
    let list_roles = first(&stack, "/v1/permissions?resource=roles&method=GET").await;
    refused(
        &stack,
        Method::DELETE,
        &format!("/v1/roles/{super_admin}/permissions/{}", list_roles["id"]),
        None,
        "built_in_grant",
    )
    .await;
    let held = stack
        .admin(
            Method::GET,
            &format!("/v1/roles/{super_admin}/permissions?resource=roles"),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(held["count"], 2, "super_admin keeps GET and POST: {held}");
    let (status, body) = stack
        .call(1, Method::GET, "/v1/roles", Some(&stack.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The rule is narrow: everything else stays the admins' to change.
    let add_trip = first(&stack, "/v1/permissions?resource=trips&method=POST").await;
    stack
        .admin_delete(&format!(
            "/v1/roles/{super_admin}/permissions/{}",
            add_trip["id"]
        ))
        .await;
    let ratings = first(&stack, "/v1/permissions?resource=ratings&method=GET").await;
    assert_eq!(ratings["built_in"], false);
    stack
        .admin_delete(&format!("/v1/permissions/{}", ratings["id"]))
        .await;
    let ratings = first(&stack, "/v1/resources?name=ratings").await;
    stack
        .admin_delete(&format!("/v1/resources/{}", ratings["id"]))
        .await;
}

#[tokio::test]
async fn a_restart_restores_the_built_in_items_an_older_release_let_go_and_nothing_else() {
    let stack = Stack::start().await;
    stack
        .admin_create("/v1/roles", json!({ "name": "guide" }))
        .await;
    stack.admin_create("/v1/resources", json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content" })).await;
    let ratings = first(&stack, "/v1/resources?name=ratings").await;
    stack
        .admin_delete(&format!("/v1/resources/{}", ratings["id"]))
        .await;
    let roles = first(&stack, "/v1/resources?name=roles").await;
    stack
        .admin(
            Method::PATCH,
            &format!("/v1/resources/{}", roles["id"]),
            Some(json!({ "description": "Who may do what" })),
            StatusCode::OK,
        )
        .await;

    // What an older release let admins do, written straight into the database.
    let db = shared::db::Db::open(
        stack.rbac_db.url.clone(),
        1,
        rbac_service::startup::MIGRATIONS,
    )
    .await
    .unwrap();
    db.run(|conn| {
        use diesel::connection::SimpleConnection;
        conn.batch_execute(
            "DELETE FROM resources WHERE name IN ('resources', 'roles-detail');
             DELETE FROM permissions WHERE method = 'POST'
                 AND resource_id = (SELECT id FROM resources WHERE name = 'auth-login');
             DELETE FROM role_permissions
                 WHERE role_id = (SELECT id FROM roles WHERE name = 'super_admin')
                 AND permission_id IN (SELECT p.id FROM permissions p
                     JOIN resources r ON r.id = p.resource_id WHERE r.name = 'users');
             UPDATE resources SET name = 'perm-admin', is_public = TRUE
                 WHERE name = 'permissions';
             UPDATE resources SET built_in = FALSE;
             UPDATE permissions SET built_in = FALSE;",
        )?;
        Ok(())
    })
    .await
    .unwrap();
    // The gateways pick the broken policy up (the version check notices a bump): the admin
    // API is gone for everyone.
    let version_key = format!(
        "{}{}",
        stack.redis_settings.key_prefix,
        shared::policy::POLICY_VERSION_KEY
    );
    RedisServer::shared().command(&["INCR", &version_key]);
    let admin_api_is = |expected: StatusCode| {
        let stack = &stack;
        async move {
            stack
                .eventually(
                    Duration::from_secs(5),
                    &format!("GET /v1/resources is {expected} on both gateways"),
                    || async { admin_api(stack).await == [expected; 2] },
                )
                .await;
        }
    };
    admin_api_is(StatusCode::NOT_FOUND).await;

    stack.start_rbac_again().await;
    admin_api_is(StatusCode::OK).await;

    for name in ["resources", "roles-detail", "permissions", "users"] {
        let found = first(&stack, &format!("/v1/resources?name={name}")).await;
        assert_eq!(found["built_in"], true, "{name} is back: {found}");
        assert_eq!(found["is_public"], false, "{found}");
    }
    let login = first(&stack, "/v1/permissions?resource=auth-login").await;
    assert_eq!(
        (&login["method"], &login["is_public"], &login["built_in"]),
        (&json!("POST"), &json!(true), &json!(true))
    );
    for (resource, methods) in [("resources", 2), ("roles-detail", 3), ("users", 1)] {
        let held = stack
            .admin(
                Method::GET,
                &format!("/v1/permissions?role=super_admin&resource={resource}"),
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(
            held["count"], methods,
            "super_admin holds {resource}: {held}"
        );
    }
    let resources = first(&stack, "/v1/resources?name=resources").await;
    let path = format!("/v1/resources/{}", resources["id"]);
    refused(&stack, Method::DELETE, &path, None, "built_in_resource").await;
    let (status, body) = stack.login_via(1, ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The admin's own changes stay.
    assert_eq!(count(&stack, "/v1/roles?name=guide").await, 1);
    let reviews = first(&stack, "/v1/resources?name=trip-reviews").await;
    assert_eq!(reviews["built_in"], false);
    assert_eq!(
        count(&stack, "/v1/resources?name=ratings").await,
        0,
        "a resource the admin deleted stays deleted"
    );
    let roles = first(&stack, "/v1/resources?name=roles").await;
    assert_eq!(roles["description"], "Who may do what");
}
