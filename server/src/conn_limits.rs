//! Connection limits: how long, how slowly and how many connections one client may hold.
//!
//! Why: a client that opens a connection and then sends headers a byte at a time, trickles
//! a body, or just stays connected costs the server a socket, a task and buffers for as long
//! as it likes; about 20,000 such sockets exhaust the descriptor limit and nobody else can
//! connect. Every connection is therefore bounded in time at each stage, and the number one
//! address may hold open at once is capped:
//!
//! | stage | limit | enforced by |
//! |---|---|---|
//! | TLS handshake | `handshake` | the rustls acceptor's timeout |
//! | first request's headers | `header`, from the end of the handshake | [`LimitedStream`] |
//! | between requests (keep-alive) | `idle`, from the end of the last response | [`LimitedStream`] |
//! | a later request's headers | `header`, from its first byte | [`LimitedStream`] |
//! | request body | `body_min_rate` after `body_grace` | [`limit_requests`] (the body) |
//! | handler, body included | `request` (answer 408 or 503) | [`limit_requests`] |
//! | response body | `body_min_rate` after `body_grace` | [`LimitedStream`] |
//! | connections per address | `per_address` (IPv6 by /64) | [`LimitAcceptor`] |
//!
//! Why the stream keeps the header and idle clocks rather than hyper's
//! `header_read_timeout` (reachable through axum-server's `http_builder()`, and left off):
//! hyper 1.x starts that timer as soon as a connection goes idle, so it measures idle time
//! and header time as one, and a 10-second header limit would also close every keep-alive
//! connection after 10 seconds; it also allocates and registers a new timer for every
//! request. The stream knows which phase its connection is in (the request middleware
//! tells it) and applies the right clock, with one timer per connection.
//!
//! Why a minimum rate for bodies rather than an inactivity limit per read: a client sending
//! one byte every few seconds is never inactive for long, so an inactivity limit short
//! enough to stop it would also cut off a phone on a poor network. Instead every byte
//! received buys `1 / body_min_rate` seconds after a grace period `body_grace` (the floor):
//! the body must have arrived by `start + body_grace + received / body_min_rate`. A body
//! trickled one byte every five seconds is cut off shortly after the grace period; a slow
//! but steady upload of a large CSV gets the time its size needs (within `request`). The
//! same rule bounds a client that reads a large response (an audit page) very slowly.
//!
//! Why the per-address counter is a map of open connections only: entries are added when a
//! connection is accepted and removed when the last connection of their address closes
//! (however it ends: the count is released when the connection's stream is dropped), so
//! the map never holds more entries than there are open connections, and it is touched
//! once per connection, never per request. IPv6 clients are grouped by /64, the smallest
//! block one subscriber usually gets, so one host cannot step around the cap by changing
//! its interface identifier.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use crate::limits::address_group;

/// Default `handshake_timeout_secs`.
pub const DEFAULT_HANDSHAKE_SECS: u64 = 10;
/// Default `header_timeout_secs`.
pub const DEFAULT_HEADER_SECS: u64 = 10;
/// Default `body_grace_secs`: the floor of a body's time.
pub const DEFAULT_BODY_GRACE_SECS: u64 = 10;
/// Default `body_min_bytes_per_sec`: 1 KiB/s.
pub const DEFAULT_BODY_MIN_RATE: u64 = 1024;
/// Default `request_timeout_secs` (an IT import of a large CSV can take seconds).
pub const DEFAULT_REQUEST_SECS: u64 = 60;
/// Default `idle_timeout_secs`.
pub const DEFAULT_IDLE_SECS: u64 = 60;
/// Default `max_per_address`.
pub const DEFAULT_PER_ADDRESS: u32 = 64;

/// The limits in force on every connection (from config `[connections]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Longest TLS handshake.
    pub handshake: Duration,
    /// Longest time to receive a request's headers.
    pub header: Duration,
    /// Time every body gets before the minimum rate applies.
    pub body_grace: Duration,
    /// Slowest accepted body (request or response), bytes per second (at least 1).
    pub body_min_rate: u64,
    /// Longest time from a request's headers to its answer (the body's arrival included).
    pub request: Duration,
    /// Longest wait for the next request on a kept-alive connection.
    pub idle: Duration,
    /// Most connections open at once from one address (IPv6: one /64).
    pub per_address: u32,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(DEFAULT_HANDSHAKE_SECS),
            header: Duration::from_secs(DEFAULT_HEADER_SECS),
            body_grace: Duration::from_secs(DEFAULT_BODY_GRACE_SECS),
            body_min_rate: DEFAULT_BODY_MIN_RATE,
            request: Duration::from_secs(DEFAULT_REQUEST_SECS),
            idle: Duration::from_secs(DEFAULT_IDLE_SECS),
            per_address: DEFAULT_PER_ADDRESS,
        }
    }
}

