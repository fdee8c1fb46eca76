use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Stack, error_code};

#[tokio::test]
async fn admins_list_users_with_filters_sorting_and_pages() {
    let stack = Stack::start().await;
    for name in ["alice", "bob", "carol"] {
        stack.sign_up_and_in(name).await;
    }
    let page = stack
        .admin(
            Method::GET,
            "/v1/users?limit=2&sortby=account&order=asc",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(page["count"], 4, "three users and the admin");
    let accounts: Vec<&str> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["alice", "bob"]);
    assert_eq!(
        page["next"],
        "/v1/users?sortby=account&order=asc&limit=2&offset=2"
    );
    let next = stack
        .admin(
            Method::GET,
            page["next"].as_str().unwrap(),
            None,
            StatusCode::OK,
        )
        .await;
    let accounts: Vec<&str> = next["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["account"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["carol", "root"]);

    let by_email = stack
        .admin(
            Method::GET,
            "/v1/users?email=Bob@Example.com",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(by_email["count"], 1);
    assert_eq!(by_email["results"][0]["account"], "bob");
    let recent = stack
        .admin(
            Method::GET,
            "/v1/users?sortby=last_login_at&order=desc&limit=1",
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        recent["results"][0]["account"], "carol",
        "carol signed in last"
    );

    for (query, status) in [
        ("?sortby=password_hash", 422),
        ("?role=admin", 400),
        ("?is_disabled=maybe", 400),
        ("?limit=1000", 422),
    ] {
        let (got, body) = stack
            .call(
                0,
                Method::GET,
                &format!("/v1/users{query}"),
                Some(&stack.admin_token),
                None,
            )
            .await;
        assert_eq!(got.as_u16(), status, "{query}: {body}");
        error_code(&body);
    }
}

#[tokio::test]
async fn admins_edit_users_but_cannot_mass_assign() {
    let stack = Stack::start().await;
    let alice = stack.sign_up_and_in("alice").await;
    let bob = stack.sign_up_and_in("bob").await;
    let path = format!("/v1/users/{}", alice.user_id);
    let user = stack
        .admin(
            Method::PATCH,
            &path,
            Some(json!({ "name": "Alice Li", "email": "li@example.com" })),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        (user["name"].as_str(), user["email"].as_str()),
        (Some("Alice Li"), Some("li@example.com"))
    );
    let fetched = stack.admin(Method::GET, &path, None, StatusCode::OK).await;
    assert_eq!(fetched["name"], "Alice Li");

    let cases = [
        (
            json!({ "roles": ["super_admin"] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({ "password": "new password please" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({ "email": "not an email" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({ "email": "bob@example.com" }),
            StatusCode::CONFLICT,
            "email_taken",
        ),
        (
            json!({ "is_disabled": "yes" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let (got, response) = stack
            .call(
                0,
                Method::PATCH,
                &path,
                Some(&stack.admin_token),
                Some(body.clone()),
            )
            .await;
        assert_eq!(got, status, "{body}: {response}");
        assert_eq!(error_code(&response), code);
    }
    let (status, body) = stack
        .call(
            0,
            Method::GET,
            "/v1/users/999999",
            Some(&stack.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "not_found");
    let (status, _) = stack
        .call(0, Method::GET, &path, Some(&bob.access_token), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "travellers do not manage users"
    );
}
