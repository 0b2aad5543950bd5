//! Test helper for the resource monitor: `resource-hog <MiB> <seconds> [idle]` allocates
//! and touches `MiB` mebibytes, then keeps one core busy for `seconds` and exits; with
//! `idle` it sleeps instead of burning CPU.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5.0);
    let idle = args.next().as_deref() == Some("idle");
    // Filled with a non-zero byte, so every page is really resident.
    let memory = vec![1u8; mib * 1024 * 1024];
    let until = Instant::now() + Duration::from_secs_f64(secs);
    if idle {
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
    }
    let mut x: u64 = 0;
    while Instant::now() < until {
        for i in (0..memory.len()).step_by(4096 * 64) {
            x = x.wrapping_mul(31).wrapping_add(u64::from(memory[i]));
        }
        std::hint::black_box(x);
    }
    std::hint::black_box(&memory);
}
