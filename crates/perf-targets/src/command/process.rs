//! The bot's process group: how it ended, signals to the whole group, and the hunt for
//! descendants that left it, so shutdown leaves nothing running.

use std::collections::BTreeMap;

use super::*;

/// How often the end of a stopping process group is checked.
const GROUP_POLL: Duration = Duration::from_millis(20);

pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(sig) = status.signal() {
            return format!("killed by signal {sig}");
        }
    }
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => "an unknown status".to_owned(),
    }
}

/// The command that starts a bot: `argv` (not empty) with `env` added, in `cwd`, in a
/// process group of its own (so workers it forks, or a shell's children, are stopped with
/// it at the end), killed when dropped. The caller sets its standard streams.
pub(crate) fn bot_command(
    argv: &[String],
    env: &BTreeMap<String, String>,
    cwd: Option<&Path>,
) -> Command {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).envs(env).kill_on_drop(true);
    #[cfg(unix)]
    cmd.process_group(0);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd
}

/// Spawns `cmd`, a connect error naming `program` when it cannot start.
pub(crate) fn spawn_bot(cmd: &mut Command, program: &str) -> Result<Child, TargetError> {
    cmd.spawn()
        .map_err(|e| TargetError::connect(format!("cannot start `{program}`: {e}")))
}

/// The wait before starting a bot again after its `crashes`-th crash: `base`, doubled
/// with every further crash, at most 5 s.
pub(crate) fn restart_backoff(base: Duration, crashes: u64) -> Duration {
    let shift = u32::try_from(crashes.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    base.saturating_mul(1 << shift).min(MAX_BACKOFF)
}

/// The process id kept in `pid`, or `None` while no process runs (0).
pub(crate) fn running_pid(pid: &AtomicU32) -> Option<u32> {
    match pid.load(Ordering::Relaxed) {
        0 => None,
        p => Some(p),
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum GroupSignal {
    Term,
    Kill,
}

/// Sends `sig` to process group `group` (the bot's pid: it leads its own group); `false`
/// when no process of the group is left.
#[cfg(unix)]
pub(crate) fn signal_group(group: Option<u32>, sig: GroupSignal) -> bool {
    use rustix::process::{kill_process_group, Pid, Signal};
    let Some(pid) = group
        .and_then(|g| i32::try_from(g).ok())
        .and_then(Pid::from_raw)
    else {
        return false;
    };
    let sig = match sig {
        GroupSignal::Term => Signal::TERM,
        GroupSignal::Kill => Signal::KILL,
    };
    kill_process_group(pid, sig).is_ok()
}

#[cfg(not(unix))]
pub(crate) fn signal_group(_group: Option<u32>, _sig: GroupSignal) -> bool {
    false
}

/// Whether any process of group `group` is left.
#[cfg(unix)]
pub(super) fn group_alive(group: Option<u32>) -> bool {
    use rustix::process::{test_kill_process_group, Pid};
    group
        .and_then(|g| i32::try_from(g).ok())
        .and_then(Pid::from_raw)
        .is_some_and(|pid| test_kill_process_group(pid).is_ok())
}

#[cfg(not(unix))]
pub(super) fn group_alive(_group: Option<u32>) -> bool {
    false
}

/// A process as `/proc/<pid>/stat` describes it: its parent, group and start time (clock
/// ticks after boot; with the pid, it names the process even if the pid is reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcStat {
    pid: u32,
    /// `Z` for a zombie: exited, waiting for its parent to reap it.
    state: char,
    ppid: u32,
    pgrp: u32,
    start: u64,
}

/// Parses `/proc/<pid>/stat`: the command name is in parentheses and may hold spaces and
/// parentheses itself, so the fields are counted from the last `)`.
pub(super) fn parse_stat(text: &str) -> Option<ProcStat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    // After the name: state(3) ppid(4) pgrp(5) ... starttime(22).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        pid,
        state: fields.first()?.chars().next()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

pub(super) fn read_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every live process under `root` (children, their children...) that is not in `root`'s
/// process group, read from `/proc` (empty where there is none, as off Linux).
pub(super) fn escaped_descendants(root: u32) -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let all: Vec<ProcStat> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(read_stat)
        .collect();
    let mut under = vec![root];
    let mut found = Vec::new();
    while let Some(parent) = under.pop() {
        for p in all.iter().filter(|p| p.ppid == parent && p.pid != root) {
            if found.iter().any(|f: &ProcStat| f.pid == p.pid) {
                continue;
            }
            under.push(p.pid);
            found.push(*p);
        }
    }
    found.retain(|p| p.pgrp != root);
    found
}

/// Whether the process `p` named is still that process (same pid, same start time) and
/// has not exited (a zombie has).
pub(super) fn still_running(p: &ProcStat) -> bool {
    read_stat(p.pid).is_some_and(|now| now.start == p.start && now.state != 'Z')
}

/// Sends `sig` to each of `procs` still running.
#[cfg(unix)]
pub(super) fn signal_each(procs: &[ProcStat], sig: GroupSignal) {
    use rustix::process::{kill_process, Pid, Signal};
    let sig = match sig {
        GroupSignal::Term => Signal::TERM,
        GroupSignal::Kill => Signal::KILL,
    };
    for p in procs.iter().filter(|p| still_running(p)) {
        if let Some(pid) = i32::try_from(p.pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, sig);
        }
    }
}

#[cfg(not(unix))]
pub(super) fn signal_each(_procs: &[ProcStat], _sig: GroupSignal) {}

/// Stops the processes `procs` (descendants that left the bot's group): SIGTERM, up to
/// `grace` for them to go, then SIGKILL.
pub(super) async fn stop_processes(procs: &[ProcStat], grace: Duration) {
    if procs.is_empty() {
        return;
    }
    tracing::warn!(
        count = procs.len(),
        "stopping processes the bot started outside its process group"
    );
    signal_each(procs, GroupSignal::Term);
    let deadline = Instant::now() + grace;
    while procs.iter().any(still_running) {
        if Instant::now() >= deadline {
            signal_each(procs, GroupSignal::Kill);
            return;
        }
        tokio::time::sleep(GROUP_POLL).await;
    }
}

/// Stops what is left of process group `group`: SIGTERM, up to `grace` for it to go,
/// then SIGKILL.
pub(super) async fn stop_group(group: Option<u32>, grace: Duration) {
    if !signal_group(group, GroupSignal::Term) {
        return;
    }
    let deadline = Instant::now() + grace;
    while group_alive(group) {
        if Instant::now() >= deadline {
            signal_group(group, GroupSignal::Kill);
            return;
        }
        tokio::time::sleep(GROUP_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines_are_read_from_the_last_parenthesis() {
        let line = "4242 (my (odd) bot) S 4000 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                pid: 4242,
                state: 'S',
                ppid: 4000,
                pgrp: 4242,
                start: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S"), None);
    }
}
