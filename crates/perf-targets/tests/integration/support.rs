//! Shared helpers: queries, a raw TCP server for malformed HTTP, script files.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use perf_core::Query;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub(crate) fn query(id: &str, text: &str) -> Query {
    Query::new(id, text, "test")
}

/// Serves `router` on an ephemeral loopback port.
pub(crate) async fn serve(router: axum::Router) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

/// A server that answers every request with `raw` bytes and closes the connection.
pub(crate) async fn serve_raw(raw: &'static [u8]) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = socket.write_all(raw).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(addr)
}

/// Writes an executable shell script into `dir`.
pub(crate) fn script(dir: &Path, name: &str, body: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

/// A keep-alive HTTP/1.1 server for bodiless requests: the k-th request (counted over all
/// connections) gets `responses[k % len]`. With `close_after_each` the server closes the
/// connection after every response. Returns the address and the number of connections
/// accepted so far.
pub(crate) async fn serve_script(
    responses: Vec<&'static [u8]>,
    close_after_each: bool,
) -> anyhow::Result<(SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let accepted = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let requests = requests.clone();
            let responses = responses.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                loop {
                    let end = loop {
                        if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    };
                    seen.drain(..end);
                    let k = requests.fetch_add(1, Ordering::SeqCst);
                    if socket
                        .write_all(responses[k % responses.len()])
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if close_after_each {
                        let _ = socket.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    Ok((addr, connections))
}
