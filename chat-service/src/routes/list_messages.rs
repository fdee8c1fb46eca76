use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use shared::identity::Identity;
use shared::list::Page;
use shared::{ApiError, Code};

use crate::context::ChatContext;
use crate::models::{Conversation, Message, MessageView};

const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 100;

/// `?before=&after=&limit=`: ids are positions, so they are the cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub limit: i64,
}

impl MessageCursor {
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::new(Code::InvalidQuery, "The query string is malformed."))?;
        let mut cursor = Self {
            before: None,
            after: None,
            limit: DEFAULT_LIMIT,
        };
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &pairs {
            if seen.contains(&name.as_str()) {
                return Err(parameter_error(
                    Code::DuplicateParameter,
                    name,
                    format!("The parameter {name:?} is given more than once."),
                ));
            }
            seen.push(name);
            let number: i64 = value.parse().map_err(|_| {
                parameter_error(
                    Code::InvalidParameter,
                    name,
                    format!("{name} must be an integer, not {value:?}."),
                )
            })?;
            match name.as_str() {
                "before" if number >= 1 => cursor.before = Some(number),
                "before" => return Err(ApiError::validation("before", "must be 1 or more")),
                "after" if number >= 0 => cursor.after = Some(number),
                "after" => return Err(ApiError::validation("after", "must be 0 or more")),
                "limit" if (1..=MAX_LIMIT).contains(&number) => cursor.limit = number,
                "limit" => {
                    return Err(ApiError::validation(
                        "limit",
                        format!("must be between 1 and {MAX_LIMIT}"),
                    ));
                }
                _ => {
                    return Err(parameter_error(
                        Code::UnknownParameter,
                        name,
                        format!("Unknown query parameter {name:?}; use before, after and limit."),
                    ));
                }
            }
        }
        Ok(cursor)
    }
}

fn parameter_error(code: Code, name: &str, message: String) -> ApiError {
    ApiError::new(code, message).with_details(json!({ "parameter": name }))
}

/// `GET /v1/chat/conversations/{id}/messages`: a page of messages, oldest first. Without
/// cursors, the newest `limit`; `before=n` the `limit` before message n; `after=n` the
/// `limit` after message n. `previous` and `next` link to the neighbouring pages; `count`
/// is the number of messages in the conversation.
#[utoipa::path(get, path = "/v1/chat/conversations/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = i64, Path), ("before" = Option<i64>, Query), ("after" = Option<i64>, Query),
        ("limit" = Option<i64>, Query, description = "1–100, default 50")),
    responses((status = 200, description = "Messages, oldest first", body = Page<MessageView>),
        (status = 404, description = "No such conversation of yours", body = shared::openapi::ErrorBody)))]
pub async fn list_messages(
    ctx: web::Data<ChatContext>,
    who: Identity,
    path: web::Path<i64>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let cursor = MessageCursor::parse(req.query_string())?;
    let id = path.into_inner();
    let user_id = who.user_id;
    let (newest, messages) = ctx
        .db()
        .run(move |conn| {
            let conversation = Conversation::find_for(conn, id, user_id)?;
            let messages = Message::page(conn, id, cursor.before, cursor.after, cursor.limit)?;
            Ok((conversation.last_message_id, messages))
        })
        .await?;
    let link = |param: &str, at: i64| format!("{}?{param}={at}&limit={}", req.path(), cursor.limit);
    let previous = messages
        .first()
        .filter(|m| m.id > 1)
        .map(|m| link("before", m.id));
    let next = messages
        .last()
        .filter(|m| m.id < newest)
        .map(|m| link("after", m.id));
    Ok(HttpResponse::Ok().json(Page {
        count: newest,
        next,
        previous,
        results: messages
            .into_iter()
            .map(MessageView::from)
            .collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_and_bad_ones_name_the_parameter() {
        assert_eq!(
            MessageCursor::parse("before=10&limit=5").unwrap(),
            MessageCursor {
                before: Some(10),
                after: None,
                limit: 5
            }
        );
        let cases = [
            ("before=x", 400, "before"),
            ("after=-1", 422, "after"),
            ("before=0", 422, "before"),
            ("limit=0", 422, "limit"),
            ("limit=101", 422, "limit"),
            ("offset=3", 400, "offset"),
            ("after=1&after=2", 400, "after"),
        ];
        for (query, status, name) in cases {
            let err = MessageCursor::parse(query).unwrap_err();
            assert_eq!(err.kind().status().as_u16(), status, "{query}");
            let details = err.details().unwrap();
            assert!(
                details["parameter"] == name || details["fields"].get(name).is_some(),
                "{query}: {details}"
            );
        }
    }
}
