//! One HTTPS server on a runtime thread of its own: what `pramaan serve` (the log and its
//! API) and `pramaan witness serve` (a witness) share.
//!
//! Why a thread of its own: both are started the same way by the command and by tests
//! (a real server over real TLS on loopback, in-process), and both stop the same way:
//! stop accepting, let in-flight requests finish for up to two seconds, join the thread.
//!
//! Both serve HTTP/1.1 only (the TLS configuration offers only `http/1.1` by ALPN, and
//! hyper's prior-knowledge HTTP/2 detection is turned off with it), under the connection
//! limits of [`crate::conn_limits`]: the handshake, header, idle, body-rate and request
//! clocks and the per-address cap.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};

use crate::conn_limits::{ConnLimits, ConnStats, LimitAcceptor, RequestLimits, limit_requests};

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listener could not be handed to the runtime.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The tokio runtime or its thread could not be started.
    #[error("runtime: {0}")]
    Runtime(String),
}

/// Binds `listen` (port 0 picks a free port) and returns the listener with the address
/// it got, for [`serve`].
pub fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let bind_err = |source| ServeError::Bind {
        addr: listen,
        source,
    };
    let listener = TcpListener::bind(listen).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    Ok((listener, addr))
}

/// Where a client on this machine reaches a server bound to `bound`: an unspecified
/// address (`0.0.0.0`, `::`) as `127.0.0.1`.
pub fn local_address(bound: SocketAddr) -> SocketAddr {
    if bound.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], bound.port()))
    } else {
        bound
    }
}

/// Blocks until Ctrl-C (or SIGTERM on Unix): how `pramaan serve` and `pramaan witness
/// serve` wait before shutting down.
pub fn wait_for_shutdown_signal() -> Result<(), ServeError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
    Ok(())
}

/// A server running on its thread; stopped (gracefully) when dropped.
#[derive(Debug)]
pub struct Serving {
    handle: axum_server::Handle<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

/// Serves `app` over TLS (`tls`) on `listener`, on a multi-threaded tokio runtime of
/// `workers` threads (`None`: one per core) named `name`, under `limits` (connections
/// closed by each are counted in `stats`). Handlers see the peer address
/// (`ConnectInfo<SocketAddr>`).
pub fn serve(
    listener: TcpListener,
    tls: rustls::ServerConfig,
    app: axum::Router,
    name: &str,
    workers: Option<usize>,
    limits: ConnLimits,
    stats: Arc<ConnStats>,
) -> Result<Serving, ServeError> {
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Runtime(format!("the listener has no address: {source}")))?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    let rt = builder
        .enable_all()
        .thread_name(name)
        .build()
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    // The tokio listener registers with the runtime's reactor.
    let guard = rt.enter();
    let handle = axum_server::Handle::<SocketAddr>::new();
    let tls = RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(tls)))
        .handshake_timeout(limits.handshake);
    // hyper's own header_read_timeout stays off (as axum-server leaves it): the stream of
    // `conn_limits` keeps the header and idle clocks (why, in its module doc).
    let server = axum_server::from_tcp(listener)
        .map_err(|source| ServeError::Bind { addr, source })?
        .acceptor(LimitAcceptor::new(tls, limits, stats.clone()))
        .http1_only()
        .handle(handle.clone());
    drop(guard);
    let app = app.layer(axum::middleware::from_fn_with_state(
        RequestLimits { limits, stats },
        limit_requests,
    ));
    let what = name.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("{name}-{}", addr.port()))
        .spawn(move || {
            rt.block_on(async move {
                if let Err(e) = server
                    .serve(app.into_make_service_with_connect_info::<SocketAddr>())
                    .await
                {
                    log::error!("{what} stopped: {e}");
                }
            });
        })
        .map_err(|e| ServeError::Runtime(e.to_string()))?;
    Ok(Serving {
        handle,
        thread: Some(thread),
    })
}

impl Serving {
    /// Stops accepting, lets in-flight requests finish (up to 2 s), and joins the thread.
    pub fn stop(&mut self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(2)));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop();
    }
}
