//! Ratings indexed both ways: by user (the items each user rated) and by item (the users
//! who rated each item), as compressed sparse rows over dense indices.

use std::collections::HashMap;

/// One (user, item, value) triple as it comes from a file or the database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rating {
    pub user: i64,
    pub item: i64,
    pub value: f32,
}

/// Compressed sparse rows: row `r` holds `cols[offsets[r]..offsets[r + 1]]`, sorted.
#[derive(Debug, Default, Clone)]
pub struct Csr {
    offsets: Vec<usize>,
    cols: Vec<u32>,
    values: Vec<f32>,
}

impl Csr {
    /// Builds rows from `(row, col, value)` entries; `rows` is the number of rows.
    fn build(rows: usize, entries: impl Iterator<Item = (u32, u32, f32)> + Clone) -> Self {
        let mut counts = vec![0usize; rows + 1];
        for (row, _, _) in entries.clone() {
            counts[row as usize + 1] += 1;
        }
        for r in 0..rows {
            counts[r + 1] += counts[r];
        }
        let offsets = counts.clone();
        let total = offsets[rows];
        let mut cols = vec![0u32; total];
        let mut values = vec![0f32; total];
        let mut next = counts;
        for (row, col, value) in entries {
            let at = next[row as usize];
            cols[at] = col;
            values[at] = value;
            next[row as usize] += 1;
        }
        let mut csr = Self {
            offsets,
            cols,
            values,
        };
        for r in 0..rows {
            let range = csr.offsets[r]..csr.offsets[r + 1];
            let mut pairs: Vec<(u32, f32)> = csr.cols[range.clone()]
                .iter()
                .copied()
                .zip(csr.values[range.clone()].iter().copied())
                .collect();
            pairs.sort_unstable_by_key(|(c, _)| *c);
            for (k, (c, v)) in pairs.into_iter().enumerate() {
                csr.cols[range.start + k] = c;
                csr.values[range.start + k] = v;
            }
        }
        csr
    }

    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let range = self.offsets[r]..self.offsets[r + 1];
        (&self.cols[range.clone()], &self.values[range])
    }

    pub fn len(&self, r: usize) -> usize {
        self.offsets[r + 1] - self.offsets[r]
    }

    /// The value at (`r`, `c`), if present.
    pub fn get(&self, r: usize, c: u32) -> Option<f32> {
        let (cols, values) = self.row(r);
        cols.binary_search(&c).ok().map(|k| values[k])
    }
}

/// The ratings of a data set, indexed.
#[derive(Debug, Default, Clone)]
pub struct Matrix {
    pub user_ids: Vec<i64>,
    pub item_ids: Vec<i64>,
    user_index: HashMap<i64, u32>,
    item_index: HashMap<i64, u32>,
    pub by_user: Csr,
    pub by_item: Csr,
}

impl Matrix {
    /// Indexes `ratings`; a repeated (user, item) pair keeps its last value. Ids are
    /// numbered in ascending order, so lower indices are lower ids (ties break the same).
    pub fn new(ratings: &[Rating]) -> Self {
        let mut user_ids: Vec<i64> = ratings.iter().map(|r| r.user).collect();
        let mut item_ids: Vec<i64> = ratings.iter().map(|r| r.item).collect();
        for ids in [&mut user_ids, &mut item_ids] {
            ids.sort_unstable();
            ids.dedup();
        }
        Self::with_ids(ratings, user_ids, item_ids)
    }

    /// Indexes `ratings` with `like`'s numbering (ids `like` lacks are left out, ids
    /// without a rating have empty rows), so that models fitted on part of the data can
    /// hand their parts to a model of the whole.
    pub fn numbered_as(ratings: &[Rating], like: &Matrix) -> Self {
        Self::with_ids(ratings, like.user_ids.clone(), like.item_ids.clone())
    }

    fn with_ids(ratings: &[Rating], user_ids: Vec<i64>, item_ids: Vec<i64>) -> Self {
        let user_index: HashMap<i64, u32> = index_of(&user_ids);
        let item_index: HashMap<i64, u32> = index_of(&item_ids);
        let mut last: HashMap<(u32, u32), f32> = HashMap::with_capacity(ratings.len());
        for r in ratings {
            if let (Some(u), Some(i)) = (user_index.get(&r.user), item_index.get(&r.item)) {
                last.insert((*u, *i), r.value);
            }
        }
        let entries: Vec<(u32, u32, f32)> = last.into_iter().map(|((u, i), v)| (u, i, v)).collect();
        let by_user = Csr::build(user_ids.len(), entries.iter().copied());
        let by_item = Csr::build(item_ids.len(), entries.iter().map(|&(u, i, v)| (i, u, v)));
        Self {
            user_ids,
            item_ids,
            user_index,
            item_index,
            by_user,
            by_item,
        }
    }

    pub fn users(&self) -> usize {
        self.user_ids.len()
    }

    pub fn items(&self) -> usize {
        self.item_ids.len()
    }

    pub fn entries(&self) -> usize {
        self.by_user.cols.len()
    }

    pub fn user(&self, id: i64) -> Option<u32> {
        self.user_index.get(&id).copied()
    }

    pub fn item(&self, id: i64) -> Option<u32> {
        self.item_index.get(&id).copied()
    }
}

fn index_of(ids: &[i64]) -> HashMap<i64, u32> {
    ids.iter()
        .enumerate()
        .map(|(index, id)| (*id, index as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_and_a_repeated_pair_keeps_its_last_value() {
        let ratings = [
            Rating {
                user: 7,
                item: 30,
                value: 1.0,
            },
            Rating {
                user: 7,
                item: 10,
                value: 2.0,
            },
            Rating {
                user: 3,
                item: 30,
                value: 4.0,
            },
            Rating {
                user: 7,
                item: 30,
                value: 5.0,
            },
        ];
        let m = Matrix::new(&ratings);
        assert_eq!(m.user_ids, vec![3, 7]);
        assert_eq!(m.item_ids, vec![10, 30]);
        assert_eq!(m.by_user.row(1), (&[0u32, 1][..], &[2.0f32, 5.0][..]));
        assert_eq!(m.by_item.row(1), (&[0u32, 1][..], &[4.0f32, 5.0][..]));
        assert_eq!(m.by_item.get(0, 1), Some(2.0));
        assert_eq!(m.entries(), 3);

        // Part of the data numbered as the whole: an id it lacks keeps its index with an
        // empty row, an id the whole lacks is left out.
        let part = [
            ratings[1],
            Rating {
                user: 9,
                ..ratings[2]
            },
        ];
        let numbered = Matrix::numbered_as(&part, &m);
        assert_eq!(
            (numbered.user_ids.clone(), numbered.item_ids.clone()),
            (m.user_ids, m.item_ids)
        );
        assert_eq!(
            numbered.by_user.row(0),
            (&[][..], &[][..]),
            "user 3's rating is not in it"
        );
        assert_eq!(numbered.by_user.row(1), (&[0u32][..], &[2.0f32][..]));
        assert_eq!(numbered.by_item.len(1), 0);
        assert_eq!(numbered.entries(), 1);
    }
}
