//! A deploy killed (SIGKILL) at each of its steps, with a module that
//! deploys and with one that cannot: every restart must come up, serve
//! what was acknowledged before, and never serve the module that failed.
//! (The `luge` under test is built with luge-serve's `test-hooks`, whose
//! `LUGE_TEST_CRASH_AT=STEP` kills the server at that step.)

mod common;

use common::serve::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

/// The steps of a deploy, in order (see luge-serve's `deploy` module), and
/// whether the deployment is published once the step is done.
const STEPS: [(&str, bool); 6] = [
    ("staged", false),
    ("compiled", false),
    ("loaded", false),
    ("renamed", true),
    ("published", true),
    ("cleaned", true),
];

/// Sends a deploy of `wasm` as function `f`; returns what came back
/// before the connection closed (nothing when the server died). The fast
/// tier only: a server killed while its opt tier's clang runs can leave
/// its ports held for a moment by that child. The restarted server waits
/// for them (serve.rs tests that), but the test's next connection may
/// land in the dying listener; that is not what this test is about.
fn deploy(admin_port: u16, wasm: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", admin_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let head = format!(
        "PUT /functions/f?route=/f&tier=fast HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        wasm.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(wasm).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

/// How `served` ended, which it must within a minute: a deploy that got
/// no answer took for a crash must not leave the test waiting for ever.
fn exit_status(served: &mut Served, what: &str) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what}: the deploy got no answer, yet the server is still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `/f` answers now: hello greets, prime prints the 100th prime.
fn served_version(port: u16) -> String {
    let reply = Client::connect(port).post("/f?100", b"x");
    assert_eq!(reply.status, 200, "{}", reply.text());
    match reply.text().as_str() {
        "Hello, x!\n" => "hello".to_owned(),
        "541\n" => "prime".to_owned(),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn no_staging_left(served: &Served) {
    let functions = served.dir.path().join("state/functions");
    for entry in std::fs::read_dir(functions).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "{name} left behind");
    }
}

#[test]
fn a_deploy_killed_at_any_step_leaves_a_server_that_starts_and_serves_what_was_acknowledged() {
    let hello = std::fs::read(example("hello")).unwrap();
    let prime = std::fs::read(example("prime")).unwrap();
    // Compiles, but imports what no host provides: fails when loaded.
    let unlinkable = wat::parse_str(
        r#"(module (import "env" "poison" (func)) (func (export "_start") call 0))"#,
    )
    .unwrap();

    let mut served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let reply = deploy(served.admin_port, &hello);
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    let mut acknowledged: &str = "hello";

    for good in [true, false] {
        for (step, published) in STEPS {
            // A good deploy is of the version not served now, so that
            // whether it was published shows.
            let (module, wasm) = match (good, acknowledged) {
                (true, "hello") => ("prime", &prime),
                (true, _) => ("hello", &hello),
                (false, _) => ("unlinkable", &unlinkable),
            };
            let ports = (served.port, served.admin_port);
            let dir = std::mem::replace(&mut served.dir, tempfile::tempdir().unwrap());
            drop(served);
            let mut crashing = serve_with_admin_adjusted(dir, ports, &[], |command| {
                command.env("LUGE_TEST_CRASH_AT", step);
            });
            let reply = deploy(crashing.admin_port, wasm);
            let reached = reply.is_empty();
            if reached {
                let status = exit_status(&mut crashing, &format!("{module} at {step}"));
                assert_eq!(status.signal(), Some(9), "{module} at {step}: {status}");
            } else {
                // A failing module stops before the later steps.
                assert_eq!(module, "unlinkable", "{step}: {reply}");
                assert!(reply.starts_with("HTTP/1.1 400"), "{step}: {reply}");
                assert!(reply.contains("poison"), "{step}: {reply}");
            }

            served = restart(crashing, &[]);
            no_staging_left(&served);
            if reached && published {
                // Published but never acknowledged: the one window no
                // protocol closes (the 201 could as well be lost on the
                // wire). The deploy is whole, and a retry redeploys it.
                assert!(good, "a failed module is never published");
                acknowledged = module;
            }
            assert_eq!(
                served_version(served.port),
                acknowledged,
                "{module} killed at {step}"
            );
        }
    }

    // Killed right after the acknowledgement: the new version is kept.
    let (module, wasm) = match acknowledged {
        "hello" => ("prime", &prime),
        _ => ("hello", &hello),
    };
    let reply = deploy(served.admin_port, wasm);
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
    let restarted = restart(served, &[]);
    assert_eq!(served_version(restarted.port), module);
}
