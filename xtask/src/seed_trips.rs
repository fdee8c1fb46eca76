//! Demo data for recommend-service: a handful of Yunnan trips (created on the service
//! itself, as the gateway forwards a product admin), ratings by a dozen synthetic
//! travellers with two kinds of taste, and ratings by the demo traveller through
//! the public API (three: enough for item-based ranking), so "trips you may like" has
//! something to say from the first start.

use std::path::Path;

use crate::Result;
use crate::procs::http_with;

const TRIPS: [(&str, &str, u32, u32, &str); 10] = [
    (
        "Old Town of Lijiang",
        "Lijiang",
        329_900,
        4,
        r#"["culture","food"]"#,
    ),
    (
        "Jade Dragon Snow Mountain",
        "Lijiang",
        259_900,
        2,
        r#"["mountains","hiking"]"#,
    ),
    (
        "Tiger Leaping Gorge trek",
        "Lijiang",
        189_900,
        3,
        r#"["hiking","mountains"]"#,
    ),
    (
        "Erhai Lake by bike",
        "Dali",
        129_900,
        2,
        r#"["lakes","cycling"]"#,
    ),
    (
        "Three Pagodas and Dali Old Town",
        "Dali",
        99_900,
        1,
        r#"["culture"]"#,
    ),
    (
        "Shangri-La and Pudacuo",
        "Diqing",
        459_900,
        5,
        r#"["mountains","nature"]"#,
    ),
    (
        "Lugu Lake villages",
        "Lijiang",
        279_900,
        3,
        r#"["lakes","culture"]"#,
    ),
    (
        "Xishuangbanna rainforest",
        "Xishuangbanna",
        399_900,
        4,
        r#"["nature","food"]"#,
    ),
    (
        "Yuanyang rice terraces",
        "Honghe",
        219_900,
        3,
        r#"["photography","nature"]"#,
    ),
    (
        "Kunming Stone Forest",
        "Kunming",
        89_900,
        1,
        r#"["nature"]"#,
    ),
];

/// (trip number, stars) per taste: mountain people and lake-and-culture people.
const MOUNTAINS: [(usize, u8); 5] = [(2, 5), (3, 5), (6, 5), (1, 4), (4, 2)];
const LAKES: [(usize, u8); 5] = [(4, 5), (7, 5), (5, 5), (1, 4), (3, 2)];

pub fn seed(data: &Path, service_port: u16, http_port: u16, demo: (&str, &str)) -> Result {
    let token = std::fs::read_to_string(data.join("internal-token"))
        .map_err(|e| format!("reading data/internal-token: {e}"))?;
    let token = token.trim();
    let (status, body) = http_with(http_port, "GET", "/v1/trips?limit=1", &[], None)
        .map_err(|e| format!("listing trips: {e}"))?;
    if status != 200 {
        return Err(format!("listing trips: {status} {body}"));
    }
    if !body.contains("\"count\":0") {
        return Ok(());
    }
    let as_user = |id: &str, role: &'static str| -> Vec<(&'static str, String)> {
        vec![
            ("x-waypoint-internal", token.to_owned()),
            ("x-user-id", id.to_owned()),
            ("x-session-id", "xtask-seed".to_owned()),
            ("x-user-roles", role.to_owned()),
        ]
    };
    let call = |headers: &[(&str, String)], method: &str, path: &str, body: &str| -> Result {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        match http_with(service_port, method, path, &headers, Some(body)) {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, body)) => Err(format!("{method} {path}: {status} {body}")),
            Err(err) => Err(format!("{method} {path}: {err}")),
        }
    };
    let admin = as_user("1", "product_admin");
    for (title, destination, price, days, tags) in TRIPS {
        let body = format!(
            r#"{{"title":"{title}","destination":"{destination}","price_cents":{price},"duration_days":{days},"tags":{tags}}}"#
        );
        call(&admin, "POST", "/v1/trips", &body)?;
    }
    for traveller in 0..12u32 {
        let taste = if traveller % 2 == 0 {
            &MOUNTAINS
        } else {
            &LAKES
        };
        let who = as_user(&(1001 + traveller).to_string(), "traveller");
        for (k, (trip, stars)) in taste.iter().enumerate() {
            // Not everyone rates everything, and the other half's favourite sometimes.
            if (traveller as usize + k) % 5 == 4 {
                continue;
            }
            let body = format!(r#"{{"trip_id":{trip},"score":{stars}}}"#);
            call(&who, "POST", "/v1/ratings", &body)?;
        }
        let wildcard = 8 + traveller as usize % 3;
        let body = format!(r#"{{"trip_id":{wildcard},"score":4}}"#);
        call(&who, "POST", "/v1/ratings", &body)?;
    }

    // The demo traveller rates through nginx and the gateway like anyone would.
    let access = crate::stack::login(http_port, demo.0, demo.1)?;
    let bearer = format!("Bearer {access}");
    for (trip, stars) in [(2, 5), (3, 4), (10, 4)] {
        let body = format!(r#"{{"trip_id":{trip},"score":{stars}}}"#);
        let (status, answer) = http_with(
            http_port,
            "POST",
            "/v1/ratings",
            &[("authorization", &bearer)],
            Some(&body),
        )
        .map_err(|e| format!("demo rating: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("demo rating: {status} {answer}"));
        }
    }
    call(
        &as_user("1", "product_admin"),
        "POST",
        "/internal/model/rebuild",
        "",
    )?;
    eprintln!("xtask: seeded {} demo trips and their ratings", TRIPS.len());
    Ok(())
}
