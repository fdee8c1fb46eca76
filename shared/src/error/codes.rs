//! The one table of error codes: every `code` a Waypoint response (or chat frame) can carry,
//! the status it comes with and what it means. Clients branch on these strings, so a code
//! is never renamed; the README's list and the OpenAPI `code` enum are generated from here.
//!
//! Naming: the variant is the code in UpperCamelCase, one capital per snake_case word
//! (`wechat_code_used` is `Code::WechatCodeUsed`); a test holds every row to it.

use super::ErrorKind;

/// Declares [`Code`] from rows of `Variant = "code", ErrorKind, "meaning";`.
macro_rules! make_error_codes {
    ($($variant:ident = $code:literal, $kind:ident, $meaning:literal;)*) => {
        /// A stable error code; its [`ErrorKind`] fixes the HTTP status.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The snake_case string of the JSON body.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            pub const fn kind(self) -> ErrorKind {
                match self {
                    $(Code::$variant => ErrorKind::$kind,)*
                }
            }

            /// One line for the docs: when a client gets this code.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

make_error_codes! {
    // 400
    BadRequest = "bad_request", BadRequest, "The request is malformed (nginx, or nothing more specific applies).";
    BodyReadFailed = "body_read_failed", BadRequest, "The gateway could not read the request body.";
    ConflictingParameters = "conflicting_parameters", BadRequest, "A list was given both limit/offset and page/per_page.";
    DuplicateParameter = "duplicate_parameter", BadRequest, "A query parameter is given more than once (`details.parameter`).";
    InvalidFrame = "invalid_frame", BadRequest, "A chat frame is not valid JSON or not a known frame (chat socket).";
    InvalidIdempotencyKey = "invalid_idempotency_key", BadRequest, "The Idempotency-Key header is repeated, empty, too long or not printable ASCII.";
    InvalidMethod = "invalid_method", BadRequest, "The gateway cannot forward this HTTP method.";
    InvalidParameter = "invalid_parameter", BadRequest, "A query parameter's value is not valid (`details.parameter`).";
    InvalidPath = "invalid_path", BadRequest, "The path holds encoded slashes, double encoding or control characters.";
    InvalidQuery = "invalid_query", BadRequest, "The query string cannot be parsed.";
    InvalidReturnTo = "invalid_return_to", BadRequest, "WeChat sign-in's return_to is not a safe path on this site.";
    InvalidSignature = "invalid_signature", BadRequest, "Alipay return parameters whose signature does not verify.";
    MalformedBody = "malformed_body", BadRequest, "The request body could not be read.";
    MalformedForm = "malformed_form", BadRequest, "The form body is not valid application/x-www-form-urlencoded.";
    MalformedJson = "malformed_json", BadRequest, "The body is not valid JSON.";
    NoClientAddress = "no_client_address", BadRequest, "The gateway did not say which address the request came from.";
    TooManyIds = "too_many_ids", BadRequest, "An internal user lookup asked for more than 500 ids.";
    UnknownParameter = "unknown_parameter", BadRequest, "A query parameter this list does not filter on (`details.parameter`).";
    WebsocketRequired = "websocket_required", BadRequest, "The chat socket was requested without a WebSocket upgrade.";
    WechatStateInvalid = "wechat_state_invalid", BadRequest, "The WeChat sign-in expired or was already used.";
    WechatStateMismatch = "wechat_state_mismatch", BadRequest, "The WeChat sign-in was started in another browser.";
    WechatStateMissing = "wechat_state_missing", BadRequest, "WeChat's callback came without a state.";
    // 401
    Unauthorized = "unauthorized", Unauthorized, "Authentication is required.";
    InternalTokenRequired = "internal_token_required", Unauthorized, "A service was called without the internal token.";
    InvalidCredentials = "invalid_credentials", Unauthorized, "Wrong account or password.";
    InvalidExchangeCode = "invalid_exchange_code", Unauthorized, "The WeChat sign-in code is unknown, used or expired.";
    InvalidRefreshToken = "invalid_refresh_token", Unauthorized, "No refresh token, or an invalid or expired one.";
    InvalidTicket = "invalid_ticket", Unauthorized, "The chat ticket is unknown, expired or already used.";
    InvalidToken = "invalid_token", Unauthorized, "The access token is malformed or its signature does not verify.";
    MissingTicket = "missing_ticket", Unauthorized, "The chat socket was opened without ?ticket=.";
    MissingToken = "missing_token", Unauthorized, "A protected route was called without Authorization: Bearer.";
    RefreshTokenReused = "refresh_token_reused", Unauthorized, "A used refresh token came back; its session is ended.";
    SessionEnded = "session_ended", Unauthorized, "The token's session ended (logout, expiry, disabled user).";
    TokenExpired = "token_expired", Unauthorized, "The access token has expired; refresh it.";
    Unauthenticated = "unauthenticated", Unauthorized, "A service route needs a caller the gateway vouches for.";
    WechatCodeInvalid = "wechat_code_invalid", Unauthorized, "WeChat did not accept the sign-in code (errcode 40029).";
    WechatCodeUsed = "wechat_code_used", Unauthorized, "WeChat's sign-in code was already used (errcode 40163).";
    // 403
    Forbidden = "forbidden", Forbidden, "The caller's roles do not allow this.";
    AccountDisabled = "account_disabled", Forbidden, "The account is disabled.";
    InternalOnly = "internal_only", Forbidden, "The endpoint is for Waypoint's own services.";
    NotOrderOwner = "not_order_owner", Forbidden, "Only the traveller who placed the order can do this.";
    OriginNotAllowed = "origin_not_allowed", Forbidden, "This origin may not open the chat socket.";
    WechatAccessDenied = "wechat_access_denied", Forbidden, "The user declined the sign-in in WeChat.";
    // 404
    NotFound = "not_found", NotFound, "No such record.";
    DocsNotInstalled = "docs_not_installed", NotFound, "The /docs assets are not installed (npm ci in docs/).";
    RouteNotFound = "route_not_found", NotFound, "No route for this path (and method).";
    UnknownTrade = "unknown_trade", NotFound, "No order has this Alipay trade.";
    // 405, 406, 408, 410, 411, 413, 414, 415
    MethodNotAllowed = "method_not_allowed", MethodNotAllowed, "The method is not allowed on this route.";
    NotAcceptable = "not_acceptable", NotAcceptable, "The Accept header rules out application/json.";
    RequestTimeout = "request_timeout", RequestTimeout, "nginx did not receive the request in time.";
    Gone = "gone", Gone, "The resource is gone.";
    LengthRequired = "length_required", LengthRequired, "nginx needs a Content-Length.";
    PayloadTooLarge = "payload_too_large", PayloadTooLarge, "The request body is too large.";
    UriTooLong = "uri_too_long", UriTooLong, "The request line is above 8 KiB.";
    UnsupportedMediaType = "unsupported_media_type", UnsupportedMediaType, "The body's content type is not the one this route reads.";
    UnsupportedFrame = "unsupported_frame", UnsupportedMediaType, "A binary chat frame; send JSON text frames (chat socket).";
    // 409
    Conflict = "conflict", Conflict, "The request conflicts with the current state.";
    AccountTaken = "account_taken", Conflict, "The account name is taken (`details.field`).";
    AlreadyExists = "already_exists", Conflict, "A record with these values already exists.";
    AlreadyGranted = "already_granted", Conflict, "The role (or user) already holds it.";
    AmountMismatch = "amount_mismatch", Conflict, "Alipay's amount does not match the order.";
    BuiltInGrant = "built_in_grant", Conflict, "super_admin's admin-API grants cannot be revoked.";
    BuiltInPermission = "built_in_permission", Conflict, "A built-in permission cannot be deleted.";
    BuiltInResource = "built_in_resource", Conflict, "A built-in resource cannot be deleted, renamed, repointed or made public.";
    BuiltInRole = "built_in_role", Conflict, "A built-in role cannot be deleted or renamed.";
    EmailTaken = "email_taken", Conflict, "The e-mail address is already registered (`details.field`).";
    LastSuperAdmin = "last_super_admin", Conflict, "The last super_admin cannot lose the role.";
    NameTaken = "name_taken", Conflict, "Another role or resource has this name (`details.field`).";
    NothingToRefund = "nothing_to_refund", Conflict, "Everything paid is refunded or being refunded.";
    OrderExpired = "order_expired", Conflict, "The order's payment time is over.";
    OrderNotPending = "order_not_pending", Conflict, "The order is not awaiting payment (`details.status`).";
    OrderNotRefundable = "order_not_refundable", Conflict, "Only a paid order can be refunded.";
    OutRequestNoReused = "out_request_no_reused", Conflict, "The out_request_no belongs to another refund.";
    PasswordRequired = "password_required", Conflict, "A WeChat-only account cannot unlink WeChat.";
    PermissionExists = "permission_exists", Conflict, "The resource already has a permission for this method.";
    ReferenceConflict = "reference_conflict", Conflict, "A signal's reference was recorded for another user or trip.";
    RefundFailed = "refund_failed", Conflict, "This refund failed; retry with a new out_request_no.";
    RefundRefused = "refund_refused", Conflict, "Alipay refused the refund.";
    RouteTaken = "route_taken", Conflict, "Another resource already covers this route.";
    StillReferenced = "still_referenced", Conflict, "Another record still refers to this one.";
    TripNotOnSale = "trip_not_on_sale", Conflict, "The trip is not on sale.";
    WechatAlreadyLinked = "wechat_already_linked", Conflict, "The WeChat account is linked to another Waypoint account.";
    WechatLinkExists = "wechat_link_exists", Conflict, "The account is linked to another WeChat account.";
    // 422
    ValidationFailed = "validation_failed", Validation, "Invalid fields; `details.fields.<name>` says why for each.";
    IdempotencyKeyReused = "idempotency_key_reused", Validation, "The Idempotency-Key was used for another order request.";
    // 429, 431
    Throttled = "throttled", TooManyRequests, "Rate limited; retry after Retry-After seconds.";
    LoginThrottled = "login_throttled", TooManyRequests, "Too many failed sign-ins for this account or address.";
    RateLimited = "rate_limited", TooManyRequests, "Too many chat frames; slow down (chat socket).";
    TooManyConnections = "too_many_connections", TooManyRequests, "Too many chat sockets open for this user.";
    HeadersTooLarge = "headers_too_large", HeadersTooLarge, "A request header line is above 8 KiB.";
    // 500, 501
    InternalError = "internal_error", Internal, "An unexpected failure; the cause is logged, never shown.";
    NotImplemented = "not_implemented", NotImplemented, "Not implemented.";
    WechatNotConfigured = "wechat_not_configured", NotImplemented, "Sign-in with WeChat is not enabled on this server.";
    // 502
    BadGateway = "bad_gateway", BadGateway, "An upstream service answered badly.";
    WechatBadResponse = "wechat_bad_response", BadGateway, "WeChat answered in an unexpected way.";
    WechatError = "wechat_error", BadGateway, "WeChat refused the request (any other errcode).";
    WechatUnavailable = "wechat_unavailable", BadGateway, "WeChat cannot be reached.";
    // 503: each carries Retry-After
    ServiceUnavailable = "service_unavailable", ServiceUnavailable, "A dependency is unavailable; retry later.";
    AlipayNotConfigured = "alipay_not_configured", ServiceUnavailable, "Payments are not configured on this server.";
    AlipayUnavailable = "alipay_unavailable", ServiceUnavailable, "Alipay cannot be reached.";
    AuthServiceUnavailable = "auth_service_unavailable", ServiceUnavailable, "rbac-service cannot check user accounts.";
    CacheUnavailable = "cache_unavailable", ServiceUnavailable, "The trip cache cannot be updated; nothing was changed.";
    ChatUnavailable = "chat_unavailable", ServiceUnavailable, "Live chat is unavailable or shutting down.";
    DatabaseBusy = "database_busy", ServiceUnavailable, "The database is busy.";
    DatabaseUnavailable = "database_unavailable", ServiceUnavailable, "The database is unavailable.";
    DirectoryUnavailable = "directory_unavailable", ServiceUnavailable, "The list of experts cannot be read.";
    KeysUnavailable = "keys_unavailable", ServiceUnavailable, "The gateway has not loaded the signing keys yet.";
    PolicyUnavailable = "policy_unavailable", ServiceUnavailable, "The gateway has no permission policy yet.";
    RecommendUnavailable = "recommend_unavailable", ServiceUnavailable, "payment-service cannot read the trip catalogue.";
    RedisUnavailable = "redis_unavailable", ServiceUnavailable, "Redis is unavailable.";
    RolesUnavailable = "roles_unavailable", ServiceUnavailable, "The gateway cannot read the caller's roles.";
    SessionStoreUnavailable = "session_store_unavailable", ServiceUnavailable, "The gateway cannot check sessions (Redis).";
    TripBusy = "trip_busy", ServiceUnavailable, "Other writers kept changing the trip; nothing was changed.";
    UpstreamUnavailable = "upstream_unavailable", ServiceUnavailable, "No replica of the service behind the route can be reached.";
    // 504
    GatewayTimeout = "gateway_timeout", GatewayTimeout, "An upstream service did not answer in time.";
    UpstreamTimeout = "upstream_timeout", GatewayTimeout, "The service behind the route did not answer in time.";
    WechatTimeout = "wechat_timeout", GatewayTimeout, "WeChat did not answer in time.";
}

impl Code {
    /// The code spelled `code`, if the table has it.
    pub fn parse(code: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The README's error-code table, one row per code.
    pub fn markdown_table() -> String {
        let mut table = String::from("| code | status | meaning |\n|---|---|---|\n");
        for code in Code::ALL {
            let status = code.kind().status().as_u16();
            table += &format!("| `{}` | {status} | {} |\n", code.as_str(), code.meaning());
        }
        table
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The OpenAPI schema: a string enum of every code, each with its status and meaning.
impl utoipa::PartialSchema for Code {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let listed: String = Code::ALL
            .iter()
            .map(|c| {
                let status = c.kind().status().as_u16();
                format!("\n- `{}` ({status}): {}", c.as_str(), c.meaning())
            })
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(format!(
                "Stable snake_case error code; clients may branch on it.{listed}"
            )))
            .enum_values(Some(Code::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for Code {
    fn name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn workspace_file(path: &str) -> String {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        std::fs::read_to_string(format!("{root}/{path}"))
            .unwrap_or_else(|err| panic!("reading {path}: {err}"))
    }

    /// The text after the first `start` up to the next `end`.
    fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        text.split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(inner, _)| inner)
            .unwrap_or_else(|| panic!("no {start:?} … {end:?} where this test looks"))
    }

    #[test]
    fn codes_are_unique_and_named_after_their_variant() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} is listed twice");
            let camel: String = code
                .as_str()
                .split('_')
                .map(|word| word[..1].to_uppercase() + &word[1..])
                .collect();
            assert_eq!(format!("{code:?}"), camel, "the variant of {code}");
            assert_eq!(Code::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn every_code_nginx_answers_is_in_the_table_with_its_status() {
        let template = workspace_file("nginx/waypoint.conf.template");
        let map = between(&template, "map $status $waypoint_error {", "}");
        let mut checked = 0;
        for line in map.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (status, body) = line.split_once(char::is_whitespace).unwrap_or_default();
            let spelled = body.trim().trim_start_matches("'\"");
            let spelled = &spelled[..spelled.find('"').unwrap_or(0)];
            let code = Code::parse(spelled)
                .unwrap_or_else(|| panic!("nginx answers {spelled:?}, which the table lacks"));
            let status = if status == "default" { "500" } else { status };
            assert_eq!(
                code.kind().status().as_str(),
                status,
                "nginx's status of {code}"
            );
            checked += 1;
        }
        assert!(checked >= 10, "only {checked} nginx codes found");
    }

    #[test]
    fn the_readme_lists_exactly_the_table() {
        let readme = workspace_file("README.md");
        let listed = between(
            &readme,
            "<!-- error-codes:start -->\n",
            "<!-- error-codes:end -->",
        );
        let expected = Code::markdown_table();
        assert!(
            listed == expected,
            "README.md's error codes differ from shared/src/error/codes.rs; paste this \
             between the markers:\n{expected}"
        );
    }
}
