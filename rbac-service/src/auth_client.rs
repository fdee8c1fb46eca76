//! The little rbac-service asks auth-service: does a user exist, and who is an account.

use std::time::Duration;

use serde::Deserialize;
use std::sync::Arc;

use shared::identity::names::INTERNAL_TOKEN;
use shared::replicas::Replicas;
use shared::{ApiError, Code};

#[derive(Clone)]
pub struct AuthClient {
    http: reqwest::Client,
    replicas: Arc<Replicas>,
    token: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub account: String,
}

#[derive(Deserialize)]
struct Users {
    results: Vec<UserSummary>,
}

impl AuthClient {
    /// `urls`: auth-service's replicas (`AUTH_SERVICE_URL`).
    pub fn new(urls: &str, token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            replicas: Arc::new(
                Replicas::parse(urls).map_err(|err| anyhow::anyhow!("AUTH_SERVICE_URL: {err}"))?,
            ),
            token: token.to_owned(),
        })
    }

    async fn users(&self, query: &[(&str, String)]) -> Result<Vec<UserSummary>, ApiError> {
        let unavailable = |err: reqwest::Error| {
            ApiError::new(
                Code::AuthServiceUnavailable,
                "User accounts cannot be checked right now.",
            )
            .with_source(err)
        };
        let response = self
            .replicas
            .call(
                |base| {
                    self.http
                        .get(format!("{base}/internal/users"))
                        .header(INTERNAL_TOKEN, &self.token)
                        .query(query)
                        .send()
                },
                reqwest::Error::is_connect,
            )
            .await
            .map_err(unavailable)?
            .error_for_status()
            .map_err(unavailable)?;
        Ok(response.json::<Users>().await.map_err(unavailable)?.results)
    }

    pub async fn user_exists(&self, id: i64) -> Result<bool, ApiError> {
        Ok(!self.users(&[("ids", id.to_string())]).await?.is_empty())
    }

    pub async fn find_account(&self, account: &str) -> Result<Option<UserSummary>, ApiError> {
        Ok(self
            .users(&[("account", account.to_owned())])
            .await?
            .into_iter()
            .next())
    }
}