impl ConnLimits {
    /// The time `bytes` of body buy at the minimum rate.
    fn allowance(&self, bytes: u64) -> Duration {
        Duration::from_millis(bytes.saturating_mul(1000) / self.body_min_rate.max(1))
    }
}

/// Which limit closed (or refused) a connection: the `limit` label of
/// `pramaan_connections_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Refused at accept: the address already holds `per_address` connections.
    PerAddress,
    /// The TLS handshake took longer than `handshake`.
    Handshake,
    /// A request's headers took longer than `header`.
    Header,
    /// A kept-alive connection sent nothing for `idle`.
    Idle,
    /// A request body arrived slower than the minimum rate.
    Body,
    /// A request was not answered within `request`.
    Request,
    /// A response was read slower than the minimum rate.
    Response,
}

impl Limit {
    const ALL: [Limit; 7] = [
        Limit::PerAddress,
        Limit::Handshake,
        Limit::Header,
        Limit::Idle,
        Limit::Body,
        Limit::Request,
        Limit::Response,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Limit::PerAddress => "per_address",
            Limit::Handshake => "handshake",
            Limit::Header => "header",
            Limit::Idle => "idle",
            Limit::Body => "body",
            Limit::Request => "request",
            Limit::Response => "response",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn message(self) -> &'static str {
        match self {
            Limit::PerAddress => "too many connections from this address",
            Limit::Handshake => "the TLS handshake took too long",
            Limit::Header => "the request headers took too long",
            Limit::Idle => "the connection was idle too long",
            Limit::Body => "the request body arrived too slowly",
            Limit::Request => "the request took too long",
            Limit::Response => "the response was read too slowly",
        }
    }
}

/// Connections closed by each limit, and open now (`GET /metrics`).
#[derive(Debug, Default)]
pub struct ConnStats {
    closed: [AtomicU64; Limit::ALL.len()],
    open: AtomicU64,
}

impl ConnStats {
    /// Connections closed or refused by `limit` so far.
    pub fn closed(&self, limit: Limit) -> u64 {
        self.closed[limit.index()].load(Ordering::Relaxed)
    }

    /// Connections open now (TLS handshakes included).
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    fn count(&self, limit: Limit) {
        self.closed[limit.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text: `pramaan_connections_closed_total{limit}` (every limit, 0
    /// included) and `pramaan_connections_open`.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# HELP pramaan_connections_closed_total Connections closed or refused by a connection limit.\n\
             # TYPE pramaan_connections_closed_total counter\n",
        );
        for limit in Limit::ALL {
            out.push_str(&format!(
                "pramaan_connections_closed_total{{limit=\"{}\"}} {}\n",
                limit.label(),
                self.closed(limit)
            ));
        }
        out.push_str(&format!(
            "# HELP pramaan_connections_open Client connections open now.\n\
             # TYPE pramaan_connections_open gauge\n\
             pramaan_connections_open {}\n",
            self.open()
        ));
        out
    }
}

/// Open connections per address group ([`address_group`]: an IPv4 address, or the /64 of
/// an IPv6 one, the same grouping as the rate limits), capped.
#[derive(Debug)]
pub struct PerAddress {
    cap: u32,
    open: Mutex<HashMap<IpAddr, u32>>,
    stats: Arc<ConnStats>,
}

impl PerAddress {
    /// At most `cap` connections per group; `stats` gets the open count and refusals.
    pub fn new(cap: u32, stats: Arc<ConnStats>) -> Arc<Self> {
        Arc::new(Self {
            cap,
            open: Mutex::new(HashMap::new()),
            stats,
        })
    }

