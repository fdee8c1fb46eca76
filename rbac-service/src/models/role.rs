use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::ApiError;
use shared::db::{DbBackend, DbConnection};
use shared::list::ListQuery;

use crate::schema::{role_permissions, roles};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = roles)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Seeded roles cannot be deleted or renamed.
    pub built_in: bool,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = roles)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub built_in: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = roles)]
pub struct RoleChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

impl Role {
    pub fn find(conn: &mut DbConnection, id: i64) -> Result<Role, ApiError> {
        roles::table
            .find(id)
            .select(Role::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("role"))
    }

    pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Role>> {
        roles::table
            .filter(roles::name.eq(name))
            .select(Role::as_select())
            .first(conn)
            .optional()
    }

    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Role>> {
        roles::table
            .order(roles::id)
            .select(Role::as_select())
            .load(conn)
    }

    pub fn insert(conn: &mut DbConnection, new: &NewRole) -> QueryResult<i64> {
        diesel::insert_into(roles::table)
            .values(new)
            .returning(roles::id)
            .get_result(conn)
    }

    pub fn update(conn: &mut DbConnection, id: i64, changes: &RoleChanges) -> QueryResult<usize> {
        diesel::update(roles::table.find(id))
            .set(changes)
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(roles::table.find(id)).execute(conn)
    }

    /// Grants a permission; false when the role already held it.
    pub fn grant(conn: &mut DbConnection, role_id: i64, permission_id: i64) -> QueryResult<bool> {
        let held = diesel::select(diesel::dsl::exists(
            role_permissions::table
                .filter(role_permissions::role_id.eq(role_id))
                .filter(role_permissions::permission_id.eq(permission_id)),
        ))
        .get_result::<bool>(conn)?;
        if held {
            return Ok(false);
        }
        diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role_id.eq(role_id),
                role_permissions::permission_id.eq(permission_id),
                role_permissions::created_at.eq(shared::time::now()),
            ))
            .execute(conn)?;
        Ok(true)
    }

    /// Revokes a permission; false when the role did not hold it.
    pub fn revoke(conn: &mut DbConnection, role_id: i64, permission_id: i64) -> QueryResult<bool> {
        let deleted = diesel::delete(
            role_permissions::table
                .filter(role_permissions::role_id.eq(role_id))
                .filter(role_permissions::permission_id.eq(permission_id)),
        )
        .execute(conn)?;
        Ok(deleted > 0)
    }

    /// Every (role, permission) pair.
    pub fn all_grants(conn: &mut DbConnection) -> QueryResult<Vec<(i64, i64)>> {
        role_permissions::table
            .select((role_permissions::role_id, role_permissions::permission_id))
            .load(conn)
    }

    pub fn list(conn: &mut DbConnection, list: &ListQuery) -> Result<(i64, Vec<Role>), ApiError> {
        let filtered = || -> Result<roles::BoxedQuery<'static, DbBackend>, ApiError> {
            let mut query = roles::table.into_boxed();
            if let Some(name) = list.filter("name") {
                query = query.filter(roles::name.eq(name.to_owned()));
            }
            if let Some(built_in) = list.filter_bool("built_in")? {
                query = query.filter(roles::built_in.eq(built_in));
            }
            Ok(query)
        };
        let count = filtered()?.count().get_result(conn)?;
        let query = shared::order_by!(filtered()?, list, {
            "id" => roles::id,
            "name" => roles::name,
            "created_at" => roles::created_at,
        });
        let rows = query
            .then_order_by(roles::id.asc())
            .limit(list.limit)
            .offset(list.offset)
            .select(Role::as_select())
            .load(conn)?;
        Ok((count, rows))
    }
}
