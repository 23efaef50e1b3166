//! Entry point: parse the command line, set up tracing, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use keyward::cli::{Cli, run};

/// mimalloc: cheaper small allocations on the request path than glibc's malloc (pinned A/B
/// runs, BENCHMARKS.md). Resident memory under load measured the same with either.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // Subcommands are for scripts: only warnings and errors on stderr unless asked otherwise.
    let is_server = matches!(cli.command, None | Some(keyward::cli::Command::Serve));
    if !is_server && std::env::var_os("KEYWARD_LOG").is_none() && cli.config.log == "info" {
        cli.config.log = "warn".into();
    }
    let _logs = keyward::init_tracing(&cli.config);
    run(cli).await
}