    /// A slot for one more connection from `ip`, or `None` (counted) when its group is
    /// at the cap. The slot is given back when dropped.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let group = address_group(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.get(&group).copied().unwrap_or(0);
        if n >= self.cap {
            drop(open);
            self.stats.count(Limit::PerAddress);
            return None;
        }
        open.insert(group, n + 1);
        drop(open);
        self.stats.open.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            owner: self.clone(),
            group,
        })
    }

    /// Connections open now from `ip`'s group.
    pub fn open_from(&self, ip: IpAddr) -> u32 {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&address_group(ip)).copied().unwrap_or(0)
    }

    /// Groups with an open connection: the size of the map.
    pub fn groups(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn release(&self, group: IpAddr) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&group) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&group);
            }
        }
        drop(open);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One connection's place in [`PerAddress`], given back on drop.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<PerAddress>,
    group: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner.release(self.group);
    }
}

/// Where a connection is in its life; the request middleware moves it along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PhaseKind {
    /// Handshake done, first request not yet dispatched: `header` from `since`.
    FirstRequest,
    /// A handler is running: the middleware's clocks apply, not the stream's.
    Handling,
    /// The handler answered; its body is being sent: minimum rate from `since`.
    Responding,
    /// Between requests: `idle` from `since`, `header` once a byte arrives.
    Idle,
}

#[derive(Debug, Clone, Copy)]
struct Phase {
    kind: PhaseKind,
    since: Instant,
    /// Changes with every transition (the stream resets its counters on a change).
    epoch: u64,
}

/// A connection's phase, shared by its stream and the requests on it.
#[derive(Debug)]
struct ConnState {
    phase: Mutex<Phase>,
}

impl ConnState {
    fn new() -> Self {
        Self {
            phase: Mutex::new(Phase {
                kind: PhaseKind::FirstRequest,
                since: Instant::now(),
                epoch: 0,
            }),
        }
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, kind: PhaseKind) {
        let mut p = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        p.kind = kind;
        p.since = Instant::now();
        p.epoch = p.epoch.wrapping_add(1);
    }
}

/// The connection a request came on (a request extension set by [`LimitAcceptor`]).
#[derive(Debug, Clone)]
struct ConnHandle(Arc<ConnState>);

/// A request in progress on its connection: `Handling`, then `Responding`; the connection
/// is `Idle` again when this is dropped (with the response body, or with the request if
/// it never got that far).
#[derive(Debug)]
struct ActiveRequest(Arc<ConnState>);

impl ActiveRequest {
    fn begin(conn: Arc<ConnState>) -> Self {
        conn.enter(PhaseKind::Handling);
        Self(conn)
    }

    fn responding(&self) {
        self.0.enter(PhaseKind::Responding);
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.enter(PhaseKind::Idle);
    }
}

/// A deadline timer, created on first need. Why it is re-armed lazily: a connection's
/// deadline moves with every phase and every response write, and resetting a tokio timer
/// takes the timer wheel's lock, so a later deadline leaves the timer where it is (it
/// fires early, finds time left, and is re-armed once); only an earlier one resets it.
#[derive(Debug, Default)]
struct Deadline {
    timer: Option<Pin<Box<Sleep>>>,
    armed: Option<Instant>,
}

impl Deadline {
    /// `true` when `at` has passed; otherwise the task is woken at `at` or before.
    fn poll_expired(&mut self, at: Instant, cx: &mut Context<'_>) -> bool {
        let timer = match &mut self.timer {
            Some(t) => {
                if self.armed.is_none_or(|armed| at < armed) {
                    t.as_mut().reset(at);
                    self.armed = Some(at);
                }
                t
            }
            None => {
                self.armed = Some(at);
                self.timer.insert(Box::pin(tokio::time::sleep_until(at)))
            }
        };
        loop {
            if timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            if Instant::now() >= at {
                return true;
            }
            // Fired for an earlier deadline that has since moved: wait for this one.
            timer.as_mut().reset(at);
            self.armed = Some(at);
        }
    }
}

/// A connection's byte stream under the header, idle and response-rate clocks; holds the
/// connection's per-address [`Slot`] for as long as the connection lives.
#[derive(Debug)]
pub struct LimitedStream<T> {
    inner: T,
    conn: Arc<ConnState>,
    limits: ConnLimits,
    stats: Arc<ConnStats>,
    _slot: Slot,
    deadline: Deadline,
    /// The phase epoch `first_byte` and `written` belong to.
    epoch: u64,
    /// When the first byte of the next request arrived (idle phase).
    first_byte: Option<Instant>,
    /// Bytes of the response written so far (responding phase).
    written: u64,
    /// The limit that closed this connection (counted once; every later call fails).
    expired: Option<Limit>,
}

