//! recommend-service, as payment-service uses it (the fixed internal contract):
//! `GET /internal/trips/{id}` for a trip's price, `POST /internal/signals` for purchases.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shared::config::Secret;
use shared::identity::names;
use shared::replicas::Replicas;
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
    replicas: Replicas,
    token: Secret,
    http: reqwest::Client,
}

impl RecommendClient {
    /// `urls`: recommend-service's replicas (`RECOMMEND_SERVICE_URL`).
    pub fn new(urls: &str, token: Secret, http: reqwest::Client) -> anyhow::Result<Self> {
        Ok(Self {
            replicas: Replicas::parse(urls)
                .map_err(|err| anyhow::anyhow!("RECOMMEND_SERVICE_URL: {err}"))?,
            token,
            http,
        })
    }

    /// `request` to the first replica that takes the connection.
    async fn send(
        &self,
        request: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.replicas
            .call(
                |base| {
                    request(base)
                        .header(names::INTERNAL_TOKEN, self.token.expose())
                        .header(shared::trace::TRACEPARENT, shared::trace::traceparent())
                        .timeout(Duration::from_secs(5))
                        .send()
                },
                reqwest::Error::is_connect,
            )
            .await
    }

    /// The trip, or `None` when recommend-service does not know it.
    pub async fn trip(&self, id: i64) -> Result<Option<Trip>, ApiError> {
        let response = self
            .send(|base| self.http.get(format!("{base}/internal/trips/{id}")))
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
        let signal = PurchaseSignal {
            user_id,
            trip_id,
            kind: "purchase",
            reference,
        };
        let response = self
            .send(|base| {
                self.http
                    .post(format!("{base}/internal/signals"))
                    .json(&signal)
            })
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
