//! Entry point: parse the command line, set up tracing, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use keyward::cli::{Cli, run};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    keyward::init_tracing(&cli.config);
    run(cli).await
}
