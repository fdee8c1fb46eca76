pub mod user;
pub mod wechat_identity;

pub use user::{NewUser, User, UserChanges, UserView};
pub use wechat_identity::{NewWeChatIdentity, WeChatIdentity, WeChatProfileUpdate};
