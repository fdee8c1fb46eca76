//! Parsed, valid values of the permission model.

mod category;
mod method;
mod name;
mod pattern;

pub use category::Category;
pub use method::Method;
pub use name::Name;
pub use pattern::RoutePattern;
