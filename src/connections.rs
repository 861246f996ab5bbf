//! Connections the hub holds, bounded: a connection costs a file descriptor and
//! memory whether or not it ever sends a request, so without bounds one host
//! could open (or trickle into) connections until the hub can accept no other
//! and spins on `EMFILE`.
//!
//! - `server.max_connections`: connections open at once; past it a new one is
//!   closed as it is accepted (counted in `mandate_connections_refused_total`).
//! - `server.max_connections_per_ip`: connections one remote address may hold
//!   at once, so one host cannot take the whole allowance.
//! - `server.idle_timeout_secs` (in [`crate::serve`]): a connection that sends
//!   and receives nothing for that long is closed.
//! - `server.body_read_secs` (in [`crate::graphql::decode`]): a request body
//!   that has not arrived whole by then is refused `408`.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An acceptor that closes connections past the hub's bounds.
pub struct Bounded<A> {
    inner: A,
    open: Arc<Semaphore>,
    per_ip: Arc<PerIp>,
    refused: Arc<AtomicU64>,
}

/// Connections held per remote address.
struct PerIp {
    max: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let n = held.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            per_ip: Arc::clone(self),
            ip,
        })
    }
}

/// One connection's place in its address's allowance; given back on drop.
struct IpSlot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut held = self
            .per_ip
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.ip);
            }
        }
    }
}

impl<A: Acceptor> Bounded<A> {
    /// Bounds `inner` to `max` connections at once, `max_per_ip` from one
    /// address; `refused` counts the connections closed for it.
    pub fn new(inner: A, max: usize, max_per_ip: usize, refused: Arc<AtomicU64>) -> Self {
        Bounded {
            inner,
            open: Arc::new(Semaphore::new(max.max(1))),
            per_ip: Arc::new(PerIp {
                max: max_per_ip.max(1),
                held: Mutex::new(HashMap::new()),
            }),
            refused,
        }
    }
}

impl<A: Acceptor> Acceptor for Bounded<A> {
    type Io = Held<A::Io>;

    fn local_addr(&self) -> Vec<LocalAddr> {
        self.inner.local_addr()
    }

    async fn accept(
        &mut self,
    ) -> io::Result<(Self::Io, LocalAddr, RemoteAddr, poem::http::uri::Scheme)> {
        loop {
            let (io, local, remote, scheme) = self.inner.accept().await?;
            let Ok(permit) = Arc::clone(&self.open).try_acquire_owned() else {
                self.refuse(&remote, "the hub holds as many connections as it may");
                continue;
            };
            let slot = match remote.as_socket_addr().map(std::net::SocketAddr::ip) {
                Some(ip) => match self.per_ip.take(ip) {
                    Some(slot) => Some(slot),
                    None => {
                        self.refuse(&remote, "this address holds as many connections as it may");
                        continue;
                    }
                },
                None => None,
            };
            let held = Held {
                io,
                _permit: permit,
                _slot: slot,
            };
            return Ok((held, local, remote, scheme));
        }
    }
}

impl<A> Bounded<A> {
    fn refuse(&self, remote: &RemoteAddr, why: &str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(remote = %remote, "connection closed: {why}");
    }
}

/// An accepted connection holding its places until it closes.
pub struct Held<Io> {
    io: Io,
    _permit: OwnedSemaphorePermit,
    _slot: Option<IpSlot>,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Held<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Held<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
