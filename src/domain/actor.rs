//! Who did something: an admin in the dashboard, a token through the API, or the command
//! line. Recorded in the audit log and as a token's creator.

use serde::Serialize;

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// `admin`, `token` or `cli`.
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub name: String,
}

impl Actor {
    pub fn admin(id: &str, email: &str) -> Self {
        Self {
            kind: "admin".to_owned(),
            id: Some(id.to_owned()),
            name: email.to_owned(),
        }
    }

    pub fn token(id: &str, name: &str) -> Self {
        Self {
            kind: "token".to_owned(),
            id: Some(id.to_owned()),
            name: name.to_owned(),
        }
    }

    pub fn cli() -> Self {
        Self {
            kind: "cli".to_owned(),
            id: None,
            name: "command line".to_owned(),
        }
    }
}
