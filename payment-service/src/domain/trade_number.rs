//! `out_trade_no`: our name for a trade at Alipay (at most 64 of `A-Z a-z 0-9 _`).

use chrono::NaiveDateTime;

/// `WP` + the UTC date + 24 random hex digits (96 bits): sortable by day, unguessable.
pub fn new_out_trade_no(now: NaiveDateTime) -> String {
    format!(
        "WP{}{}",
        now.format("%Y%m%d"),
        shared::random::token_hex(12)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trade_numbers_are_alipay_safe_and_unguessable() {
        let now = shared::time::now();
        let a = new_out_trade_no(now);
        let b = new_out_trade_no(now);
        assert_ne!(a, b);
        assert_eq!(a.len(), 2 + 8 + 24);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
