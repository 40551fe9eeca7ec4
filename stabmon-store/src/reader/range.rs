//! A time range of a read.

use stabmon_core::Timestamp;

#[derive(Clone, Copy)]
pub(super) struct Range {
    pub(super) from: Option<Timestamp>,
    pub(super) to: Option<Timestamp>,
}

impl Range {
    pub(super) const ALL: Range = Range {
        from: None,
        to: None,
    };

    pub(super) fn contains(&self, micros: i64) -> bool {
        self.from.is_none_or(|f| micros >= f.as_unix_micros())
            && self.to.is_none_or(|t| micros < t.as_unix_micros())
    }

    pub(super) fn overlaps(&self, min: i64, max: i64) -> bool {
        self.from.is_none_or(|f| max >= f.as_unix_micros())
            && self.to.is_none_or(|t| min < t.as_unix_micros())
    }

    /// `other` cut to this range (either end open where both are).
    pub(super) fn clip(&self, other: Range) -> Range {
        let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let earlier = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Range {
            from: later(self.from, other.from),
            to: earlier(self.to, other.to),
        }
    }
}
