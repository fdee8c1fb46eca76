/// A rating: a whole number of stars from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score(i32);

impl Score {
    pub fn parse(raw: i64) -> Result<Self, String> {
        if (1..=5).contains(&raw) {
            Ok(Self(raw as i32))
        } else {
            Err("must be a whole number from 1 to 5".into())
        }
    }

    pub fn value(self) -> i32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Score;

    #[test]
    fn scores_are_one_to_five_stars() {
        assert_eq!(Score::parse(1).unwrap().value(), 1);
        assert_eq!(Score::parse(5).unwrap().value(), 5);
        for bad in [0, 6, -1, i64::MAX] {
            assert!(Score::parse(bad).is_err(), "{bad}");
        }
    }
}
