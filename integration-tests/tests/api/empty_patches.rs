//! A PATCH naming no field (`{}`, or every field null) changes nothing and answers the
//! record as it is, on every PATCH endpoint.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Stack, StackOptions};
use crate::trip_catalog::create_trip;

/// PATCHes `path` with `{}` and with `nulls`, expecting `unchanged` both times (`ignored`
/// fields aside).
async fn patch_changes_nothing(
    stack: &Stack,
    token: &str,
    path: &str,
    nulls: Value,
    ignored: &[&str],
) {
    let (status, before) = stack.call(0, Method::GET, path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {before}");
    for body in [json!({}), nulls] {
        let (status, mut after) = stack
            .call(0, Method::PATCH, path, Some(token), Some(body.clone()))
            .await;
        assert_eq!(status, StatusCode::OK, "PATCH {path} {body}: {after}");
        let mut expected = before.clone();
        for field in ignored {
            expected[*field] = Value::Null;
            after[*field] = Value::Null;
        }
        assert_eq!(after, expected, "PATCH {path} {body}");
        let (_, stored) = stack.call(0, Method::GET, path, Some(token), None).await;
        assert_eq!(stored["id"], before["id"]);
    }
}

#[tokio::test]
async fn a_patch_without_fields_answers_the_record_unchanged() {
    let stack = Stack::start_with(StackOptions {
        recommend: true,
        ..Default::default()
    })
    .await;
    let admin = stack.admin_token.clone();
    let alice = stack.sign_up_and_in("alice").await;
    patch_changes_nothing(
        &stack,
        &admin,
        &format!("/v1/users/{}", alice.user_id),
        json!({ "name": null, "email": null, "is_disabled": null }),
        &[],
    )
    .await;
    assert_eq!(stack.me(0, &alice.access_token).await, StatusCode::OK);

    let resource = stack.admin_create("/v1/resources", json!({ "name": "trip-reviews", "pattern": "/v1/trips/{id}/reviews", "category": "content" })).await;
    patch_changes_nothing(
        &stack,
        &admin,
        &format!("/v1/resources/{}", resource["id"]),
        json!({ "name": null, "pattern": null, "category": null, "description": null, "is_public": null }),
        &[],
    )
    .await;
    let resources = stack
        .admin(
            Method::GET,
            "/v1/resources?name=resources",
            None,
            StatusCode::OK,
        )
        .await;
    patch_changes_nothing(
        &stack,
        &admin,
        &format!("/v1/resources/{}", resources["results"][0]["id"]),
        json!({ "name": null, "pattern": null, "is_public": null }),
        &[],
    )
    .await;

    let role = stack
        .admin_create(
            "/v1/roles",
            json!({ "name": "guide", "description": "Local guides" }),
        )
        .await;
    patch_changes_nothing(
        &stack,
        &admin,
        &format!("/v1/roles/{}", role["id"]),
        json!({ "name": null, "description": null }),
        &[],
    )
    .await;

    let curator = stack.sign_up_and_in("curator").await;
    stack.set_roles(curator.user_id, &["product_admin"]).await;
    let trip = create_trip(&stack, &curator.access_token, "Lijiang Old Town", 88_800).await;
    patch_changes_nothing(
        &stack,
        &curator.access_token,
        &format!("/v1/trips/{}", trip["id"]),
        json!({ "title": null, "destination": null, "description": null, "price_cents": null,
            "duration_days": null, "tags": null, "status": null }),
        &["updated_at"],
    )
    .await;
}