impl<T> LimitedStream<T> {
    fn new(
        inner: T,
        conn: Arc<ConnState>,
        limits: ConnLimits,
        stats: Arc<ConnStats>,
        slot: Slot,
    ) -> Self {
        Self {
            inner,
            conn,
            limits,
            stats,
            _slot: slot,
            deadline: Deadline::default(),
            epoch: 0,
            first_byte: None,
            written: 0,
            expired: None,
        }
    }

    /// The current phase, resetting this stream's counters when it changed.
    fn sync(&mut self) -> Phase {
        let p = self.conn.phase();
        if p.epoch != self.epoch {
            self.epoch = p.epoch;
            self.first_byte = None;
            self.written = 0;
        }
        p
    }

    /// The deadline in force and the limit it enforces (none while a handler runs).
    fn current_deadline(&self, p: Phase) -> Option<(Instant, Limit)> {
        let l = &self.limits;
        match p.kind {
            PhaseKind::FirstRequest => Some((p.since + l.header, Limit::Header)),
            PhaseKind::Idle => Some(match self.first_byte {
                Some(t) => (t + l.header, Limit::Header),
                None => (p.since + l.idle, Limit::Idle),
            }),
            PhaseKind::Responding => Some((
                p.since + l.body_grace + l.allowance(self.written),
                Limit::Response,
            )),
            PhaseKind::Handling => None,
        }
    }

    /// An error (counted) once the deadline in force has passed; otherwise arms the
    /// timer so the connection's task is woken when it does.
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if let Some(limit) = self.expired {
            return Err(io::Error::new(io::ErrorKind::TimedOut, limit.message()));
        }
        let p = self.sync();
        let Some((at, limit)) = self.current_deadline(p) else {
            return Ok(());
        };
        if self.deadline.poll_expired(at, cx) {
            self.expired = Some(limit);
            self.stats.count(limit);
            return Err(io::Error::new(io::ErrorKind::TimedOut, limit.message()));
        }
        Ok(())
    }

    fn on_read(&mut self, n: usize) {
        if n > 0 && self.first_byte.is_none() && self.sync().kind == PhaseKind::Idle {
            self.first_byte = Some(Instant::now());
        }
    }

    fn on_written(&mut self, n: usize) {
        if self.sync().kind == PhaseKind::Responding {
            self.written = self.written.saturating_add(n as u64);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for LimitedStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = buf.filled().len().saturating_sub(before);
            this.on_read(n);
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for LimitedStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            this.on_written(n);
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx)?;
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            this.on_written(n);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx)?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The acceptor of `pramaan serve` and `pramaan witness serve`: refuses an address over
/// its cap before any TLS work, runs the TLS acceptor (`tls`, with its handshake
/// timeout), and puts the connection under [`LimitedStream`]'s clocks.
#[derive(Debug, Clone)]
pub struct LimitAcceptor<A> {
    tls: A,
    limits: ConnLimits,
    per_address: Arc<PerAddress>,
    stats: Arc<ConnStats>,
}

impl<A> LimitAcceptor<A> {
    /// Wraps `tls` (whose handshake timeout should be `limits.handshake`).
    pub fn new(tls: A, limits: ConnLimits, stats: Arc<ConnStats>) -> Self {
        Self {
            tls,
            limits,
            per_address: PerAddress::new(limits.per_address, stats.clone()),
            stats,
        }
    }
}

type AcceptFuture<T, S> = Pin<Box<dyn Future<Output = io::Result<(T, S)>> + Send>>;

impl<A, S> Accept<TcpStream, S> for LimitAcceptor<A>
where
    A: Accept<TcpStream, S>,
    A::Future: Send + 'static,
    A::Stream: Send + 'static,
    A::Service: Send + 'static,
{
    type Stream = LimitedStream<A::Stream>;
    type Service = WithConn<A::Service>;
    type Future = AcceptFuture<Self::Stream, Self::Service>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let slot = match stream.peer_addr() {
            Ok(peer) => self.per_address.try_acquire(peer.ip()),
            Err(e) => return Box::pin(std::future::ready(Err(e))),
        };
        let Some(slot) = slot else {
            // Dropping the stream closes it: refused before any TLS work.
            return Box::pin(std::future::ready(Err(io::Error::other(
                Limit::PerAddress.message(),
            ))));
        };
        let handshake = self.tls.accept(stream, service);
        let limits = self.limits;
        let stats = self.stats.clone();
        Box::pin(async move {
            let (stream, service) = handshake.await.inspect_err(|e| {
                if e.kind() == io::ErrorKind::TimedOut {
                    stats.count(Limit::Handshake);
                }
            })?;
            let conn = Arc::new(ConnState::new());
            Ok((
                LimitedStream::new(stream, conn.clone(), limits, stats, slot),
                WithConn {
                    inner: service,
                    conn,
                },
            ))
        })
    }
}

