//! Parsed, valid values: a handler turns raw input into these or answers 422.

mod order_status;
mod refund_request;
mod trade_number;

pub use order_status::OrderStatus;
pub use refund_request::{OutRequestNo, RefundReason};
pub use trade_number::new_out_trade_no;

use shared::identity::Identity;
use shared::policy::scopes::ALL_ORDERS;

/// Who is asking, and which orders they reach. What they may do with those orders is the
/// gateway's decision (route + method by the caller's roles), taken as made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    /// Holds the all-orders scope: reaches every order, not only their own.
    pub sees_all: bool,
}

impl From<&Identity> for Viewer {
    fn from(who: &Identity) -> Self {
        Self {
            user_id: who.user_id,
            sees_all: who.holds(ALL_ORDERS),
        }
    }
}

impl Viewer {
    pub fn sees(&self, owner_id: i64) -> bool {
        self.sees_all || self.user_id == owner_id
    }
}
