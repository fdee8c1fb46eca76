use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::context::PaymentContext;
use crate::payments::{self, Outcome, TradeReport};

/// `POST /v1/payments/alipay/notify` (public; Alipay calls it, form-encoded).
///
/// Verifies the signature with Alipay's key, then app_id and seller_id, then applies the
/// report (order known, amount equal in cents, one transition however many copies
/// arrive). Answers the literal `success` only after the change is committed; anything
/// else (bad signature, mismatch, database error) answers `failure` and changes no order,
/// so Alipay delivers again later. A verified report refused for its amount or an unknown
/// trade is still recorded, as a `refused` payment event.
#[utoipa::path(post, path = "/v1/payments/alipay/notify", tag = "payments",
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "Alipay's signed notification"),
    responses((status = 200, description = "`success` or `failure` (text/plain)", body = String)))]
#[tracing::instrument(skip_all, fields(out_trade_no = tracing::field::Empty))]
pub async fn alipay_notify(
    ctx: web::Data<PaymentContext>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let answer = match handle(&ctx, &req, &body).await {
        Ok(outcome) => {
            tracing::info!(?outcome, "notification applied");
            ctx.notified(outcome);
            "success"
        }
        Err((why, reason)) => {
            tracing::warn!(%reason, "notification refused");
            let labels = vec![("result", "refused"), ("reason", why)];
            ctx.notifications.get_or_create(&labels).inc();
            "failure"
        }
    };
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(answer)
}

/// The outcome, or why the notification was refused: a bounded reason for the metrics and
/// the message for the log.
async fn handle(
    ctx: &PaymentContext,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Outcome, (&'static str, String)> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Err(("not_a_form", "not a form".into()));
    }
    let alipay = ctx
        .alipay_configured()
        .ok_or(("not_configured", "Alipay is not configured".into()))?;
    let notification = alipay
        .verify_notification(body)
        .map_err(|err| ("unverified", format!("{}: {err}", err.code())))?;
    tracing::Span::current().record("out_trade_no", notification.out_trade_no.as_str());
    let report = TradeReport::from(notification);
    let now = shared::time::now();
    let (_, outcome) = ctx
        .db()
        .run(move |conn| payments::apply(conn, &report, now))
        .await
        .map_err(|err| ("not_applied", format!("{}: {}", err.code(), err.message())))?;
    if outcome == Outcome::Paid {
        ctx.wake_outbox();
    }
    Ok(outcome)
}
