//! The rules file: parsing with line numbers, and matching on normalised paths.

use super::path::normalise;
use super::rules::{Access, Fallback, Rules, Verdict};
use crate::domain::permissions::Catalog;

const FILE: &str = include_str!("../../tests/api/forward_auth.toml");

fn rules(text: &str) -> Rules {
    Rules::parse(text, &Catalog::default()).unwrap()
}

fn error(text: &str) -> String {
    Rules::parse(text, &Catalog::default())
        .unwrap_err()
        .to_string()
}

/// The rule line a request matches (0 for the default), and the captured channel.
fn judged(method: &str, raw: &str, host: Option<&str>) -> (usize, Option<String>) {
    let rules = rules(FILE);
    let path = normalise(raw).unwrap();
    match rules.judge(method, &path, host) {
        Verdict::Rule { rule, channel } => (rule.line, channel.map(str::to_owned)),
        Verdict::Default(_) => (0, None),
    }
}

#[test]
fn exact_prefix_and_channel_paths_match_their_requests() {
    assert_eq!(judged("GET", "/status", None), (4, None));
    assert_eq!(judged("GET", "/admin", None), (8, None));
    assert_eq!(judged("DELETE", "/admin/users/1", None), (8, None));
    assert_eq!(judged("GET", "/orders/7", None), (12, None));
    assert_eq!(judged("POST", "/orders", None), (17, None));
    assert_eq!(
        judged("POST", "/channels/ch_1/messages", None),
        (22, Some("ch_1".into()))
    );
}

#[test]
fn methods_hosts_and_exact_paths_limit_a_rule() {
    assert_eq!(
        judged("HEAD", "/orders/7", None),
        (12, None),
        "HEAD counts as GET"
    );
    assert_eq!(judged("DELETE", "/orders/7", None), (0, None));
    assert_eq!(judged("POST", "/orders/7", None), (0, None));
    assert_eq!(judged("GET", "/status/x", None), (0, None));
    assert_eq!(judged("GET", "/channels/ch_1", None), (0, None));
    assert_eq!(
        judged("GET", "/internal/x", Some("Internal.Example:8443")),
        (27, None)
    );
    assert_eq!(
        judged("GET", "/internal/x", Some("other.example")),
        (0, None)
    );
    assert_eq!(judged("GET", "/internal/x", None), (0, None));
}

#[test]
fn an_ipv6_host_rule_matches_with_or_without_a_port() {
    let text = "default = \"authenticated\"\n[[rule]]\npath = \"/admin/*\"\nhost = \"[::1]\"\npermissions = [\"tokens:read\"]\n[[rule]]\npath = \"/admin/*\"\nhost = \"[::1]:8443\"\npermissions = [\"tokens:write\"]\n";
    let r = rules(text);
    let path = normalise("/admin/x").unwrap();
    let line = |host| match r.judge("GET", &path, Some(host)) {
        Verdict::Rule { rule, .. } => rule.line,
        Verdict::Default(_) => 0,
    };
    assert_eq!(line("[::1]"), 2);
    assert_eq!(line("[::1]:8080"), 2, "the request's port is dropped");
    assert_eq!(line("[::2]:8080"), 0);
}

#[test]
fn dot_segments_cannot_slip_past_a_rule() {
    assert_eq!(judged("GET", "/orders/%2e%2e/admin", None), (8, None));
    assert_eq!(judged("GET", "/status/../admin/x", None), (8, None));
    assert_eq!(judged("GET", "//admin//", None), (8, None));
    assert_eq!(
        judged("POST", "/channels/ch_1/../ch_2/messages", None),
        (22, Some("ch_2".into()))
    );
}

#[test]
fn default_and_access_are_read() {
    let r = rules(FILE);
    assert_eq!(r.default, Fallback::Deny);
    assert_eq!(r.rules[0].access, Access::Public);
    assert_eq!(
        r.rules[3].access,
        Access::Permissions(vec!["messages:send".into()])
    );
    assert_eq!(
        rules("default = \"authenticated\"").default,
        Fallback::Authenticated
    );
    assert_eq!(rules("").default, Fallback::Deny);
}

