//! The serving boundary held against attackers (issue 15): each test is an
//! attack that worked before the boundary was hardened.

mod common;

use common::serve::*;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::thread;
use std::time::{Duration, Instant};

/// A WASI command that calls the test-only host function that panics
/// (`luge_test::panic`, built into the tests' `luge`).
const PANICS: &str = r#"(module
  (import "luge_test" "panic" (func $panic))
  (memory (export "memory") 1)
  (func (export "_start") (call $panic)))"#;

const PANIC_MESSAGE: &str = "trap: host function panicked: luge_test::panic was called";

#[test]
fn a_panicking_host_call_ends_the_run_with_a_trap() {
    let out = luge_run(wat_file("panics", PANICS)).output();
    assert_eq!(exit_code(&out), 134, "{}", describe(&out));
    assert!(
        stderr_text(&out).contains(PANIC_MESSAGE),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_panicking_host_call_is_a_500_and_the_server_serves_on() {
    let served = serve(
        &[
            route("/panic", &wat_file("panics", PANICS), ""),
            route("/hello", &example("hello"), ""),
        ],
        "",
    );
    let mut client = Client::connect(served.port);
    for _ in 0..3 {
        let reply = client.get("/panic");
        assert_eq!(reply.status, 500, "{}", reply.text());
        assert!(reply.text().contains(PANIC_MESSAGE), "{}", reply.text());
        let reply = client.post("/hello", b"edge");
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
}

/// Sends `head` (a request head without its blank line) and reads the
/// reply without sending any body, within 10 s.
fn reply_to_head(port: u16, head: &str) -> (Reply, Client) {
    let mut client = Client::connect(port);
    client.read_timeout(Duration::from_secs(10));
    client.send(format!("{head}\r\n\r\n").as_bytes());
    let reply = read_reply(&mut client.reader);
    (reply, client)
}

/// Whether the server has closed `client`'s connection: end of file within
/// 10 s.
fn closed(client: &mut Client) -> bool {
    let mut byte = [0u8; 1];
    matches!(client.reader.read(&mut byte), Ok(0))
}

#[test]
fn an_upload_without_the_token_is_refused_at_its_head_and_closed() {
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let huge = 300 << 20;
    let heads = [
        format!("PUT /functions/f HTTP/1.1\r\nContent-Length: {huge}"),
        format!("PUT /api/v1/namespaces/guest/actions/f HTTP/1.1\r\nContent-Length: {huge}"),
        format!(
            "PUT /functions/f HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Length: {huge}"
        ),
    ];
    for head in heads {
        let (reply, mut client) = reply_to_head(served.admin_port, &head);
        assert_eq!(reply.status, 401, "{head}: {}", reply.text());
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{head}");
        assert!(closed(&mut client), "{head}: the connection stays open");
    }
}

#[test]
fn basic_credentials_need_the_configured_user_name() {
    use base64::Engine;
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let basic = |credentials: &str| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        let head = format!("GET /functions HTTP/1.1\r\nAuthorization: Basic {encoded}");
        reply_to_head(served.admin_port, &head).0.status
    };
    assert_eq!(basic(&format!("anyone:{TOKEN}")), 401);
    assert_eq!(basic(&format!(":{TOKEN}")), 401);
    assert_eq!(basic("luge:wrong"), 401);
    assert_eq!(basic(&format!("luge:{TOKEN}")), 200);
}

#[test]
fn the_action_container_refuses_a_run_before_init_at_its_head() {
    let container_port = free_port();
    let settings = format!(r#""openwhisk": {{"port": {container_port}}}"#);
    let _served = serve(&[], &settings);
    let head = format!("POST /run HTTP/1.1\r\nContent-Length: {}", 300 << 20);
    let (reply, mut client) = reply_to_head(container_port, &head);
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert!(closed(&mut client));
}

#[test]
fn no_route_may_take_the_metrics_path() {
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let hello = std::fs::read(example("hello")).unwrap();
    let mut admin = Client::connect(served.admin_port);
    let reply = admin.admin("PUT", "/functions/m?route=/metrics", &hello);
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("`/metrics` is reserved"),
        "{}",
        reply.text()
    );
    let metrics = Client::connect(served.port).get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text().contains("luge_live_sandboxes"),
        "{}",
        metrics.text()
    );
}

/// Raises this process's soft limit on descriptors to its hard limit, for
/// tests that hold thousands of connections.
fn allow_many_descriptors() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// A server of `/hello` with the connection settings `settings`.
fn hello_server(settings: &str) -> Served {
    serve(&[route("/hello", &example("hello"), "")], settings)
}

/// The value of the metric sample `name` (with its labels) in `text`.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

/// Sends `head` and then `dribble` a byte every 200 ms from another
/// thread, until the connection breaks; returns the reply and how long
/// after the first byte it came.
fn dribble(port: u16, head: &[u8], dribble: &'static [u8]) -> (Reply, Duration, Client) {
    let mut client = Client::connect(port);
    client.read_timeout(Duration::from_secs(20));
    let started = Instant::now();
    client.send(head);
    let mut writer = client.writer.try_clone().unwrap();
    thread::spawn(move || {
        for byte in dribble.iter().cycle() {
            thread::sleep(Duration::from_millis(200));
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    let reply = read_reply(&mut client.reader);
    (reply, started.elapsed(), client)
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_cut_off_at_the_head_deadline() {
    let served = hello_server(r#""head-timeout-ms": 1000"#);
    let (reply, after, mut client) = dribble(served.port, b"GET /hello HTTP/1.1\r\nX-Slow: ", b"a");
    assert_eq!(reply.status, 408, "{}", reply.text());
    assert!(after < Duration::from_secs(5), "cut off after {after:?}");
    assert!(closed(&mut client));
    let text = metrics_of(served.port);
    let cut = sample(
        &text,
        r#"luge_connections_closed_total{reason="head_timeout"}"#,
    );
    assert_eq!(cut, Some(1.0), "{text}");
}

#[test]
fn a_body_sent_a_byte_at_a_time_is_cut_off_at_the_body_deadline() {
    // 100 bytes at 5 a second would take 20 s; the body may take 1 s, and
    // a second more for every 500 bytes received.
    let settings = r#""body-timeout-ms": 1000, "min-body-rate": 500"#;
    let served = hello_server(settings);
    let head = b"POST /hello HTTP/1.1\r\nContent-Length: 100\r\n\r\n";
    let (reply, after, mut client) = dribble(served.port, head, b"x");
    assert_eq!(reply.status, 408, "{}", reply.text());
    assert!(after < Duration::from_secs(5), "cut off after {after:?}");
    assert!(closed(&mut client));
    let mut fresh = Client::connect(served.port);
    assert_eq!(fresh.post("/hello", b"edge").status, 200);
}

/// What the server says, unasked, to a new connection from `127.0.0.<host>`
/// within 300 ms: a refusal, or nothing when it took the
/// connection, which is then returned.
fn unasked_reply(host: u8, port: u16) -> Result<TcpStream, Reply> {
    let stream = connect_from(host, port).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte) {
        Ok(n) if n > 0 => Err(read_reply(&mut std::io::BufReader::new(stream))),
        _ => Ok(stream),
    }
}

#[test]
fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let served = hello_server(r#""max-connections-per-client": 8"#);
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut client = Client::over(connect_from(2, served.port).unwrap());
        assert_eq!(client.post("/hello", b"edge").status, 200);
        held.push(client);
    }
    let ninth = unasked_reply(2, served.port).expect_err("the ninth is refused");
    assert_eq!(ninth.status, 503, "{}", ninth.text());
    assert!(ninth
        .text()
        .contains("too many connections from your address"));
    let other = Client::over(connect_from(3, served.port).unwrap()).post("/hello", b"edge");
    assert_eq!(other.status, 200, "another address is served");
    drop(held.pop());
    // The server sees the close within a round of its loop.
    let deadline = Instant::now() + Duration::from_secs(5);
    let stream = loop {
        match unasked_reply(2, served.port) {
            Ok(stream) => break stream,
            Err(refused) if Instant::now() < deadline => assert_eq!(refused.status, 503),
            Err(refused) => panic!("still refused: {}", refused.text()),
        }
    };
    let reply = Client::over(stream).post("/hello", b"edge");
    assert_eq!(
        reply.status, 200,
        "a closed connection gives its place back"
    );
    let text = metrics_of(served.port);
    let refused = sample(
        &text,
        r#"luge_connections_refused_total{reason="client_limit"}"#,
    );
    assert!(refused >= Some(1.0), "{text}");
}

#[test]
fn with_1024_descriptors_1100_idle_connections_do_not_lock_newcomers_out() {
    allow_many_descriptors();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let port = free_port();
    let config = format!(
        r#"[{{"name": "t", "port": {port}, "routes": [{}]}}]"#,
        route("/hello", &example("hello"), "")
    );
    let stderr = std::fs::File::create(&log).unwrap();
    let served = launch_with(dir, &config, port, |command| {
        command.stderr(stderr);
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 1024,
                    rlim_max: 1024,
                };
                match libc::setrlimit(libc::RLIMIT_NOFILE, &limit) {
                    0 => Ok(()),
                    _ => Err(std::io::Error::last_os_error()),
                }
            });
        }
    });
    // 220 from each of five addresses: within the per-client cap.
    let idle: Vec<TcpStream> = (0..1100)
        .map(|i| connect_from(2 + (i % 5) as u8, served.port).unwrap())
        .collect();
    thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let mut client = Client::connect(served.port);
    for _ in 0..5 {
        assert_eq!(client.post("/hello", b"edge").status, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let text = metrics_of(served.port);
    let evicted = sample(&text, r#"luge_connections_closed_total{reason="evicted"}"#);
    assert!(evicted >= Some(300.0), "{text}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("768 connections open (max-connections)"),
        "{log}"
    );
    drop(idle);
}

#[test]
fn newcomers_are_served_while_3000_slow_clients_hold_connections() {
    allow_many_descriptors();
    let served = hello_server(r#""max-connections-per-client": 300"#);
    // Each sends the start of a head and then nothing: within the head
    // timeout (10 s), so the server must keep them and serve others too.
    let slow: Vec<TcpStream> = (0..3000)
        .map(|i| {
            let mut stream = connect_from(2 + (i % 12) as u8, served.port).unwrap();
            stream.write_all(b"GET /hello HTTP/1.1\r\n").unwrap();
            stream
        })
        .collect();
    let mut client = Client::connect(served.port);
    for _ in 0..20 {
        assert_eq!(client.post("/hello", b"edge").status, 200);
    }
    let text = metrics_of(served.port);
    let open = sample(&text, "luge_open_connections").unwrap_or(0.0);
    assert!(open >= 3000.0, "{text}");
    drop(slow);
}

#[test]
fn the_idle_timeout_counts_from_the_last_answer_not_from_the_connect() {
    let served = hello_server(r#""idle-timeout-ms": 1000"#);
    let mut client = Client::connect(served.port);
    // Requests answered at once (no function runs) on one connection for
    // 2.4 s, 400 ms apart: never idle for a second.
    for _ in 0..6 {
        assert_eq!(client.get("/metrics").status, 200);
        thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(client.post("/hello", b"edge").status, 200);
    // Then idle: closed within a second and a sweep.
    client.read_timeout(Duration::from_secs(5));
    let quiet = Instant::now();
    assert!(closed(&mut client), "still open after the idle timeout");
    assert!(
        quiet.elapsed() < Duration::from_secs(3),
        "{:?}",
        quiet.elapsed()
    );
}
