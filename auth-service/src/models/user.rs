//! The `users` table: rows, insert form, and the queries on them.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::ApiError;
use shared::db::{DbBackend, DbConnection};
use shared::list::ListQuery;

use crate::schema::users;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub is_disabled: bool,
    pub password_changed_at: Option<NaiveDateTime>,
}

/// What an admin may change on an account.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<Option<String>>,
    pub is_disabled: Option<bool>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub created_at: NaiveDateTime,
    pub is_disabled: bool,
    pub password_changed_at: Option<NaiveDateTime>,
}

/// A user as the API shows it (never the password hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: i64,
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "shared::time::rfc3339_opt::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login_at: Option<NaiveDateTime>,
    pub is_disabled: bool,
}

impl From<User> for UserView {
    fn from(user: User) -> Self {
        Self {
            id: user.id,
            account: user.account,
            name: user.name,
            email: user.email,
            created_at: user.created_at,
            last_login_at: user.last_login_at,
            is_disabled: user.is_disabled,
        }
    }
}

impl User {
    pub fn find(conn: &mut DbConnection, id: i64) -> QueryResult<User> {
        users::table.find(id).select(User::as_select()).first(conn)
    }

    pub fn find_by_account(conn: &mut DbConnection, account: &str) -> QueryResult<Option<User>> {
        users::table
            .filter(users::account.eq(account))
            .select(User::as_select())
            .first(conn)
            .optional()
    }

    pub fn account_taken(conn: &mut DbConnection, account: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            users::table.filter(users::account.eq(account)),
        ))
        .get_result(conn)
    }

    pub fn email_taken(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            users::table.filter(users::email.eq(email)),
        ))
        .get_result(conn)
    }

    pub fn insert(conn: &mut DbConnection, new: &NewUser) -> QueryResult<User> {
        let id = diesel::insert_into(users::table)
            .values(new)
            .returning(users::id)
            .get_result(conn)?;
        Self::find(conn, id)
    }

    pub fn record_login(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<()> {
        diesel::update(users::table.find(id))
            .set(users::last_login_at.eq(at))
            .execute(conn)
            .map(drop)
    }

    pub fn set_password(
        conn: &mut DbConnection,
        id: i64,
        hash: &str,
        at: NaiveDateTime,
    ) -> QueryResult<()> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::password_changed_at.eq(at),
            ))
            .execute(conn)
            .map(drop)
    }

    pub fn update(conn: &mut DbConnection, id: i64, changes: &UserChanges) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set(changes)
            .execute(conn)
    }

    pub fn find_many(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::id.eq_any(ids))
            .order(users::id)
            .select(User::as_select())
            .load(conn)
    }

    /// Lists accounts for admins: filters `account`, `email`, `is_disabled`.
    pub fn list(conn: &mut DbConnection, list: &ListQuery) -> Result<(i64, Vec<User>), ApiError> {
        let filtered = || -> Result<users::BoxedQuery<'static, DbBackend>, ApiError> {
            let mut query = users::table.into_boxed();
            if let Some(account) = list.filter("account") {
                query = query.filter(users::account.eq(account.trim().to_ascii_lowercase()));
            }
            if let Some(email) = list.filter("email") {
                query = query.filter(users::email.eq(email.trim().to_lowercase()));
            }
            if let Some(disabled) = list.filter_bool("is_disabled")? {
                query = query.filter(users::is_disabled.eq(disabled));
            }
            Ok(query)
        };
        let count = filtered()?.count().get_result(conn)?;
        let query = shared::order_by!(filtered()?, list, {
            "id" => users::id,
            "account" => users::account,
            "created_at" => users::created_at,
            "last_login_at" => users::last_login_at,
        });
        let rows = query
            .then_order_by(users::id.asc())
            .limit(list.limit)
            .offset(list.offset)
            .select(User::as_select())
            .load(conn)?;
        Ok((count, rows))
    }
}
