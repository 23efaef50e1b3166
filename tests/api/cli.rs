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

#[test]
fn cli_setup_workspaces_channels_and_tokens() {
    let cli = Cli::new();
    assert!(
        cli.refused(
            &["setup", "--email", "admin@acme.io", "--workspace", "Acme"],
            "short\n"
        )
        .contains("at least 12")
    );
    assert_eq!(
        cli.ok(
            &[
                "setup",
                "--email",
                "admin@acme.io",
                "--workspace",
                "Acme Inc."
            ],
            "correct horse battery\n"
        ),
        "acme-inc"
    );
    assert!(
        cli.refused(
            &["setup", "--email", "b@acme.io", "--workspace", "B"],
            "correct horse battery\n"
        )
        .contains("already exists")
    );
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
    let ch = cli.ok(
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
    );
    assert!(ch.starts_with("ch_"));
    assert!(
        cli.refused(
            &[
                "channel",
                "add",
                "--workspace",
                "nope",
                "--kind",
                "sms",
                "x"
            ],
            ""
        )
        .contains("no workspace")
    );

    // Global flags may stand before the subcommand too.
    let secret = cli.ok(
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
    );
    assert!(
        secret.starts_with("acme_") && !secret.contains(char::is_whitespace),
        "stdout is the secret alone: {secret:?}"
    );
    assert!(keyward::domain::secret::Secret::parse(&secret).is_some());
    // `token create` of a token named x in acme-inc, with `more` arguments.
    let create_x = |more: &[&'static str]| {
        let mut args = vec!["token", "create", "--workspace", "acme-inc", "--name", "x"];
        args.extend_from_slice(more);
        args
    };
    // Expiry in days: 1 to 36,500 (a larger figure would pass the year 9999).
    for days in ["0", "40000"] {
        let out = cli.run(
            &create_x(&["--permission", "chats:read", "--expires-in-days", days]),
            "",
        );
        assert_eq!(out.status.code(), Some(2), "{days}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--expires-in-days"));
    }
    assert!(
        cli.refused(&create_x(&["--permission", "nope"]), "")
            .contains("unknown permission")
    );
    assert!(
        cli.refused(
            &create_x(&["--permission", "admin", "--allow-ip", "bad"]),
            ""
        )
        .contains("not an IP")
    );

    let list: serde_json::Value =
        serde_json::from_str(&cli.ok(&["token", "list", "--workspace", "acme-inc", "--json"], ""))
            .unwrap();
    let t = &list[0];
    assert_eq!(t["name"], "CI");
    assert_eq!(t["channels"][0]["name"], "WhatsApp Support");
    assert_eq!(t["rate_limit"]["tier"], "admin");
    assert_eq!(t["created_by"]["type"], "cli");
    assert!(!list.to_string().contains(&secret));
    let id = t["id"].as_str().unwrap();
    cli.ok(&["token", "revoke", "--workspace", "acme-inc", id], "");
    let table = cli.ok(&["token", "list", "--workspace", "acme-inc"], "");
    assert!(table.contains("revoked") && table.contains("CI"));
    assert!(
        cli.refused(
            &["token", "revoke", "--workspace", "acme-inc", "tok_nope"],
            ""
        )
        .contains("no token")
    );

    let admin = cli.ok(
        &[
            "admin",
            "add",
            "--email",
            "bob@acme.io",
            "--workspace",
            "acme-inc",
        ],
        "another long password\n",
    );
    assert!(admin.starts_with("adm_"));
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
