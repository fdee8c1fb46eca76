use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, Who, error_code, fields, spawn_app};

fn lijiang() -> Value {
    json!({
        "title": "Old Town of Lijiang",
        "destination": "Lijiang",
        "description": "Cobbled lanes and Naxi music.",
        "price_cents": 329_900,
        "duration_days": 5,
        "tags": ["culture", "Food"],
    })
}

#[tokio::test]
async fn an_admin_creates_a_trip_with_201_and_a_location_and_anyone_reads_it() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/v1/trips", ADMIN)
        .json(&lijiang())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/v1/trips/{}", created["id"]));
    assert_eq!(created["tags"], json!(["culture", "food"]));
    assert_eq!(created["status"], "on_sale");
    assert_eq!(created["rating_avg"], Value::Null);

    let (status, read) = app.get(&location, Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);
}

/// Who may change the catalog is the gateway's decision (any role granted the route, a
/// custom one too); the service only needs a signed-in caller to attribute the change to.
#[tokio::test]
async fn trip_writes_take_the_gateways_decision_whatever_the_role_is_called() {
    let app = spawn_app().await;
    let id = app.trip("Yulong Snow Mountain", "Lijiang", 120_000).await;
    let path = format!("/v1/trips/{id}");
    let mut replacement = lijiang();
    replacement["status"] = json!("on_sale");
    let cases = [
        (
            Method::POST,
            "/v1/trips".to_owned(),
            Some(lijiang()),
            StatusCode::CREATED,
        ),
        (Method::PUT, path.clone(), Some(replacement), StatusCode::OK),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({ "price_cents": 1 })),
            StatusCode::OK,
        ),
        (Method::DELETE, path.clone(), None, StatusCode::NO_CONTENT),
    ];
    for (method, path, body, expected) in cases {
        let (status, response) = app
            .call(method.clone(), &path, Who::Anonymous, body.clone())
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_eq!(error_code(&response), "unauthenticated");
        let (status, response) = app
            .call(method.clone(), &path, Who::User(7, "concierge"), body)
            .await;
        assert_eq!(status, expected, "{method} {path}: {response}");
    }
}

#[tokio::test]
async fn invalid_trips_are_422_naming_every_bad_field() {
    let app = spawn_app().await;
    let with = |field: &str, value: Value| {
        let mut body = lijiang();
        body[field] = value;
        body
    };
    let cases = [
        (with("title", json!("   ")), vec!["title"]),
        (with("title", json!("x".repeat(121))), vec!["title"]),
        (with("price_cents", json!(-5)), vec!["price_cents"]),
        (with("price_cents", json!(12.5)), vec!["price_cents"]),
        (with("price_cents", json!("100")), vec!["price_cents"]),
        (with("duration_days", json!(0)), vec!["duration_days"]),
        (with("tags", json!(["two words"])), vec!["tags"]),
        (with("status", json!("sold")), vec!["status"]),
        (with("owner", json!(1)), vec!["owner"]),
        (
            json!({ "title": "x" }),
            vec!["destination", "duration_days", "price_cents"],
        ),
        (
            json!({ "title": "", "destination": "Dali", "duration_days": 0, "tags": ["a b"] }),
            vec!["duration_days", "price_cents", "tags", "title"],
        ),
        (
            json!({ "title": "", "destination": "", "price_cents": -1, "duration_days": 999 }),
            vec!["destination", "duration_days", "price_cents", "title"],
        ),
    ];
    for (body, expected) in cases {
        let (status, response) = app
            .call(Method::POST, "/v1/trips", ADMIN, Some(body.clone()))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {response}"
        );
        assert_eq!(error_code(&response), "validation_failed");
        assert_eq!(fields(&response), expected, "{body} → {response}");
    }
    let (_, list) = app.get("/v1/trips", Who::Anonymous).await;
    assert_eq!(list["count"], 0, "nothing was created");
}

#[tokio::test]
async fn put_replaces_patch_changes_and_delete_removes() {
    let app = spawn_app().await;
    let id = app.trip("Erhai Lake by bike", "Dali", 88_000).await;
    let path = format!("/v1/trips/{id}");

    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            ADMIN,
            Some(json!({ "price_cents": 99_000, "status": "off_sale" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["price_cents"].as_i64(), body["status"].as_str()),
        (Some(99_000), Some("off_sale"))
    );
    assert_eq!(body["title"], "Erhai Lake by bike", "untouched fields stay");

    let (status, body) = app.call(Method::PUT, &path, ADMIN, Some(lijiang())).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "PUT needs every field"
    );
    assert_eq!(fields(&body), ["status"]);
    let mut full = lijiang();
    full["status"] = json!("on_sale");
    let (status, body) = app.call(Method::PUT, &path, ADMIN, Some(full)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["destination"], "Lijiang");
    let (_, read) = app.get(&path, Who::Anonymous).await;
    assert_eq!(read, body, "the read after the write is fresh");

    let (status, _) = app.call(Method::DELETE, &path, ADMIN, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, expected) in [
        (Method::GET, StatusCode::NOT_FOUND),
        (Method::DELETE, StatusCode::NOT_FOUND),
        (Method::PATCH, StatusCode::NOT_FOUND),
    ] {
        let who = if method == Method::GET {
            Who::Anonymous
        } else {
            ADMIN
        };
        let body = (method == Method::PATCH).then(|| json!({ "price_cents": 1 }));
        let (status, response) = app.call(method.clone(), &path, who, body).await;
        assert_eq!(status, expected, "{method}");
        assert_eq!(error_code(&response), "not_found");
    }
}

