//! How long a rolled token's previous secret keeps working (SPEC §12): 0 (it stops at once,
//! which is a regenerate) up to 7 days. Every face parses it here: the API's seconds, the
//! dashboard's choices and the CLI's `--overlap 24h`.

/// The longest overlap: 7 days.
pub const MAX_SECS: u32 = 604_800;

/// The dashboard's choices, as (seconds, label).
pub const CHOICES: [(u32, &str); 5] = [
    (0, "No overlap — it stops now"),
    (3_600, "1 hour"),
    (86_400, "24 hours"),
    (259_200, "3 days"),
    (604_800, "7 days"),
];

/// A valid overlap, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overlap(u32);

impl Overlap {
    /// No overlap: the previous secret stops at once.
    pub const NONE: Self = Self(0);

    /// Seconds as the API takes them (0 to 604800).
    pub fn from_secs(secs: i64) -> Result<Self, String> {
        match u32::try_from(secs) {
            Ok(s) if s <= MAX_SECS => Ok(Self(s)),
            _ => Err(format!(
                "must be a whole number of seconds from 0 to {MAX_SECS} (7 days)"
            )),
        }
    }

    /// A duration as the CLI takes it: `0`, or a number with `s`, `m`, `h` or `d`
    /// (`90m`, `24h`, `7d`); a bare number is seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => text.split_at(i),
            None => (text, "s"),
        };
        let per = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => {
                return Err(format!(
                    "“{text}” is not a duration such as 0, 90m, 24h or 7d"
                ));
            }
        };
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("“{text}” is not a duration such as 0, 90m, 24h or 7d"))?;
        Self::from_secs(n.saturating_mul(per))
    }

    pub fn secs(self) -> u32 {
        self.0
    }

    /// When a previous secret rolled at `now` stops working; `None` = at once.
    pub fn until(self, now: i64) -> Option<i64> {
        (self.0 > 0).then(|| now + i64::from(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_from_zero_to_seven_days_are_overlaps() {
        assert_eq!(Overlap::from_secs(0), Ok(Overlap::NONE));
        assert_eq!(Overlap::from_secs(604_800).map(Overlap::secs), Ok(604_800));
        assert!(Overlap::from_secs(604_801).is_err());
        assert!(Overlap::from_secs(-1).is_err());
    }

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(Overlap::parse("24h").map(Overlap::secs), Ok(86_400));
        assert_eq!(Overlap::parse("90m").map(Overlap::secs), Ok(5_400));
        assert_eq!(Overlap::parse("7d").map(Overlap::secs), Ok(604_800));
        assert_eq!(Overlap::parse("0").map(Overlap::secs), Ok(0));
        assert_eq!(Overlap::parse("45").map(Overlap::secs), Ok(45));
        assert!(Overlap::parse("8d").is_err());
        assert!(Overlap::parse("1w").is_err());
        assert!(Overlap::parse("h").is_err());
    }

    #[test]
    fn no_overlap_ends_at_once() {
        assert_eq!(Overlap::NONE.until(100), None);
        assert_eq!(
            Overlap::from_secs(2).ok().and_then(|o| o.until(100)),
            Some(102)
        );
    }
}
