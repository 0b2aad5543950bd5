//! `--live`: starts the live view and lingers after the run, with the same messages in
//! both binaries.

use std::time::Duration;

use anyhow::Context;
use perf_live::{LiveHandle, LiveOptions, LiveServer};
use perf_suite::SuiteEvent;
use tokio::sync::mpsc::UnboundedSender;

/// Starts the live view on `--live`'s address, if one is given; prints where it is.
pub async fn start(
    flags: &crate::LiveFlags,
) -> anyhow::Result<Option<(LiveHandle, UnboundedSender<SuiteEvent>)>> {
    let Some(addr) = flags.live else {
        return Ok(None);
    };
    let public = flags.live_public;
    let linger = flags.live_linger.unwrap_or(0.0);
    // A day at most: a longer linger is a typo, and a huge one would not fit a Duration.
    if !(0.0..=86_400.0).contains(&linger) {
        anyhow::bail!("--live-linger must be a number of seconds from 0 to 86400, got {linger}");
    }
    let options = LiveOptions {
        allow_public: public,
        linger: Duration::from_secs_f64(linger),
        ..LiveOptions::default()
    };
    let (live, tx) = LiveServer::bind(addr, options)
        .await
        .with_context(|| format!("cannot start the live view on {addr}"))?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: the live view on {addr} is not on loopback: anyone who can reach it sees the run (agent names, errors, checks)"
        );
    }
    eprintln!("live view: {} (metrics at /metrics)", live.url());
    Ok(Some((live, tx)))
}

/// Keeps the live view up for `--live-linger` (Ctrl-C ends it early), then stops it.
pub async fn linger(live: LiveHandle, flags: &crate::LiveFlags) {
    if let Some(secs) = flags.live_linger.filter(|s| *s > 0.0) {
        eprintln!(
            "live view stays up {secs:.0} s at {} (Ctrl-C to stop)",
            live.url()
        );
    }
    tokio::select! {
        () = live.shutdown() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
