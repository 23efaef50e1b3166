//! `keyward forward-auth check`: explains how a rules file judges a request, without a
//! database or a server.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Fail, fail};
use crate::config::Config;
use crate::forward_auth::{explain::explain, rules::Rules};

#[derive(Subcommand, Debug)]
pub enum ForwardAuthCmd {
    /// Print the rule of a rules file that matches a request, and what it needs.
    Check {
        /// The rules file (TOML), as `--forward-auth-rules` takes it.
        #[arg(long)]
        rules: PathBuf,
        /// The request's method, e.g. GET.
        method: String,
        /// The request's URL (`https://api.example.com/orders/1`) or path (`/orders/1`).
        url: String,
    },
}

pub fn run(config: &Config, cmd: &ForwardAuthCmd) -> Result<(), Fail> {
    let ForwardAuthCmd::Check { rules, method, url } = cmd;
    let parsed = Rules::load(rules, &config.permission_catalog)
        .map_err(|e| fail(format!("{}: {e}", rules.display())))?;
    println!("{}", explain(&parsed, method, url));
    Ok(())
}
