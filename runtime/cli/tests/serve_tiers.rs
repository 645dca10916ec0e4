//! Tiered execution in `luge serve`, end to end: a route on `"tier":
//! "auto"` (the default) answers with the fast tier's code, moves to the
//! opt tier's once it is built, and a call in flight across the switch
//! finishes; a failed opt build leaves the fast tier serving; `"opt"`
//! serves LLVM's code from the start; without clang the opt tier is
//! unavailable and says so; deploys take a `tier` setting.

mod common;

use common::serve::*;
use common::*;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

fn behave(extra: &str) -> String {
    route("/behave", &wasm_program("behave"), extra)
}

/// The line of the `luge_function_tier` gauge for `tier` of `function`.
fn tier_line(function: &str, tier: &str) -> String {
    format!(r#"luge_function_tier{{function="{function}",tier="{tier}"}} 1"#)
}

/// Waits until the metrics on `port` contain `line`; panics after 120 s
/// (an opt-tier build under emulation is slow).
fn wait_for_metric(port: u16, line: &str) -> String {
    let start = Instant::now();
    loop {
        let text = metrics_of(port);
        if text.contains(line) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no `{line}` within 120 s:\n{text}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Serves `behave` on `auto` with the module cache `cache` and `clang` as
/// the opt tier's compiler.
fn serve_behave_with_clang(cache: &Path, clang: &Path) -> Served {
    serve_with_admin_adjusted(
        tempfile::tempdir().unwrap(),
        (free_port(), free_port()),
        &[behave("")],
        |command| {
            command
                .env("LUGE_CACHE_DIR", cache)
                .env("LUGE_CLANG", clang);
        },
    )
}

#[test]
fn a_route_moves_to_the_opt_tier_and_a_call_in_flight_finishes_on_the_old_code() {
    // A cache of its own, so that the opt build takes clang's time and the
    // call below starts before the switch.
    let cache = tempfile::tempdir().unwrap();
    let served = serve_with_admin_adjusted(
        tempfile::tempdir().unwrap(),
        (free_port(), free_port()),
        &[behave("")],
        |command| {
            command.env("LUGE_CACHE_DIR", cache.path());
        },
    );
    let before = metrics_of(served.port);
    let port = served.port;
    let in_flight = thread::spawn(move || Client::connect(port).get("/behave?sleep&3000"));
    let after = wait_for_metric(served.port, &tier_line("test/behave", "opt"));
    assert!(
        before.contains(&tier_line("test/behave", "fast")),
        "{before}"
    );
    assert!(
        after.contains(r#"luge_tier_ups_total{result="switched"} 1"#),
        "{after}"
    );
    assert!(
        after.contains(r#"luge_tier_up_seconds{function="test/behave"}"#),
        "{after}"
    );
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "slept 3000 ms, sum 4500001500000\n");
    // New calls run the opt tier's code, and answer the same.
    let reply = Client::connect(served.port).get("/behave?sleep&10");
    assert_eq!(reply.text(), "slept 10 ms, sum 50005000\n");
    let mut admin = Client::connect(served.admin_port);
    let listed = admin.admin("GET", "/functions", b"").text();
    assert!(listed.contains(r#""running_tier":"opt""#), "{listed}");
}

#[test]
fn a_failed_opt_build_leaves_the_fast_tier_serving() {
    // A "clang" that fails every compile, as a crash inside LLVM would.
    let tools = tempfile::tempdir().unwrap();
    let clang = tools.path().join("clang");
    std::fs::write(
        &clang,
        "#!/bin/sh\necho 'clang: error: simulated failure' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&clang, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let served = serve_behave_with_clang(cache.path(), &clang);
    let text = wait_for_metric(served.port, r#"luge_tier_ups_total{result="failed"} 1"#);
    assert!(text.contains(&tier_line("test/behave", "fast")), "{text}");
    let reply = Client::connect(served.port).get("/behave?sleep&1");
    assert_eq!(reply.text(), "slept 1 ms, sum 500500\n");
    let log = served.log();
    assert!(
        log.contains("test/behave stays on the fast tier") && log.contains("simulated failure"),
        "{log}"
    );
}

#[test]
fn a_route_on_the_opt_tier_serves_llvm_code_from_the_start() {
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[behave(r#""tier": "opt""#)]);
    let text = metrics_of(served.port);
    assert!(text.contains(&tier_line("test/behave", "opt")), "{text}");
    let reply = Client::connect(served.port).get("/behave?sleep&1");
    assert_eq!(reply.text(), "slept 1 ms, sum 500500\n");
    let mut admin = Client::connect(served.admin_port);
    let listed = admin.admin("GET", "/functions", b"").text();
    assert!(listed.contains(r#""tier":"opt""#), "{listed}");
    assert!(listed.contains(r#""running_tier":"opt""#), "{listed}");
}

#[test]
fn without_clang_auto_stays_on_the_fast_tier_and_opt_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spec.json");
    let text = format!(
        r#"[{{"name": "t", "port": {}, "routes": [{}]}}]"#,
        free_port(),
        behave(r#""tier": "opt""#)
    );
    std::fs::write(&config, text).unwrap();
    // A cache of its own: one holding the opt tier's object from another
    // test would serve it without clang.
    let cache = tempfile::tempdir().unwrap();
    let out = luge_command()
        .arg("serve")
        .arg(&config)
        .env("LUGE_CACHE_DIR", cache.path())
        .env("LUGE_CLANG", "/nonexistent/clang")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("route /behave") && stderr.contains("LUGE_CLANG=/nonexistent/clang"),
        "{stderr}"
    );

    let served = serve_behave_with_clang(cache.path(), Path::new("/nonexistent/clang"));
    let reply = Client::connect(served.port).get("/behave?sleep&1");
    assert_eq!(reply.text(), "slept 1 ms, sum 500500\n");
    thread::sleep(Duration::from_millis(500));
    let text = metrics_of(served.port);
    assert!(text.contains(&tier_line("test/behave", "fast")), "{text}");
    assert!(
        text.contains(r#"luge_tier_ups_total{result="switched"} 0"#),
        "{text}"
    );
}

#[test]
fn a_deploy_takes_a_tier_and_refuses_an_unknown_one() {
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let wasm = std::fs::read(wasm_program("behave")).unwrap();
    let mut admin = Client::connect(served.admin_port);
    let reply = admin.admin("PUT", "/functions/f?tier=turbo", &wasm);
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("tier: expected"), "{}", reply.text());

    let reply = admin.admin("PUT", "/functions/f?tier=opt", &wasm);
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert!(
        reply.text().contains(r#""running_tier":"opt""#),
        "{}",
        reply.text()
    );
    let reply = Client::connect(served.port).get("/f?sleep&1");
    assert_eq!(reply.text(), "slept 1 ms, sum 500500\n");

    // Redeployed with the default, it moves to the opt tier by itself.
    let reply = admin.admin("PUT", "/functions/f?tier=auto", &wasm);
    assert_eq!(reply.status, 201, "{}", reply.text());
    wait_for_metric(served.port, &tier_line("f", "opt"));
    let listed = admin.admin("GET", "/functions/f", b"").text();
    assert!(listed.contains(r#""tier":"auto""#), "{listed}");
    assert!(listed.contains(r#""tiered_up_after_ms":"#), "{listed}");
}
