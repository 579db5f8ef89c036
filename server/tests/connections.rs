//! Connection limits against the real in-process server over real sockets (design section
//! 8.1): partial headers, a trickled body and an idle keep-alive connection are each closed
//! within their configured limit; an address over its connection cap is refused while
//! another address still connects; a slow handler is answered 503; ordinary requests work
//! with every limit on. Limits are set to one or two seconds so each test takes a few.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pramaan_server::config::ConnectionsConfig;
use pramaan_server::conn_limits::{ConnLimits, ConnStats, Limit};
use pramaan_testkit::Env;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A test server whose connection limits are `tweak`ed from short defaults (1 s header,
/// 1 s idle, 1 s body grace, 30 s request).
fn server(tweak: impl FnOnce(&mut ConnectionsConfig)) -> Env {
    pramaan_testkit::start_with(|c| {
        c.connections.header_timeout_secs = 1;
        c.connections.idle_timeout_secs = 1;
        c.connections.body_grace_secs = 1;
        c.connections.request_timeout_secs = 30;
        tweak(&mut c.connections);
    })
}

/// A client TLS configuration trusting the CA of `cert_pem` (leaf then CA).
fn client_config(cert_pem: &[u8]) -> Arc<ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain =
        pramaan_server::tls::read_chain(cert_pem, std::path::Path::new("cert.pem")).expect("chain");
    let mut roots = RootCertStore::empty();
    roots.add(chain.last().expect("ca").clone()).expect("root");
    Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A TCP connection to `to` from the loopback address `from`.
fn tcp_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(from, 0))?;
        socket.connect(to).await
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A TLS connection from `from` with the handshake completed, or the error that ended it.
fn connect_from(env: &Env, from: IpAddr) -> std::io::Result<Tls> {
    let tcp = tcp_from(from, env.server().addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let conn = ClientConnection::new(
        client_config(&env.server().ca_pem),
        "localhost".try_into().expect("name"),
    )
    .map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

fn connect(env: &Env) -> Tls {
    connect_from(env, IpAddr::from([127, 0, 0, 1])).expect("connect")
}

/// Reads until the server closes the connection; the bytes read, or panics if the read
/// timeout (10 s) passes first: the connection was not closed.
fn read_until_closed(tls: &mut Tls) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("still open after the read timeout: {e}")
            }
            // Closed without close_notify, or reset: closed all the same.
            Err(_) => return got,
        }
    }
}

/// One complete `GET /healthz` on `tls`, kept alive; the response text.
fn healthz(tls: &mut Tls) -> String {
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"ok\n") {
        let n = tls.read(&mut buf).expect("read");
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).expect("text")
}

/// A client that connects and never starts the TLS handshake is closed by the 1-second
/// handshake limit.
#[test]
fn a_stalled_handshake_is_closed() {
    let env = server(|c| c.handshake_timeout_secs = 1);
    let mut tcp = TcpStream::connect(env.server().addr).expect("tcp");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let start = Instant::now();
    let mut b = [0u8; 16];
    match tcp.read(&mut b) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes before any ClientHello"),
        Err(e) => assert!(
            !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "still open: {e}"
        ),
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    // The socket closes as the handshake future is dropped, just before the count.
    let stats = &env.server().state().metrics.connections;
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats.closed(Limit::Handshake) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(stats.closed(Limit::Handshake), 1);
}

/// A client that sends a request line and then one header byte every 250 ms is closed
/// within five times the 1-second header limit.
#[test]
fn partial_headers_are_closed_within_the_header_limit() {
    let env = server(|_| {});
    let mut tls = connect(&env);
    let start = Instant::now();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .expect("write");
    let mut closed = false;
    while start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(250));
        if tls.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        // A closed connection shows as a failed write only once the reset arrives; a
        // short read tells sooner.
        tls.sock
            .set_read_timeout(Some(Duration::from_millis(10)))
            .expect("timeout");
        let mut b = [0u8; 64];
        match tls.read(&mut b) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => panic!("an answer to an incomplete request"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    let took = start.elapsed();
    assert!(closed, "still open after {took:?}");
    assert!(
        took >= Duration::from_millis(500),
        "closed too soon: {took:?}"
    );
    let stats = &env.server().state().metrics.connections;
    assert_eq!(stats.closed(Limit::Header), 1);
}

/// A body trickled one byte every 200 ms (far below the 1 KiB/s minimum) is cut off soon
/// after the 1-second grace: answered 408 and the connection closed.
#[test]
fn a_trickled_body_is_cut_off_and_answered_408() {
    let env = server(|_| {});
    let mut tls = connect(&env);
    let start = Instant::now();
    tls.write_all(
        b"POST /v1/attest HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/cose\r\nContent-Length: 1000\r\n\r\n",
    )
    .expect("write");
    let mut answer = Vec::new();
    tls.sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 1024];
    while start.elapsed() < Duration::from_secs(8) {
        if tls.write_all(b"x").is_err() {
            break;
        }
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if answer.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let took = start.elapsed();
    let text = String::from_utf8_lossy(&answer).to_string();
    assert!(
        text.starts_with("HTTP/1.1 408"),
        "answer: {text:?} after {took:?}"
    );
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    tls.sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    read_until_closed(&mut tls);
    assert_eq!(
        env.server().state().metrics.connections.closed(Limit::Body),
        1
    );
}

