use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::ApiError;
use shared::db::{DbBackend, DbConnection};
use shared::list::ListQuery;

use crate::schema::{permissions, resources, role_permissions, roles};

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = permissions)]
pub struct Permission {
    pub id: i64,
    pub resource_id: i64,
    pub method: String,
    pub is_public: bool,
    pub created_at: NaiveDateTime,
    pub built_in: bool,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = permissions)]
pub struct NewPermission {
    pub resource_id: i64,
    pub method: String,
    pub is_public: bool,
    pub built_in: bool,
    pub created_at: NaiveDateTime,
}

/// A permission as the API shows it: the method on a named route.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PermissionView {
    pub id: i64,
    pub resource_id: i64,
    pub resource: String,
    pub pattern: String,
    pub category: String,
    pub method: String,
    /// Callable without signing in.
    pub is_public: bool,
    /// Needed for the platform to administer itself or to let people in: it cannot be
    /// deleted, and a restart restores it if missing.
    pub built_in: bool,
}

type Row = (i64, i64, String, bool, bool, String, String, String, bool);

impl From<Row> for PermissionView {
    fn from(
        (
            id,
            resource_id,
            method,
            is_public,
            built_in,
            resource,
            pattern,
            category,
            resource_public,
        ): Row,
    ) -> Self {
        Self {
            id,
            resource_id,
            resource,
            pattern,
            category,
            method,
            is_public: is_public || resource_public,
            built_in,
        }
    }
}

impl Permission {
    pub fn find(conn: &mut DbConnection, id: i64) -> Result<Permission, ApiError> {
        permissions::table
            .find(id)
            .select(Permission::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("permission"))
    }

    pub fn find_by(
        conn: &mut DbConnection,
        resource_id: i64,
        method: &str,
    ) -> QueryResult<Option<Permission>> {
        permissions::table
            .filter(permissions::resource_id.eq(resource_id))
            .filter(permissions::method.eq(method))
            .select(Permission::as_select())
            .first(conn)
            .optional()
    }

    pub fn insert(conn: &mut DbConnection, new: &NewPermission) -> QueryResult<i64> {
        diesel::insert_into(permissions::table)
            .values(new)
            .returning(permissions::id)
            .get_result(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(permissions::table.find(id)).execute(conn)
    }

    pub fn view(conn: &mut DbConnection, id: i64) -> Result<PermissionView, ApiError> {
        permissions::table
            .inner_join(resources::table)
            .filter(permissions::id.eq(id))
            .select(Self::VIEW_COLUMNS)
            .first::<Row>(conn)
            .optional()?
            .map(PermissionView::from)
            .ok_or_else(|| ApiError::not_found("permission"))
    }

    const VIEW_COLUMNS: (
        permissions::id,
        permissions::resource_id,
        permissions::method,
        permissions::is_public,
        permissions::built_in,
        resources::name,
        resources::pattern,
        resources::category,
        resources::is_public,
    ) = (
        permissions::id,
        permissions::resource_id,
        permissions::method,
        permissions::is_public,
        permissions::built_in,
        resources::name,
        resources::pattern,
        resources::category,
        resources::is_public,
    );

    /// Lists permissions; `role_id` narrows to the permissions a role holds.
    pub fn list(
        conn: &mut DbConnection,
        list: &ListQuery,
        role_id: Option<i64>,
    ) -> Result<(i64, Vec<PermissionView>), ApiError> {
        let role_filter = match (role_id, list.filter("role")) {
            (Some(id), _) => Some(id),
            (None, Some(name)) => Some(
                roles::table
                    .filter(roles::name.eq(name))
                    .select(roles::id)
                    .first(conn)
                    .optional()?
                    .unwrap_or(-1),
            ),
            (None, None) => None,
        };
        let method = list.filter("method").map(str::to_owned);
        let filtered = || -> Result<_, ApiError> {
            let mut query = permissions::table
                .inner_join(resources::table)
                .into_boxed::<DbBackend>();
            if let Some(category) = list.filter("category") {
                query = query.filter(resources::category.eq(category.to_owned()));
            }
            if let Some(resource) = list.filter("resource") {
                query = query.filter(resources::name.eq(resource.to_owned()));
            }
            if let Some(method) = &method {
                query = query.filter(permissions::method.eq(method.clone()));
            }
            if let Some(role_id) = role_filter {
                let held = role_permissions::table
                    .filter(role_permissions::role_id.eq(role_id))
                    .select(role_permissions::permission_id);
                query = query.filter(permissions::id.eq_any(held));
            }
            Ok(query)
        };
        let count = filtered()?.count().get_result(conn)?;
        let query = shared::order_by!(filtered()?, list, {
            "id" => permissions::id,
            "method" => permissions::method,
            "resource" => resources::name,
            "category" => resources::category,
        });
        let rows: Vec<Row> = query
            .then_order_by(permissions::id.asc())
            .limit(list.limit)
            .offset(list.offset)
            .select(Self::VIEW_COLUMNS)
            .load(conn)?;
        Ok((count, rows.into_iter().map(PermissionView::from).collect()))
    }
}
