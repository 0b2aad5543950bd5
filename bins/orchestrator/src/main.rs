//! `orchestrator`: runs the full performance suite (content analysis, query generation,
//! synthetic scenarios, execution, baseline analysis, regression testing) and writes the
//! run's reports. Thin: arguments, progress and exit codes; the work is in `perf-suite`.

mod capacity;
mod check_target;
mod cli;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;
use perf_suite::exit_codes;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    perf_cli::init_tracing();
    let config = cli.config();
    let runtime = match perf_suite::runtime(cli.single_thread(config.as_ref().ok())) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_codes::COULD_NOT_RUN as u8);
        }
    };
    let code = runtime.block_on(cli::run(cli, config));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
