//! The `mirrorlist` binary: parse the command line, set up diagnostics, run one command.

use mirrorlist::cli::args::{Command, LogFormat};
use mirrorlist::cli::{build, inspect, probe, query, serve};

fn main() -> std::process::ExitCode {
    // Command line, then MIRRORLIST_* variables, then `serve --config FILE`.
    let cli = mirrorlist::cli::config::parse();
    init_tracing(cli.log_format);
    let result = match &cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Build(args) => build::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Query(args) => query::run(args),
        Command::Probe(args) => probe::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // journald and log files get plain text; colours only for a person at a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
