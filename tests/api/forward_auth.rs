//! Forward auth (SPEC §11): `/api/v1/forward-auth` (Caddy, Traefik) and
//! `/api/v1/auth-request` (nginx) judged by a rules file or query parameters, on the API's
//! bearer path.

use std::path::PathBuf;

use reqwest::Response;

use crate::helpers::{TestApp, client, temp_dir};

const FORWARD: &str = "/api/v1/forward-auth";
const NGINX: &str = "/api/v1/auth-request";

const RULES: &str = include_str!("forward_auth.toml");

/// A server with a rules file (removed with it).
struct Proxied {
    app: TestApp,
    slug: String,
    rules: PathBuf,
}

impl Drop for Proxied {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.rules.parent().unwrap());
    }
}

async fn proxied_with(rules: &str, adjust: impl FnOnce(&mut keyward::Config)) -> Proxied {
    let path = temp_dir().join("rules.toml");
    std::fs::write(&path, rules).unwrap();
    let file = path.clone();
    let app = TestApp::spawn_with(|c| {
        c.forward_auth_rules = Some(file);
        adjust(c);
    })
    .await;
    let slug = app.setup().await.1;
    Proxied {
        app,
        slug,
        rules: path,
    }
}

async fn proxied() -> Proxied {
    proxied_with(RULES, |_| {}).await
}

impl Proxied {
    async fn token(&self, perms: &[&str]) -> (String, String) {
        self.app.create_token(&self.slug, perms, |_| {}).await
    }

    /// Asks `endpoint` about `METHOD uri` with the headers its proxy sends.
    async fn check(
        &self,
        endpoint: &str,
        secret: Option<&str>,
        method: &str,
        uri: &str,
    ) -> Response {
        let (m, u) = if endpoint == NGINX {
            ("x-original-method", "x-original-uri")
        } else {
            ("x-forwarded-method", "x-forwarded-uri")
        };
        let mut req = client()
            .get(self.app.url(endpoint))
            .header(m, method)
            .header(u, uri);
        if let Some(s) = secret {
            req = req.bearer_auth(s);
        }
        req.send().await.unwrap()
    }
}

fn header<'a>(res: &'a Response, name: &str) -> &'a str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

/// A refusal with its status and `X-Keyward-Code`.
fn refused(res: &Response, status: u16, code: &str) {
    assert_eq!(res.status(), status, "{code}");
    assert_eq!(header(res, "x-keyward-code"), code);
}

#[tokio::test]
async fn an_allowed_request_gets_200_with_the_identity_headers_and_no_store() {
    let p = proxied().await;
    let (id, secret) = p.token(&["chats:read", "messages:send"]).await;
    let res = p
        .check(FORWARD, Some(&secret), "GET", "/orders/7?x=1")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-keyward-token-id"), id);
    assert_eq!(header(&res, "x-keyward-token-name"), "script");
    assert_eq!(header(&res, "x-keyward-workspace"), p.slug);
    assert_eq!(
        header(&res, "x-keyward-permissions"),
        "chats:read,messages:send"
    );
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(header(&res, "x-ratelimit-limit"), "1000");
    assert_eq!(res.text().await.unwrap(), "");
}

#[tokio::test]
async fn missing_and_revoked_tokens_get_401_with_www_authenticate_and_the_code() {
    let p = proxied().await;
    let (id, secret) = p.token(&["chats:read"]).await;
    for endpoint in [FORWARD, NGINX] {
        let res = p.check(endpoint, None, "GET", "/orders/7").await;
        assert_eq!(res.status(), 401, "{endpoint}");
        assert_eq!(header(&res, "x-keyward-code"), "missing_token");
        assert_eq!(
            header(&res, "www-authenticate"),
            r#"Bearer realm="keyward""#
        );
    }
    p.app
        .sql("UPDATE tokens SET revoked_at = 1 WHERE id = ?", &id)
        .await;
    let res = p.check(NGINX, Some(&secret), "GET", "/orders/7").await;
    refused(&res, 401, "token_revoked");
}

#[tokio::test]
async fn a_token_without_the_rules_permission_gets_403_insufficient_permission() {
    let p = proxied().await;
    let (_, secret) = p.token(&["messages:send"]).await;
    for endpoint in [FORWARD, NGINX] {
        let res = p.check(endpoint, Some(&secret), "GET", "/orders/7").await;
        assert_eq!(res.status(), 403, "{endpoint}");
        assert_eq!(header(&res, "x-keyward-code"), "insufficient_permission");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "insufficient_permission");
    }
}

