//! Watching keyward: Prometheus metrics on a separate listener, JSON request logs.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::client;
use crate::real::{Server, cli_ok, create_token, fresh_db, seed_admin_token};

/// The value of one sample line (`name{labels} value`), or 0 when absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// The metrics listener's address, from its JSON start-up log line (logged before the server
/// reports its own address, so it is there once `Server::start_logging` returns).
fn metrics_addr(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("metrics at /metrics"))
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{text}"));
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    line["fields"]["addr"].as_str().unwrap().to_owned()
}

/// A server with known traffic behind it — for the good token 3 × 200 and 1 × 429, 2 ×
/// `missing_token`, 1 × `token_revoked`, one `/healthz` — its metrics from the metrics
/// listener and, once stopped, its JSON log.
struct Observed {
    dir: std::path::PathBuf,
    server: Server,
    log: std::path::PathBuf,
    secrets: [String; 3],
    metrics: String,
}

impl Observed {
    async fn run() -> Self {
        let (dir, db) = fresh_db();
        let admin = seed_admin_token(&db);
        let good = create_token(&db, "metrics-good", "chats:read", &[]);
        let revoked = create_token(&db, "metrics-revoked", "chats:read", &[]);
        let listing = cli_ok(&db, &["token", "list", "--workspace", "acme"], "");
        let revoked_id = listing
            .lines()
            .find(|l| l.contains("metrics-revoked"))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        cli_ok(
            &db,
            &["token", "revoke", "--workspace", "acme", &revoked_id],
            "",
        );
        let log = dir.join("server.log");
        let server = Server::start_logging(
            &db,
            &[
                "--metrics-listen",
                "127.0.0.1:0",
                "--rate-limit-standard",
                "3",
                "--usage-flush-ms",
                "100",
                "--log-format",
                "json",
            ],
            Some(&log),
        );
        let c = client();
        let me = |secret: Option<&str>| {
            let mut req = c.get(server.url("/api/v1/me"));
            if let Some(s) = secret {
                req = req.bearer_auth(s);
            }
            req.send()
        };
        // 3 × 200 and 1 × 429 for the good token, 2 × missing_token, 1 × token_revoked.
        for expected in [200, 200, 200, 429] {
            assert_eq!(me(Some(&good)).await.unwrap().status(), expected);
        }
        for _ in 0..2 {
            assert_eq!(me(None).await.unwrap().status(), 401);
        }
        assert_eq!(me(Some(&revoked)).await.unwrap().status(), 401);
        assert_eq!(
            c.get(server.url("/healthz")).send().await.unwrap().status(),
            200
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        let res = c
            .get(format!("http://{}/metrics", metrics_addr(&log)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let content_type = res.headers()["content-type"].to_str().unwrap();
        assert!(content_type.contains("openmetrics-text"));
        let metrics = res.text().await.unwrap();
        Self {
            dir,
            server,
            log,
            secrets: [admin, good, revoked],
            metrics,
        }
    }
}

impl Observed {
    /// Stops the server and removes its directory.
    fn done(self) {
        let Self { dir, server, .. } = self;
        drop(server);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn metrics_count_each_request_by_group_status_and_refusal_code() {
    let run = Observed::run().await;
    let m = &run.metrics;

    let api = |status: u16| {
        sample(
            m,
            &format!(r#"keyward_http_requests_total{{group="api",status="{status}"}}"#),
        )
    };
    let refused = |code: &str| {
        sample(
            m,
            &format!(r#"keyward_bearer_refusals_total{{code="{code}"}}"#),
        )
    };
    assert_eq!((api(200), api(401), api(429)), (3.0, 3.0, 1.0), "{m}");
    let health = r#"keyward_http_requests_total{group="health",status="200"}"#;
    assert_eq!(sample(m, health), 1.0);
    assert_eq!(refused("missing_token"), 2.0, "{m}");
    assert_eq!(refused("token_revoked"), 1.0, "{m}");
    assert_eq!(refused("rate_limited"), 1.0, "{m}");
    let limited = r#"keyward_rate_limited_requests_total{group="api"}"#;
    assert_eq!(sample(m, limited), 1.0);
    run.done();
}

#[tokio::test]
async fn metrics_are_served_on_their_own_listener_and_show_cache_flush_pool_and_log_writer() {
    let run = Observed::run().await;
    let m = &run.metrics;

    let main_listener = client()
        .get(run.server.url("/metrics"))
        .send()
        .await
        .unwrap();

    assert_eq!(main_listener.status(), 404);
    // The good token: one database read, then the cache.
    assert!(sample(m, "keyward_token_cache_misses_total") >= 1.0, "{m}");
    assert!(sample(m, "keyward_token_cache_hits_total") >= 3.0, "{m}");
    assert!(
        sample(m, "keyward_usage_flush_duration_seconds_count") >= 1.0,
        "{m}"
    );
    assert!(
        sample(m, "keyward_usage_flush_batch_tokens_sum") >= 1.0,
        "{m}"
    );
    assert!(
        sample(m, "keyward_db_pool_acquire_seconds_count") >= 1.0,
        "{m}"
    );
    let pool_max = if crate::backend::on_postgres() {
        8.0
    } else {
        4.0
    };
    assert_eq!(
        sample(m, "keyward_db_pool_max_connections"),
        pool_max,
        "{m}"
    );
    // Present (sample() reads an absent series as 0), and nothing dropped.
    assert!(m.lines().any(|l| l == "keyward_log_lines_dropped 0"), "{m}");
    run.done();
}

#[tokio::test]
async fn metrics_never_show_token_data() {
    let run = Observed::run().await;
    let m = &run.metrics;

    for secret in &run.secrets {
        let hash = keyward::domain::secret::Secret::parse(secret)
            .unwrap()
            .hash();
        let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!m.contains(secret.as_str()) && !m.contains(&hex));
        assert!(!m.contains(&secret[..12]));
    }
    assert!(!m.contains("metrics-good") && !m.contains("tok_"), "{m}");
    run.done();
}

/// One JSON object per request with the route template, status, latency, token id and client
/// IP; no secret anywhere in the log.
#[tokio::test]
async fn the_json_request_log_has_a_line_per_request_with_its_token_id_and_no_secret() {
    let Observed {
        dir,
        server,
        log,
        secrets,
        ..
    } = Observed::run().await;
    let unmatched = client().get(server.url("/metrics")).send().await.unwrap();

    assert_eq!(unmatched.status(), 404);
    assert!(server.stop("-TERM").success());

    let text = std::fs::read_to_string(&log).unwrap();
    let requests: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .filter(|v| v["target"] == "keyward::request")
        .collect();
    assert_eq!(requests.len(), 9, "{text}");
    assert_eq!(requests[8]["fields"]["route"], "(unmatched)");
    let first = &requests[0]["fields"];
    assert_eq!(first["method"], "GET");
    assert_eq!(first["route"], "/api/v1/me");
    assert_eq!(first["status"], 200);
    assert_eq!(first["client_ip"], "127.0.0.1");
    assert!(first["token_id"].as_str().unwrap().starts_with("tok_"));
    assert!(first["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(
        requests[4]["fields"]["token_id"].is_null(),
        "no token, no id"
    );
    // A request refused before its handler still names its route.
    assert_eq!(requests[4]["fields"]["status"], 401);
    assert_eq!(requests[4]["fields"]["route"], "/api/v1/me");
    // `/healthz`, answered before the router, names its route as the router would.
    let health = &requests[7]["fields"];
    assert_eq!(health["route"], "/healthz");
    assert_eq!(health["status"], 200);
    assert!(health["token_id"].is_null());
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()));
    }
    let _ = std::fs::remove_dir_all(dir);
}
