//! The session record has one owner (`shared::session`) and three readers: auth-service
//! (which writes it and lists it), the gateway (which checks and slides it on every
//! request) and chat-service (which checks and slides it for open sockets). These tests
//! drive all three on the same records and fail if any of them disagrees with the others
//! about whether a session is live, whose it is, or when it expires.

use std::time::Duration;

use auth_service::config::SessionSettings;
use auth_service::sessions::SessionStore;
use chat_service::sessions::{SessionCheck as ChatCheck, SessionProbe};
use gateway::auth::Caller;
use gateway::auth::cache::SessionCache;
use gateway::auth::session::{Edge, SessionCheck as GatewayCheck};
use shared::redis::Redis;
use shared::session::{self, field};
use shared::testing::{RedisServer, unique_prefix};

struct Readers {
    redis: Redis,
    auth: SessionStore,
    gateway: GatewayCheck,
    chat: ChatCheck,
}

impl Readers {
    fn new(idle: Duration, absolute: Duration) -> Self {
        let settings = RedisServer::shared().settings_with_prefix(&unique_prefix());
        let redis = Redis::connect(&settings).expect("redis settings are valid");
        let auth = SessionStore::new(
            redis.clone(),
            &SessionSettings {
                idle_timeout: idle,
                absolute_lifetime: absolute,
                refresh_grace: Duration::from_secs(30),
            },
        );
        Self {
            // The in-memory view is never current here (no listener): every check reads the
            // record, which is what these tests compare.
            gateway: GatewayCheck::new(
                redis.clone(),
                SessionCache::new(Default::default(), None),
                None,
            ),
            chat: ChatCheck::new(redis.clone()),
            auth,
            redis,
        }
    }

    async fn sign_in(&self, user_id: i64) -> String {
        let (sid, _refresh) = self
            .auth
            .create(user_id, "tests", "127.0.0.1")
            .await
            .unwrap();
        sid
    }

    /// What each reader says about `sid` for `user_id`, sliding it as each would:
    /// (gateway, chat socket, auth's session list).
    async fn verdicts(&self, sid: &str, user_id: i64) -> (bool, bool, bool) {
        let caller = Caller {
            user_id,
            session_id: sid.to_owned(),
        };
        let gateway = matches!(
            self.gateway
                .signed_in(&caller, &[], &[], shared::time::now_millis())
                .await
                .unwrap(),
            Edge::Live(_)
        );
        let probe = SessionProbe {
            session_id: sid.to_owned(),
            user_id,
            slide: true,
        };
        let chat = self.chat.check_all(&[probe]).await.unwrap()[0];
        let listed = self
            .auth
            .list(user_id, sid)
            .await
            .unwrap()
            .iter()
            .any(|view| view.id == sid);
        (gateway, chat, listed)
    }

    async fn hset(&self, sid: &str, name: &str, value: i64) {
        let _: () = self
            .redis
            .query(
                redis::cmd("HSET")
                    .arg(self.redis.key(session::key(sid)))
                    .arg(name)
                    .arg(value),
            )
            .await
            .unwrap();
    }

    async fn pttl(&self, sid: &str) -> i64 {
        self.redis
            .query(redis::cmd("PTTL").arg(self.redis.key(session::key(sid))))
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn every_reader_agrees_a_fresh_session_is_live_and_only_for_its_user() {
    let readers = Readers::new(Duration::from_secs(60), Duration::from_secs(3600));
    let sid = readers.sign_in(7).await;

    assert_eq!(readers.verdicts(&sid, 7).await, (true, true, true));
    assert_eq!(readers.verdicts(&sid, 8).await, (false, false, false));
    // Another user's probe must not have ended or changed it.
    assert_eq!(readers.verdicts(&sid, 7).await, (true, true, true));
}

#[tokio::test]
async fn every_reader_slides_the_idle_timeout_by_the_same_rule() {
    let idle = Duration::from_secs(60);
    let readers = Readers::new(idle, Duration::from_secs(3600));
    let sid = readers.sign_in(7).await;

    // Age the session: its key now has 5 s left.
    let _: () = readers
        .redis
        .query(
            redis::cmd("PEXPIRE")
                .arg(readers.redis.key(session::key(&sid)))
                .arg(5_000),
        )
        .await
        .unwrap();
    let caller = Caller {
        user_id: 7,
        session_id: sid.clone(),
    };
    readers
        .gateway
        .signed_in(&caller, &[], &[], shared::time::now_millis())
        .await
        .unwrap();
    let after_gateway = readers.pttl(&sid).await;
    assert!(
        after_gateway > 50_000,
        "the gateway slid it to {after_gateway} ms"
    );

    readers.hset(&sid, field::IDLE_MS, 20_000).await;
    let probe = SessionProbe {
        session_id: sid.clone(),
        user_id: 7,
        slide: true,
    };
    assert!(readers.chat.check_all(&[probe]).await.unwrap()[0]);
    let after_chat = readers.pttl(&sid).await;
    assert!(
        (15_000..=20_000).contains(&after_chat),
        "chat slid it by the idle timeout in the record: {after_chat} ms"
    );

    let listed = readers.auth.list(7, &sid).await.unwrap();
    let seen = chrono::DateTime::parse_from_rfc3339(&listed[0].last_seen_at).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(&listed[0].expires_at).unwrap();
    assert_eq!(
        (expires - seen).num_seconds(),
        20,
        "auth lists the expiry the slide set"
    );
}

#[tokio::test]
async fn no_reader_slides_a_session_past_its_absolute_expiry() {
    let readers = Readers::new(Duration::from_secs(60), Duration::from_secs(3600));
    let sid = readers.sign_in(7).await;
    let now = shared::time::now_millis();

    // 3 s of absolute lifetime left: sliding must cap the key's life there, not at 60 s.
    readers
        .hset(&sid, field::ABSOLUTE_EXPIRY_MS, now + 3_000)
        .await;
    assert_eq!(readers.verdicts(&sid, 7).await, (true, true, true));
    let left = readers.pttl(&sid).await;
    assert!(
        (0..=3_000).contains(&left),
        "capped at the absolute expiry: {left} ms"
    );

    // Past it: the first reader to look ends it, and every reader agrees it is gone.
    readers.hset(&sid, field::ABSOLUTE_EXPIRY_MS, now - 1).await;
    assert_eq!(readers.verdicts(&sid, 7).await, (false, false, false));
    assert_eq!(readers.pttl(&sid).await, -2, "the record is deleted");
}

#[tokio::test]
async fn every_reader_sees_a_logout_at_once() {
    let readers = Readers::new(Duration::from_secs(60), Duration::from_secs(3600));
    let sid = readers.sign_in(7).await;
    let other = readers.sign_in(7).await;

    assert!(readers.auth.end(7, &sid).await.unwrap());
    assert_eq!(readers.verdicts(&sid, 7).await, (false, false, false));
    assert_eq!(readers.verdicts(&other, 7).await, (true, true, true));

    assert_eq!(readers.auth.end_all(7, None).await.unwrap(), 1);
    assert_eq!(readers.verdicts(&other, 7).await, (false, false, false));
}
