//! The browser binding: an HttpOnly cookie holding a random value whose SHA-256 is stored
//! with each `state`, so a callback counts only in the browser that started the flow (a
//! stolen or planted callback URL is useless elsewhere: login CSRF).
//!
//! A browser keeps its binding while it lasts, so two sign-ins started in two tabs both
//! finish. The cookie is scoped to the WeChat routes, `SameSite=Lax` (sent on WeChat's
//! top-level redirect back, not on cross-site subrequests) and `Secure` when the public
//! callback URL is HTTPS.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::state::STATE_TTL;

pub const COOKIE_NAME: &str = "wp_wechat";
pub const COOKIE_PATH: &str = "/v1/auth/oauth/wechat";

/// The binding value of this browser.
pub struct Binding(String);

impl Binding {
    /// The browser's binding from its cookie, when it holds a well-formed one.
    pub fn from_request(req: &HttpRequest) -> Option<Self> {
        let cookie = req.cookie(COOKIE_NAME)?;
        let value = cookie.value();
        let well_formed = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
        well_formed.then(|| Self(value.to_owned()))
    }

    /// The browser's binding, or a new one.
    pub fn for_request(req: &HttpRequest) -> Self {
        Self::from_request(req).unwrap_or_else(|| Self(shared::random::token_hex(32)))
    }

    /// What is stored with a state: a hash, so Redis never holds the cookie itself.
    pub fn fingerprint(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether `fingerprint` is this binding's, in constant time.
    pub fn matches(&self, fingerprint: &str) -> bool {
        self.fingerprint()
            .as_bytes()
            .ct_eq(fingerprint.as_bytes())
            .into()
    }

    /// The `Set-Cookie` that (re)sets the binding for as long as a state lives.
    pub fn cookie(&self, secure: bool) -> Cookie<'static> {
        Cookie::build(COOKIE_NAME, self.0.clone())
            .path(COOKIE_PATH)
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure)
            .max_age(time::Duration::seconds(STATE_TTL.as_secs() as i64))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bindings_match_only_their_own_fingerprint() {
        let a = Binding(shared::random::token_hex(32));
        let b = Binding(shared::random::token_hex(32));
        assert!(a.matches(&a.fingerprint()));
        assert!(!a.matches(&b.fingerprint()));
        assert!(!a.matches(""));
    }

    #[test]
    fn malformed_cookies_are_replaced_and_good_ones_kept() {
        let good = shared::random::token_hex(32);
        let req = TestRequest::default()
            .cookie(Cookie::new(COOKIE_NAME, good.clone()))
            .to_http_request();
        assert_eq!(Binding::for_request(&req).0, good);
        let req = TestRequest::default()
            .cookie(Cookie::new(COOKIE_NAME, "short"))
            .to_http_request();
        assert!(Binding::from_request(&req).is_none());
        assert_eq!(Binding::for_request(&req).0.len(), 64);
    }

    #[test]
    fn the_cookie_is_http_only_lax_scoped_and_secure_on_https() {
        let cookie = Binding(shared::random::token_hex(32)).cookie(true);
        let text = cookie.to_string();
        for part in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/v1/auth/oauth/wechat",
            "Max-Age=600",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(
            !Binding(shared::random::token_hex(32))
                .cookie(false)
                .to_string()
                .contains("Secure")
        );
    }
}
