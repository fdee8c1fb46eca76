//! The fake cashier's HTML.

use actix_web::HttpResponse;

use crate::{Trade, yuan};

pub fn cashier(trade: &Trade) -> HttpResponse {
    let body = match trade.status {
        "WAIT_BUYER_PAY" => format!(
            "<form method=\"post\" action=\"/cashier/pay\">\
             <input type=\"hidden\" name=\"out_trade_no\" value=\"{no}\">\
             <button type=\"submit\" style=\"font-size:1.2rem;padding:.5rem 2rem\">Pay ¥{amount}</button></form>",
            no = escape(&trade.out_trade_no),
            amount = yuan(trade.total_cents),
        ),
        status => format!("<p>This trade is {status}.</p>"),
    };
    page(
        "Fake Alipay cashier",
        &format!(
            "<p>{subject}</p><p>Amount: <strong>¥{amount}</strong></p>{body}\
             <p><small>Trade {no} · a stand-in for Alipay's cashier, for local runs only.</small></p>",
            subject = escape(&trade.subject),
            amount = yuan(trade.total_cents),
            no = escape(&trade.out_trade_no),
        ),
    )
}

pub fn error(message: &str) -> HttpResponse {
    page("Fake Alipay: error", &format!("<p>{}</p>", escape(message)))
}

fn page(title: &str, body: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto\">\
             <h1 style=\"color:#1677ff\">{title}</h1>{body}</body></html>"
        ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
