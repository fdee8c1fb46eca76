pub mod user;

pub use user::{NewUser, User, UserChanges, UserView};