/// The connection's service: hands each request its connection ([`ConnHandle`]).
#[derive(Debug, Clone)]
pub struct WithConn<S> {
    inner: S,
    conn: Arc<ConnState>,
}

impl<S, B> tower_service::Service<axum::http::Request<B>> for WithConn<S>
where
    S: tower_service::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(ConnHandle(self.conn.clone()));
        self.inner.call(req)
    }
}

/// What [`limit_requests`] needs: the limits and where to count.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// The limits.
    pub limits: ConnLimits,
    /// The counters.
    pub stats: Arc<ConnStats>,
}

/// Middleware over the whole application: the request body under the minimum rate, the
/// handler under `request` (408 when the body had not all arrived, else 503; either way
/// the connection is closed after the answer), and the connection's phase kept current.
pub async fn limit_requests(State(rl): State<RequestLimits>, req: Request, next: Next) -> Response {
    let active = req
        .extensions()
        .get::<ConnHandle>()
        .map(|c| ActiveRequest::begin(c.0.clone()));
    let outcome = Arc::new(BodyOutcome::default());
    let (parts, body) = req.into_parts();
    let body = if body.is_end_stream() {
        // Nothing to wait for (a GET): no clock needed.
        outcome.set(BodyOutcome::DONE);
        body
    } else {
        Body::new(MinRateBody {
            inner: body,
            start: Instant::now(),
            limits: rl.limits,
            received: 0,
            deadline: Deadline::default(),
            outcome: outcome.clone(),
        })
    };
    let resp = match tokio::time::timeout(
        rl.limits.request,
        next.run(Request::from_parts(parts, body)),
    )
    .await
    {
        Ok(_) if outcome.get() == BodyOutcome::TOO_SLOW => {
            rl.stats.count(Limit::Body);
            closing(StatusCode::REQUEST_TIMEOUT, Limit::Body)
        }
        Ok(resp) => resp,
        Err(_) => {
            rl.stats.count(Limit::Request);
            if outcome.get() == BodyOutcome::DONE {
                closing(StatusCode::SERVICE_UNAVAILABLE, Limit::Request)
            } else {
                closing(StatusCode::REQUEST_TIMEOUT, Limit::Request)
            }
        }
    };
    match active {
        Some(active) => {
            active.responding();
            let (parts, body) = resp.into_parts();
            Response::from_parts(
                parts,
                Body::new(TrackedBody {
                    inner: body,
                    _active: active,
                }),
            )
        }
        None => resp,
    }
}

/// An answer that closes the connection after it is sent.
fn closing(status: StatusCode, limit: Limit) -> Response {
    (
        status,
        [(header::CONNECTION, "close")],
        format!("{}\n", limit.message()),
    )
        .into_response()
}

/// How a request body ended, as the middleware learns it.
#[derive(Debug, Default)]
struct BodyOutcome(AtomicU8);

impl BodyOutcome {
    const DONE: u8 = 1;
    const TOO_SLOW: u8 = 2;

    fn set(&self, v: u8) {
        self.0.store(v, Ordering::Relaxed);
    }

