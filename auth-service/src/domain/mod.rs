//! Parsed, valid values: a handler turns raw input into these or answers 422.

mod account;
mod email;
mod name;
mod password;
mod return_to;

pub use account::Account;
pub use email::Email;
pub use name::DisplayName;
pub use password::NewPassword;
pub use return_to::ReturnTo;

/// The longest password the policy accepts, in characters.
pub const fn password_max_chars() -> usize {
    password::MAX_CHARS
}
