//! The gateway's own HTTP/1.1 server for plain requests, in front of hyper's. All but
//! every request is plain ([`head`]); for those, hyper's general machinery (its dispatcher,
//! a body channel, an upgrade slot and a header map encoded again per answer) was a third
//! of a request's instructions. The first request that is not plain (chunked, an upgrade,
//! `Expect`, HTTP/1.0, anything malformed) hands the connection, with the bytes read, to
//! hyper for the rest of its life ([`Ended::Handover`]): the protocol's corners stay
//! hyper's, and this server reads only what it can read without doubt.

mod answer;
pub mod head;
mod rewind;

use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use hyper::http::request::Parts;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::body::Answer;
use crate::idle::Activity;
use head::Parsed;
pub use rewind::Rewind;

/// Bytes read at a time (hyper's first read is as large).
const READ_SIZE: usize = 8 * 1024;

/// How a connection left this server.
pub enum Ended {
    /// Closed: the client closed it, asked to, or it failed; or the server stops.
    Closed,
    /// A request that is not plain: hyper serves the connection from these bytes on.
    Handover(Bytes),
}

/// Serves plain requests on `stream` with `handle` until the connection ends or hands
/// over. `stop`: once it holds a value the connection closes, after the answer in flight
/// if there is one. `body_limit`: the longest body read here.
pub async fn serve<F, Fut>(
    stream: &mut TcpStream,
    activity: &Arc<Activity>,
    mut stop: watch::Receiver<Option<bool>>,
    body_limit: u64,
    mut handle: F,
) -> Ended
where
    F: FnMut(Parts, Bytes) -> Fut,
    Fut: Future<Output = Answer>,
{
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut out = Vec::with_capacity(1024);
    loop {
        let scanned = loop {
            let waiting_for_more = !buf.is_empty();
            if waiting_for_more {
                match head::parse(&buf, body_limit) {
                    Parsed::Plain(scanned) => break scanned,
                    Parsed::Other => return Ended::Handover(buf.freeze()),
                    Parsed::Partial => {}
                }
            }
            // Between requests a stop closes the connection at once.
            let read = if waiting_for_more {
                read_line(stream, &mut buf).await
            } else {
                if stop.borrow_and_update().is_some() {
                    return Ended::Closed;
                }
                tokio::select! {
                    biased;
                    read = read_line(stream, &mut buf) => read,
                    _ = stop.changed() => return Ended::Closed,
                }
            };
            if !matches!(read, Ok(n) if n > 0) {
                return Ended::Closed;
            }
        };
        let in_flight = activity.begin();
        let whole = scanned.len + scanned.body_len;
        while buf.len() < whole {
            if !matches!(read_more(stream, &mut buf).await, Ok(n) if n > 0) {
                return Ended::Closed;
            }
        }
        let head = buf.split_to(scanned.len).freeze();
        let body = buf.split_to(scanned.body_len).freeze();
        let close = scanned.close;
        let Some(parts) = scanned.into_parts(&head) else {
            // A target `http` does not read: hyper refuses it as it always has.
            let mut read = BytesMut::from(&head[..]);
            read.extend_from_slice(&body);
            read.extend_from_slice(&buf);
            return Ended::Handover(read.freeze());
        };
        let answer = handle(parts, body).await;
        let kept = answer::write(stream, answer, close, &mut out).await;
        drop(in_flight);
        if !matches!(kept, Ok(true)) || stop.borrow().is_some() {
            return Ended::Closed;
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    if buf.capacity() - buf.len() < READ_SIZE / 4 {
        buf.reserve(READ_SIZE);
    }
    stream.read_buf(buf).await
}

/// Reads until the bytes read include a new line (a head can only end at one), so that a
/// head sent a few bytes at a time is not scanned again for each.
async fn read_line(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    let start = buf.len();
    loop {
        let n = read_more(stream, buf).await?;
        if n == 0 || buf[start..].contains(&b'\n') {
            return Ok(buf.len() - start);
        }
    }
}
