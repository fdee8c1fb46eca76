//! Replicas started at the same moment on a fresh database (docker compose starts them
//! together): the one-off work at start (auth's admin account, rbac's seed) is done once,
//! and every replica starts.

use auth_service::config::AdminSettings;
use shared::config::Secret;
use shared::db::{Db, Migrations};
use shared::testing::TestDatabase;

/// Two replicas' pools on one database (`migrations`: the service's `MIGRATIONS`).
async fn replicas(database: &TestDatabase, migrations: fn() -> Migrations) -> (Db, Db) {
    let open = || Db::open(database.url.clone(), 2, migrations());
    (open().await.unwrap(), open().await.unwrap())
}

#[tokio::test]
async fn two_rbac_replicas_seeding_a_fresh_database_together_both_start() {
    for _ in 0..3 {
        let database = TestDatabase::new();
        let (a, b) = replicas(&database, || rbac_service::startup::MIGRATIONS).await;
        let (first, second) = tokio::join!(
            a.run(rbac_service::seed::apply),
            b.run(rbac_service::seed::apply)
        );
        let changed = [
            first.expect("replica a seeds"),
            second.expect("replica b seeds"),
        ];
        assert_eq!(
            changed.iter().filter(|c| **c).count(),
            1,
            "one replica seeds, the other finds it done: {changed:?}"
        );
    }
}

#[tokio::test]
async fn two_auth_replicas_creating_the_admin_together_both_start() {
    let database = TestDatabase::new();
    let (a, b) = replicas(&database, || auth_service::startup::MIGRATIONS).await;
    let admin = AdminSettings {
        account: "admin".into(),
        password: Secret::new("a long enough admin password"),
        email: "admin@waypoint.local".into(),
    };
    let (first, second) = tokio::join!(
        auth_service::bootstrap::ensure_admin(&a, &admin),
        auth_service::bootstrap::ensure_admin(&b, &admin)
    );
    first.expect("replica a starts");
    second.expect("replica b starts");
    let found = a
        .run(|conn| Ok(auth_service::models::User::find_by_account(conn, "admin")?))
        .await
        .unwrap();
    assert!(found.is_some(), "the admin account exists");
}
