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
//! - `server.header_read_secs`: a request's head (its line and headers, up to
//!   the blank line) must arrive within this time of its first byte, or the
//!   connection is closed — a client trickling a byte a second no longer holds
//!   a connection (the idle timeout restarts at every byte). HTTP/2 connections
//!   (their preface) are left to the protocol's own flow control.
//! - `server.body_read_secs` ([`BodyDeadline`]): every request body, whatever
//!   the endpoint, must arrive whole within this time of its head; past it the
//!   read fails (`TimedOut`) and the handler answers `408 REQUEST_TIMEOUT`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use poem::listener::Acceptor;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// An acceptor that closes connections past the hub's bounds.
pub struct Bounded<A> {
    inner: A,
    head_time: Duration,
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
    /// address, each request head to `head_time`; `refused` counts the
    /// connections closed as accepted.
    pub fn new(
        inner: A,
        max: usize,
        max_per_ip: usize,
        head_time: Duration,
        refused: Arc<AtomicU64>,
    ) -> Self {
        Bounded {
            inner,
            head_time,
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
                head: Head::Between,
                head_time: self.head_time,
                deadline: Box::pin(tokio::time::sleep(self.head_time)),
                first: true,
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

/// An accepted connection holding its places until it closes, and timing the
/// head of each request.
pub struct Held<Io> {
    io: Io,
    head: Head,
    head_time: Duration,
    /// When the head being read must be whole (armed while `head` is `Reading`).
    deadline: Pin<Box<Sleep>>,
    /// Nothing read yet (an HTTP/2 preface is recognised on the first read).
    first: bool,
    _permit: OwnedSemaphorePermit,
    _slot: Option<IpSlot>,
}

/// Where the connection is in its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// Between requests: the next byte starts a head.
    Between,
    /// A head is arriving; `tail` holds its last bytes, to find `\r\n\r\n`
    /// across reads.
    Reading { tail: [u8; 3] },
    /// The head is whole; the request is being served (its body, if any, is
    /// timed by [`BodyDeadline`]).
    Served,
    /// HTTP/2: not timed here.
    Http2,
}

const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl<Io> Held<Io> {
    /// Follows the bytes just read: arms the deadline at a head's first byte,
    /// disarms it at the head's end.
    fn saw(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if std::mem::take(&mut self.first) && bytes.starts_with(HTTP2_PREFACE) {
            self.head = Head::Http2;
            return;
        }
        let mut tail = match self.head {
            Head::Http2 | Head::Served => return,
            Head::Between => {
                let at = Instant::now() + self.head_time;
                self.deadline.as_mut().reset(at);
                [0; 3]
            }
            Head::Reading { tail } => tail,
        };
        let mut window = tail.to_vec();
        window.extend_from_slice(bytes);
        if window.windows(4).any(|w| w == b"\r\n\r\n") {
            self.head = Head::Served;
            return;
        }
        let keep = window.len().min(3);
        tail = [0; 3];
        tail[3 - keep..].copy_from_slice(&window[window.len() - keep..]);
        self.head = Head::Reading { tail };
    }

    /// Follows bytes written: a response (not an interim `100 Continue`)
    /// ends the request, so the next byte read starts a new head.
    fn wrote(&mut self, bytes: &[u8]) {
        if self.head == Head::Served && !bytes.starts_with(b"HTTP/1.1 1") {
            self.head = Head::Between;
        }
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for Held<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if matches!(self.head, Head::Reading { .. }) && self.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not arrive in time",
            )));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let timing = self.first || matches!(self.head, Head::Between | Head::Reading { .. });
        if let (Poll::Ready(Ok(())), true) = (&polled, timing) {
            self.saw(&buf.filled()[before..]);
            if matches!(self.head, Head::Reading { .. }) {
                // Woken at the deadline if the rest never comes.
                let _ = self.deadline.as_mut().poll(cx);
            }
        }
        polled
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Held<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                self.wrote(buf);
            }
        }
        polled
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
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                let first = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &b[..]);
                self.wrote(first);
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Middleware: every request body must arrive whole within its time of the
/// request's head; past it, reading it fails with `TimedOut`
/// ([`crate::edge::read_body`] answers `408 REQUEST_TIMEOUT`). One mechanism
/// for every endpoint, so no handler can forget it.
pub struct BodyDeadline(pub Duration);

impl<E: poem::Endpoint> poem::Middleware<E> for BodyDeadline {
    type Output = BodyDeadlineEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyDeadlineEndpoint {
            inner: ep,
            time: self.0,
        }
    }
}

/// See [`BodyDeadline`].
pub struct BodyDeadlineEndpoint<E> {
    inner: E,
    time: Duration,
}

impl<E: poem::Endpoint> poem::Endpoint for BodyDeadlineEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: poem::Request) -> poem::Result<Self::Output> {
        let body = req.take_body();
        req.set_body(poem::Body::from_async_read(Timed {
            inner: Box::pin(body.into_async_read()),
            deadline: Box::pin(tokio::time::sleep(self.time)),
        }));
        self.inner.call(req).await
    }
}

/// A body reader that fails once its deadline has passed.
struct Timed {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    deadline: Pin<Box<Sleep>>,
}

impl AsyncRead for Timed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.inner.as_mut().poll_read(cx, buf) {
            Poll::Pending if self.deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the request body did not arrive in time",
                )))
            }
            polled => polled,
        }
    }
}
