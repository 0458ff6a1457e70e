//! Train/dev/test splits with the original Corr2Cause rule (`code/data_stats.py`,
//! `num_samples2splits`): test = min(1000, ⌊N/10⌋), dev = test, train = the rest; for N < 1000,
//! test = ⌊N/2⌋ and dev = the rest (no train items).
//!
//! As in the original (`compile_train_dev_test`), the rule is applied **per number of
//! variables**, to that size's items in generation order (the MEC order is shuffled with the
//! seed first): the first `test` items go to test, the next `dev` to dev, the rest to train. Items
//! of one premise therefore stay together except at the two cut points.

use serde::Serialize;

/// Which split an item goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training items.
    Train,
    /// Development items.
    Dev,
    /// Test items.
    Test,
}

impl Split {
    /// All splits, in file order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    /// `train`, `dev` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

/// Split sizes for `total` items of one size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SplitSizes {
    /// Test items (taken first).
    pub test: u64,
    /// Dev items (taken next).
    pub dev: u64,
    /// Train items (the rest).
    pub train: u64,
}

impl SplitSizes {
    /// The original rule for `total` items.
    pub fn for_total(total: u64) -> Self {
        let (test, dev) = if total < 1000 {
            let test = total / 2;
            (test, total - test)
        } else {
            let test = (total / 10).min(1000);
            (test, test)
        };
        SplitSizes { test, dev, train: total - test - dev }
    }

    /// The split of the item at 0-based position `index` within its size's items.
    pub fn split_of(&self, index: u64) -> Split {
        if index < self.test {
            Split::Test
        } else if index < self.test + self.dev {
            Split::Dev
        } else {
            Split::Train
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_rule() {
        assert_eq!(SplitSizes::for_total(12), SplitSizes { test: 6, dev: 6, train: 0 });
        assert_eq!(SplitSizes::for_total(999), SplitSizes { test: 499, dev: 500, train: 0 });
        assert_eq!(SplitSizes::for_total(1000), SplitSizes { test: 100, dev: 100, train: 800 });
        assert_eq!(SplitSizes::for_total(50_000), SplitSizes { test: 1000, dev: 1000, train: 48_000 });
        assert_eq!(SplitSizes::for_total(0), SplitSizes { test: 0, dev: 0, train: 0 });
    }

    #[test]
    fn positions_route_in_order() {
        let sizes = SplitSizes::for_total(1000);
        assert_eq!(sizes.split_of(0), Split::Test);
        assert_eq!(sizes.split_of(99), Split::Test);
        assert_eq!(sizes.split_of(100), Split::Dev);
        assert_eq!(sizes.split_of(199), Split::Dev);
        assert_eq!(sizes.split_of(200), Split::Train);
        let counts = Split::ALL.map(|s| (0..1000).filter(|&i| sizes.split_of(i) == s).count() as u64);
        assert_eq!(counts, [sizes.train, sizes.dev, sizes.test]);
    }
}
