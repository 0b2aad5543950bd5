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
use perf_suite::Exit;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    perf_cli::init_tracing();
    let config = cli.config();
    let runtime = match perf_suite::runtime(cli.single_thread(config.as_ref().ok())) {
        Ok(rt) => rt,
        Err(e) => {
            return Exit::could_not_run(format!("error: cannot start the async runtime: {e}"))
                .leave();
        }
    };
    runtime.block_on(cli::run(cli, config)).leave()
}
