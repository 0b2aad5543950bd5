//! The server's connection limits over real loopback sockets (issue #28, item 3): a cap on
//! connections, idle and slow-header clients closed, stalled readers closed.

use std::time::Duration;

use perf_live::{LiveHandle, LiveOptions, LiveServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

use perf_core::Outcome;

use crate::support::{get, sample};

async fn bind(options: LiveOptions) -> LiveHandle {
    let (live, tx) = LiveServer::bind("127.0.0.1:0".parse().unwrap(), options)
        .await
        .unwrap();
    // The event sender stays open for the test: the aggregator keeps publishing.
    std::mem::forget(tx);
    live
}

/// Reads until the server closes the connection (end of file or a reset), discarding what
/// arrives; at most `cap` bytes. `Err` with the count if it never closes within `wait`.
async fn read_to_close(
    stream: &mut TcpStream,
    wait: Duration,
    cap: usize,
) -> Result<Vec<u8>, usize> {
    let mut kept = Vec::new();
    let mut seen = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => {
                    seen += n;
                    if kept.len() < 4096 {
                        kept.extend_from_slice(&buf[..n.min(4096)]);
                    }
                    if seen > cap {
                        return false;
                    }
                }
            }
        }
    };
    match tokio::time::timeout(wait, read).await {
        Ok(true) => Ok(kept),
        _ => Err(seen),
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_get_503_and_a_freed_slot_serves_again() {
    let live = bind(LiveOptions {
        max_connections: 2,
        ..LiveOptions::default()
    })
    .await;
    assert_eq!(live.max_connections(), 2);
    let addr = live.local_addr();
    let idle_a = TcpStream::connect(addr).await.unwrap();
    let _idle_b = TcpStream::connect(addr).await.unwrap();

    // The third is answered at once and closed, request or not.
    let mut third = TcpStream::connect(addr).await.unwrap();
    let answer = read_to_close(&mut third, Duration::from_secs(10), 1 << 20)
        .await
        .expect("the connection beyond the cap is closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(answer.contains("at most 2 connections"), "{answer}");

    // A closed idle client frees its slot (once the server sees the close).
    drop(idle_a);
    let served = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut text = Vec::new();
            let _ = s.read_to_end(&mut text).await;
            if text.starts_with(b"HTTP/1.1 200 ") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(served.is_ok(), "a freed slot serves again");
    live.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn idle_and_slow_header_clients_are_closed_after_the_header_timeout() {
    let live = bind(LiveOptions::default()).await;
    let addr = live.local_addr();
    let timeout = LiveOptions::default().header_timeout;

    // Connected, never a byte sent.
    let start = Instant::now();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    read_to_close(&mut idle, timeout * 10, 1 << 20)
        .await
        .expect("an idle client is closed");
    // The paused clock: virtual time, so this is the server's timeout logic, not a speed.
    assert!(Instant::now() >= start + timeout, "not before the timeout");

    // A header line every second: bytes keep coming, the head never ends.
    let start = Instant::now();
    let slow = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = slow.into_split();
    let drip = tokio::spawn(async move {
        let _ = wr.write_all(b"GET / HTTP/1.1\r\n").await;
        for i in 0..1_000 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if wr
                .write_all(format!("x-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let closed = tokio::time::timeout(timeout * 10, async {
        let mut buf = [0u8; 1024];
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow-header client is closed");
    // The paused clock: virtual time, so this is the server's timeout logic, not a speed.
    assert!(Instant::now() >= start + timeout, "not before the timeout");
    drip.abort();

    // A client between requests of a kept-alive connection is idle too.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    let text = read_to_close(&mut kept, timeout * 10, 1 << 20)
        .await
        .expect("an idle kept-alive client is closed");
    assert!(text.starts_with(b"HTTP/1.1 200 "), "served first");
    // The paused clock: virtual time, so this is the server's timeout logic, not a speed.
    assert!(Instant::now() >= start + timeout, "not before the timeout");
    live.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_reader_that_reads_nothing_is_closed() {
    let (live, tx) = LiveServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        LiveOptions {
            interval: Duration::from_millis(100),
            // Shorter than the default so that fewer snapshots are made (a few MB fill the
            // socket buffers first).
            write_timeout: Duration::from_secs(5),
            ..LiveOptions::default()
        },
    )
    .await
    .unwrap();
    // Large snapshots fill the socket buffers in fewer of them: 64 agents of 100 characters.
    for i in 0..64 {
        let agent = format!("{i:02}{}", "a".repeat(98));
        tx.send(sample(Some(&agent), Outcome::Ok, 10)).unwrap();
    }
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(live.local_addr()).await.unwrap();
    stalled
        .write_all(b"GET /events HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    // Reads nothing while the server publishes a snapshot every 100 ms.
    tokio::time::sleep(Duration::from_secs(40)).await;
    let closed = read_to_close(&mut stalled, Duration::from_secs(60), 256 << 20).await;
    assert!(
        closed.is_ok(),
        "still streaming after {:?} bytes",
        closed.err()
    );
    // The server is still up for others.
    let (status, _, _) = get(live.local_addr(), "/metrics").await;
    assert_eq!(status, 200);
    live.shutdown().await;
}
