//! The one error type of every service, rendered as DESIGN's JSON error body.
//!
//! Policy: every [`Code`] is a row of one table ([`codes`]) that fixes its [`ErrorKind`],
//! hence the HTTP status; the code is a stable snake_case name clients may branch on; the
//! `message` is for people. Expected errors (validation,
//! conflicts, missing records) carry their own code and message. Unexpected errors keep
//! their cause for the log and show the client only a fixed message, so SQL, paths and
//! stack traces never leak.

use std::borrow::Cow;
use std::fmt;
use std::panic::Location;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Map, Value, json};

mod codes;
pub use codes::Code;

/// What went wrong, which decides the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    NotAcceptable,
    RequestTimeout,
    Conflict,
    Gone,
    LengthRequired,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    Validation,
    TooManyRequests,
    HeadersTooLarge,
    Internal,
    NotImplemented,
    BadGateway,
    ServiceUnavailable,
    GatewayTimeout,
}

impl ErrorKind {
    pub const fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Gone => StatusCode::GONE,
            Self::LengthRequired => StatusCode::LENGTH_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The code used when the error carries no more specific one.
    pub const fn default_code(self) -> Code {
        match self {
            Self::BadRequest => Code::BadRequest,
            Self::Unauthorized => Code::Unauthorized,
            Self::Forbidden => Code::Forbidden,
            Self::NotFound => Code::NotFound,
            Self::MethodNotAllowed => Code::MethodNotAllowed,
            Self::NotAcceptable => Code::NotAcceptable,
            Self::RequestTimeout => Code::RequestTimeout,
            Self::Conflict => Code::Conflict,
            Self::Gone => Code::Gone,
            Self::LengthRequired => Code::LengthRequired,
            Self::PayloadTooLarge => Code::PayloadTooLarge,
            Self::UriTooLong => Code::UriTooLong,
            Self::UnsupportedMediaType => Code::UnsupportedMediaType,
            Self::Validation => Code::ValidationFailed,
            Self::TooManyRequests => Code::Throttled,
            Self::HeadersTooLarge => Code::HeadersTooLarge,
            Self::Internal => Code::InternalError,
            Self::NotImplemented => Code::NotImplemented,
            Self::BadGateway => Code::BadGateway,
            Self::ServiceUnavailable => Code::ServiceUnavailable,
            Self::GatewayTimeout => Code::GatewayTimeout,
        }
    }

    /// The kind for a status code another component produced (actix, an upstream).
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            406 => Self::NotAcceptable,
            408 => Self::RequestTimeout,
            409 => Self::Conflict,
            410 => Self::Gone,
            411 => Self::LengthRequired,
            413 => Self::PayloadTooLarge,
            414 => Self::UriTooLong,
            415 => Self::UnsupportedMediaType,
            422 => Self::Validation,
            429 => Self::TooManyRequests,
            431 => Self::HeadersTooLarge,
            501 => Self::NotImplemented,
            502 => Self::BadGateway,
            503 => Self::ServiceUnavailable,
            504 => Self::GatewayTimeout,
            400..=499 => Self::BadRequest,
            _ => Self::Internal,
        }
    }

    fn default_message(self) -> &'static str {
        match self {
            Self::BadRequest => "The request is malformed.",
            Self::Unauthorized => "Authentication is required.",
            Self::Forbidden => "You are not allowed to do this.",
            Self::NotFound => "No such resource.",
            Self::MethodNotAllowed => "This method is not allowed on this resource.",
            Self::NotAcceptable => {
                "No acceptable representation; this API serves application/json."
            }
            Self::RequestTimeout => "The request was not received in time.",
            Self::Conflict => "The request conflicts with the current state.",
            Self::Gone => "The resource is gone.",
            Self::LengthRequired => "The request needs a Content-Length.",
            Self::PayloadTooLarge => "The request body is too large.",
            Self::UriTooLong => "The request URI is too long.",
            Self::UnsupportedMediaType => "Unsupported content type.",
            Self::Validation => "The request has invalid fields.",
            Self::TooManyRequests => "Too many requests; retry later.",
            Self::HeadersTooLarge => "A request header (or all of them) is too large.",
            Self::Internal => "Internal Server Error",
            Self::NotImplemented => "Not implemented.",
            Self::BadGateway => "An upstream service answered badly.",
            Self::ServiceUnavailable => "A dependency is unavailable; retry later.",
            Self::GatewayTimeout => "An upstream service did not answer in time.",
        }
    }
}

/// An error on its way to becoming a JSON response.
pub struct ApiError {
    code: Code,
    message: Cow<'static, str>,
    details: Option<Value>,
    retry_after: Option<u64>,
    source: Option<anyhow::Error>,
    location: &'static Location<'static>,
}

