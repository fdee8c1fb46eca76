//! Redis Sentinel: the stack runs on a master, a replica and three sentinels (real
//! `redis-server`s), and the master is killed with SIGKILL under load. Nothing is
//! restarted: every service and gateway follows the master the sentinels promote.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::policy::POLICY_CHANNEL;
use shared::testing::SentinelGroup;

use crate::helpers::{PASSWORD, Stack, StackOptions};
use crate::sessions::refresh;

/// What one request of the load got: when it was sent and answered, through which
/// gateway, and the answer.
struct Answer {
    sent: Instant,
    at: Instant,
    gateway: usize,
    status: StatusCode,
    code: String,
}

#[tokio::test]
async fn a_killed_master_costs_only_503s_until_the_sentinels_promote_the_replica() {
    let mut group = SentinelGroup::start();
    let stack = Stack::start_with(StackOptions {
        redis: Some(group.settings()),
        ..Default::default()
    })
    .await;
    let alice = stack.sign_up_and_in("alice").await;
    stack
        .set_roles(alice.user_id, &["traveller", "super_admin"])
        .await;
    assert_eq!(users(&stack, 0, &alice.access_token).await, StatusCode::OK);

    let answers = RefCell::new(Vec::new());
    let stop = std::cell::Cell::new(false);
    // When the kill was sent, and when the master's port was closed.
    let kill = std::cell::Cell::new(None);
    let load = async {
        // Bounded: at most 5,000 requests, and 60 s.
        let started = Instant::now();
        for i in 0..5_000 {
            if stop.get() || started.elapsed() > Duration::from_secs(60) {
                break;
            }
            let gateway = i % 2;
            let sent = Instant::now();
            let (status, body) = stack
                .call(
                    gateway,
                    Method::GET,
                    "/v1/auth/me",
                    Some(&alice.access_token),
                    None,
                )
                .await;
            let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
            answers.borrow_mut().push(Answer {
                sent,
                at: Instant::now(),
                gateway,
                status,
                code,
            });
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let failover = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Signed in just before the crash: the login returned once the replica had it.
        let (status, late) = stack.login_via(1, "alice", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{late}");
        let late_token = late["access_token"].as_str().unwrap().to_owned();
        let sent = Instant::now();
        group.master.kill();
        kill.set(Some((sent, Instant::now())));
        let replica = group.replica.port();
        stack
            .eventually(
                Duration::from_secs(30),
                "the sentinels promote the replica",
                || async { group.master_port() == Some(replica) },
            )
            .await;
        for gateway in 0..2 {
            stack
                .eventually(
                    Duration::from_secs(10),
                    "the gateway follows the new master",
                    || async { stack.me(gateway, &alice.access_token).await == StatusCode::OK },
                )
                .await;
        }
        // Some more load on the new master, then stop.
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.set(true);
        late_token
    };
    let ((), late_token) = tokio::join!(load, failover);
    let (kill_sent, killed_at) = kill.get().unwrap();

    let answers = answers.into_inner();
    for gateway in 0..2 {
        let mine: Vec<&Answer> = answers.iter().filter(|a| a.gateway == gateway).collect();
        for answer in &mine {
            assert!(
                answer.status == StatusCode::OK
                    || (answer.status == StatusCode::SERVICE_UNAVAILABLE
                        && answer.code == "session_store_unavailable"),
                "gateway {gateway}: only 200 or 503 session_store_unavailable, got {} {}",
                answer.status,
                answer.code
            );
        }
        let refused: Vec<&&Answer> = mine.iter().filter(|a| a.status != StatusCode::OK).collect();
        assert!(
            refused.iter().all(|a| a.at >= kill_sent),
            "gateway {gateway}: a 503 before the master was killed"
        );
        // Once the gateway answers again after refusing, it stays answering: it follows the
        // new master for good, with no restart. (A request sent before the master's port
        // closed may have been answered by the old master, and one sent before the gateway
        // saw its invalidation stream drop, from memory: the session cache and the locally
        // counted rate limits need no round trip.)
        let noticed = mine
            .iter()
            .position(|a| a.sent > killed_at && a.status != StatusCode::OK)
            .unwrap_or(0);
        let back = noticed
            + mine[noticed..]
                .iter()
                .position(|a| a.sent > killed_at && a.status == StatusCode::OK)
                .expect("the gateway answers again");
        let timeline: Vec<String> = mine
            .iter()
            .filter(|a| a.at >= kill_sent)
            .map(|a| {
                format!(
                    "{}@{:?}",
                    a.status.as_u16(),
                    a.sent.duration_since(kill_sent)
                )
            })
            .collect();
        assert!(
            mine[back..].iter().all(|a| a.status == StatusCode::OK),
            "gateway {gateway}: a 503 after it had followed the new master: {timeline:?}"
        );
        let window = refused
            .last()
            .map(|last| last.at.duration_since(kill_sent))
            .unwrap_or_default();
        eprintln!(
            "gateway {gateway}: {} requests, {} answered 503, the last {window:?} after the kill",
            mine.len(),
            refused.len(),
        );
    }

    // Sessions made before the crash, even just before, still work: as do the refresh
    // token's secret and the roles.
    for gateway in 0..2 {
        assert_eq!(stack.me(gateway, &late_token).await, StatusCode::OK);
        assert_eq!(
            users(&stack, gateway, &alice.access_token).await,
            StatusCode::OK,
            "her role survives"
        );
    }
    let (status, body) = refresh(&stack, 1, &json!(alice.refresh_token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = stack.login_via(0, "alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Both gateways listen for policy changes on the new master again.
    let channel = format!("{}{POLICY_CHANNEL}", stack.redis_settings.key_prefix);
    stack
        .eventually(
            Duration::from_secs(5),
            "both gateways resubscribe to policy changes",
            || async {
                let reply = group.replica.command(&["PUBSUB", "NUMSUB", &channel]);
                reply.ends_with(":2\r\n")
            },
        )
        .await;
    // And a grant made now is in force at once.
    let bob = stack.sign_up_and_in("bob").await;
    assert_eq!(
        users(&stack, 0, &bob.access_token).await,
        StatusCode::FORBIDDEN
    );
    stack
        .set_roles(bob.user_id, &["traveller", "super_admin"])
        .await;
    assert_eq!(users(&stack, 1, &bob.access_token).await, StatusCode::OK);
}

/// `GET /v1/users`, which only an admin may call.
async fn users(stack: &Stack, gateway: usize, token: &str) -> StatusCode {
    stack
        .call(gateway, Method::GET, "/v1/users", Some(token), None)
        .await
        .0
}
