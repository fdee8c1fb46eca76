//! A JSON body extractor whose errors name the field at fault.
//!
//! `actix_web::web::Json` reports a wrong type as "invalid type: integer, expected a
//! string" without saying where; this one tracks the path while deserialising, so the
//! 422 names `email` (or `items[2].quantity`). Malformed JSON is a 400, another content
//! type a 415, an oversized body a 413.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code, ErrorKind};
use crate::http::MAX_BODY_BYTES;

#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || mime.to_ascii_lowercase().ends_with("+json")
            });
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::new(
                    Code::UnsupportedMediaType,
                    "Send the body as application/json.",
                ));
            }
            let bytes = body
                .await
                .map_err(|_| ApiError::from_kind(ErrorKind::PayloadTooLarge))?;
            parse(&bytes).map(Json)
        })
    }
}

/// Deserialises `bytes`, mapping errors as the module describes.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_data() {
            data_error(&path, &inner.to_string())
        } else {
            ApiError::new(
                Code::MalformedJson,
                format!("The body is not valid JSON: {inner}."),
            )
        }
    })?;
    deserializer.end().map_err(|err| {
        ApiError::new(
            Code::MalformedJson,
            format!("The body is not valid JSON: {err}."),
        )
    })?;
    Ok(value)
}

fn data_error(path: &str, message: &str) -> ApiError {
    let message = message.split(" at line ").next().unwrap_or(message);
    // The path of a missing field is its parent object; serde names the field only in
    // its message. (An unknown field's path already ends with its name.)
    let missing = quoted(message, "missing field `");
    let field = match (missing, path) {
        (Some(name), "." | "") => name.to_owned(),
        (Some(name), prefix) => format!("{prefix}.{name}"),
        (None, "." | "") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    ApiError::validation(&field, message.to_owned())
}

fn quoted<'a>(message: &'a str, marker: &str) -> Option<&'a str> {
    let start = message.find(marker)? + marker.len();
    let end = message[start..].find('`')? + start;
    Some(&message[start..end])
}

/// `web::Bytes` honours this limit.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        quantity: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        email: String,
        items: Vec<Item>,
    }

    fn field(body: &str) -> (u16, String) {
        let err = parse::<Order>(body.as_bytes()).unwrap_err();
        let field = err
            .details()
            .and_then(|d| d["fields"].as_object())
            .and_then(|f| f.keys().next().cloned())
            .unwrap_or_default();
        (err.kind().status().as_u16(), field)
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let cases = [
            (r#"{"email": 5, "items": []}"#, 422, "email"),
            (r#"{"items": []}"#, 422, "email"),
            (
                r#"{"email": "a", "items": [{"quantity": 1}, {"quantity": "x"}]}"#,
                422,
                "items[1].quantity",
            ),
            (
                r#"{"email": "a", "items": [], "role": "admin"}"#,
                422,
                "role",
            ),
            (
                r#"{"email": "a", "items": [{"quantity": 1, "price": 0}]}"#,
                422,
                "items[0].price",
            ),
            (r#"5"#, 422, "body"),
            (r#"{"email": "a", "#, 400, ""),
            (r#"{"email": "a", "items": []} trailing"#, 400, ""),
        ];
        for (body, status, name) in cases {
            assert_eq!(field(body), (status, name.to_owned()), "{body}");
        }
    }
}
