use std::io::Write;

use recommend_service::cli::import::{ImportArgs, run};
use reqwest::StatusCode;
use shared::config::{DatabaseSettings, ServerSettings};

use crate::helpers::{Who, spawn_app, traveller};

fn settings(app: &crate::helpers::TestApp) -> recommend_service::Settings {
    recommend_service::Settings {
        server: ServerSettings::local(&shared::testing::RedisServer::shared().settings(), "unused"),
        database: DatabaseSettings::local(&app.db.url),
        cache_ttl: std::time::Duration::from_secs(60),
        model_rebuild: recommend_service::schedule::RebuildRule {
            check_every: std::time::Duration::from_secs(3600),
            spacing: 0,
        },
        min_profile: 3,
    }
}

/// Imports `ratings` into `app`'s database, which must succeed.
async fn import(app: &crate::helpers::TestApp, ratings: std::path::PathBuf, status: &str) {
    let args = ImportArgs {
        ratings,
        placeholder_status: status.into(),
    };
    run(args, settings(app)).await.unwrap();
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_with_bad_lines_imports_nothing_and_names_every_bad_line() {
    let app = spawn_app().await;
    let f = file("1\t10\t4\t881250949\n2\tten\t4\t881250949\n3\t10\t7\t881250949\n4\t11\t5\n");
    let args = ImportArgs {
        ratings: f.path().to_owned(),
        placeholder_status: "off_sale".into(),
    };
    let err = run(args, settings(&app)).await.unwrap_err().to_string();
    assert!(err.starts_with("2 bad line(s)"), "{err}");
    assert!(
        err.contains("line 2: item \"ten\"") && err.contains("line 3: rating \"7\""),
        "{err}"
    );
    let (_, list) = app.get("/v1/trips", Who::Anonymous).await;
    assert_eq!(list["count"], 0, "no placeholder was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn movielens_and_the_original_csv_import_with_placeholders_for_unknown_trips() {
    let app = spawn_app().await;
    let known = app.trip("Lijiang", "Lijiang", 100).await;
    let ml = file(&format!(
        "1\t{known}\t4\t881250949\n2\t{known}\t2\t881250950\n1\t500\t5\t881250951\n"
    ));
    import(&app, ml.path().to_owned(), "on_sale").await;
    let (_, trip) = app.get(&format!("/v1/trips/{known}"), Who::Anonymous).await;
    assert_eq!(
        (trip["rating_count"].as_i64(), trip["rating_avg"].as_f64()),
        (Some(2), Some(3.0))
    );
    let (status, placeholder) = app.get("/v1/trips/500", Who::Anonymous).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            placeholder["title"].as_str(),
            placeholder["status"].as_str()
        ),
        (Some("Trip 500"), Some("on_sale"))
    );
    // Explicit ids did not break the id sequence.
    let next = app.trip("After import", "Dali", 1).await;
    assert!(next > 500, "{next}");

    let phones = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/phone.txt"
    ));
    import(&app, phones, "off_sale").await;
    let (_, list) = app
        .get("/v1/trips?destination=unknown&limit=100", Who::Anonymous)
        .await;
    let titles: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    for phone in ["华为p30", "vivo", "htc", "pixel2"] {
        assert!(titles.contains(&phone), "{titles:?}");
    }
    let report = app.rebuild().await;
    assert_eq!(report["interactions"], 3 + 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_ratings_keep_their_own_times_and_auto_holds_out_each_users_newest() {
    use recommend_service::engine::preferences;
    use recommend_service::models::{Rating, Signal};
    use recommend_service::recommend::auto::hold_out_recent;

    let app = spawn_app().await;
    // User 1 rated trips 1..=10 newest-first by id (trip 10 the oldest), with trip 3
    // rated twice: the later line is older, so the 5 stars of the first line stand.
    let mut lines = String::new();
    for trip in 1..=10 {
        let at = 1_000_000_000 + (10 - trip) * 86_400;
        lines.push_str(&format!("1\t{trip}\t{}\t{at}\n", 1 + trip % 5));
    }
    lines.push_str("1\t3\t1\t900000000\n2\t4\t2\n");
    let f = file(&lines);
    import(&app, f.path().to_owned(), "on_sale").await;

    let (_, mine) = app.get("/v1/ratings?limit=20", traveller(1)).await;
    let mine = mine["results"].as_array().unwrap();
    let seen: Vec<(i64, i64, &str, &str)> = mine
        .iter()
        .map(|r| {
            (
                r["trip_id"].as_i64().unwrap(),
                r["score"].as_i64().unwrap(),
                r["created_at"].as_str().unwrap(),
                r["updated_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 10);
    assert_eq!(
        seen[0],
        (1, 2, "2001-09-18T01:46:40Z", "2001-09-18T01:46:40Z")
    );
    assert_eq!(
        (seen[2].0, seen[2].1),
        (3, 4),
        "the newer of trip 3's ratings"
    );
    assert_eq!(seen[9].0, 10, "newest first: trip 10 is the oldest");
    assert_eq!(seen[9].2, "2001-09-09T01:46:40Z");
    // A line without a timestamp is given at the import's time.
    let (_, theirs) = app.get("/v1/ratings", traveller(2)).await;
    let given = theirs["results"][0]["created_at"].as_str().unwrap();
    assert!(given > "2026", "{given}");

    let (ratings, signals) = app
        .ctx
        .db()
        .run(|conn| Ok((Rating::all(conn)?, Signal::all(conn)?)))
        .await
        .unwrap();
    let (_, held_out) = hold_out_recent(&preferences(&ratings, &signals), None);
    let mut held: Vec<i64> = held_out.iter().map(|r| r.item).collect();
    held.sort_unstable();
    assert_eq!(
        held,
        vec![1, 2],
        "user 1's two newest ratings, not the highest ids"
    );
}
