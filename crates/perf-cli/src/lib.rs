//! What the `orchestrator` and `ci-gate` binaries share, so neither copies the other: the
//! flag groups both take ([`RuntimeFlags`], [`LiveFlags`]), the tracing set-up, and the
//! live view's start and linger ([`live`]). The flags' effect on a configuration is
//! [`perf_suite::Overrides`]; this crate only parses and wires.

pub mod live;

use perf_suite::RuntimeChoice;

/// `--runtime` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Runtime {
    /// One thread for a bot outside the process, every core for the in-process one.
    Auto,
    /// One thread.
    CurrentThread,
    /// Every core.
    MultiThread,
}

/// `--runtime` and `--single-thread`.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeFlags {
    /// The async runtime: `auto` (one thread for a bot outside the process, all cores for
    /// the in-process reference bot), `current-thread` or `multi-thread`.
    #[arg(long, global = true, value_enum, default_value_t = Runtime::Auto)]
    pub runtime: Runtime,
    /// The same as `--runtime current-thread`.
    #[arg(long, global = true, conflicts_with = "runtime")]
    pub single_thread: bool,
}

impl RuntimeFlags {
    /// The runtime the flags ask for.
    pub fn choice(&self) -> RuntimeChoice {
        match (self.single_thread, self.runtime) {
            (true, _) | (false, Runtime::CurrentThread) => RuntimeChoice::CurrentThread,
            (false, Runtime::MultiThread) => RuntimeChoice::MultiThread,
            (false, Runtime::Auto) => RuntimeChoice::Auto,
        }
    }
}

/// `--live`, `--live-public` and `--live-linger`: a run's flags, not global.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveFlags {
    /// Serve a live view of the run on this address (e.g. 127.0.0.1:5665): a page at `/`,
    /// Prometheus metrics at `/metrics`, JSON lines at `/events` (docs/live.md).
    #[arg(long, value_name = "ADDR")]
    pub live: Option<std::net::SocketAddr>,
    /// Allow `--live` on an address that is not loopback: anyone who reaches it sees the run.
    #[arg(long, requires = "live")]
    pub live_public: bool,
    /// Keep the live view up this many seconds after the run, to read the final state.
    #[arg(long, value_name = "SECS", requires = "live")]
    pub live_linger: Option<f64>,
}

/// Logs to stderr at `warn`, or as the `PERF_LOG` filter says (`PERF_LOG=debug`).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PERF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Flag values a user might mistype or a fuzzer might send, for the binaries' property
/// tests (feature `strategies`).
#[cfg(feature = "strategies")]
pub mod strategies {
    use proptest::prelude::*;

    /// Numbers out of every range, non-numbers, special paths, empty and random text.
    pub fn flag_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?[0-9]{1,25}",
            "-?[0-9]{0,5}\\.[0-9]{0,5}(e[+-]?[0-9]{1,3})?",
            Just("nan".to_owned()),
            Just("inf".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("/dev/zero".to_owned()),
            Just("/dev/null".to_owned()),
            Just("/tmp".to_owned()),
            Just("..".to_owned()),
            Just("cmd:".to_owned()),
            Just(String::new()),
            "\\PC{0,16}",
        ]
    }
}
