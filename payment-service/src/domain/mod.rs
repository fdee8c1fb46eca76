//! Parsed, valid values: a handler turns raw input into these or answers 422.

mod order_status;
mod refund_request;
mod trade_number;

pub use order_status::OrderStatus;
pub use refund_request::{OutRequestNo, RefundReason};
pub use trade_number::new_out_trade_no;

use shared::identity::Identity;

/// Who is asking, and whether they see every order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    /// `order_admin` or `super_admin`: sees every order and may refund.
    pub is_admin: bool,
}

impl From<&Identity> for Viewer {
    fn from(who: &Identity) -> Self {
        Self {
            user_id: who.user_id,
            is_admin: who.has_role("order_admin") || who.has_role("super_admin"),
        }
    }
}

impl Viewer {
    pub fn sees(&self, owner_id: i64) -> bool {
        self.is_admin || self.user_id == owner_id
    }
}
