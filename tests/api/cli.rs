//! The command line, run as the real binary: setup, workspaces, channels, admins, tokens.

use std::process::Output;

use crate::helpers::temp_dir;

struct Cli {
    dir: std::path::PathBuf,
    db: std::path::PathBuf,
}

impl Cli {
    fn new() -> Self {
        let dir = temp_dir();
        let db = dir.join("cli.db");
        Self { dir, db }
    }

    /// Runs `keyward ARGS --database-url …`, feeding `stdin`.
    fn run(&self, args: &[&str], stdin: &str) -> Output {
        crate::real::cli(&self.db, args, stdin)
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Asserts exit 2 with a one-line error.
    fn refused(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run(args, stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        err
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SETUP: &[&str] = &[
    "setup",
    "--email",
    "admin@acme.io",
    "--workspace",
    "Acme Inc.",
];

impl Cli {
    /// A database where `keyward setup` made admin@acme.io and the workspace `acme-inc`.
    fn with_workspace() -> Self {
        let cli = Self::new();
        cli.ok(SETUP, "correct horse battery\n");
        cli
    }

    /// Adds the WhatsApp channel “WhatsApp Support” to `acme-inc`; returns its id.
    fn whatsapp_channel(&self) -> String {
        self.ok(
            &[
                "channel",
                "add",
                "--workspace",
                "acme-inc",
                "--kind",
                "whatsapp",
                "WhatsApp Support",
            ],
            "",
        )
    }

    /// `token list --json` of acme-inc.
    fn list(&self) -> serde_json::Value {
        let list = self.ok(&["token", "list", "--workspace", "acme-inc", "--json"], "");
        serde_json::from_str(&list).unwrap()
    }

    /// `token create` of a token named x in acme-inc, with `more` arguments.
    fn create_x<'a>(more: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["token", "create", "--workspace", "acme-inc", "--name", "x"];
        args.extend_from_slice(more);
        args
    }

    /// Creates the token “CI” with every option; returns the secret it prints.
    fn create_ci_token(&self) -> String {
        // Global flags may stand before the subcommand too.
        self.ok(
            &[
                "--token-prefix",
                "acme_",
                "token",
                "create",
                "--workspace",
                "acme-inc",
                "--name",
                "CI",
                "--permission",
                "messages:send",
                "--permission",
                "chats:read",
                "--channel",
                "WhatsApp Support",
                "--allow-ip",
                "10.0.0.0/8",
                "--expires-in-days",
                "30",
                "--tier",
                "admin",
            ],
            "",
        )
    }
}

#[test]
fn cli_setup_refuses_a_short_password_and_runs_once() {
    let cli = Cli::new();
    assert!(
        cli.refused(
            &["setup", "--email", "admin@acme.io", "--workspace", "Acme"],
            "short\n"
        )
        .contains("at least 12")
    );
    assert_eq!(cli.ok(SETUP, "correct horse battery\n"), "acme-inc");
    assert!(
        cli.refused(
            &["setup", "--email", "b@acme.io", "--workspace", "B"],
            "correct horse battery\n"
        )
        .contains("already exists")
    );
}

#[test]
fn cli_workspace_create_picks_a_free_slug_and_refuses_an_unknown_admin() {
    let cli = Cli::with_workspace();
    assert_eq!(
        cli.ok(&["workspace", "create", "Acme Inc."], ""),
        "acme-inc-2"
    );
    assert!(
        cli.refused(
            &["workspace", "create", "x", "--admin", "ghost@acme.io"],
            ""
        )
        .contains("no admin")
    );
}

#[test]
fn cli_channel_add_prints_the_id_and_refuses_an_unknown_workspace() {
    let cli = Cli::with_workspace();
    assert!(cli.whatsapp_channel().starts_with("ch_"));
    let nowhere = [
        "channel",
        "add",
        "--workspace",
        "nope",
        "--kind",
        "sms",
        "x",
    ];
    assert!(cli.refused(&nowhere, "").contains("no workspace"));
}

#[test]
fn cli_token_create_prints_the_secret_alone() {
    let cli = Cli::with_workspace();
    cli.whatsapp_channel();

    let secret = cli.create_ci_token();

    assert!(
        secret.starts_with("acme_") && !secret.contains(char::is_whitespace),
        "stdout is the secret alone: {secret:?}"
    );
    assert!(keyward::domain::secret::Secret::parse(&secret).is_some());
}

#[test]
fn cli_token_create_refuses_a_bad_expiry_permission_or_ip() {
    let cli = Cli::with_workspace();
    // Expiry in days: 1 to 36,500 (a larger figure would pass the year 9999).
    for days in ["0", "40000"] {
        let args = Cli::create_x(&["--permission", "chats:read", "--expires-in-days", days]);
        let out = cli.run(&args, "");
        assert_eq!(out.status.code(), Some(2), "{days}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--expires-in-days"));
    }
    let unknown = Cli::create_x(&["--permission", "nope"]);
    assert!(cli.refused(&unknown, "").contains("unknown permission"));
    let bad_ip = Cli::create_x(&["--permission", "admin", "--allow-ip", "bad"]);
    assert!(cli.refused(&bad_ip, "").contains("not an IP"));
}

#[test]
fn cli_token_list_shows_every_field_but_the_secret() {
    let cli = Cli::with_workspace();
    cli.whatsapp_channel();
    let secret = cli.create_ci_token();

    let list = cli.ok(&["token", "list", "--workspace", "acme-inc", "--json"], "");

    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let t = &list[0];
    assert_eq!(t["name"], "CI");
    assert_eq!(t["channels"][0]["name"], "WhatsApp Support");
    assert_eq!(t["rate_limit"]["tier"], "admin");
    assert_eq!(t["created_by"]["type"], "cli");
    assert!(!list.to_string().contains(&secret));
}

#[test]
fn cli_token_revoke_shows_in_the_table_and_refuses_an_unknown_id() {
    let cli = Cli::with_workspace();
    cli.whatsapp_channel();
    cli.create_ci_token();
    let list = cli.list();
    let id = list[0]["id"].as_str().unwrap();

    cli.ok(&["token", "revoke", "--workspace", "acme-inc", id], "");

    let table = cli.ok(&["token", "list", "--workspace", "acme-inc"], "");
    assert!(table.contains("revoked") && table.contains("CI"));
    let unknown = ["token", "revoke", "--workspace", "acme-inc", "tok_nope"];
    assert!(cli.refused(&unknown, "").contains("no token"));
}

#[test]
fn cli_token_roll_prints_the_new_secret_and_keeps_the_old_one_for_the_overlap() {
    let cli = Cli::with_workspace();
    let old = cli.ok(&Cli::create_x(&["--permission", "chats:read"]), "");
    let id = cli.list()[0]["id"].as_str().unwrap().to_owned();
    let roll = |overlap| {
        [
            "token",
            "roll",
            "--workspace",
            "acme-inc",
            &id,
            "--overlap",
            overlap,
        ]
    };

    let new = cli.ok(&roll("24h"), "");

    assert!(
        new.starts_with("kw_") && new.len() == 49 && new != old,
        "{new}"
    );
    let list = cli.list();
    let until = list[0]["previous_secret_expires_at"].as_str().unwrap();
    let expected = keyward::domain::token::rfc3339(keyward::domain::now() + 86_400);
    assert!(until[..15] == expected[..15], "{until} vs {expected}");
    assert!(!list.to_string().contains(&new) && !list.to_string().contains(&old));
    assert_eq!(cli.run(&roll("8d"), "").status.code(), Some(2));
    let unknown = ["token", "roll", "--workspace", "acme-inc", "tok_nope"];
    assert!(cli.refused(&unknown, "").contains("no token"));
}

#[test]
fn cli_admin_add_and_reset_password_refuse_an_unknown_admin() {
    let cli = Cli::with_workspace();
    let add = [
        "admin",
        "add",
        "--email",
        "bob@acme.io",
        "--workspace",
        "acme-inc",
    ];
    assert!(cli.ok(&add, "another long password\n").starts_with("adm_"));
    cli.ok(
        &["admin", "reset-password", "--email", "bob@acme.io"],
        "yet another password\n",
    );
    assert!(
        cli.refused(
            &["admin", "reset-password", "--email", "ghost@acme.io"],
            "yet another password\n"
        )
        .contains("no admin")
    );
}

#[test]
fn a_postgresql_password_is_shown_neither_in_help_nor_in_errors() {
    let url = "postgres://keyward:pw-not-to-show@127.0.0.1:1/keyward";
    let help = std::process::Command::new(crate::real::BIN)
        .arg("--help")
        .env("KEYWARD_DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(help.status.success());
    let failed = std::process::Command::new(crate::real::BIN)
        .args([
            "token",
            "list",
            "--workspace",
            "acme",
            "--database-url",
            url,
        ])
        .output()
        .unwrap();
    assert!(!failed.status.success(), "nothing listens on port 1");
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(err.contains("keyward:***@127.0.0.1:1"), "{err}");
    for out in [&help.stdout, &help.stderr, &failed.stdout, &failed.stderr] {
        assert!(!String::from_utf8_lossy(out).contains("pw-not-to-show"));
    }
}