#[tokio::test]
async fn a_request_no_rule_matches_is_403_unless_the_default_is_authenticated() {
    let p = proxied().await;
    let (_, secret) = p.token(&["admin"]).await;
    let res = p.check(FORWARD, Some(&secret), "DELETE", "/orders/7").await;
    refused(&res, 403, "no_matching_rule");
    let open = proxied_with(
        &RULES.replace("default = \"deny\"", "default = \"authenticated\""),
        |_| {},
    )
    .await;
    let (_, secret) = open.token(&["chats:read"]).await;
    let res = open
        .check(FORWARD, Some(&secret), "DELETE", "/elsewhere")
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_public_route_needs_no_token_and_reveals_no_identity() {
    let p = proxied().await;
    let res = p.check(NGINX, None, "GET", "/status").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-keyward-token-id"], "", "present but empty");
    assert_eq!(res.headers()["x-keyward-workspace"], "");
    let res = p.check(NGINX, None, "GET", "/status/../admin").await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_channel_scoped_token_reaches_only_its_channels_paths() {
    let p = proxied().await;
    let mine = p.app.channel(&p.slug, "Mine").await;
    let other = p.app.channel(&p.slug, "Other").await;
    let scoped = mine.clone();
    let (_, secret) = p
        .app
        .create_token(&p.slug, &["messages:send"], |d| {
            d.channels = Some(vec![scoped])
        })
        .await;
    let res = p
        .check(
            FORWARD,
            Some(&secret),
            "POST",
            &format!("/channels/{mine}/messages"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = p
        .check(
            FORWARD,
            Some(&secret),
            "POST",
            &format!("/channels/{other}/messages"),
        )
        .await;
    refused(&res, 403, "channel_not_allowed");
}

#[tokio::test]
async fn encoded_dot_segments_are_judged_after_normalisation() {
    let p = proxied().await;
    let (_, secret) = p.token(&["chats:read"]).await;
    let res = p
        .check(NGINX, Some(&secret), "GET", "/orders/%2e%2e/admin")
        .await;
    refused(&res, 403, "insufficient_permission");
}

#[tokio::test]
async fn an_encoded_slash_is_refused_with_403_invalid_path_on_both_endpoints() {
    let p = proxied().await;
    let (_, secret) = p.token(&["admin"]).await;
    for endpoint in [FORWARD, NGINX] {
        let path = "/orders/x%2f..%2f..%2fadmin";
        let res = p.check(endpoint, Some(&secret), "GET", path).await;
        refused(&res, 403, "invalid_path");
        // Without a token the answer is 401, as for any route that is not public.
        refused(
            &p.check(endpoint, None, "GET", path).await,
            401,
            "missing_token",
        );
    }
}

#[tokio::test]
async fn a_rate_limited_token_is_429_but_403_with_the_code_on_nginxs_endpoint() {
    let p = proxied_with(RULES, |c| c.rate_limit_standard = 1).await;
    let (_, secret) = p.token(&["chats:read"]).await;
    assert_eq!(
        p.check(FORWARD, Some(&secret), "GET", "/orders/1")
            .await
            .status(),
        200
    );
    let res = p.check(FORWARD, Some(&secret), "GET", "/orders/1").await;
    assert_eq!(res.status(), 429);
    assert!(header(&res, "retry-after").parse::<u64>().unwrap() > 0);
    let res = p.check(NGINX, Some(&secret), "GET", "/orders/1").await;
    refused(&res, 403, "rate_limited");
    assert!(header(&res, "retry-after").parse::<u64>().unwrap() > 0);
    assert_eq!(header(&res, "x-ratelimit-remaining"), "0");
}

#[tokio::test]
async fn without_a_rules_file_the_query_parameters_decide() {
    let app = TestApp::spawn().await;
    let slug = app.setup().await.1;
    let ch = app.channel(&slug, "Mine").await;
    let (_, secret) = app.create_token(&slug, &["chats:read"], |_| {}).await;
    let ask = |query: String| {
        let req = client()
            .get(app.url(&format!("{FORWARD}{query}")))
            .bearer_auth(&secret);
        req.header("x-forwarded-method", "GET")
            .header("x-forwarded-uri", "/x")
            .send()
    };
    assert_eq!(ask(String::new()).await.unwrap().status(), 200);
    assert_eq!(
        ask(format!("?permission=chats:read&channel={ch}"))
            .await
            .unwrap()
            .status(),
        200
    );
    let res = ask("?permission=chats:read&permission=messages:send".into())
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn two_different_original_requests_or_none_are_refused() {
    let p = proxied().await;
    let (_, secret) = p.token(&["admin"]).await;
    // A client-sent X-Original-URI beside Caddy's X-Forwarded-Uri cannot pick the rule.
    let res = client()
        .get(p.app.url(FORWARD))
        .bearer_auth(&secret)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-uri", "/admin")
        .header("x-original-method", "GET")
        .header("x-original-uri", "/status")
        .send()
        .await
        .unwrap();
    refused(&res, 403, "invalid_original_request");
    let res = client()
        .get(p.app.url(NGINX))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    refused(&res, 403, "invalid_original_request");
}

#[tokio::test]
async fn nginxs_endpoint_takes_the_host_from_host_not_from_a_client_header() {
    let p = proxied_with(
        "[[rule]]\npath = \"/*\"\nhost = \"trusted.test\"\npublic = true\n",
        |_| {},
    )
    .await;
    let ask = |host: &'static str, forged: &'static str| {
        client()
            .get(p.app.url(NGINX))
            .header("host", host)
            .header("x-original-host", forged)
            .header("x-original-method", "GET")
            .header("x-original-uri", "/x")
            .send()
    };
    assert_eq!(ask("trusted.test", "").await.unwrap().status(), 200);
    let res = ask("other.test", "trusted.test").await.unwrap();
    refused(&res, 401, "missing_token");
}

#[tokio::test]
async fn a_check_counts_as_a_use_with_the_original_method_and_path() {
    let p = proxied().await;
    let (id, secret) = p.token(&["chats:read"]).await;
    p.check(FORWARD, Some(&secret), "GET", "/orders/42?secret=no")
        .await;
    p.check(NGINX, Some(&secret), "GET", "/admin/x").await;
    let (_, admin) = p.token(&["admin"]).await;
    let (status, usage) = p
        .app
        .api(&admin)
        .get(&format!("/api/v1/tokens/{id}/usage"))
        .await;
    assert_eq!(status, 200);
    let recent: Vec<(String, String, u64)> = usage["data"]["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().into(),
                r["path"].as_str().unwrap().into(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        recent.contains(&("GET".into(), "/orders/42".into(), 200)),
        "{recent:?}"
    );
    assert!(
        recent.contains(&("GET".into(), "/admin/x".into(), 403)),
        "{recent:?}"
    );
}

#[tokio::test]
async fn the_dashboard_token_page_lists_forward_auth_checks_in_recent_requests() {
    let p = proxied().await;
    let (c, _) = p
        .app
        .login(crate::helpers::EMAIL, crate::helpers::PASSWORD)
        .await;
    let (id, secret) = p.token(&["messages:send"]).await;
    let ch = p.app.channel(&p.slug, "Mine").await;
    p.check(
        FORWARD,
        Some(&secret),
        "POST",
        &format!("/channels/{ch}/messages"),
    )
    .await;
    p.app.state.gate.flush().await.unwrap();
    let page = p
        .app
        .page(
            &c,
            &format!("/w/{}/settings/developer/api-tokens/{id}", p.slug),
        )
        .await;
    assert!(page.contains(&format!("/channels/{ch}/messages")), "{page}");
    assert!(page.contains("POST"));
}

#[tokio::test]
async fn a_bad_rules_file_stops_the_start_with_its_line_and_a_reload_keeps_the_old_rules() {
    let dir = temp_dir();
    let file = dir.join("rules.toml");
    std::fs::write(
        &file,
        "[[rule]]\npath = \"/a\"\n\n[[rule]]\npath = \"b\"\npublic = true\n",
    )
    .unwrap();
    let mut config = keyward::Config::for_tests();
    config.forward_auth_rules = Some(file.clone());
    let err = keyward::prepare(config).await.err().unwrap().to_string();
    assert!(
        err.contains("rules.toml: line 1: a rule needs permissions"),
        "{err}"
    );
    let p = proxied().await;
    std::fs::write(&p.rules, "[[rule]]\npath = \"/orders/*\"\npublic = true\n").unwrap();
    assert_eq!(
        p.app
            .state
            .forward_rules
            .reload(&p.app.state.config)
            .unwrap(),
        1
    );
    assert_eq!(
        p.check(FORWARD, None, "GET", "/orders/1").await.status(),
        200
    );
    std::fs::write(&p.rules, "[[rule]]\npath = \"/x\"\n").unwrap();
    assert!(
        p.app
            .state
            .forward_rules
            .reload(&p.app.state.config)
            .is_err()
    );
    assert_eq!(
        p.check(FORWARD, None, "GET", "/orders/1").await.status(),
        200,
        "old rules kept"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The identity headers a 200 carries (the server's names, checked below), as the proxies'
/// configurations must copy them.
const IDENTITY: [&str; 4] = [
    "X-Keyward-Token-Id",
    "X-Keyward-Token-Name",
    "X-Keyward-Workspace",
    "X-Keyward-Permissions",
];

fn identity() -> [&'static str; 4] {
    use keyward::forward_auth::check::{PERMISSIONS, TOKEN_ID, TOKEN_NAME, WORKSPACE};
    let sent = [TOKEN_ID, TOKEN_NAME, WORKSPACE, PERMISSIONS];
    for (name, header) in IDENTITY.iter().zip(sent) {
        assert_eq!(name.to_ascii_lowercase(), header.as_str());
    }
    IDENTITY
}

fn deploy_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/deploy/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_traefik_configuration_asks_forward_auth_copies_the_identity_and_strips_the_clients() {
    let doc: toml::Table = toml::from_str(&deploy_file("traefik/keyward.toml")).unwrap();
    let middlewares = &doc["http"]["middlewares"];
    let auth = &middlewares["keyward-auth"]["forwardAuth"];
    let address = auth["address"].as_str().unwrap();
    assert!(address.ends_with("/api/v1/forward-auth"), "{address}");
    assert_eq!(auth["trustForwardHeader"].as_bool(), Some(false));
    let copied: Vec<&str> = auth["authResponseHeaders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(copied, identity());
    let strip = &middlewares["keyward-strip"]["headers"]["customRequestHeaders"];
    for name in identity().into_iter().chain(["X-Keyward-Code"]) {
        assert_eq!(
            strip[name].as_str(),
            Some(""),
            "{name} is removed from the client's request"
        );
    }
    let chain = middlewares["keyward"]["chain"]["middlewares"]
        .as_array()
        .unwrap();
    assert_eq!(
        chain,
        &["keyward-strip", "keyward-auth"]
            .map(toml::Value::from)
            .to_vec()
    );
    let router = &doc["http"]["routers"]["my-api"];
    assert_eq!(
        router["middlewares"].as_array().unwrap(),
        &vec![toml::Value::from("keyward")]
    );
}

#[test]
fn the_nginx_and_caddy_configurations_pass_every_identity_header() {
    let nginx = deploy_file("nginx/forward-auth.conf");
    let caddy = deploy_file("Caddyfile.forward-auth");
    assert!(nginx.contains("proxy_pass http://127.0.0.1:8080/api/v1/auth-request;"));
    assert!(caddy.contains("uri /api/v1/forward-auth"));
    for name in identity() {
        assert!(
            nginx.contains(&format!("proxy_set_header {name} $")),
            "nginx sets {name}"
        );
        assert!(caddy.contains(name), "Caddy copies {name}");
    }
}

#[test]
fn the_check_command_explains_the_match_and_refuses_a_bad_file_with_exit_2() {
    let rules = format!("{}/tests/api/forward_auth.toml", env!("CARGO_MANIFEST_DIR"));
    let args = [
        "forward-auth",
        "check",
        "--rules",
        &rules,
        "GET",
        "https://api.example/orders/%2e%2e/admin/x",
    ];
    let out = crate::real::cli_on("sqlite::memory:", &args, "");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("normalised path: /admin/x"), "{text}");
    assert!(
        text.contains("matches rule 2 (line 8): path = \"/admin/*\""),
        "{text}"
    );
    let bad = temp_dir().join("bad.toml");
    std::fs::write(&bad, "[[rule]]\npath = \"/a\"\n").unwrap();
    let args = [
        "forward-auth",
        "check",
        "--rules",
        bad.to_str().unwrap(),
        "GET",
        "/a",
    ];
    let out = crate::real::cli_on("sqlite::memory:", &args, "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml: line 1: a rule needs permissions"),
        "{err}"
    );
    std::fs::remove_dir_all(bad.parent().unwrap()).unwrap();
}
