//! payment-service's OpenAPI description, served at `GET /openapi.json`, and the list of handlers
//! that routes/mod.rs routes from it.

use shared::openapi::BearerAuth;

use crate::routes::*;

shared::documented_api! {
    #[openapi(
        info(title = "Waypoint payment-service", description = "Orders and Alipay payments. Money is integer cents (CNY)."),
        modifiers(&BearerAuth),
        tags((name = "orders", description = "Orders of trips"),
            (name = "payments", description = "Alipay's callbacks (public)"))
    )]
    pub struct ApiDoc;
    handlers: [
        create_order::create_order,
        list_orders::list_orders,
        get_order::get_order,
        pay_order::pay_order,
        cancel_order::cancel_order,
        refund_order::refund_order,
        alipay_notify::alipay_notify,
        alipay_return::alipay_return,
    ]
}
