//! Parsed, valid values: a handler turns raw input into these or answers 422.

mod account;
mod email;
mod name;
mod password;

pub use account::Account;
pub use email::Email;
pub use name::DisplayName;
pub use password::NewPassword;

/// The longest password the policy accepts, in characters.
pub const fn password_max_chars() -> usize {
    password::MAX_CHARS
}
