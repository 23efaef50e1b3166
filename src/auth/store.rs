//! The dashboard's session store (`tower_sessions::SessionStore`) over `db::sessions`. Rows
//! are keyed by the SHA-256 of the session id, so the database never holds a cookie value;
//! a save never brings back a session that was ended meanwhile.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use super::session::{ADMIN_KEY, IP_KEY, USER_AGENT_KEY};
use crate::db::sessions::{IDLE, Saved, SessionRow};
use crate::db::{self, Db};
use crate::domain::now;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "keyward_session";

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    db: Db,
}

/// The key a session is stored under: SHA-256 of its id (the cookie value), in hex.
pub fn id_hash(id: &Id) -> String {
    crate::domain::ids::sha256_hex(&id.to_string())
}

fn backend(e: sqlx::Error) -> session_store::Error {
    session_store::Error::Backend(format!("session store: {e}"))
}

fn text<'a>(record: &'a Record, key: &str) -> Option<&'a str> {
    record.data.get(key).and_then(Value::as_str)
}

/// The values as one JSON object with sorted keys, so an unchanged session writes the same
/// text and its save can be skipped.
fn data_json(record: &Record) -> session_store::Result<String> {
    let sorted: BTreeMap<&String, &Value> = record.data.iter().collect();
    serde_json::to_string(&sorted).map_err(|e| session_store::Error::Encode(e.to_string()))
}

impl SqlSessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    fn row(record: &Record) -> session_store::Result<SessionRow> {
        let at = now();
        Ok(SessionRow {
            id_hash: id_hash(&record.id),
            admin_id: text(record, ADMIN_KEY).map(str::to_owned),
            created_at: at,
            last_seen_at: at,
            expires_at: record.expiry_date.unix_timestamp(),
            ip: text(record, IP_KEY).map(str::to_owned),
            user_agent: text(record, USER_AGENT_KEY).map(str::to_owned),
            data: data_json(record)?,
        })
    }
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id collides practically never; if it does, draw another.
        loop {
            let row = Self::row(record)?;
            if db::sessions::insert(&self.db, &row)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (id_hash, data) = (id_hash(&record.id), data_json(record)?);
        let saved = Saved {
            id_hash: &id_hash,
            admin_id: text(record, ADMIN_KEY),
            data: &data,
            expires_at: record.expiry_date.unix_timestamp(),
        };
        db::sessions::update(&self.db, &saved, now())
            .await
            .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some(row) = db::sessions::load(&self.db, &id_hash(id), now())
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let decode = |e: String| session_store::Error::Decode(e);
        Ok(Some(Record {
            id: *id,
            data: serde_json::from_str(&row.data).map_err(|e| decode(e.to_string()))?,
            expiry_date: OffsetDateTime::from_unix_timestamp(row.expires_at)
                .map_err(|e| decode(e.to_string()))?,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        db::sessions::delete(&self.db, &id_hash(id))
            .await
            .map_err(backend)
    }
}

/// The session layer: an HttpOnly, SameSite=Lax cookie (Secure behind an https public URL),
/// 12 hours of inactivity, saved on every request so the idle time counts from the last one.
pub fn layer(state: &AppState) -> SessionManagerLayer<SqlSessionStore> {
    SessionManagerLayer::new(SqlSessionStore::new(state.db.clone()))
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.secure_cookies())
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(IDLE),
        ))
        .with_always_save(true)
}

/// Deletes expired sessions every `period`, until the task is aborted.
pub async fn delete_expired_every(db: Db, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        if let Err(e) = db::sessions::delete_expired(&db, now()).await {
            tracing::warn!(error = %e, "deleting expired sessions failed");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn store() -> SqlSessionStore {
        let db = db::connect("sqlite::memory:").await.unwrap();
        db::migrate(&db).await.unwrap();
        SqlSessionStore::new(db)
    }

    fn record() -> Record {
        Record {
            id: Id::default(),
            data: [("k".to_owned(), Value::from("v"))].into(),
            expiry_date: OffsetDateTime::now_utc() + time::Duration::hours(12),
        }
    }

    #[tokio::test]
    async fn a_session_round_trips_under_its_hash_only() {
        let store = store().await;
        let mut r = record();
        store.create(&mut r).await.unwrap();
        let loaded = store.load(&r.id).await.unwrap().unwrap();
        assert_eq!(loaded.data, r.data);
        let stored = db::sessions::load(&store.db, &id_hash(&r.id), now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.id_hash.len(), 64);
        assert!(!stored.data.contains(&r.id.to_string()));
    }

    #[tokio::test]
    async fn a_late_save_does_not_bring_an_ended_session_back() {
        let store = store().await;
        let mut r = record();
        store.create(&mut r).await.unwrap();
        store.delete(&r.id).await.unwrap();
        r.data.insert("more".into(), Value::from(1));
        store.save(&r).await.unwrap();
        assert!(store.load(&r.id).await.unwrap().is_none());
    }
}
