//! The `wechat_identities` table: which WeChat person is which Waypoint user.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::db::DbConnection;

use crate::schema::wechat_identities;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = wechat_identities)]
pub struct WeChatIdentity {
    pub id: i64,
    pub user_id: i64,
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = wechat_identities)]
pub struct NewWeChatIdentity {
    pub user_id: i64,
    pub appid: String,
    pub openid: String,
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

/// What WeChat told us about the person this time.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = wechat_identities, treat_none_as_null = false)]
pub struct WeChatProfileUpdate {
    pub unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
    pub last_login_at: Option<NaiveDateTime>,
}

impl WeChatIdentity {
    /// The identity of this person: by `unionid` when WeChat sent one, else by `openid`
    /// within `appid` (also how a row stored before the app had a unionid is found).
    pub fn find(
        conn: &mut DbConnection,
        appid: &str,
        openid: &str,
        unionid: Option<&str>,
    ) -> QueryResult<Option<Self>> {
        let by_openid = wechat_identities::appid
            .eq(appid.to_owned())
            .and(wechat_identities::openid.eq(openid.to_owned()));
        let rows: Vec<Self> = match unionid {
            Some(unionid) => wechat_identities::table
                .filter(wechat_identities::unionid.eq(unionid).or(by_openid))
                .select(Self::as_select())
                .load(conn)?,
            None => wechat_identities::table
                .filter(by_openid)
                .select(Self::as_select())
                .load(conn)?,
        };
        let by_union = rows
            .iter()
            .position(|row| unionid.is_some() && row.unionid.as_deref() == unionid);
        Ok(match by_union {
            Some(i) => rows.into_iter().nth(i),
            None => rows.into_iter().next(),
        })
    }

    pub fn find_by_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<Option<Self>> {
        wechat_identities::table
            .filter(wechat_identities::user_id.eq(user_id))
            .select(Self::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, new: &NewWeChatIdentity) -> QueryResult<()> {
        diesel::insert_into(wechat_identities::table)
            .values(new)
            .execute(conn)
            .map(drop)
    }

    pub fn update(
        conn: &mut DbConnection,
        id: i64,
        changes: &WeChatProfileUpdate,
    ) -> QueryResult<()> {
        diesel::update(wechat_identities::table.find(id))
            .set(changes)
            .execute(conn)
            .map(drop)
    }

    /// Unlinks the user's WeChat identity; the number of rows removed (0 or 1).
    pub fn delete_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<usize> {
        diesel::delete(wechat_identities::table.filter(wechat_identities::user_id.eq(user_id)))
            .execute(conn)
    }
}
