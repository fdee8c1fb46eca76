//! Writing an answer to a plain request as hyper would: the status line, the answer's
//! headers as they are (lower case), `date` unless the answer has one, the framing from
//! the body (its exact length, else chunked; none for 1xx, 204 and 304) and
//! `connection: close` when the connection ends after it. A small answer leaves in one
//! write; a streamed one is written as its frames arrive.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::FutureExt;
use hyper::StatusCode;
use hyper::body::{Body, Frame};
use hyper::header;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::body::{Answer, ToClient};
use crate::proxy::has_token;
use crate::wire::{Decimal, has_no_body, push_field as field};

/// Data this long is written from where it is rather than copied behind the head.
const COPY_LIMIT: usize = 16 * 1024;

/// Writes `answer` to `io`, `out` being the buffer it is put together in; `close`: the
/// client asked to close the connection after it. `Ok(true)`: the connection may carry
/// another request. An error (or a body that ends short of its length) leaves the
/// connection to be closed: the client sees the answer cut.
pub async fn write<W: AsyncWrite + Unpin>(
    io: &mut W,
    answer: Answer,
    close: bool,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    let (parts, mut body) = answer.into_parts();
    let keep_alive = !close && !has_token(&parts.headers, &header::CONNECTION, "close");
    out.clear();
    status_line(out, parts.status);
    let mut has_date = false;
    for (name, value) in &parts.headers {
        // The framing is the body's to say.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        has_date |= name == header::DATE;
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    out.extend_from_slice(body.fields.as_bytes());
    has_date |= body.fields.has_date();
    if !keep_alive && !parts.headers.contains_key(header::CONNECTION) {
        field(out, b"connection", b"close");
    }
    if !has_date {
        DATE.with_borrow_mut(|date| field(out, b"date", date.now()));
    }
    let status = parts.status;
    if has_no_body(status) {
        out.extend_from_slice(b"\r\n");
        io.write_all(out).await?;
        return Ok(keep_alive);
    }
    let length = body.size_hint().exact();
    match length {
        Some(length) => field(out, b"content-length", Decimal::new(length).as_bytes()),
        None => field(out, b"transfer-encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    let mut left = length;
    while let Some(data) = next_data(io, &mut body, out).await? {
        match left.as_mut() {
            Some(left) => {
                // More than the length said: the framing would be wrong for what follows.
                *left = left.checked_sub(data.len() as u64).ok_or_else(too_long)?;
                put(io, out, &data).await?;
            }
            None if data.is_empty() => {}
            None => {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                put(io, out, &data).await?;
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    match left {
        Some(0) => {}
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body cut short",
            ));
        }
        None => out.extend_from_slice(b"0\r\n\r\n"),
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    Ok(keep_alive)
}

/// The body's next data, its other frames (trailers) passed over; what `out` holds is
/// written first if the body has to wait for it.
async fn next_data<W: AsyncWrite + Unpin>(
    io: &mut W,
    body: &mut ToClient,
    out: &mut Vec<u8>,
) -> io::Result<Option<Bytes>> {
    loop {
        let frame = match poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).now_or_never() {
            Some(frame) => frame,
            None => {
                if !out.is_empty() {
                    io.write_all(out).await?;
                    out.clear();
                }
                poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
            }
        };
        match frame.map(|f| f.map(Frame::into_data)) {
            None => return Ok(None),
            Some(Err(err)) => return Err(err),
            Some(Ok(Ok(data))) => return Ok(Some(data)),
            Some(Ok(Err(_trailers))) => {}
        }
    }
}

/// Puts `data` behind what `out` holds: copied if short, else written after it.
async fn put<W: AsyncWrite + Unpin>(io: &mut W, out: &mut Vec<u8>, data: &[u8]) -> io::Result<()> {
    if data.len() < COPY_LIMIT {
        out.extend_from_slice(data);
        return Ok(());
    }
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    io.write_all(data).await
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "body longer than its length")
}

fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

thread_local! {
    /// Each worker's `date`, written again once a second.
    static DATE: RefCell<Date> = const { RefCell::new(Date { second: u64::MAX, text: Vec::new() }) };
}

struct Date {
    second: u64,
    text: Vec<u8>,
}

impl Date {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now).into_bytes();
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use hyper::Response;
    use hyper::header::HeaderValue;

    use super::*;
    use crate::body;

    async fn written(answer: Answer, close: bool) -> (String, bool) {
        let mut io = Vec::new();
        let keep = write(&mut io, answer, close, &mut Vec::new())
            .await
            .unwrap();
        (String::from_utf8(io).unwrap(), keep)
    }

    fn date_of(text: &str) -> &str {
        text.lines()
            .find_map(|l| l.strip_prefix("date: "))
            .expect("a date")
    }

    #[tokio::test]
    async fn an_answer_is_its_status_headers_date_length_and_body() {
        let (text, keep) = written(
            body::json(StatusCode::CREATED, &serde_json::json!({"a": 1})),
            false,
        )
        .await;
        assert!(keep);
        let date = date_of(&text);
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\
                 date: {date}\r\ncontent-length: 7\r\n\r\n{{\"a\":1}}"
            )
        );
    }

    #[tokio::test]
    async fn a_close_is_said_and_a_date_or_length_given_is_not_doubled() {
        let mut answer = body::with_content_type(StatusCode::OK, "text/plain", "hi");
        let headers = answer.headers_mut();
        headers.insert(
            header::DATE,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("99"));
        let (text, keep) = written(answer, true).await;
        assert!(!keep);
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\
             date: Sun, 06 Nov 1994 08:49:37 GMT\r\nconnection: close\r\n\
             content-length: 2\r\n\r\nhi"
        );
        // The drain's `Connection: close` ends the connection too.
        let mut answer = body::json(StatusCode::OK, &serde_json::json!(1));
        answer
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        let (text, keep) = written(answer, false).await;
        assert!(!keep);
        assert_eq!(text.matches("connection: close").count(), 1, "{text}");
    }

    #[tokio::test]
    async fn no_content_has_no_framing_and_an_empty_body_a_zero_length() {
        let mut answer = Response::new(ToClient::empty());
        *answer.status_mut() = StatusCode::NO_CONTENT;
        let (text, _) = written(answer, false).await;
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(!text.contains("content-length") && !text.contains("transfer-encoding"));
        assert!(text.ends_with("\r\n\r\n"));
        let (text, _) = written(Response::new(ToClient::empty()), false).await;
        assert!(text.ends_with("content-length: 0\r\n\r\n"), "{text}");
    }

    #[tokio::test]
    async fn a_long_body_is_written_whole_after_its_head() {
        let long = "x".repeat(3 * COPY_LIMIT);
        let answer = body::with_content_type(StatusCode::OK, "text/plain", long.clone());
        let (text, _) = written(answer, false).await;
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.ends_with(&format!("content-length: {}", long.len())));
        assert_eq!(body, long);
    }

    #[tokio::test]
    async fn an_unknown_custom_status_keeps_its_code() {
        let mut answer = Response::new(ToClient::empty());
        *answer.status_mut() = StatusCode::from_u16(599).unwrap();
        let (text, _) = written(answer, false).await;
        assert!(text.starts_with("HTTP/1.1 599 \r\n"), "{text}");
    }
}
