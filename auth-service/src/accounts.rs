//! Creating accounts, shared by registration and the first-admin bootstrap.

use serde_json::json;
use shared::db::{self, Db};
use shared::{ApiError, Code};

use crate::domain::{Account, DisplayName, Email, NewPassword};
use crate::models::{NewUser, User};
use crate::passwords;

/// A registration that passed validation.
pub struct NewAccount {
    pub account: Account,
    pub name: DisplayName,
    pub email: Email,
    pub password: NewPassword,
}

impl NewAccount {
    /// Validates every field and reports all that are wrong at once (422).
    pub fn parse(account: &str, name: &str, email: &str, password: &str) -> Result<Self, ApiError> {
        let parsed = (
            Account::parse(account),
            DisplayName::parse(name),
            Email::parse(email),
            NewPassword::parse(password, &[account, email, name]),
        );
        match parsed {
            (Ok(account), Ok(name), Ok(email), Ok(password)) => Ok(Self {
                account,
                name,
                email,
                password,
            }),
            (account, name, email, password) => Err(ApiError::validation_fields(
                [
                    ("account", account.err()),
                    ("name", name.err()),
                    ("email", email.err()),
                    ("password", password.err()),
                ]
                .into_iter()
                .filter_map(|(field, err)| err.map(|e| (field.to_owned(), e))),
            )),
        }
    }
}

/// Creates the account; 409 naming the field when the account or e-mail is taken.
pub async fn create(db: &Db, new: NewAccount) -> Result<User, ApiError> {
    let hash = passwords::hash(new.password.expose().to_owned()).await?;
    let now = shared::time::now();
    let row = NewUser {
        account: new.account.into_inner(),
        name: new.name.into_inner(),
        email: Some(new.email.into_inner()),
        password_hash: Some(hash),
        created_at: now,
        is_disabled: false,
        password_changed_at: Some(now),
    };
    db.run(move |conn| {
        db::write_transaction(conn, |conn| {
            if User::account_taken(conn, &row.account)? {
                return Err(taken(
                    "account",
                    Code::AccountTaken,
                    "This account name is taken.",
                ));
            }
            if let Some(email) = &row.email
                && User::email_taken(conn, email)?
            {
                return Err(taken(
                    "email",
                    Code::EmailTaken,
                    "This e-mail address is already registered.",
                ));
            }
            Ok(User::insert(conn, &row)?)
        })
    })
    .await
}

fn taken(field: &str, code: Code, message: &'static str) -> ApiError {
    ApiError::new(code, message).with_details(json!({ "field": field }))
}