/// Writes a raw value into a trip's text column, as a bad migration or a hand edit would.
async fn store_raw(app: &TestApp, id: i64, column: &'static str, raw: &'static str) {
    use diesel::prelude::*;
    use recommend_service::schema::trips;
    app.ctx
        .db()
        .run(move |conn| {
            let row = trips::table.find(id);
            match column {
                "tags" => diesel::update(row).set(trips::tags.eq(raw)).execute(conn)?,
                _ => diesel::update(row)
                    .set(trips::status.eq(raw))
                    .execute(conn)?,
            };
            Ok(())
        })
        .await
        .unwrap();
}

async fn raw_column(app: &TestApp, id: i64) -> (String, String) {
    use diesel::prelude::*;
    use recommend_service::schema::trips;
    app.ctx
        .db()
        .run(move |conn| {
            Ok(trips::table
                .find(id)
                .select((trips::tags, trips::status))
                .first(conn)?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_trip_whose_stored_tags_or_status_do_not_parse_is_a_500_and_is_left_as_it_is() {
    let app = spawn_app().await;
    for (column, raw) in [("tags", "culture, food"), ("status", "sold_out")] {
        let id = app.trip("Tiger Leaping Gorge", "Lijiang", 90_000).await;
        store_raw(&app, id, column, raw).await;
        let before = raw_column(&app, id).await;
        let path = format!("/v1/trips/{id}");

        let (status, body) = app
            .call(
                Method::PATCH,
                &path,
                ADMIN,
                Some(json!({ "price_cents": 1 })),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{column}: {body}"
        );
        assert_eq!(error_code(&body), "internal_error");
        assert_eq!(
            raw_column(&app, id).await,
            before,
            "{column} kept as stored"
        );
        let (status, _) = app.get(&path, Who::Anonymous).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{column}");
    }
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for path in ["/v1/trips/999", "/v1/trips/abc", "/v1/trips/999/similar"] {
        let (status, body) = app.get(path, Who::Anonymous).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&body), "not_found", "{path}");
    }
}

#[tokio::test]
async fn the_list_filters_sorts_and_paginates() {
    let app = spawn_app().await;
    let a = app.trip("Tiger Leaping Gorge", "Lijiang", 150_000).await;
    let b = app.trip("Three Pagodas", "Dali", 60_000).await;
    let c = app.trip("Blue Moon Valley", "Lijiang", 90_000).await;
    app.call(
        Method::PATCH,
        &format!("/v1/trips/{c}"),
        ADMIN,
        Some(json!({ "tags": ["hiking"], "status": "off_sale" })),
    )
    .await;
    app.rate(10, b, 5).await;
    app.rate(11, a, 3).await;

    let ids = |body: &Value| -> Vec<i64> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_i64().unwrap())
            .collect()
    };
    let cases = [
        ("/v1/trips", vec![a, b, c]),
        ("/v1/trips?destination=Lijiang", vec![a, c]),
        ("/v1/trips?tag=hiking", vec![c]),
        ("/v1/trips?status=on_sale", vec![a, b]),
        ("/v1/trips?min_price=80000&max_price=150000", vec![a, c]),
        ("/v1/trips?sortby=price", vec![b, c, a]),
        ("/v1/trips?sortby=price&order=desc", vec![a, c, b]),
        ("/v1/trips?sortby=rating&order=desc", vec![b, a, c]),
        ("/v1/trips?sortby=created_at&order=desc&limit=2", vec![c, b]),
    ];
    for (path, expected) in cases {
        let (status, body) = app.get(path, Who::Anonymous).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(ids(&body), expected, "{path}");
    }
    let (_, page) = app.get("/v1/trips?limit=2", Who::Anonymous).await;
    assert_eq!(page["count"], 3);
    assert_eq!(page["next"], "/v1/trips?limit=2&offset=2");

    let bad = [
        ("/v1/trips?color=red", 400, "unknown_parameter"),
        ("/v1/trips?min_price=cheap", 400, "invalid_parameter"),
        ("/v1/trips?status=sold", 422, "validation_failed"),
        ("/v1/trips?tag=two%20words", 422, "validation_failed"),
        (
            "/v1/trips?min_price=10&max_price=5",
            422,
            "validation_failed",
        ),
        ("/v1/trips?sortby=title", 422, "validation_failed"),
    ];
    for (path, status, code) in bad {
        let (got, body) = app.get(path, Who::Anonymous).await;
        assert_eq!(got.as_u16(), status, "{path}: {body}");
        assert_eq!(error_code(&body), code, "{path}");
    }
}
