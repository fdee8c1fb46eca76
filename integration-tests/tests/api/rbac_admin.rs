use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, StackOptions, error_code};

async fn post(stack: &Stack, path: &str, body: Value) -> (StatusCode, Value) {
    stack
        .call(0, Method::POST, path, Some(&stack.admin_token), Some(body))
        .await
}

#[tokio::test]
async fn resources_are_validated_and_unique_by_name_and_route() {
    let stack = Stack::start().await;
    let response = stack
        .request(0, Method::POST, "/v1/resources")
        .bearer_auth(&stack.admin_token)
        .json(&json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/resources/{}", created["id"]));

    let cases = [
        (
            json!({ "name": "x", "pattern": "trips", "category": "food" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["category", "name", "pattern"],
        ),
        (
            json!({ "name": "wild", "pattern": "/v1/trips/*", "category": "content" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["pattern"],
        ),
        (
            json!({ "name": "trip-reviews", "pattern": "/v1/elsewhere", "category": "content" }),
            StatusCode::CONFLICT,
            vec![],
        ),
        (
            json!({ "name": "reviews-2", "pattern": "/v1/trips/{trip}/reviews", "category": "content" }),
            StatusCode::CONFLICT,
            vec![],
        ),
        (
            json!({ "name": "extra", "pattern": "/v1/extra", "category": "content", "owner": 1 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["owner"],
        ),
    ];
    for (body, status, fields) in cases {
        let (got, response) = post(&stack, "/v1/resources", body.clone()).await;
        assert_eq!(got, status, "{body}: {response}");
        error_code(&response);
        let mut named: Vec<&str> = response["error"]["details"]["fields"]
            .as_object()
            .map(|f| f.keys().map(String::as_str).collect())
            .unwrap_or_default();
        named.sort();
        assert_eq!(named, fields, "{body}: {response}");
    }
    let (status, body) = stack
        .call(
            0,
            Method::GET,
            "/v1/resources/999999",
            Some(&stack.admin_token),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn patch_changes_the_named_fields_of_a_resource_and_put_replaces_them_all() {
    let stack = Stack::start().await;
    let reviews = post(&stack, "/v1/resources", json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content", "description": "Reviews" })).await.1;
    post(
        &stack,
        "/v1/resources",
        json!({ "name": "trip-photos", "pattern": "/v1/trips/{id}/photos", "category": "content" }),
    )
    .await;
    let path = format!("/v1/resources/{}", reviews["id"]);
    let call = |method: Method, path: String, body: Value| {
        let stack = &stack;
        async move {
            stack
                .call(0, method, &path, Some(&stack.admin_token), Some(body))
                .await
        }
    };

    let (status, patched) = call(
        Method::PATCH,
        path.clone(),
        json!({ "description": "  Trip reviews  " }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["description"], "Trip reviews");
    assert_eq!(
        patched["pattern"], "/v1/trips/{id}/reviews",
        "untouched fields stay"
    );
    assert_eq!(patched["category"], "content");

    let (status, replaced) = call(
        Method::PUT,
        path.clone(),
        json!({ "name": "reviews", "pattern": "/v1/reviews/{id}", "category": "marketing", "description": "", "is_public": true }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(
        (
            &replaced["name"],
            &replaced["pattern"],
            &replaced["category"],
            &replaced["description"],
            &replaced["is_public"]
        ),
        (
            &json!("reviews"),
            &json!("/v1/reviews/{id}"),
            &json!("marketing"),
            &json!(""),
            &json!(true)
        )
    );

    // PUT needs every field; both reject bad values, clashes and unknown ids
    let cases = [
        (
            Method::PUT,
            path.clone(),
            json!({ "name": "reviews", "pattern": "/v1/reviews/{id}", "category": "marketing", "description": "" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PUT,
            path.clone(),
            json!({ "name": "r", "pattern": "reviews", "category": "food", "description": "", "is_public": false }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            path.clone(),
            json!({ "category": "food" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            Method::PATCH,
            path.clone(),
            json!({ "name": "trip-photos" }),
            StatusCode::CONFLICT,
            "name_taken",
        ),
        (
            Method::PUT,
            "/v1/resources/999999".to_owned(),
            json!({ "name": "ghost", "pattern": "/v1/ghost", "category": "other", "description": "", "is_public": false }),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (method, path, body, expected, code) in cases {
        let (status, response) = call(method.clone(), path.clone(), body.clone()).await;
        assert_eq!(status, expected, "{method} {path} {body}: {response}");
        assert_eq!(
            error_code(&response),
            code,
            "{method} {path} {body}: {response}"
        );
    }
    let (_, unchanged) = stack
        .call(0, Method::GET, &path, Some(&stack.admin_token), None)
        .await;
    assert_eq!(unchanged, replaced, "refused changes left nothing behind");
}

#[tokio::test]
async fn permissions_need_a_real_resource_and_a_known_method_once() {
    let stack = Stack::start().await;
    let resource = post(&stack, "/v1/resources", json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content" })).await.1;
    let cases = [
        (
            json!({ "resource_id": resource["id"], "method": "FETCH" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "method",
        ),
        (
            json!({ "resource_id": resource["id"], "method": "get" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "method",
        ),
        (
            json!({ "resource_id": 999999, "method": "GET" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "resource_id",
        ),
    ];
    for (body, status, field) in cases {
        let (got, response) = post(&stack, "/v1/permissions", body.clone()).await;
        assert_eq!(got, status, "{body}: {response}");
        assert!(
            response["error"]["details"]["fields"].get(field).is_some(),
            "{response}"
        );
    }
    let (status, created) = post(
        &stack,
        "/v1/permissions",
        json!({ "resource_id": resource["id"], "method": "GET" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["resource"].as_str(), created["category"].as_str()),
        (Some("trip-reviews"), Some("content"))
    );
    let (status, body) = post(
        &stack,
        "/v1/permissions",
        json!({ "resource_id": resource["id"], "method": "GET" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "permission_exists")
    );
}

#[tokio::test]
async fn a_new_route_granted_to_a_role_is_enforced_without_a_restart() {
    let stack = Stack::start_with(StackOptions {
        echo_on_b: true,
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    let token = alice.access_token.clone();
    assert_eq!(
        stack
            .call(1, Method::GET, "/v1/trips/3/reviews", Some(&token), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let resource = post(&stack, "/v1/resources", json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content" })).await.1;
    let permission = post(
        &stack,
        "/v1/permissions",
        json!({ "resource_id": resource["id"], "method": "GET" }),
    )
    .await
    .1;
    stack
        .eventually(
            std::time::Duration::from_secs(2),
            "the route is known and denied",
            || async {
                stack
                    .call(1, Method::GET, "/v1/trips/3/reviews", Some(&token), None)
                    .await
                    .0
                    == StatusCode::FORBIDDEN
            },
        )
        .await;
    let traveller = stack.role_id("traveller").await;
    let (status, _) = post(
        &stack,
        &format!("/v1/roles/{traveller}/permissions"),
        json!({ "permission_id": permission["id"] }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    stack
        .eventually(
            std::time::Duration::from_secs(2),
            "the grant is enforced",
            || async {
                stack
                    .call(1, Method::GET, "/v1/trips/3/reviews", Some(&token), None)
                    .await
                    .0
                    == StatusCode::OK
            },
        )
        .await;
    let (status, body) = post(
        &stack,
        &format!("/v1/roles/{traveller}/permissions"),
        json!({ "permission_id": permission["id"] }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_granted")
    );
}

#[tokio::test]
async fn built_in_roles_and_the_last_super_admin_are_protected() {
    let stack = Stack::start().await;
    let traveller = stack.role_id("traveller").await;
    let (status, body) = stack
        .call(
            0,
            Method::DELETE,
            &format!("/v1/roles/{traveller}"),
            Some(&stack.admin_token),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "built_in_role")
    );
    let (status, body) = stack
        .call(
            0,
            Method::PATCH,
            &format!("/v1/roles/{traveller}"),
            Some(&stack.admin_token),
            Some(json!({ "name": "tourist" })),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "built_in_role")
    );

    let super_admin = stack.role_id("super_admin").await;
    let root = stack
        .admin(Method::GET, "/v1/users?account=root", None, StatusCode::OK)
        .await["results"][0]["id"]
        .clone();
    let (status, body) = stack
        .call(
            0,
            Method::DELETE,
            &format!("/v1/users/{root}/roles/{super_admin}"),
            Some(&stack.admin_token),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "last_super_admin")
    );

    let alice = stack.sign_up_and_in("alice").await;
    stack.set_roles(alice.user_id, &["super_admin"]).await;
    stack
        .admin(
            Method::DELETE,
            &format!("/v1/users/{root}/roles/{super_admin}"),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;

    let (status, _) = stack
        .call(0, Method::GET, "/v1/roles", Some(&stack.admin_token), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "root is no longer an admin");

    let as_alice = |path: &'static str, body: Value| {
        stack.call(1, Method::POST, path, Some(&alice.access_token), Some(body))
    };
    let (status, created) = as_alice(
        "/v1/roles",
        json!({ "name": "guide", "description": "Local guides" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = as_alice("/v1/roles", json!({ "name": "guide" })).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "name_taken")
    );
    let (status, _) = stack
        .call(
            0,
            Method::DELETE,
            &format!("/v1/roles/{}", created["id"]),
            Some(&alice.access_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn roles_are_granted_only_to_existing_users_and_only_known_roles() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let expert = stack.role_id("expert").await;
    let (status, body) = post(
        &stack,
        "/v1/users/999999/roles",
        json!({ "role_id": expert }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, body) = post(
        &stack,
        &format!("/v1/users/{}/roles", alice.user_id),
        json!({ "role_id": 999999 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = post(
        &stack,
        &format!("/v1/users/{}/roles", alice.user_id),
        json!({ "role_id": expert }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = post(
        &stack,
        &format!("/v1/users/{}/roles", alice.user_id),
        json!({ "role_id": expert }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "already_granted")
    );
    let names = stack.role_names(alice.user_id).await;
    assert_eq!(names, ["expert", "traveller"], "new users hold traveller");
}

#[tokio::test]
async fn permission_lists_filter_by_category_method_and_role() {
    let stack = Stack::start().await;
    let orders = stack
        .admin(
            Method::GET,
            "/v1/permissions?category=order&limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    assert!(orders["count"].as_i64().unwrap() >= 7);
    assert!(
        orders["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["category"] == "order")
    );
    let deletes = stack
        .admin(
            Method::GET,
            "/v1/permissions?method=DELETE&limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    assert!(
        deletes["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["method"] == "DELETE")
    );
    let product_admin = stack.role_id("product_admin").await;
    let held = stack
        .admin(
            Method::GET,
            &format!("/v1/roles/{product_admin}/permissions?category=product&limit=100"),
            None,
            StatusCode::OK,
        )
        .await;
    let all_product = stack
        .admin(
            Method::GET,
            "/v1/permissions?category=product&limit=100",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        held["count"], all_product["count"],
        "product_admin holds the whole product category"
    );
    let by_role = stack
        .admin(
            Method::GET,
            "/v1/permissions?role=order_admin&category=product",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(by_role["count"], 0);
}

#[tokio::test]
async fn seeding_again_never_undoes_an_admins_change() {
    let stack = Stack::start().await;
    let before = stack
        .admin(Method::GET, "/v1/resources?limit=1", None, StatusCode::OK)
        .await["count"]
        .as_i64()
        .unwrap();
    let ratings = stack
        .admin(
            Method::GET,
            "/v1/resources?name=ratings",
            None,
            StatusCode::OK,
        )
        .await["results"][0]["id"]
        .clone();
    stack
        .admin(
            Method::DELETE,
            &format!("/v1/resources/{ratings}"),
            None,
            StatusCode::NO_CONTENT,
        )
        .await;

    stack.start_rbac_again().await;
    let after = stack
        .admin(Method::GET, "/v1/resources?limit=1", None, StatusCode::OK)
        .await["count"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before - 1, "the deleted resource stays deleted");
    let found = stack
        .admin(
            Method::GET,
            "/v1/resources?name=ratings",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(found["count"], 0);
}
