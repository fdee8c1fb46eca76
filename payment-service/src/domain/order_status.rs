use std::fmt;
use std::str::FromStr;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::sql_types::Text;

/// pending → paid → refunded, or pending → closed. Nothing moves backwards.
///
/// Read from the database as this type: a row holding any other name fails to load (a
/// logged 500), instead of passing for some status it is not.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, diesel::FromSqlRow,
)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Refunded,
    Closed,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::Closed => "closed",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Ok(match text {
            "pending" => Self::Pending,
            "paid" => Self::Paid,
            "refunded" => Self::Refunded,
            "closed" => Self::Closed,
            other => return Err(format!("unknown order status {other:?}")),
        })
    }
}

impl<DB> FromSql<Text, DB> for OrderStatus
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(String::from_sql(bytes)?.parse()?)
    }
}
