//! The browser half: the QR page and the "phone" that scans it.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::State;

#[derive(Deserialize)]
pub struct Authorization {
    appid: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
pub struct Confirmation {
    appid: String,
    redirect_uri: String,
    state: String,
    /// Stands in for the WeChat account of the phone that scans.
    user: String,
    nickname: String,
    /// `allow` or `deny`.
    action: String,
}

/// What WeChat checks before showing a QR code; the message it shows otherwise.
fn check(state: &State, appid: &str, redirect_uri: &str) -> Result<(), &'static str> {
    if appid != state.settings.appid {
        return Err("appid 参数错误 (unknown appid)");
    }
    let host = redirect_uri
        .strip_prefix("https://")
        .or_else(|| redirect_uri.strip_prefix("http://"))
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .map(|authority| authority.rsplit_once(':').map_or(authority, |(h, _)| h));
    match (host, &state.settings.callback_host) {
        (None, _) => Err("redirect_uri 参数错误 (not an http(s) URL)"),
        (Some(host), Some(allowed)) if host != allowed => {
            Err("redirect_uri 参数错误 (not the registered callback domain)")
        }
        _ => Ok(()),
    }
}

pub async fn qrconnect(state: web::Data<State>, query: web::Query<Authorization>) -> HttpResponse {
    let appid = query.appid.as_deref().unwrap_or("");
    let redirect_uri = query.redirect_uri.as_deref().unwrap_or("");
    let problem = check(&state, appid, redirect_uri).err().or_else(|| {
        let scope_ok = query
            .scope
            .as_deref()
            .is_some_and(|s| s.split(',').any(|s| s == "snsapi_login"));
        if query.response_type.as_deref() != Some("code") {
            Some("response_type 参数错误 (must be code)")
        } else if !scope_ok {
            Some("scope 参数错误 (must be snsapi_login)")
        } else {
            None
        }
    });
    if let Some(problem) = problem {
        return page(400, &format!("<p class=\"error\">{}</p>", escape(problem)));
    }
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    };
    let form = format!(
        "<p>Scan with WeChat to sign in. This fake stands in for the phone: type who is \
         scanning, then allow or deny.</p>\
         <div class=\"qr\">QR</div>\
         <form method=\"post\" action=\"/connect/confirm\">{}{}{}\
         <label>WeChat user <input name=\"user\" value=\"traveller\" required></label>\
         <label>Nickname <input name=\"nickname\" value=\"旅行者\"></label>\
         <button name=\"action\" value=\"allow\">Scan and allow</button>\
         <button name=\"action\" value=\"deny\">Deny</button></form>",
        hidden("appid", appid),
        hidden("redirect_uri", redirect_uri),
        hidden("state", query.state.as_deref().unwrap_or("")),
    );
    page(200, &form)
}

pub async fn confirm(state: web::Data<State>, form: web::Form<Confirmation>) -> HttpResponse {
    if let Err(problem) = check(&state, &form.appid, &form.redirect_uri) {
        return page(400, &format!("<p class=\"error\">{}</p>", escape(problem)));
    }
    let mut params = Vec::new();
    if form.action == "allow" {
        let user = form.user.trim();
        let user = if user.is_empty() { "traveller" } else { user };
        let person = state.person(user, form.nickname.trim());
        params.push(("code", state.issue_code(person)));
    }
    params.push(("state", form.state.clone()));
    let query = serde_urlencoded::to_string(&params).unwrap_or_default();
    let separator = if form.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    HttpResponse::Found()
        .insert_header((
            header::LOCATION,
            format!("{}{separator}{query}", form.redirect_uri),
        ))
        .finish()
}

fn page(status: u16, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>WeChat sign-in (fake)</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto}}\
         .qr{{width:10rem;height:10rem;border:.5rem solid #07c160;display:grid;place-items:center;margin:1rem 0}}\
         label{{display:block;margin:.5rem 0}}.error{{color:#b00}}</style>\
         <body><h1>WeChat (fake)</h1>{body}</body></html>"
    );
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .content_type("text/html; charset=utf-8")
    .body(html)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
