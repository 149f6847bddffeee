use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = spotter::cli::Cli::parse();
    spotter::cli::run(cli)
}
