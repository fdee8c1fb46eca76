//! payment-service's OpenAPI description, served at `GET /openapi.json`.

use shared::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::routes::*;

#[derive(OpenApi)]
#[openapi(
    info(title = "Waypoint payment-service", description = "Orders and Alipay payments. Money is integer cents (CNY)."),
    paths(
        create_order::create_order,
        list_orders::list_orders,
        get_order::get_order,
        pay_order::pay_order,
        cancel_order::cancel_order,
        refund_order::refund_order,
        alipay_notify::alipay_notify,
        alipay_return::alipay_return,
    ),
    modifiers(&BearerAuth),
    tags((name = "orders", description = "Orders of trips"),
        (name = "payments", description = "Alipay's callbacks (public)"))
)]
pub struct ApiDoc;
