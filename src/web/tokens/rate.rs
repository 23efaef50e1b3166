//! The rate limit on the token pages: the form's tier choice with its "Custom…" rows (limit,
//! window; four rows, so it works without JavaScript), and the detail page's budgets with
//! what is left of each now.

use crate::bearer::budget::{Scope, Spent};
use crate::config::Config;
use crate::domain::draft::RateInput;
use crate::domain::rate::{Limits, MAX_LIMITS, RatePolicy, Window};
use crate::web::format::thousands;

/// The value of the "Custom…" choice.
pub const CUSTOM: &str = "custom";

/// One "Custom…" row as typed.
#[derive(Clone, Debug)]
pub struct LimitRow {
    pub limit: String,
    pub per: String,
}

/// The rate-limit part of the form as typed: a tier name or [`CUSTOM`], and the rows.
#[derive(Clone, Debug)]
pub struct RateForm {
    pub tier: String,
    pub rows: Vec<LimitRow>,
}

impl Default for RateForm {
    fn default() -> Self {
        // One row per window, shortest first, so the rows as offered never repeat one.
        let rows = Window::ALL.map(|w| LimitRow {
            limit: String::new(),
            per: w.code().to_owned(),
        });
        Self {
            tier: "standard".into(),
            rows: rows.to_vec(),
        }
    }
}

impl RateForm {
    pub fn of(policy: &RatePolicy) -> Self {
        let mut f = Self::default();
        match policy {
            RatePolicy::Tier(t) => f.tier = t.clone(),
            RatePolicy::Custom(limits) => {
                f.tier = CUSTOM.into();
                for (row, l) in f.rows.iter_mut().zip(limits.iter()) {
                    row.limit = l.limit.to_string();
                    row.per = l.per.code().into();
                }
            }
        }
        f
    }

    /// Takes a form pair if it is one of this part's (`tier`, `limit_N`, `per_N`).
    pub fn take(&mut self, key: &str, value: &str) -> bool {
        if key == "tier" {
            self.tier = value.to_owned();
            return true;
        }
        let row = |prefix: &str| {
            key.strip_prefix(prefix)
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|i| *i < MAX_LIMITS)
        };
        if let Some(i) = row("limit_") {
            self.rows[i].limit = value.trim().to_owned();
        } else if let Some(i) = row("per_") {
            self.rows[i].per = value.to_owned();
        } else {
            return false;
        }
        true
    }

    /// As the validator takes it; rows with no limit are skipped, a limit that is not a
    /// number is reported as the largest (out of range) so the message says so.
    pub fn input(&self) -> RateInput {
        if self.tier != CUSTOM {
            return RateInput::Tier(self.tier.clone());
        }
        let rows = self.rows.iter().filter(|r| !r.limit.is_empty());
        RateInput::Limits(
            rows.map(|r| {
                let n = r.limit.replace([',', '_'], "").parse().unwrap_or(u64::MAX);
                (n, r.per.clone())
            })
            .collect(),
        )
    }
}

/// A tier as the form offers it.
pub struct TierOption {
    pub name: String,
    pub label: String,
}

pub fn tier_options(config: &Config) -> Vec<TierOption> {
    let tiers = config.tiers();
    tiers
        .names()
        .into_iter()
        .map(|name| TierOption {
            name: name.to_owned(),
            label: format!(
                "{} — {}",
                capitalized(name),
                summary(&tiers.get(name).unwrap_or_default())
            ),
        })
        .collect()
}

/// The windows a row may pick.
pub fn windows() -> [&'static str; 4] {
    Window::ALL.map(Window::code)
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// `60 requests/minute · 10,000 requests/day`.
pub fn summary(limits: &Limits) -> String {
    limits
        .iter()
        .map(|l| {
            format!(
                "{} requests/{}",
                thousands(i64::from(l.limit)),
                l.per.code()
            )
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// How a policy is named on the pages: its tier, or "Custom".
pub fn label(policy: &RatePolicy) -> String {
    policy
        .tier()
        .map_or_else(|| "Custom".to_owned(), capitalized)
}

/// One budget on the detail page.
pub struct BudgetView {
    pub label: String,
    pub limit: String,
    pub remaining: String,
    /// Seconds until full again, as text ("full" when it is).
    pub full_in: String,
    /// Percent left, for the bar.
    pub percent: u64,
}

pub fn budgets(spent: &Spent) -> Vec<BudgetView> {
    spent
        .budgets()
        .iter()
        .map(|b| BudgetView {
            label: format!(
                "{} per {}",
                match b.scope {
                    Scope::Token => "Token",
                    Scope::Workspace => "Workspace",
                },
                b.per.code()
            ),
            limit: thousands(i64::from(b.limit)),
            remaining: thousands(i64::from(b.remaining)),
            full_in: match b.reset_after {
                0 => "full".to_owned(),
                s => format!("full again in {}", duration(s)),
            },
            percent: u64::from(b.remaining) * 100 / u64::from(b.limit.max(1)),
        })
        .collect()
}

fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3_600 => format!("{} min", s.div_ceil(60)),
        _ => format!("{} h", s.div_ceil(3_600)),
    }
}
