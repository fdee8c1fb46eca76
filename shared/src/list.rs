//! List endpoints: parsing `?limit=&offset=` or `?page=&per_page=`, `?sortby=&order=`
//! and whitelisted `?field=value` filters, and the `{count, next, previous, results}` page.
//!
//! Each list endpoint declares a [`ListSpec`]; anything it does not name is refused, so a
//! typo in a filter is a 400 rather than a silently unfiltered list. Malformed values are
//! 400s, well-formed but out-of-range values are 422s, and both name the parameter.
//! `next` and `previous` are relative references (path and query) keeping the caller's
//! filters, sort and paging style.

use std::str::FromStr;

use serde::Serialize;
use serde_json::json;

use crate::error::{ApiError, Code};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// What a list endpoint allows.
#[derive(Debug)]
pub struct ListSpec {
    pub sortable: &'static [&'static str],
    pub filters: &'static [&'static str],
    pub default_sort: &'static str,
    pub default_order: Order,
    pub default_page_size: i64,
    pub max_page_size: i64,
}

impl ListSpec {
    pub const fn new(sortable: &'static [&'static str], filters: &'static [&'static str]) -> Self {
        Self {
            sortable,
            filters,
            default_sort: "id",
            default_order: Order::Asc,
            default_page_size: 20,
            max_page_size: 100,
        }
    }

    pub const fn sorted_by(mut self, field: &'static str, order: Order) -> Self {
        self.default_sort = field;
        self.default_order = order;
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Paging {
    Offset,
    Page,
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub limit: i64,
    pub offset: i64,
    pub sort_by: &'static str,
    pub order: Order,
    filters: Vec<(&'static str, String)>,
    paging: Paging,
    explicit_sort: bool,
}

const PAGING_PARAMS: [&str; 4] = ["limit", "offset", "page", "per_page"];

impl ListQuery {
    pub fn parse(spec: &ListSpec, query: &str) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| ApiError::new(Code::InvalidQuery, "The query string is malformed."))?;
        let mut seen: Vec<&str> = Vec::with_capacity(pairs.len());
        for (name, _) in &pairs {
            if seen.contains(&name.as_str()) {
                return Err(param_error(
                    Code::DuplicateParameter,
                    name,
                    format!("The parameter {name:?} is given more than once."),
                ));
            }
            seen.push(name);
        }
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };

        let offset_style = get("limit").is_some() || get("offset").is_some();
        let page_style = get("page").is_some() || get("per_page").is_some();
        if offset_style && page_style {
            return Err(ApiError::new(
                Code::ConflictingParameters,
                "Use either limit/offset or page/per_page, not both.",
            ));
        }
        let (paging, limit, offset) = if page_style {
            let per_page = bounded(
                get("per_page"),
                "per_page",
                spec.default_page_size,
                1,
                spec.max_page_size,
            )?;
            let page = bounded(get("page"), "page", 1, 1, i64::MAX / per_page.max(1))?;
            (Paging::Page, per_page, (page - 1) * per_page)
        } else {
            let limit = bounded(
                get("limit"),
                "limit",
                spec.default_page_size,
                1,
                spec.max_page_size,
            )?;
            let offset = bounded(get("offset"), "offset", 0, 0, i64::MAX - spec.max_page_size)?;
            (Paging::Offset, limit, offset)
        };

        let sort_by = match get("sortby") {
            None => spec.default_sort,
            Some(field) => *spec.sortable.iter().find(|f| **f == field).ok_or_else(|| {
                ApiError::validation(
                    "sortby",
                    format!("must be one of: {}", spec.sortable.join(", ")),
                )
            })?,
        };
        let order = match get("order") {
            None if get("sortby").is_some() => Order::Asc,
            None => spec.default_order,
            Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some(_) => return Err(ApiError::validation("order", "must be asc or desc")),
        };

        let mut filters = Vec::new();
        for (name, value) in &pairs {
            if PAGING_PARAMS.contains(&name.as_str()) || name == "sortby" || name == "order" {
                continue;
            }
            let Some(field) = spec.filters.iter().find(|f| **f == name) else {
                let allowed = spec.filters.join(", ");
                return Err(param_error(
                    Code::UnknownParameter,
                    name,
                    format!("Unknown query parameter {name:?}; filters here: {allowed}."),
                ));
            };
            filters.push((*field, value.clone()));
        }

        Ok(Self {
            limit,
            offset,
            sort_by,
            order,
            filters,
            paging,
            explicit_sort: get("sortby").is_some() || get("order").is_some(),
        })
    }

    /// The raw value of a whitelisted filter.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A filter parsed as `T`; a value that does not parse is a 400 naming the parameter.
    pub fn filter_as<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.filter(name)
            .map(|value| {
                value.parse().map_err(|_| {
                    param_error(
                        Code::InvalidParameter,
                        name,
                        format!("The value {value:?} is not valid for {name:?}."),
                    )
                })
            })
            .transpose()
    }

    /// A boolean filter: `true`/`false` (also `1`/`0`).
    pub fn filter_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.filter(name) {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(value) => Err(param_error(
                Code::InvalidParameter,
                name,
                format!("The value {value:?} is not valid for {name:?}; use true or false."),
            )),
        }
    }

    pub fn descending(&self) -> bool {
        self.order == Order::Desc
    }

    /// The page of `results` out of `count` matches, with links relative to `path`.
    pub fn page<T: Serialize>(&self, path: &str, count: i64, results: Vec<T>) -> Page<T> {
        let next =
            (self.offset + self.limit < count).then(|| self.link(path, self.offset + self.limit));
        let previous =
            (self.offset > 0).then(|| self.link(path, (self.offset - self.limit).max(0)));
        Page {
            count,
            next,
            previous,
            results,
        }
    }

    fn link(&self, path: &str, offset: i64) -> String {
        let mut params: Vec<(&str, String)> =
            self.filters.iter().map(|(k, v)| (*k, v.clone())).collect();
        if self.explicit_sort {
            params.push(("sortby", self.sort_by.to_owned()));
            let order = if self.descending() { "desc" } else { "asc" };
            params.push(("order", order.to_owned()));
        }
        match self.paging {
            Paging::Offset => {
                params.push(("limit", self.limit.to_string()));
                params.push(("offset", offset.to_string()));
            }
            Paging::Page => {
                params.push(("page", (offset / self.limit + 1).to_string()));
                params.push(("per_page", self.limit.to_string()));
            }
        }
        let query = serde_urlencoded::to_string(&params).unwrap_or_default();
        format!("{path}?{query}")
    }
}

