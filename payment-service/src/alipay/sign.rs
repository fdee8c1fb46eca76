//! The text Alipay's RSA2 signatures cover.
//!
//! Requests: every parameter except `sign`, empty values dropped, keys sorted by ASCII,
//! `k=v` joined with `&` over the raw UTF-8 values (URL-encoding happens only afterwards,
//! on the wire). Notifications and return parameters: the same, without `sign_type` too.

/// Keys left out of a request's signing string.
pub const REQUEST_UNSIGNED: &[&str] = &["sign"];
/// Keys left out of a notification's (or return URL's) signing string.
pub const NOTIFY_UNSIGNED: &[&str] = &["sign", "sign_type"];

/// `k=v&…` over `params` sorted by key, without the `skip` keys and without empty values.
pub fn signing_string<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: &[&str],
) -> String {
    joined(params, skip, true)
}

/// As [`signing_string`], but keeping empty values (some Alipay SDKs verify this way).
pub fn signing_string_with_empty<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: &[&str],
) -> String {
    joined(params, skip, false)
}

fn joined<'a>(
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    skip: &[&str],
    drop_empty: bool,
) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, v)| !(skip.contains(k) || (drop_empty && v.is_empty())))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut text = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            text.push('&');
        }
        text.push_str(key);
        text.push('=');
        text.push_str(value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sorted_by_ascii_and_empty_values_and_skipped_keys_dropped() {
        let params = [
            ("b", "2"),
            ("a", "1"),
            ("sign", "x"),
            ("B", "upper"),
            ("empty", ""),
            ("sign_type", "RSA2"),
        ];
        assert_eq!(
            signing_string(params, REQUEST_UNSIGNED),
            "B=upper&a=1&b=2&sign_type=RSA2"
        );
        assert_eq!(signing_string(params, NOTIFY_UNSIGNED), "B=upper&a=1&b=2");
        assert_eq!(
            signing_string_with_empty(params, NOTIFY_UNSIGNED),
            "B=upper&a=1&b=2&empty="
        );
    }
}