impl ApiError {
    /// An error with `code`, whose row in the table fixes the status. Every 503 tells the
    /// client to retry after a second unless [`Self::with_retry_after`] says otherwise.
    #[track_caller]
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        let retry_after = (code.kind() == ErrorKind::ServiceUnavailable).then_some(1);
        Self {
            code,
            message: message.into(),
            details: None,
            retry_after,
            source: None,
            location: Location::caller(),
        }
    }

    /// An error of `kind` with its default code and message.
    #[track_caller]
    pub fn from_kind(kind: ErrorKind) -> Self {
        Self::new(kind.default_code(), kind.default_message())
    }

    /// `what` names the kind of record, as in "user not found".
    #[track_caller]
    pub fn not_found(what: &str) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    /// A 422 naming the field at fault.
    #[track_caller]
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::validation_fields([(field.to_owned(), message.into())])
    }

    /// A 422 naming every field at fault: `details.fields.<field>` holds its message.
    #[track_caller]
    pub fn validation_fields(fields: impl IntoIterator<Item = (String, String)>) -> Self {
        let fields: Map<String, Value> = fields
            .into_iter()
            .map(|(field, message)| (field, Value::String(message)))
            .collect();
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        let message = format!("Invalid value for: {}.", names.join(", "));
        Self::new(Code::ValidationFailed, message).with_details(json!({ "fields": fields }))
    }

    #[track_caller]
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::from_kind(ErrorKind::TooManyRequests).with_retry_after(retry_after_secs)
    }

    /// An unexpected failure: logged with its cause chain, shown as a fixed message.
    #[track_caller]
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self::from_kind(ErrorKind::Internal).with_source(source)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs.max(1));
        self
    }

    /// Keeps `source` for the log; it never reaches the client.
    pub fn with_source(mut self, source: impl Into<anyhow::Error>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.code.kind()
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn details(&self) -> Option<&Value> {
        self.details.as_ref()
    }

    /// The JSON body: `{"error": {"code", "message", "details"}}`.
    pub fn body(&self) -> Value {
        json!({
            "error": {
                "code": self.code.as_str(),
                "message": self.message,
                "details": self.details.clone().unwrap_or_else(|| json!({})),
            }
        })
    }

    /// The headers every rendering of this error carries beside its JSON body (actix's
    /// `error_response` here, the gateway's own server there): how to sign in after a
    /// 401, when to retry a 429 or 503, and never to cache it.
    pub fn response_headers(&self) -> [Option<(&'static str, Cow<'static, str>)>; 3] {
        [
            (self.kind() == ErrorKind::Unauthorized).then_some((
                "www-authenticate",
                Cow::Borrowed("Bearer realm=\"waypoint\""),
            )),
            self.retry_after
                .map(|secs| ("retry-after", Cow::Owned(secs.to_string()))),
            Some(("cache-control", Cow::Borrowed("no-store"))),
        ]
    }

    /// The JSON body as sent, once the error is logged (a server error with its cause).
    pub fn rendered_body(&self) -> Vec<u8> {
        self.log();
        serde_json::to_vec(&self.body()).unwrap_or_default()
    }

    fn log(&self) {
        let at = self.location;
        match (self.kind(), &self.source) {
            (ErrorKind::Internal, _) => {
                tracing::error!(code = %self.code, at = %at, cause = ?self.source, "internal error")
            }
            (_, Some(source)) if self.kind().status().is_server_error() => {
                tracing::warn!(code = %self.code, at = %at, cause = ?source, "request failed")
            }
            _ => {}
        }
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {} (at {})",
            self.kind().status().as_u16(),
            self.code,
            self.message,
            self.location
        )?;
        if let Some(source) = &self.source {
            write!(f, "\ncaused by: {source:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        for (name, value) in self.response_headers().into_iter().flatten() {
            response.insert_header((name, value.as_ref()));
        }
        response.content_type("application/json");
        let mut response = response.body(self.rendered_body());
        // For whoever counts refusals by reason (the gateway's decisions).
        response.extensions_mut().insert(self.code());
        response
    }
}

impl From<anyhow::Error> for ApiError {
    #[track_caller]
    fn from(err: anyhow::Error) -> Self {
        Self::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::http::header;

    fn rendered(err: &ApiError) -> (StatusCode, Value, actix_web::http::header::HeaderMap) {
        let response = err.error_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().try_into_bytes().unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), headers)
    }

    #[test]
    fn validation_errors_name_their_fields() {
        let (status, body, _) =
            rendered(&ApiError::validation("email", "must be an email address"));
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(
            body["error"]["details"]["fields"]["email"],
            "must be an email address"
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::internal(anyhow::anyhow!("SELECT * FROM users: disk I/O error"));
        let (status, body, _) = rendered(&err);
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["error"]["message"], "Internal Server Error");
        assert!(!body.to_string().contains("SELECT"));
        assert!(
            format!("{err:?}").contains("disk I/O error"),
            "the log keeps the cause"
        );
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token_and_throttling_says_when_to_retry() {
        let (_, _, headers) = rendered(&ApiError::new(Code::InvalidToken, "bad"));
        assert!(
            headers
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let (status, body, headers) = rendered(&ApiError::too_many_requests(17));
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(body["error"]["code"], "throttled");
        assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "17");
    }

    #[test]
    fn every_503_says_when_to_retry() {
        let (status, _, headers) = rendered(&ApiError::new(Code::DatabaseBusy, "busy"));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "1");
        let (_, _, headers) = rendered(&ApiError::new(Code::Conflict, "no"));
        assert!(headers.get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn every_kind_maps_back_from_its_status() {
        use ErrorKind::*;
        for kind in [
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            NotAcceptable,
            RequestTimeout,
            Conflict,
            Gone,
            LengthRequired,
            PayloadTooLarge,
            UriTooLong,
            UnsupportedMediaType,
            Validation,
            TooManyRequests,
            HeadersTooLarge,
            Internal,
            NotImplemented,
            BadGateway,
            ServiceUnavailable,
            GatewayTimeout,
        ] {
            assert_eq!(ErrorKind::from_status(kind.status()), kind);
            let body = ApiError::from_kind(kind).body();
            assert_eq!(body["error"]["code"], kind.default_code().as_str());
            assert_eq!(kind.default_code().kind(), kind);
            assert!(body["error"]["details"].is_object());
        }
    }
}
