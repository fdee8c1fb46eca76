//! Rating files: MovieLens (`user<TAB>item<TAB>rating<TAB>timestamp`) and the original
//! platform's CSV (`user,item,rating`), told apart line by line. Every bad line is
//! reported with its number; a file with any bad line yields no rows at all.

use std::collections::HashMap;
use std::fmt;

use crate::recommend::Rating;

/// An item as a file names it: a trip id, or (the original CSV) a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemKey {
    Id(i64),
    Name(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub user: i64,
    pub item: ItemKey,
    pub value: f32,
    /// The MovieLens timestamp (Unix seconds), when the line has one.
    pub at: Option<i64>,
}

impl Row {
    /// When the rating was given, if the line says (the parser checked it is a date).
    pub fn given_at(&self) -> Option<chrono::NaiveDateTime> {
        self.at
            .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
            .map(|at| at.naive_utc())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Every row of `text`, or every error (1-based line numbers). Blank lines and a
/// `user,item,rating` header on line 1 are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, Vec<LineError>> {
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_end_matches('\r');
        if trimmed.trim().is_empty() || (line == 1 && is_header(trimmed)) {
            continue;
        }
        match parse_line(trimmed) {
            Ok((user, item, value, at)) => rows.push(Row {
                line,
                user,
                item,
                value,
                at,
            }),
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(errors)
    }
}

/// 9999-12-31T23:59:59Z: the last second both databases and chrono represent alike.
const MAX_TIMESTAMP: i64 = 253_402_300_799;

fn is_header(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.starts_with("user") && lower.contains("item")
}

fn parse_line(line: &str) -> Result<(i64, ItemKey, f32, Option<i64>), String> {
    let movielens = line.contains('\t');
    let fields: Vec<&str> = if movielens {
        line.split('\t').collect()
    } else {
        line.split(',').collect()
    };
    match (movielens, fields.len()) {
        (true, 3 | 4) | (false, 3) => {}
        (true, n) => {
            return Err(format!(
                "expected user, item, rating, timestamp; found {n} fields"
            ));
        }
        (false, n) => return Err(format!("expected user,item,rating; found {n} fields")),
    }
    let user: i64 = fields[0]
        .trim()
        .parse()
        .ok()
        .filter(|u| *u > 0)
        .ok_or_else(|| format!("user {:?} is not a positive integer", fields[0].trim()))?;
    let item_text = fields[1].trim();
    let item = match item_text.parse::<i64>() {
        Ok(id) if id > 0 => ItemKey::Id(id),
        Ok(_) => return Err(format!("item {item_text:?} is not a positive id")),
        Err(_) if !movielens && (1..=120).contains(&item_text.chars().count()) => {
            ItemKey::Name(item_text.to_owned())
        }
        Err(_) => return Err(format!("item {item_text:?} is not an id")),
    };
    let value: f32 = fields[2]
        .trim()
        .parse()
        .ok()
        .filter(|v: &f32| (1.0..=5.0).contains(v))
        .ok_or_else(|| format!("rating {:?} is not a number from 1 to 5", fields[2].trim()))?;
    let at = match fields.get(3) {
        Some(timestamp) => Some(
            timestamp
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|at| (0..=MAX_TIMESTAMP).contains(at))
                .ok_or_else(|| {
                    format!(
                        "timestamp {:?} is not Unix seconds from 0 to {MAX_TIMESTAMP}",
                        timestamp.trim()
                    )
                })?,
        ),
        None => None,
    };
    Ok((user, item, value, at))
}

/// Rows as model ratings: ids stay, names get ids after the largest id, in order of
/// first appearance.
pub fn to_ratings(rows: &[Row]) -> Vec<Rating> {
    let mut next = rows
        .iter()
        .filter_map(|r| match r.item {
            ItemKey::Id(id) => Some(id),
            ItemKey::Name(_) => None,
        })
        .max()
        .unwrap_or(0);
    let mut named: HashMap<&str, i64> = HashMap::new();
    rows.iter()
        .map(|r| {
            let item = match &r.item {
                ItemKey::Id(id) => *id,
                ItemKey::Name(name) => *named.entry(name).or_insert_with(|| {
                    next += 1;
                    next
                }),
            };
            Rating {
                user: r.user,
                item,
                value: r.value,
            }
        })
        .collect()
}

/// Reads and parses a file, with the bad lines as the error message.
pub fn read(path: &std::path::Path) -> anyhow::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| anyhow::anyhow!("cannot read {}: {err}", path.display()))?;
    parse(&text).map_err(|errors| report(path, &errors))
}

/// "N bad lines in FILE", then the first 20 of them.
pub fn report(path: &std::path::Path, errors: &[LineError]) -> anyhow::Error {
    let mut message = format!(
        "{} bad line(s) in {}; nothing was imported:",
        errors.len(),
        path.display()
    );
    for error in errors.iter().take(20) {
        message.push_str(&format!("\n  {error}"));
    }
    if errors.len() > 20 {
        message.push_str(&format!("\n  … and {} more", errors.len() - 20));
    }
    anyhow::anyhow!(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_parse_and_names_get_ids() {
        let text = "user,item,rating\n1,华为p30,2.0\n2,vivo,5\n\n3\t17\t4\t881250949\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].item, ItemKey::Name("华为p30".into()));
        assert_eq!(rows[2].item, ItemKey::Id(17));
        assert_eq!(rows[2].line, 5);
        assert_eq!(rows[0].given_at(), None);
        assert_eq!(
            rows[2].given_at().map(|at| at.to_string()),
            Some("1997-12-04 15:55:49".into())
        );
        let ratings = to_ratings(&rows);
        assert_eq!(
            ratings.iter().map(|r| r.item).collect::<Vec<_>>(),
            vec![18, 19, 17]
        );
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = "1\t2\t3\t4\nx\t2\t3\t4\n1\t2\t9\t4\n1,2\n1\tabc\t3\n1\t2\t3\tnoon\n1,2,3,4\n0,2,3\n1\t2\t3\t-5\n1\t2\t3\t99999999999999\n";
        let errors = parse(text).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!(errors[1].message.contains("rating"), "{}", errors[1]);
        assert!(errors[7].message.contains("timestamp"), "{}", errors[7]);
    }
}