/// Bad files: (text, the line the error names, a part of the reason).
const BAD_FILES: &[(&str, &str, &str)] = &[
    (
        "[[rule]]\npath = \"/a\"\npublic = true\nsurprise = 1\n",
        "line 4",
        "unknown field",
    ),
    (
        "\n\n[[rule]]\npath = \"/a\"\n",
        "line 3",
        "needs permissions",
    ),
    (
        "[[rule]]\npath = \"/a\"\npermissions = [\"nope:x\"]\n",
        "line 1",
        "unknown permission \"nope:x\"",
    ),
    (
        "[[rule]]\npath = \"a\"\npublic = true\n",
        "line 1",
        "must start with /",
    ),
    (
        "[[rule]]\npath = \"/a/../b\"\npublic = true\n",
        "line 1",
        "written as matched",
    ),
    (
        "[[rule]]\npath = \"/a/\"\npublic = true\n",
        "line 1",
        "written as matched",
    ),
    (
        "[[rule]]\npath = \"/a/{id}\"\npublic = true\n",
        "line 1",
        "only whole {channel}",
    ),
    (
        "[[rule]]\npath = \"/a/*/b\"\npublic = true\n",
        "line 1",
        "only whole {channel}",
    ),
    (
        "[[rule]]\npath = \"/{channel}/{channel}\"\npermissions = []\n",
        "line 1",
        "twice",
    ),
    (
        "[[rule]]\npath = \"/{channel}\"\npublic = true\n",
        "line 1",
        "public rule cannot",
    ),
    (
        "[[rule]]\npath = \"/a\"\npublic = true\npermissions = []\n",
        "line 1",
        "not both",
    ),
    (
        "[[rule]]\npath = \"/a\"\nmethods = [\"GE T\"]\npublic = true\n",
        "line 1",
        "not an HTTP method",
    ),
    (
        "\ndefault = \"allow\"\n",
        "line 2",
        "\"deny\" or \"authenticated\"",
    ),
    ("[[rule]\npath = 1\n", "line 1", ""),
];

#[test]
fn a_bad_file_names_the_line_and_the_reason() {
    for (text, line, reason) in BAD_FILES {
        let e = error(text);
        assert!(e.starts_with(line) && e.contains(reason), "{text:?} → {e}");
    }
}

#[test]
fn the_prefix_of_everything_matches_every_path() {
    let r = rules("[[rule]]\npath = \"/*\"\npermissions = []\n");
    for p in ["/", "/a", "/a/b/c"] {
        assert!(
            matches!(r.judge("GET", p, None), Verdict::Rule { .. }),
            "{p}"
        );
    }
}

#[test]
fn explain_names_the_rule_the_normalised_path_and_the_needs() {
    let r = rules(FILE);
    let out = super::explain::explain(&r, "get", "https://api.example/orders/%2e%2e/admin/x?y=1");
    assert!(out.contains("normalised path: /admin/x"), "{out}");
    assert!(out.contains("matches rule 2 (line 8)"), "{out}");
    assert!(out.contains("holding admin"), "{out}");
    let out = super::explain::explain(&r, "GET", "/nothing");
    assert!(out.contains("403 no_matching_rule"), "{out}");
    let out = super::explain::explain(&r, "GET", "/a%2fb");
    assert!(out.contains("refused before any rule"), "{out}");
    let out = super::explain::explain(&r, "POST", "/channels/c9/messages");
    assert!(out.contains("channel scope includes \"c9\""), "{out}");
}

#[test]
fn every_thread_checks_with_the_rules_of_the_last_reload() {
    let dir = std::env::temp_dir().join(format!("keyward-rulebook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rules.toml");
    let public = |n: usize| -> String {
        (0..n)
            .map(|i| format!("[[rule]]\npath = \"/p{i}\"\npublic = true\n\n"))
            .collect()
    };
    std::fs::write(&file, public(1)).unwrap();
    let mut config = crate::Config::for_tests();
    config.forward_auth_rules = Some(file.clone());
    let book = super::RuleBook::load(&config).unwrap();
    let count = |b: &super::RuleBook| b.current().map(|r| r.rules.len());
    // A second thread that lives through the reloads, asked to check on demand.
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (tell, told) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let book = &book;
        s.spawn(move || {
            while asked.recv().is_ok() {
                tell.send(count(book)).unwrap();
            }
        });
        let other = || {
            ask.send(()).unwrap();
            told.recv().unwrap()
        };
        assert_eq!((count(book), other()), (Some(1), Some(1)));
        std::fs::write(&file, public(2)).unwrap();
        assert_eq!(book.reload(&config).unwrap(), 2);
        assert_eq!((count(book), other()), (Some(2), Some(2)));
        std::fs::write(&file, "[[rule]]\npath = \"/x\"\n").unwrap();
        assert!(book.reload(&config).is_err(), "a bad file");
        assert_eq!((count(book), other()), (Some(2), Some(2)), "kept");
        drop(ask);
    });
    std::fs::remove_dir_all(dir).unwrap();
}