/// Orders a boxed diesel query by the list's `sortby`/`order`, among the given columns:
/// `order_by!(query, list, { "name" => users::name, "created_at" => users::created_at })`.
/// Follow it with `.then_order_by(<id>)` so pages are stable.
#[macro_export]
macro_rules! order_by {
    ($query:expr, $list:expr, { $($name:literal => $column:expr),+ $(,)? }) => {{
        use diesel::ExpressionMethods as _;
        use diesel::QueryDsl as _;
        match $list.sort_by {
            $($name => if $list.descending() { $query.order($column.desc()) } else { $query.order($column.asc()) },)+
            _ => $query,
        }
    }};
}

fn bounded(
    raw: Option<&str>,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    let value: i64 = raw.parse().map_err(|_| {
        param_error(
            Code::InvalidParameter,
            name,
            format!("{name} must be an integer, not {raw:?}."),
        )
    })?;
    if !(min..=max).contains(&value) {
        return Err(ApiError::validation(
            name,
            format!("must be between {min} and {max}"),
        ));
    }
    Ok(value)
}

fn param_error(code: Code, name: &str, message: String) -> ApiError {
    ApiError::new(code, message).with_details(json!({ "parameter": name }))
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// Matches in all pages.
    pub count: i64,
    /// Relative link to the next page, if any.
    pub next: Option<String>,
    /// Relative link to the previous page, if any.
    pub previous: Option<String>,
    pub results: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: ListSpec = ListSpec::new(&["id", "created_at"], &["email", "is_disabled"]);

    fn parse(query: &str) -> Result<ListQuery, ApiError> {
        ListQuery::parse(&SPEC, query)
    }

    #[test]
    fn defaults_apply_when_nothing_is_given() {
        let q = parse("").unwrap();
        assert_eq!(
            (q.limit, q.offset, q.sort_by, q.order),
            (20, 0, "id", Order::Asc)
        );
    }

    #[test]
    fn page_and_per_page_become_limit_and_offset() {
        let q = parse("page=3&per_page=10").unwrap();
        assert_eq!((q.limit, q.offset), (10, 20));
    }

    #[test]
    fn bad_values_are_refused_naming_the_parameter() {
        let cases = [
            ("limit=abc", 400, "limit"),
            ("limit=0", 422, "limit"),
            ("limit=101", 422, "limit"),
            ("offset=-1", 422, "offset"),
            ("page=0", 422, "page"),
            ("per_page=x", 400, "per_page"),
            ("sortby=password_hash", 422, "sortby"),
            ("order=sideways", 422, "order"),
            ("role=admin", 400, "role"),
            ("email=a&email=b", 400, "email"),
        ];
        for (query, status, name) in cases {
            let err = parse(query).unwrap_err();
            assert_eq!(err.kind().status().as_u16(), status, "{query}");
            let details = err.details().unwrap();
            let named = details["parameter"] == name || details["fields"].get(name).is_some();
            assert!(named, "{query}: {details}");
        }
        let err = parse("limit=5&page=2").unwrap_err();
        assert_eq!(err.code(), Code::ConflictingParameters);
    }

    #[test]
    fn filters_are_whitelisted_and_typed() {
        let q = parse("email=a%40b.c&is_disabled=true").unwrap();
        assert_eq!(q.filter("email"), Some("a@b.c"));
        assert_eq!(q.filter_bool("is_disabled").unwrap(), Some(true));
        let q = parse("is_disabled=maybe").unwrap();
        assert_eq!(
            q.filter_bool("is_disabled").unwrap_err().kind(),
            crate::ErrorKind::BadRequest
        );
    }

    #[test]
    fn links_keep_filters_sort_and_paging_style() {
        let q = parse("email=x&sortby=created_at&order=desc&limit=2&offset=2").unwrap();
        let page = q.page("/v1/users", 5, vec![1, 2]);
        assert_eq!(
            page.next.as_deref(),
            Some("/v1/users?email=x&sortby=created_at&order=desc&limit=2&offset=4")
        );
        assert_eq!(
            page.previous.as_deref(),
            Some("/v1/users?email=x&sortby=created_at&order=desc&limit=2&offset=0")
        );
        let last = parse("page=3&per_page=2")
            .unwrap()
            .page("/v1/users", 5, vec![5]);
        assert_eq!(last.next, None);
        assert_eq!(
            last.previous.as_deref(),
            Some("/v1/users?page=2&per_page=2")
        );
        let first = parse("").unwrap().page("/v1/users", 5, vec![1, 2, 3, 4, 5]);
        assert_eq!((first.next, first.previous), (None, None));
    }
}
