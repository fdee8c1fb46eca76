//! The `order_idempotency_keys` table: the `Idempotency-Key` a client sent with an order
//! and the order it made, unique per user, written in the order's own transaction.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared::db::DbConnection;

use crate::models::Order;
use crate::schema::order_idempotency_keys as keys;

#[derive(Debug, Insertable)]
#[diesel(table_name = keys)]
struct NewKey<'a> {
    user_id: i64,
    idempotency_key: &'a str,
    order_id: i64,
    created_at: NaiveDateTime,
}

/// Records that `key` of `user_id` made `order_id`; a unique violation if it was taken.
pub fn insert(
    conn: &mut DbConnection,
    user_id: i64,
    key: &str,
    order_id: i64,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(keys::table)
        .values(NewKey {
            user_id,
            idempotency_key: key,
            order_id,
            created_at: at,
        })
        .execute(conn)
        .map(drop)
}

/// The order `user_id` made with `key`, if any.
pub fn order(conn: &mut DbConnection, user_id: i64, key: &str) -> QueryResult<Option<Order>> {
    let order_id = keys::table
        .find((user_id, key))
        .select(keys::order_id)
        .first::<i64>(conn)
        .optional()?;
    order_id.map(|id| Order::find(conn, id)).transpose()
}
