use std::net::SocketAddr;

/// Why the live server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The address is not a loopback address and public binding was not allowed.
    #[error("refusing to serve the live view on {addr}, which is not a loopback address: anyone who can reach it sees the run; pass --live-public to allow it")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}
