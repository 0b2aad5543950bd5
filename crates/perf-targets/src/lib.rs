//! Out-of-process bot targets: drive a bot written in any language over HTTP or as a child
//! process, with the same measurements as an in-process [`perf_core::BotTarget`].
//!
//! - [`HttpTarget`]: a JSON API (body template, JSON-pointer extraction) or a streamed
//!   answer (OpenAI-compatible chat completions or plain server-sent events, with time to
//!   first byte and token, inter-token latency and tokens per second).
//! - [`CommandTarget`]: a long-lived child process speaking JSON lines on stdin/stdout,
//!   restarted when it crashes.
//! - [`TargetSpec`]: the serde `target` config section and the `--target` flag, and
//!   [`open_target`]/[`target_from_spec`] to turn one into a target.
//!
//! Streamed answers put their timing into `BotResponse.metadata["stream"]` (see
//! `docs/targets.md` for every key); command targets put `{"process": {"start", "crashes"}}`
//! there. This crate never prints; it logs through `tracing`, and never logs a credential.

mod client;
mod command;
mod discord;
mod error;
mod http;
mod inspect;
mod pointer;
mod secret;
mod spec;
mod sse;
mod template;

pub use command::{CommandStats, CommandTarget, MAX_STDERR_LOG_BYTES};
pub use discord::{
    stats_checks as discord_checks, stats_notes as discord_notes, DiscordTarget,
    DiscordTargetConfig, RateLimits, Trigger, ENV_API_BASE, ENV_GATEWAY_URL, ENV_TOKEN,
};
pub use error::TargetsError;
pub use http::HttpTarget;
pub use inspect::{inspect, longest_string, Inspection, INSPECT_BODY_BYTES};
pub use secret::{is_secret_name, redacted_url, Secret, REDACTED};
pub use spec::{
    open_target, split_command_line, target_from_spec, Api, CommandTargetConfig, HttpTargetConfig,
    HttpVersion, Target, TargetSpec, MIN_INHERITED_SECRET_CHARS,
};
pub use template::{fill as fill_template, CHANNEL, ID, QUERY, USER_ID};

#[cfg(test)]
mod send_sync_tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn public_types_are_send_and_sync() {
        assert_send_sync::<HttpTarget>();
        assert_send_sync::<CommandTarget>();
        assert_send_sync::<TargetsError>();
        assert_send_sync::<TargetSpec>();
        assert_send_sync::<Target>();
    }
}
