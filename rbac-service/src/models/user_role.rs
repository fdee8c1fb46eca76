//! Which roles a user holds.
//!
//! A user nobody has assigned roles to holds the default role (traveller): rbac-service
//! never has to hear about new users. The first grant or revocation materialises the set
//! (default role included) and from then on the rows are the truth, even when empty.
//! Every change bumps the user's version, which orders writes of the roles cache.

use diesel::prelude::*;
use shared::db::DbConnection;
use shared::{ApiError, Code};

use crate::schema::{roles, user_role_sets, user_roles};

/// The role every user holds until their roles are set explicitly.
pub const DEFAULT_ROLE: &str = "traveller";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRoles {
    pub user_id: i64,
    pub version: i64,
    pub role_ids: Vec<i64>,
}

impl UserRoles {
    pub fn load(conn: &mut DbConnection, user_id: i64) -> QueryResult<UserRoles> {
        let version: Option<i64> = user_role_sets::table
            .find(user_id)
            .select(user_role_sets::version)
            .first(conn)
            .optional()?;
        let role_ids = match version {
            Some(_) => user_roles::table
                .filter(user_roles::user_id.eq(user_id))
                .order(user_roles::role_id)
                .select(user_roles::role_id)
                .load(conn)?,
            None => default_role_id(conn)?.into_iter().collect(),
        };
        Ok(UserRoles {
            user_id,
            version: version.unwrap_or(0),
            role_ids,
        })
    }

    /// Adds `role_id`; false when already held. Run inside a write transaction.
    pub fn grant(conn: &mut DbConnection, user_id: i64, role_id: i64) -> QueryResult<bool> {
        let current = Self::materialise(conn, user_id)?;
        if current.role_ids.contains(&role_id) {
            return Ok(false);
        }
        insert_role(conn, user_id, role_id)?;
        bump(conn, user_id)?;
        Ok(true)
    }

    /// Removes `role_id`; false when not held. Run inside a write transaction.
    pub fn revoke(conn: &mut DbConnection, user_id: i64, role_id: i64) -> QueryResult<bool> {
        let current = Self::materialise(conn, user_id)?;
        if !current.role_ids.contains(&role_id) {
            return Ok(false);
        }
        diesel::delete(
            user_roles::table
                .filter(user_roles::user_id.eq(user_id))
                .filter(user_roles::role_id.eq(role_id)),
        )
        .execute(conn)?;
        bump(conn, user_id)?;
        Ok(true)
    }

    /// Users who hold `role_id` explicitly (users on the default role are not listed).
    pub fn holders(conn: &mut DbConnection, role_id: i64) -> QueryResult<Vec<i64>> {
        user_roles::table
            .filter(user_roles::role_id.eq(role_id))
            .order(user_roles::user_id)
            .select(user_roles::user_id)
            .load(conn)
    }

    fn materialise(conn: &mut DbConnection, user_id: i64) -> QueryResult<UserRoles> {
        let current = Self::load(conn, user_id)?;
        let explicit = diesel::select(diesel::dsl::exists(user_role_sets::table.find(user_id)))
            .get_result::<bool>(conn)?;
        if !explicit {
            diesel::insert_into(user_role_sets::table)
                .values((
                    user_role_sets::user_id.eq(user_id),
                    user_role_sets::version.eq(0),
                ))
                .execute(conn)?;
            for role_id in &current.role_ids {
                insert_role(conn, user_id, *role_id)?;
            }
        }
        Ok(current)
    }
}

fn insert_role(conn: &mut DbConnection, user_id: i64, role_id: i64) -> QueryResult<usize> {
    diesel::insert_into(user_roles::table)
        .values((
            user_roles::user_id.eq(user_id),
            user_roles::role_id.eq(role_id),
            user_roles::created_at.eq(shared::time::now()),
        ))
        .execute(conn)
}

fn bump(conn: &mut DbConnection, user_id: i64) -> QueryResult<usize> {
    diesel::update(user_role_sets::table.find(user_id))
        .set(user_role_sets::version.eq(user_role_sets::version + 1))
        .execute(conn)
}

fn default_role_id(conn: &mut DbConnection) -> QueryResult<Option<i64>> {
    roles::table
        .filter(roles::name.eq(DEFAULT_ROLE))
        .select(roles::id)
        .first(conn)
        .optional()
}

/// Keeps at least one super_admin: refuses to take the role from its last holder.
pub fn ensure_not_last_super_admin(
    conn: &mut DbConnection,
    role_name: &str,
    role_id: i64,
) -> Result<(), ApiError> {
    if role_name != "super_admin" {
        return Ok(());
    }
    let holders: i64 = user_roles::table
        .filter(user_roles::role_id.eq(role_id))
        .count()
        .get_result(conn)?;
    if holders <= 1 {
        return Err(ApiError::new(
            Code::LastSuperAdmin,
            "This is the last super_admin; grant the role to someone else first.",
        ));
    }
    Ok(())
}
