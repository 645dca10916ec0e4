//! The serving boundary held against attackers (issue 15): each test is an
//! attack that worked before the boundary was hardened.

mod common;

use common::serve::*;
use common::*;

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
