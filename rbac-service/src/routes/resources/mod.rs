//! `/v1/resources`: the named routes permissions are about.

pub mod create;
pub mod delete;
pub mod get;
pub mod list;
pub mod replace;
pub mod update;

use shared::db::DbConnection;
use shared::{ApiError, Code};

use crate::domain::{Category, Name, RoutePattern};

/// A resource's fields, validated together so a 422 names every bad one.
pub struct ValidFields {
    pub name: Option<String>,
    pub pattern: Option<RoutePattern>,
    pub category: Option<Category>,
}

pub fn validate(
    name: Option<&str>,
    pattern: Option<&str>,
    category: Option<&str>,
) -> Result<ValidFields, ApiError> {
    let name = name.map(Name::parse).transpose();
    let pattern = pattern.map(RoutePattern::parse).transpose();
    let category = category.map(Category::parse).transpose();
    match (name, pattern, category) {
        (Ok(name), Ok(pattern), Ok(category)) => Ok(ValidFields {
            name: name.map(Name::into_inner),
            pattern,
            category,
        }),
        (name, pattern, category) => Err(ApiError::validation_fields(
            [
                ("name", name.err()),
                ("pattern", pattern.err()),
                ("category", category.err()),
            ]
            .into_iter()
            .filter_map(|(field, err)| err.map(|e| (field.to_owned(), e))),
        )),
    }
}

/// 409 when another resource has the name or the same route.
pub fn ensure_unique(
    conn: &mut DbConnection,
    id: Option<i64>,
    fields: &ValidFields,
) -> Result<(), ApiError> {
    use diesel::prelude::*;

    use crate::schema::resources;
    if let Some(name) = &fields.name {
        let taken: Option<i64> = resources::table
            .filter(resources::name.eq(name))
            .select(resources::id)
            .first(conn)
            .optional()?;
        if taken.is_some_and(|other| Some(other) != id) {
            return Err(
                ApiError::new(Code::NameTaken, "Another resource has this name.")
                    .with_details(serde_json::json!({ "field": "name" })),
            );
        }
    }
    if let Some(pattern) = &fields.pattern {
        let taken: Option<String> = resources::table
            .filter(resources::pattern_key.eq(pattern.key()))
            .filter(resources::id.ne(id.unwrap_or(-1)))
            .select(resources::name)
            .first(conn)
            .optional()?;
        if let Some(other) = taken {
            return Err(ApiError::new(
                Code::RouteTaken,
                format!("The resource {other:?} already covers this route."),
            )
            .with_details(serde_json::json!({ "field": "pattern", "resource": other })));
        }
    }
    Ok(())
}
