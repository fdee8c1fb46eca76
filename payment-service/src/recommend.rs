//! recommend-service, as payment-service uses it (the fixed internal contract):
//! `GET /internal/trips/{id}` for a trip's price, `POST /internal/signals` for purchases.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::Secret;
use shared::identity::names;
use shared::{ApiError, Code};

#[derive(Debug, Clone, Deserialize)]
pub struct Trip {
    pub id: i64,
    pub title: String,
    pub destination: String,
    pub price_cents: i64,
    /// `on_sale` or `off_sale`.
    pub status: String,
}

#[derive(Serialize)]
struct PurchaseSignal<'a> {
    user_id: i64,
    trip_id: i64,
    kind: &'static str,
    reference: &'a str,
}

pub struct RecommendClient {
    base_url: String,
    token: Secret,
    http: reqwest::Client,
}

impl RecommendClient {
    pub fn new(base_url: &str, token: Secret, http: reqwest::Client) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            http,
        }
    }

    /// The trip, or `None` when recommend-service does not know it.
    pub async fn trip(&self, id: i64) -> Result<Option<Trip>, ApiError> {
        let response = self
            .http
            .get(format!("{}/internal/trips/{id}", self.base_url))
            .header(names::INTERNAL_TOKEN, self.token.expose())
            .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|err| unavailable().with_source(err))?;
        match response.status().as_u16() {
            200 => response
                .json()
                .await
                .map(Some)
                .map_err(|err| unavailable().with_source(err)),
            404 => Ok(None),
            status => Err(unavailable().with_source(anyhow::anyhow!(
                "recommend-service answered {status} for trip {id}"
            ))),
        }
    }

    /// Reports a purchase; recommend-service counts each `reference` once.
    pub async fn purchase(
        &self,
        user_id: i64,
        trip_id: i64,
        reference: &str,
    ) -> Result<(), String> {
        let response = self
            .http
            .post(format!("{}/internal/signals", self.base_url))
            .header(names::INTERNAL_TOKEN, self.token.expose())
            .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
            .timeout(Duration::from_secs(5))
            .json(&PurchaseSignal {
                user_id,
                trip_id,
                kind: "purchase",
                reference,
            })
            .send()
            .await
            .map_err(|err| err.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("recommend-service answered {}", response.status()))
        }
    }
}

fn unavailable() -> ApiError {
    ApiError::new(
        Code::RecommendUnavailable,
        "The trip catalogue is unavailable; retry shortly.",
    )
}
