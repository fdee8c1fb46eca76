//! Recording implicit signals: each counts once per (kind, reference), and a new one
//! tells the model to rebuild.

use shared::{ApiError, Code};

use crate::context::RecommendContext;
use crate::domain::SignalKind;
use crate::models::{NewSignal, Signal, Trip};

/// A view counts once per user, trip and day.
pub fn view_reference(user_id: i64, trip_id: i64) -> String {
    let day = shared::time::now().date();
    format!("{user_id}:{trip_id}:{day}")
}

/// A favourite exists once per user and trip.
pub fn favourite_reference(user_id: i64, trip_id: i64) -> String {
    format!("{user_id}:{trip_id}")
}

/// What recording a signal found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    New,
    /// The same signal was already recorded (a retry).
    Again,
}

/// Records a signal for an existing trip. 404 for an unknown trip; 409 when the
/// reference was already used for another user or trip.
pub async fn record(
    ctx: &RecommendContext,
    user_id: i64,
    trip_id: i64,
    kind: SignalKind,
    reference: String,
) -> Result<Recorded, ApiError> {
    let row = NewSignal {
        user_id,
        trip_id,
        kind: kind.as_str().to_owned(),
        reference,
        created_at: shared::time::now(),
    };
    let recorded = ctx
        .db()
        .run(move |conn| {
            if Trip::version(conn, trip_id)?.is_none() {
                return Err(ApiError::not_found("trip"));
            }
            if Signal::record(conn, &row)? {
                return Ok(Recorded::New);
            }
            match Signal::find_by_reference(conn, &row.kind, &row.reference)? {
                Some(s) if s.user_id == user_id && s.trip_id == trip_id => Ok(Recorded::Again),
                _ => Err(ApiError::new(
                    Code::ReferenceConflict,
                    "This reference was already recorded for another user or trip.",
                )),
            }
        })
        .await?;
    if recorded == Recorded::New {
        ctx.recommender().changed().await;
    }
    Ok(recorded)
}
