//! Which Waypoint user a WeChat person is: found, created on first sign-in, linked to a
//! signed-in account, or unlinked from it.

use shared::db::{self, Db, DbConnection};
use shared::{ApiError, Code};

use super::client::WeChatProfile;
use crate::domain::DisplayName;
use crate::models::{NewUser, NewWeChatIdentity, User, WeChatIdentity, WeChatProfileUpdate};

/// The user a WeChat sign-in is for.
pub struct SignedIn {
    pub user: User,
    pub created: bool,
}

/// Finds the user of this WeChat person, or creates one (no password, no e-mail; the
/// traveller role, as every user without explicit roles). A disabled user is refused.
pub async fn sign_in(db: &Db, profile: WeChatProfile) -> Result<SignedIn, ApiError> {
    let attempt = |profile: WeChatProfile| {
        db.run(move |conn| db::write_transaction(conn, |conn| find_or_create(conn, &profile)))
    };
    match attempt(profile.clone()).await {
        // The same person's first sign-in finished concurrently: it is there now.
        Err(err) if err.code() == Code::AlreadyExists => attempt(profile).await,
        other => other,
    }
}

fn find_or_create(conn: &mut DbConnection, profile: &WeChatProfile) -> Result<SignedIn, ApiError> {
    let now = shared::time::now();
    let found = WeChatIdentity::find(
        conn,
        &profile.appid,
        &profile.openid,
        profile.unionid.as_deref(),
    )?;
    let (user, created) = match found {
        Some(identity) => {
            WeChatIdentity::update(conn, identity.id, &update(profile, Some(now)))?;
            (User::find(conn, identity.user_id)?, false)
        }
        None => {
            let account = free_account_name(conn)?;
            let user = User::insert(
                conn,
                &NewUser {
                    account,
                    name: display_name(&profile.nickname),
                    email: None,
                    password_hash: None,
                    created_at: now,
                    is_disabled: false,
                    password_changed_at: None,
                },
            )?;
            WeChatIdentity::insert(conn, &new_identity(user.id, profile, Some(now)))?;
            (user, true)
        }
    };
    if user.is_disabled {
        return Err(account_disabled());
    }
    User::record_login(conn, user.id, now)?;
    Ok(SignedIn { user, created })
}

/// Links this WeChat person to `user_id`. Linking the same person again is a no-op; a
/// person linked to someone else, or a user linked to another person, is a 409.
pub async fn link(db: &Db, user_id: i64, profile: WeChatProfile) -> Result<(), ApiError> {
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            let user = User::find(conn, user_id).map_err(|_| ApiError::not_found("user"))?;
            if user.is_disabled {
                return Err(account_disabled());
            }
            let found = WeChatIdentity::find(
                conn,
                &profile.appid,
                &profile.openid,
                profile.unionid.as_deref(),
            )?;
            match found {
                Some(identity) if identity.user_id == user_id => {
                    WeChatIdentity::update(conn, identity.id, &update(&profile, None))?;
                    Ok(())
                }
                Some(_) => Err(ApiError::new(
                    Code::WechatAlreadyLinked,
                    "This WeChat account is linked to another Waypoint account.",
                )),
                None if WeChatIdentity::find_by_user(conn, user_id)?.is_some() => {
                    Err(ApiError::new(
                        Code::WechatLinkExists,
                        "Your account is linked to another WeChat account; unlink it first.",
                    ))
                }
                None => {
                    WeChatIdentity::insert(conn, &new_identity(user_id, &profile, None))?;
                    Ok(())
                }
            }
        })
    })
    .await
}

/// Unlinks WeChat from `user_id`, who must keep a way to sign in: a password.
pub async fn unlink(db: &Db, user_id: i64) -> Result<(), ApiError> {
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            let user = User::find(conn, user_id).map_err(|_| ApiError::not_found("user"))?;
            if WeChatIdentity::find_by_user(conn, user_id)?.is_none() {
                return Err(ApiError::not_found("WeChat link"));
            }
            if user.password_hash.is_none() {
                return Err(ApiError::new(
                    Code::PasswordRequired,
                    "This account signs in only with WeChat; it cannot be unlinked.",
                ));
            }
            WeChatIdentity::delete_for_user(conn, user_id)?;
            Ok(())
        })
    })
    .await
}

fn account_disabled() -> ApiError {
    ApiError::new(Code::AccountDisabled, "This account is disabled.")
}

/// `wx_` and 12 random hex digits, retried in the unlikely case it is taken.
fn free_account_name(conn: &mut DbConnection) -> Result<String, ApiError> {
    for _ in 0..5 {
        let account = format!("wx_{}", shared::random::token_hex(6));
        if !User::account_taken(conn, &account)? {
            return Ok(account);
        }
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "no free wx_ account name after 5 tries"
    )))
}

/// The WeChat nickname when it makes a valid display name, else a neutral one.
fn display_name(nickname: &str) -> String {
    DisplayName::parse(nickname)
        .map(DisplayName::into_inner)
        .unwrap_or_else(|_| "WeChat user".to_owned())
}

fn update(profile: &WeChatProfile, at: Option<chrono::NaiveDateTime>) -> WeChatProfileUpdate {
    WeChatProfileUpdate {
        unionid: profile.unionid.clone(),
        nickname: profile.nickname.chars().take(100).collect(),
        avatar_url: profile.avatar_url.clone(),
        last_login_at: at,
    }
}

fn new_identity(
    user_id: i64,
    profile: &WeChatProfile,
    at: Option<chrono::NaiveDateTime>,
) -> NewWeChatIdentity {
    NewWeChatIdentity {
        user_id,
        appid: profile.appid.clone(),
        openid: profile.openid.clone(),
        unionid: profile.unionid.clone(),
        nickname: profile.nickname.chars().take(100).collect(),
        avatar_url: profile.avatar_url.clone(),
        created_at: shared::time::now(),
        last_login_at: at,
    }
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn nicknames_become_names_when_they_are_valid() {
        assert_eq!(display_name(" 旅行的猫 🐱 "), "旅行的猫 🐱");
        assert_eq!(display_name(""), "WeChat user");
        assert_eq!(display_name("a\u{7}b"), "WeChat user");
    }
}