/// Two requests on one kept-alive connection both succeed; then, idle, the connection is
/// closed by the 1-second idle limit (not the 5-second header limit).
#[test]
fn an_idle_connection_is_closed_after_its_requests() {
    let env = server(|c| c.header_timeout_secs = 5);
    let mut tls = connect(&env);
    assert!(healthz(&mut tls).starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut tls).starts_with("HTTP/1.1 200"), "kept alive");
    let start = Instant::now();
    read_until_closed(&mut tls);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    let stats = &env.server().state().metrics.connections;
    assert_eq!(
        (stats.closed(Limit::Idle), stats.closed(Limit::Header)),
        (1, 0)
    );
}

/// After an answer, a request whose headers stop coming is closed by the 1-second header
/// limit counted from its first byte, not by the 10-second idle limit.
#[test]
fn a_later_request_s_partial_headers_are_closed_by_the_header_limit() {
    let env = server(|c| c.idle_timeout_secs = 10);
    let mut tls = connect(&env);
    assert!(healthz(&mut tls).starts_with("HTTP/1.1 200"));
    let start = Instant::now();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .expect("write");
    assert!(
        read_until_closed(&mut tls).is_empty(),
        "no answer to half a request"
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    let stats = &env.server().state().metrics.connections;
    assert_eq!(
        (stats.closed(Limit::Header), stats.closed(Limit::Idle)),
        (1, 0)
    );
}

/// With a cap of 2, a third connection from 127.0.0.1 is refused while 127.0.0.2 still
/// connects and is served; once one of the two closes, 127.0.0.1 connects again. The
/// refusal is counted and `/metrics` shows it.
#[test]
fn connections_beyond_the_per_address_cap_are_refused() {
    let env = server(|c| {
        c.max_per_address = 2;
        c.header_timeout_secs = 30;
    });
    let here = IpAddr::from([127, 0, 0, 1]);
    let there = IpAddr::from([127, 0, 0, 2]);
    let mut a = connect_from(&env, here).expect("first");
    let b = connect_from(&env, here).expect("second");
    assert!(
        connect_from(&env, here).is_err(),
        "a third connection from the same address completed its handshake"
    );
    let mut other = connect_from(&env, there).expect("another address connects");
    assert!(healthz(&mut other).starts_with("HTTP/1.1 200"));
    assert!(
        healthz(&mut a).starts_with("HTTP/1.1 200"),
        "the first two still work"
    );
    drop(b);
    // The server notices the close on its own schedule: retry for a while.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut c = loop {
        match connect_from(&env, here) {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("the slot was not released: {e}"),
        }
    };
    assert!(healthz(&mut c).starts_with("HTTP/1.1 200"));
    let metrics = healthz_metrics(&mut c, &env.admin_token);
    assert!(
        metrics.contains("pramaan_connections_closed_total{limit=\"per_address\"} 1\n")
            || metrics.contains("pramaan_connections_closed_total{limit=\"per_address\"} 2\n"),
        "{metrics}"
    );
    assert!(
        env.server()
            .state()
            .metrics
            .connections
            .closed(Limit::PerAddress)
            >= 1
    );
}

/// `GET /metrics` with an admin token (it is not open to anyone).
fn healthz_metrics(tls: &mut Tls, token: &str) -> String {
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).expect("write");
    String::from_utf8_lossy(&read_until_closed(tls)).to_string()
}

/// The device protocol works with every limit on (the limits are per connection, and an
/// ordinary client is far inside them): enroll and attest through the test kit's client.
#[test]
fn ordinary_requests_work_with_the_limits_on() {
    let env = server(|c| c.max_per_address = 4);
    env.seed();
    let mut dev = env.enroll("GAD-001");
    let first = env.attest_ok(&mut dev);
    let second = env.attest_ok(&mut dev);
    assert_ne!(first.next_nonce, second.next_nonce);
}

/// A handler slower than the request limit is answered 503 (its body had arrived) and
/// the connection closed; the serving helper alone, with an application of the test's.
#[test]
fn a_slow_handler_is_answered_503() {
    let dir = tempfile::tempdir().expect("dir");
    pramaan_server::server::admin_init(dir.path(), "localhost").expect("init");
    let cert = std::fs::read(dir.path().join("tls/cert.pem")).expect("cert");
    let key = std::fs::read(dir.path().join("tls/key.pem")).expect("key");
    let tls = pramaan_server::tls::server_config(&cert, &key, dir.path()).expect("tls");
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stats = Arc::new(ConnStats::default());
    let limits = ConnLimits {
        request: Duration::from_secs(1),
        ..ConnLimits::default()
    };
    let _serving = pramaan_server::serving::serve(
        listener,
        tls,
        app,
        "test-slow",
        Some(1),
        limits,
        stats.clone(),
    )
    .expect("serve");
    let tcp = TcpStream::connect(addr).expect("tcp");
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let conn = ClientConnection::new(client_config(&cert), "localhost".try_into().expect("n"))
        .expect("conn");
    let mut tls = StreamOwned::new(conn, tcp);
    let start = Instant::now();
    tls.write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    let text = String::from_utf8_lossy(&read_until_closed(&mut tls)).to_string();
    let took = start.elapsed();
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(stats.closed(Limit::Request), 1);
}
