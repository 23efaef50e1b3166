//! Permissions: the deployment's catalog plus the built-in management permissions.

use std::collections::BTreeSet;

pub const ADMIN: &str = "admin";
pub const TOKENS_READ: &str = "tokens:read";
pub const TOKENS_WRITE: &str = "tokens:write";
pub const TOKENS_DELETE: &str = "tokens:delete";
pub const TOKENS_VERIFY: &str = "tokens:verify";

/// Built-in management permissions with their labels.
pub const BUILT_IN: &[(&str, &str)] = &[
    (TOKENS_READ, "Read tokens and their usage"),
    (
        TOKENS_WRITE,
        "Create, edit, regenerate, revoke and reactivate tokens",
    ),
    (TOKENS_DELETE, "Delete tokens"),
    (TOKENS_VERIFY, "Verify other tokens"),
    (ADMIN, "Everything (full access)"),
];

/// One permission the catalog offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionInfo {
    pub code: String,
    pub label: String,
    pub built_in: bool,
}

/// The deployment's own API permissions (`code=Label`), configured at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog(Vec<PermissionInfo>);

impl Catalog {
    pub const DEFAULT_SPEC: &'static str = "chats:read=Read chats and messages,\
messages:send=Send messages,contacts:manage=Manage contacts,\
templates:read=Access templates,templates:send=Send template messages";

    /// Parses `code=Label,code=Label`; codes are `[a-z0-9_]` words joined by `:`.
    pub fn parse_spec(spec: &str) -> Result<Self, String> {
        let mut out: Vec<PermissionInfo> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (code, label) = item.split_once('=').unwrap_or((item, item));
            let code = code.trim();
            if !valid_code(code) {
                return Err(format!("invalid permission code {code:?}"));
            }
            if BUILT_IN.iter().any(|(c, _)| *c == code) || out.iter().any(|p| p.code == code) {
                return Err(format!(
                    "permission {code:?} is listed twice or is built in"
                ));
            }
            out.push(PermissionInfo {
                code: code.to_owned(),
                label: label.trim().to_owned(),
                built_in: false,
            });
        }
        out.extend(BUILT_IN.iter().map(|(c, l)| PermissionInfo {
            code: (*c).to_owned(),
            label: (*l).to_owned(),
            built_in: true,
        }));
        Ok(Self(out))
    }

    pub fn all(&self) -> &[PermissionInfo] {
        &self.0
    }

    pub fn contains(&self, code: &str) -> bool {
        self.0.iter().any(|p| p.code == code)
    }

    /// Validates requested codes against the catalog into a set (≥ 1 permission).
    pub fn parse_set<'a>(
        &self,
        codes: impl IntoIterator<Item = &'a str>,
    ) -> Result<PermissionSet, Vec<String>> {
        let mut set = BTreeSet::new();
        let mut errors = Vec::new();
        for code in codes.into_iter().map(str::trim).filter(|c| !c.is_empty()) {
            if self.contains(code) {
                set.insert(code.to_owned());
            } else {
                errors.push(format!("unknown permission “{code}”"));
            }
        }
        if set.is_empty() && errors.is_empty() {
            errors.push("choose at least one permission".to_owned());
        }
        if errors.is_empty() {
            Ok(PermissionSet::of(set))
        } else {
            Err(errors)
        }
    }
}

impl Default for Catalog {
    fn default() -> Self {
        Self::parse_spec(Self::DEFAULT_SPEC).unwrap_or(Self(Vec::new()))
    }
}

fn valid_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code.split(':').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// A token's permissions, sorted and unique: their stored form (codes joined by spaces) in
/// one block, read in one place by the bearer path's check, with `admin` known without a
/// search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionSet {
    codes: Box<str>,
    admin: bool,
}

impl PermissionSet {
    /// Reads the stored form (space-separated).
    pub fn from_stored(s: &str) -> Self {
        Self::of(s.split_whitespace().map(str::to_owned).collect())
    }

    fn of(set: BTreeSet<String>) -> Self {
        Self {
            admin: set.contains(ADMIN),
            codes: set.into_iter().collect::<Vec<_>>().join(" ").into(),
        }
    }

    pub fn to_stored(&self) -> String {
        self.codes.to_string()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.codes.split(' ').filter(|c| !c.is_empty())
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn is_admin(&self) -> bool {
        self.admin
    }

    /// Whether a holder of this set may act with `permission` (`admin` grants everything).
    pub fn allows(&self, permission: &str) -> bool {
        self.admin || self.iter().any(|c| c == permission)
    }

    /// Whether every permission of `self` is granted by `outer`.
    pub fn within(&self, outer: &Self) -> bool {
        outer.admin || self.iter().all(|c| outer.allows(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_has_deployment_and_built_in_permissions() {
        let c = Catalog::default();
        assert!(c.contains("chats:read") && c.contains("templates:send"));
        assert!(c.contains("tokens:verify") && c.contains("admin"));
        assert_eq!(c.all().len(), 10);
    }

    #[test]
    fn parse_set_rejects_unknown_and_empty() {
        let c = Catalog::default();
        assert!(c.parse_set(["messages:send", "nope"]).is_err());
        assert!(c.parse_set([]).is_err());
        let set = c.parse_set(["messages:send", "chats:read", "messages:send"]);
        assert_eq!(
            set.map(|s| s.to_stored()).ok().as_deref(),
            Some("chats:read messages:send")
        );
    }

    #[test]
    fn admin_allows_everything_and_within_is_subset() {
        let admin = PermissionSet::from_stored("admin");
        let small = PermissionSet::from_stored("chats:read");
        let both = PermissionSet::from_stored("chats:read messages:send");
        assert!(admin.allows("tokens:delete"));
        assert!(small.within(&both) && !both.within(&small));
        assert!(both.within(&admin) && !admin.within(&both));
    }

    #[test]
    fn the_stored_form_is_sorted_and_unique_and_a_code_matches_only_whole() {
        let set = PermissionSet::from_stored("  messages:send chats:read messages:send ");
        assert_eq!(set.to_stored(), "chats:read messages:send");
        assert_eq!(set.len(), 2);
        assert_eq!(set, PermissionSet::from_stored("chats:read messages:send"));
        assert!(set.allows("chats:read") && set.allows("messages:send"));
        assert!(!set.allows("chats") && !set.allows("read") && !set.allows(""));
        assert!(!set.allows("chats:read messages:send"));
        assert!(!set.is_admin() && PermissionSet::from_stored("x admin").is_admin());
        assert!(
            PermissionSet::default().is_empty() && PermissionSet::default().iter().next().is_none()
        );
    }

    #[test]
    fn bad_catalog_specs_are_refused() {
        assert!(Catalog::parse_spec("Bad Code=x").is_err());
        assert!(Catalog::parse_spec("admin=again").is_err());
        assert!(Catalog::parse_spec("a:b=x,a:b=y").is_err());
    }
}
