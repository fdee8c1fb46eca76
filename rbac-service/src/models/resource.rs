use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use shared::ApiError;
use shared::db::{DbBackend, DbConnection};
use shared::list::ListQuery;

use crate::schema::resources;

/// A named route pattern: what a permission is about.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = resources)]
pub struct Resource {
    pub id: i64,
    pub name: String,
    pub pattern: String,
    #[serde(skip)]
    pub pattern_key: String,
    pub category: String,
    pub description: String,
    /// Every method of this resource needs no sign-in.
    pub is_public: bool,
    /// Needed for the platform to administer itself or to let people in: it cannot be
    /// deleted, renamed, repointed or made public, and a restart restores it if missing.
    pub built_in: bool,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(with = "shared::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = resources)]
pub struct NewResource {
    pub name: String,
    pub pattern: String,
    pub pattern_key: String,
    pub category: String,
    pub description: String,
    pub is_public: bool,
    pub built_in: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = resources)]
pub struct ResourceChanges {
    pub name: Option<String>,
    pub pattern: Option<String>,
    pub pattern_key: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub is_public: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

impl ResourceChanges {
    /// True when no field is named (`updated_at` aside): nothing to write.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.pattern.is_none()
            && self.pattern_key.is_none()
            && self.category.is_none()
            && self.description.is_none()
            && self.is_public.is_none()
    }
}

impl Resource {
    pub fn find(conn: &mut DbConnection, id: i64) -> Result<Resource, ApiError> {
        resources::table
            .find(id)
            .select(Resource::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::not_found("resource"))
    }

    pub fn find_by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<Resource>> {
        resources::table
            .filter(resources::name.eq(name))
            .select(Resource::as_select())
            .first(conn)
            .optional()
    }

    /// The resource covering `pattern_key` (a route), if any.
    pub fn find_by_route(
        conn: &mut DbConnection,
        pattern_key: &str,
    ) -> QueryResult<Option<Resource>> {
        resources::table
            .filter(resources::pattern_key.eq(pattern_key))
            .select(Resource::as_select())
            .first(conn)
            .optional()
    }

    pub fn all(conn: &mut DbConnection) -> QueryResult<Vec<Resource>> {
        resources::table
            .order(resources::id)
            .select(Resource::as_select())
            .load(conn)
    }

    pub fn insert(conn: &mut DbConnection, new: &NewResource) -> QueryResult<i64> {
        diesel::insert_into(resources::table)
            .values(new)
            .returning(resources::id)
            .get_result(conn)
    }

    pub fn update(
        conn: &mut DbConnection,
        id: i64,
        changes: &ResourceChanges,
    ) -> QueryResult<usize> {
        diesel::update(resources::table.find(id))
            .set(changes)
            .execute(conn)
    }

    pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(resources::table.find(id)).execute(conn)
    }

    pub fn list(
        conn: &mut DbConnection,
        list: &ListQuery,
    ) -> Result<(i64, Vec<Resource>), ApiError> {
        let filtered = || -> Result<resources::BoxedQuery<'static, DbBackend>, ApiError> {
            let mut query = resources::table.into_boxed();
            if let Some(category) = list.filter("category") {
                query = query.filter(resources::category.eq(category.to_owned()));
            }
            if let Some(name) = list.filter("name") {
                query = query.filter(resources::name.eq(name.to_owned()));
            }
            if let Some(public) = list.filter_bool("is_public")? {
                query = query.filter(resources::is_public.eq(public));
            }
            Ok(query)
        };
        let count = filtered()?.count().get_result(conn)?;
        let query = shared::order_by!(filtered()?, list, {
            "id" => resources::id,
            "name" => resources::name,
            "category" => resources::category,
            "pattern" => resources::pattern,
            "created_at" => resources::created_at,
        });
        let rows = query
            .then_order_by(resources::id.asc())
            .limit(list.limit)
            .offset(list.offset)
            .select(Resource::as_select())
            .load(conn)?;
        Ok((count, rows))
    }
}
