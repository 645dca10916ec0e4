//! The serving boundary held against attackers (issue 15): each test is an
//! attack that worked before the boundary was hardened.

mod common;

use common::serve::*;
use common::*;
use std::io::Read;
use std::time::Duration;

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
    client
        .reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
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
    assert_eq!(reply.status, 403, "{}", reply.text());
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
