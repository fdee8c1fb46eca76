//! The API half: code exchange and userinfo, answering errcodes like WeChat.

use std::time::Instant;

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{ACCESS_TOKEN_TTL, CODE_TTL, Mode, State};

#[derive(Deserialize)]
pub struct TokenQuery {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

#[derive(Deserialize)]
pub struct UserInfoQuery {
    access_token: Option<String>,
    openid: Option<String>,
}

fn errcode(code: i64, message: &str) -> Value {
    json!({ "errcode": code, "errmsg": format!("{message}, rid: {}", shared::random::token_hex(4)) })
}

/// Applies the test mode: `Some(answer)` short-circuits the call.
async fn mode_answer(state: &State) -> Option<Value> {
    match state.mode() {
        Mode::Normal => None,
        Mode::Hang => std::future::pending().await,
        Mode::Fail(code) => Some(errcode(code, "system error")),
    }
}

/// WeChat labels these JSON answers `text/plain`; clients must parse them anyway.
fn plain(value: Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain")
        .body(value.to_string())
}

pub async fn access_token(state: web::Data<State>, query: web::Query<TokenQuery>) -> HttpResponse {
    if let Some(answer) = mode_answer(&state).await {
        return plain(answer);
    }
    let settings = &state.settings;
    if query.appid.as_deref() != Some(settings.appid.as_str()) {
        return plain(errcode(40013, "invalid appid"));
    }
    if query.secret.as_deref() != Some(settings.secret.as_str()) {
        return plain(errcode(40125, "invalid appsecret"));
    }
    if query.grant_type.as_deref() != Some("authorization_code") {
        return plain(errcode(40002, "invalid grant_type"));
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return plain(errcode(41008, "missing code"));
    };
    let person = {
        let Ok(mut codes) = state.codes.lock() else {
            return plain(errcode(-1, "system error"));
        };
        match codes.get_mut(code) {
            Some(grant) if grant.issued.elapsed() >= CODE_TTL => None,
            Some(grant) if grant.used => return plain(errcode(40163, "code been used")),
            Some(grant) => {
                grant.used = true;
                Some(grant.person.clone())
            }
            None => None,
        }
    };
    let Some(person) = person else {
        return plain(errcode(40029, "invalid code"));
    };
    let access_token = shared::random::token_hex(24);
    let mut answer = json!({
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_TTL.as_secs(),
        "refresh_token": shared::random::token_hex(24),
        "openid": person.openid,
        "scope": "snsapi_login",
    });
    if let Some(unionid) = &person.unionid {
        answer["unionid"] = json!(unionid);
    }
    if let Ok(mut tokens) = state.tokens.lock() {
        tokens.retain(|_, (_, issued)| issued.elapsed() < ACCESS_TOKEN_TTL);
        tokens.insert(access_token, (person, Instant::now()));
    }
    plain(answer)
}

pub async fn userinfo(state: web::Data<State>, query: web::Query<UserInfoQuery>) -> HttpResponse {
    if let Some(answer) = mode_answer(&state).await {
        return HttpResponse::Ok().json(answer);
    }
    let person = query.access_token.as_deref().and_then(|token| {
        let tokens = state.tokens.lock().ok()?;
        tokens
            .get(token)
            .filter(|(_, issued)| issued.elapsed() < ACCESS_TOKEN_TTL)
            .map(|(person, _)| person.clone())
    });
    let Some(person) = person else {
        return HttpResponse::Ok().json(errcode(
            40001,
            "invalid credential, access_token is invalid or not latest",
        ));
    };
    if query.openid.as_deref() != Some(person.openid.as_str()) {
        return HttpResponse::Ok().json(errcode(40003, "invalid openid"));
    }
    let mut answer = json!({
        "openid": person.openid,
        "nickname": person.nickname,
        "sex": 0,
        "language": "zh_CN",
        "city": "Hangzhou",
        "province": "Zhejiang",
        "country": "CN",
        "headimgurl": format!("https://thirdwx.qlogo.cn/mmopen/fake/{}/132", &person.openid[1..13]),
        "privilege": [],
    });
    if let Some(unionid) = &person.unionid {
        answer["unionid"] = json!(unionid);
    }
    HttpResponse::Ok().json(answer)
}
