//! `bewahr`: the long-term preservation archive's one binary.

use clap::{Parser, Subcommand};

mod cli;

#[derive(Parser, Debug)]
#[command(name = "bewahr", version, about = "Long-term preservation archive (RFC 4998 evidence records, RFC 3161 time-stamps)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify an RFC 4998 evidence record offline (no server, database or network needed).
    Verify(cli::verify::VerifyArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Verify(args) => cli::verify::run(args),
    };
    std::process::exit(code);
}
