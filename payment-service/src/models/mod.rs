pub mod event;
pub mod idempotency;
pub mod order;
pub mod outbox;
pub mod refund;

pub use event::{NewPaymentEvent, PaymentEventView};
pub use order::{NewOrder, Order, OrderFilter, OrderView};
pub use outbox::Signal;
pub use refund::{NewRefund, Refund, RefundView};
