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
