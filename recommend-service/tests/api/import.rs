use std::io::Write;

use recommend_service::cli::import::{ImportArgs, run};
use reqwest::StatusCode;
use shared::config::Secret;

use crate::helpers::{Who, spawn_app};

fn settings(app: &crate::helpers::TestApp) -> recommend_service::Settings {
    recommend_service::Settings {
        bind_addr: "127.0.0.1:0".into(),
        metrics_addr: None,
        otlp: Default::default(),
        workers: 1,
        database_url: app.db.url.clone(),
        database_pool_size: 2,
        redis: shared::testing::RedisServer::shared().settings(),
        internal_token: Secret::new("unused"),
        cache_ttl: std::time::Duration::from_secs(60),
        model_rebuild: recommend_service::schedule::RebuildRule {
            check_every: std::time::Duration::from_secs(3600),
            spacing: 0,
        },
        min_profile: 3,
    }
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
    run(
        ImportArgs {
            ratings: ml.path().to_owned(),
            placeholder_status: "on_sale".into(),
        },
        settings(&app),
    )
    .await
    .unwrap();
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
    run(
        ImportArgs {
            ratings: phones,
            placeholder_status: "off_sale".into(),
        },
        settings(&app),
    )
    .await
    .unwrap();
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