    fn get(&self) -> u8 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Why a request body failed: it arrived slower than the minimum rate.
#[derive(Debug, thiserror::Error)]
#[error("the request body arrived too slowly")]
pub struct BodyTooSlow;

/// A request body that fails once it falls behind the minimum rate (module doc).
struct MinRateBody {
    inner: Body,
    start: Instant,
    limits: ConnLimits,
    received: u64,
    deadline: Deadline,
    outcome: Arc<BodyOutcome>,
}

impl HttpBody for MinRateBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                this.outcome.set(BodyOutcome::DONE);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Pending => {
                let at = this.start + this.limits.body_grace + this.limits.allowance(this.received);
                if this.deadline.poll_expired(at, cx) {
                    this.outcome.set(BodyOutcome::TOO_SLOW);
                    return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request active (the connection `Responding`) until it
/// is sent or dropped.
struct TrackedBody {
    inner: Body,
    _active: ActiveRequest,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    /// The cap holds per group, a released slot can be taken again, and the map holds
    /// only groups with open connections (it is empty once all are closed).
    #[test]
    fn per_address_cap_counts_open_connections_and_forgets_closed_ones() {
        let stats = Arc::new(ConnStats::default());
        let pa = PerAddress::new(2, stats.clone());
        let a = ip("2001:db8::1");
        let a_sibling = ip("2001:db8::2");
        let b = ip("192.0.2.1");
        let s1 = pa.try_acquire(a).expect("first");
        let s2 = pa.try_acquire(a_sibling).expect("second, same /64");
        assert!(pa.try_acquire(a).is_none(), "third from the same /64");
        let s3 = pa.try_acquire(b).expect("another address");
        assert_eq!((pa.open_from(a), pa.open_from(b), stats.open()), (2, 1, 3));
        assert_eq!(stats.closed(Limit::PerAddress), 1);
        drop(s1);
        let s4 = pa.try_acquire(a).expect("a slot was released");
        drop((s2, s3, s4));
        assert_eq!((pa.groups(), stats.open()), (0, 0));
        // Many distinct addresses, each connecting and closing: the map stays empty.
        for i in 0..1000u32 {
            let slot = pa.try_acquire(IpAddr::V4(Ipv4Addr::from(i))).expect("slot");
            drop(slot);
        }
        assert_eq!(pa.groups(), 0);
    }

    /// A response its client does not read is cut off by the minimum rate: not before
    /// `body_grace + written / rate` from the answer, and counted once as `response`.
    #[test]
    fn a_response_read_too_slowly_is_cut_off() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let socket = tokio::net::TcpSocket::new_v4().expect("socket");
            socket.set_send_buffer_size(4096).expect("sndbuf");
            socket
                .bind("127.0.0.1:0".parse().expect("addr"))
                .expect("bind");
            let listener = socket.listen(1).expect("listen");
            let client = tokio::net::TcpSocket::new_v4().expect("socket");
            client.set_recv_buffer_size(4096).expect("rcvbuf");
            let _never_reads = client
                .connect(listener.local_addr().expect("addr"))
                .await
                .expect("connect");
            let (server, peer) = listener.accept().await.expect("accept");
            let stats = Arc::new(ConnStats::default());
            let limits = ConnLimits {
                body_grace: Duration::from_millis(300),
                body_min_rate: 64 * 1024,
                ..ConnLimits::default()
            };
            let slot = PerAddress::new(1, stats.clone())
                .try_acquire(peer.ip())
                .expect("slot");
            let conn = Arc::new(ConnState::new());
            let mut stream = LimitedStream::new(server, conn.clone(), limits, stats.clone(), slot);
            let active = ActiveRequest::begin(conn);
            let since = Instant::now();
            active.responding();
            let chunk = vec![0u8; 16 * 1024];
            let mut written = 0u64;
            let err = tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    let r = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &chunk))
                        .await;
                    match r {
                        Ok(n) => written += n as u64,
                        Err(e) => return e,
                    }
                }
            })
            .await
            .expect("never cut off");
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert!(since.elapsed() >= limits.body_grace + limits.allowance(written));
            let again = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_flush(cx)).await;
            assert!(again.is_err(), "stays closed");
            assert_eq!(stats.closed(Limit::Response), 1);
            drop(stream);
            assert_eq!(stats.open(), 0, "the slot is released with the stream");
        });
    }

    #[test]
    fn allowance_is_bytes_over_rate() {
        let l = ConnLimits {
            body_min_rate: 1024,
            ..ConnLimits::default()
        };
        assert_eq!(l.allowance(0), Duration::ZERO);
        assert_eq!(l.allowance(2048), Duration::from_secs(2));
        assert_eq!(
            l.allowance(u64::MAX),
            Duration::from_millis(u64::MAX / 1024)
        );
    }

    #[test]
    fn metrics_name_every_limit() {
        let stats = ConnStats::default();
        stats.count(Limit::Idle);
        let text = stats.render();
        for limit in Limit::ALL {
            assert!(text.contains(&format!("{{limit=\"{}\"}}", limit.label())));
        }
        assert!(text.contains("pramaan_connections_closed_total{limit=\"idle\"} 1\n"));
        assert!(text.contains("pramaan_connections_open 0\n"));
    }
}
