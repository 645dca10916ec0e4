//! Tenants under overload, end to end: each test is an attack on one
//! tenant's service by another tenant (or by its own runaway requests) or
//! by a client, and checks that the server keeps its promise: requests
//! past their deadline do not starve new ones, one tenant's backlog does
//! not refuse another's requests, guest memory stays within the budget,
//! output and time limits stop sandboxes, clients that do not read cannot
//! pile up responses, and removed functions stop running.

mod common;

use common::serve::*;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Held by every test here, one server at a time: each checks timing or
/// admission under load, and several servers spinning or starting
/// sandboxes at once on a two-core machine (under emulation above all)
/// would measure each other.
static TIMED: Mutex<()> = Mutex::new(());

fn timed() -> MutexGuard<'static, ()> {
    TIMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A route object serving `module` at `path`, with more JSON members.
///
/// Under emulation the routes stay on the fast tier. Building the opt
/// tier's code spawns clang from the server, and qemu-user runs every spawn
/// as a fork that first stops all of the emulated server's threads (tens of
/// milliseconds for a process this size): the timed tests here would
/// measure qemu's fork, not the scheduler. Natively a spawn is a vfork of
/// one thread, and these tests run with the default tier, tier-ups and all.
fn func(path: &str, module: &Path, fields: &str) -> String {
    let tier = if emulated() {
        r#", "tier": "fast""#
    } else {
        ""
    };
    let sep = if fields.is_empty() { "" } else { ", " };
    format!(
        r#"{{"route": "{path}", "path": "{}"{tier}{sep}{fields}}}"#,
        module.display()
    )
}

fn behave(path: &str, fields: &str) -> String {
    func(path, &wasm_program("behave"), fields)
}

fn hello(fields: &str) -> String {
    func("/hello", &examples_dir().join("hello/hello.wasm"), fields)
}

fn tenant(name: &str, port: u16, fields: &str, routes: &[String]) -> String {
    format!(
        r#"{{"name": "{name}", "port": {port}, {fields}{}"routes": [{}]}}"#,
        if fields.is_empty() { "" } else { ", " },
        routes.join(", ")
    )
}

/// Starts a server of `tenants` (the first listens on `port`) with the
/// server settings `settings`.
fn start(port: u16, tenants: &[String], settings: &str) -> Served {
    let sep = if settings.is_empty() { "" } else { ", " };
    let config = format!(r#"{{"tenants": [{}]{sep}{settings}}}"#, tenants.join(", "));
    launch(tempfile::tempdir().unwrap(), &config, port)
}

/// Sends `path` on a connection of its own, in the background.
fn in_background(port: u16, path: &str) -> thread::JoinHandle<Reply> {
    let path = path.to_owned();
    thread::spawn(move || Client::connect(port).get(&path))
}

/// Times `count` requests for `path` one after another on one connection;
/// each must be answered 200.
fn time_sequential(port: u16, path: &str, count: usize) -> Vec<Duration> {
    let mut client = Client::connect(port);
    (0..count)
        .map(|_| {
            let start = Instant::now();
            let reply = client.get(path);
            assert_eq!(reply.status, 200, "{}", reply.text());
            start.elapsed()
        })
        .collect()
}

/// Asks for `path` and checks that the answer has the status and mentions
/// the text of `expected`, and comes within `limit`.
fn expect_answer(port: u16, path: &str, expected: (u16, &str), limit: Duration) {
    let asked = Instant::now();
    let reply = Client::connect(port).get(path);
    assert_eq!(reply.status, expected.0, "{}", reply.text());
    assert!(reply.text().contains(expected.1), "{}", reply.text());
    let took = asked.elapsed();
    assert!(took < limit, "answered after {took:?}");
}

#[test]
fn under_edf_runaway_requests_past_their_deadline_do_not_hold_up_a_new_one() {
    let _turn = timed();
    let port = free_port();
    let deadline = r#""relative-deadline-us": 20000"#;
    let routes = [
        behave("/spin", &format!(r#"{deadline}, "timeout-ms": 4000"#)),
        hello(deadline),
    ];
    let served = start(port, &[tenant("t", port, "", &routes)], r#""workers": 2"#);
    // One runaway request per worker, past its deadline before hello comes.
    let spinners: Vec<_> = (0..2).map(|_| in_background(port, "/spin?spin")).collect();
    thread::sleep(Duration::from_millis(300));
    let times = time_sequential(served.port, "/hello", 20);
    assert!(
        times[0] < Duration::from_millis(50),
        "the first hello took {:?} (all: {times:?})",
        times[0]
    );
    for spinner in spinners {
        assert_eq!(spinner.join().unwrap().status, 504);
    }
}

#[test]
fn a_spinning_tenant_leaves_another_tenant_its_share_of_the_cpu() {
    let _turn = timed();
    let (a, b) = (free_port(), free_port());
    let tenants = [
        tenant("a", a, "", &[behave("/spin", r#""timeout-ms": 3000"#)]),
        tenant("b", b, "", &[hello("")]),
    ];
    let _served = start(a, &tenants, r#""workers": 2"#);
    // Two spinners per worker, FIFO (no route has a deadline).
    let spinners: Vec<_> = (0..4).map(|_| in_background(a, "/spin?spin")).collect();
    thread::sleep(Duration::from_millis(300));
    let times = time_sequential(b, "/hello", 20);
    let worst = times.iter().max().unwrap();
    assert!(
        *worst < Duration::from_millis(50),
        "tenant b waited up to {worst:?}: {times:?}"
    );
    for spinner in spinners {
        assert_eq!(spinner.join().unwrap().status, 504);
    }
}

/// Raises this process's open-file limit to its hard limit (the server it
/// starts inherits it), for tests that hold a thousand connections.
fn allow_many_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[test]
fn a_thousand_sleepers_of_one_tenant_never_make_another_tenant_see_429() {
    let _turn = timed();
    allow_many_files();
    let (a, b) = (free_port(), free_port());
    // The route's timeout (10 s by default) is not what this test is
    // about, and under qemu-aarch64 starting the thousand sandboxes on two
    // workers alone takes 8 s or more (10-25 ms each): without a longer
    // one, the last sleepers would be stopped with a 504 before they end.
    let sleep = func(
        "/sleep",
        &examples_dir().join("sleep/sleep.wasm"),
        r#""timeout-ms": 60000"#,
    );
    let tenants = [
        tenant("a", a, "", &[sleep]),
        tenant("b", b, "", &[hello("")]),
    ];
    let _served = start(a, &tenants, "");
    // 1100 requests that each sleep 3 s: past tenant a's queue limit
    // (1024 by default), all sent before the first can finish; from five
    // addresses, as one may hold no more than 256 connections.
    let request = b"GET /sleep?3 HTTP/1.1\r\nHost: t\r\n\r\n";
    let sleepers: Vec<TcpStream> = (0..1100)
        .map(|i| {
            let mut stream = connect_from(2 + (i % 5) as u8, a).unwrap();
            stream.write_all(request).unwrap();
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    for reply in (0..20).map(|_| Client::connect(b).get("/hello")) {
        assert_eq!(reply.status, 200, "tenant b: {}", reply.text());
    }
    let mut statuses = std::collections::BTreeMap::new();
    for stream in sleepers {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut reader = std::io::BufReader::new(stream);
        *statuses.entry(read_reply(&mut reader).status).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&200), Some(&1024), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&76), "{statuses:?}");
}

/// The resident memory of process `pid`, in bytes.
fn resident(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

/// The highest resident memory of `pid` while `attack` runs, sampled
/// every few milliseconds.
fn peak_resident_during<T>(pid: u32, attack: impl FnOnce() -> T) -> (u64, T) {
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(resident(pid)));
    let sampler = {
        let (done, peak) = (done.clone(), peak.clone());
        thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                peak.fetch_max(resident(pid), Ordering::Relaxed);
                thread::sleep(Duration::from_millis(3));
            }
        })
    };
    let result = attack();
    done.store(true, Ordering::Release);
    sampler.join().unwrap();
    (peak.load(Ordering::Relaxed), result)
}

const MIB: u64 = 1 << 20;

#[test]
fn guest_memory_stays_within_the_budget_and_the_rest_get_503() {
    let _turn = timed();
    let port = free_port();
    let routes = [behave("/grab", r#""memory-limit-mib": 128"#)];
    let served = start(
        port,
        &[tenant("t", port, "", &routes)],
        r#""memory-budget-mib": 64"#,
    );
    let mut client = Client::connect(port);
    assert_eq!(client.get("/grab?grab&1").status, 200, "warm up");
    let before = resident(served.child.id());
    // Six requests of 40 MiB each, 100 ms apart, each holding its memory
    // for 300 ms: 240 MiB against a 64 MiB budget. (Started together they
    // would all grow at once, and the budget could refuse every one.)
    let (peak, replies) = peak_resident_during(served.child.id(), || {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let call = in_background(port, "/grab?grab&40");
                thread::sleep(Duration::from_millis(100));
                call
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(ok + refused.len(), 6, "{replies:?}");
    assert!(ok >= 1 && !refused.is_empty(), "{ok} answered, {refused:?}");
    assert!(refused.iter().all(|r| r.header("Retry-After") == Some("1")));
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 64 * MIB + 40 * MIB,
        "the server grew by {} MiB against a 64 MiB budget",
        grown / MIB
    );
}

#[test]
fn a_sandbox_past_its_output_limit_is_stopped_at_once() {
    let _turn = timed();
    let port = free_port();
    let routes = [behave(
        "/flood",
        r#""max-output-bytes": 1000, "timeout-ms": 30000"#,
    )];
    let _served = start(port, &[tenant("t", port, "", &routes)], "");
    let limit = Duration::from_secs(5);
    expect_answer(port, "/flood?flood", (500, "output limit"), limit);
}

#[test]
fn a_client_that_pipelines_and_never_reads_holds_one_response_and_is_dropped() {
    let _turn = timed();
    let port = free_port();
    let routes = [behave("/print", "")];
    let served = start(
        port,
        &[tenant("t", port, "", &routes)],
        r#""send-timeout-ms": 500"#,
    );
    let before = resident(served.child.id());
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let request = b"GET /print?print&1048576 HTTP/1.1\r\nHost: t\r\n\r\n";
    let (peak, ()) = peak_resident_during(served.child.id(), || {
        for _ in 0..64 {
            stream.write_all(request).unwrap();
        }
        thread::sleep(Duration::from_secs(3));
    });
    let grown = peak.saturating_sub(before);
    assert!(
        grown < 24 * MIB,
        "64 unread 1 MiB responses grew the server by {} MiB",
        grown / MIB
    );
    // Past the send timeout the server has given up on the connection:
    // reading now ends early, not with 64 responses.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut total = 0u64;
    let mut buf = vec![0; 1 << 16];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server kept the connection: {e}"),
        }
    }
    assert!(total < 64 * MIB, "read {total} bytes");
    // Other clients are served as before.
    assert_eq!(Client::connect(port).get("/print?print&10").status, 200);
}

#[test]
fn a_timeout_past_the_bound_is_refused_by_the_config_and_the_admin_api() {
    let _turn = timed();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("spec.json");
    let route = behave("/spin", r#""timeout-ms": 18446744073709551615"#);
    let text = format!("[{}]", tenant("t", free_port(), "", &[route]));
    std::fs::write(&config, text).unwrap();
    let out = luge_command()
        .arg("serve")
        .arg(&config)
        .env("LUGE_CACHE_DIR", cache_dir())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = stderr_text(&out);
    assert!(
        stderr.contains("[0].routes[0].timeout-ms") && stderr.contains("longest timeout"),
        "{stderr}"
    );

    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let wasm = std::fs::read(wasm_program("behave")).unwrap();
    let mut admin = Client::connect(served.admin_port);
    let reply = admin.admin("PUT", "/functions/f?timeout-ms=99999999999", &wasm);
    assert_eq!(reply.status, 400);
    assert!(reply.text().contains("longest timeout"), "{}", reply.text());
}

#[test]
fn deleting_a_function_stops_its_running_calls_after_the_grace_period() {
    let _turn = timed();
    let (port, admin_port) = (free_port(), free_port());
    let settings =
        format!(r#""admin": {{"port": {admin_port}, "token": "{TOKEN}"}}, "retire-grace-ms": 200"#);
    let mut served = start(port, &[tenant("t", port, "", &[])], &settings);
    served.wait_listening(admin_port);
    let wasm = std::fs::read(wasm_program("behave")).unwrap();
    let mut admin = Client::connect(admin_port);
    let path = format!("/functions/spinner?route=/spinner&port={port}&timeout-ms=60000");
    let deployed = admin.admin("PUT", &path, &wasm);
    assert_eq!(deployed.status, 201, "{}", deployed.text());
    let spinner = in_background(port, "/spinner?spin");
    thread::sleep(Duration::from_millis(500));
    let deleted = Instant::now();
    assert_eq!(admin.admin("DELETE", "/functions/spinner", b"").status, 200);
    let reply = spinner.join().unwrap();
    assert_eq!(reply.status, 503, "{}", reply.text());
    assert!(
        deleted.elapsed() < Duration::from_secs(5),
        "ran on for {:?} after the delete",
        deleted.elapsed()
    );
}

#[test]
fn a_route_that_aborts_on_a_missed_deadline_answers_504_at_the_deadline() {
    let _turn = timed();
    let port = free_port();
    let fields = r#""relative-deadline-us": 50000, "deadline-miss": "abort", "timeout-ms": 20000"#;
    let _served = start(
        port,
        &[tenant("t", port, "", &[behave("/late", fields)])],
        "",
    );
    let limit = Duration::from_secs(3);
    expect_answer(port, "/late?spin", (504, "deadline missed"), limit);
}

#[test]
fn admission_refusals_are_429_and_counted_per_route() {
    let _turn = timed();
    let port = free_port();
    // 8 ms expected of a 10 ms deadline: 0.8 of a worker each, and two
    // workers hand out 1.6, so a third call at once cannot make it.
    let estimated =
        r#""relative-deadline-us": 10000, "expected-execution-us": 8000, "timeout-ms": 1500"#;
    let routes = [
        behave("/est", estimated),
        behave("/one", r#""max-concurrency": 1, "timeout-ms": 1500"#),
    ];
    let _served = start(port, &[tenant("t", port, "", &routes)], r#""workers": 2"#);
    let first: Vec<_> = (0..2)
        .map(|_| {
            let call = in_background(port, "/est?spin");
            thread::sleep(Duration::from_millis(100));
            call
        })
        .collect();
    let third = Client::connect(port).get("/est?spin");
    assert_eq!(third.status, 429, "{}", third.text());
    assert!(third.text().contains("deadline"), "{}", third.text());
    let one = in_background(port, "/one?spin");
    thread::sleep(Duration::from_millis(100));
    assert_eq!(Client::connect(port).get("/one?spin").status, 429);
    for call in first.into_iter().chain([one]) {
        assert_eq!(call.join().unwrap().status, 504);
    }
    let metrics = metrics_of(port);
    for line in [
        r#"luge_refused_total{route="/est",reason="deadline"} 1"#,
        r#"luge_refused_total{route="/one",reason="route_full"} 1"#,
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
}

/// What limits a `luge serve` to `bytes` of address space (`RLIMIT_AS`),
/// for [`launch_with`].
fn address_space_limit(bytes: libc::rlim_t) -> impl FnOnce(&mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    move |command| {
        let limit = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        // SAFETY: the closure runs in the child between fork and exec and
        // only calls setrlimit, which is async-signal-safe, on a value it
        // owns.
        unsafe {
            command.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// A panic in Luge's own code while a call runs (made here by a test
/// hook, `LUGE_TEST_PANIC_IN=ROUTE`) costs that call a 500: its client is
/// answered, and its tenant gets its place in the queue back.
#[test]
fn a_panic_while_a_call_runs_is_answered_500_and_frees_its_place() {
    let port = free_port();
    let routes = [
        route("/boom", &example("hello"), ""),
        route("/hello", &example("hello"), ""),
    ];
    let config = config_file(port, &routes, r#""queue-limit": 1"#);
    let dir = tempfile::tempdir().unwrap();
    let _served = launch_with(dir, &config, port, |command| {
        command.env("LUGE_TEST_PANIC_IN", "/boom");
    });
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut client = Client::over(stream);
    for _ in 0..3 {
        let reply = client.post("/boom", b"x");
        assert_eq!(reply.status, 500, "{}", reply.text());
        assert!(reply.text().contains("internal error"), "{}", reply.text());
    }
    let reply = client.post("/hello", b"after");
    assert_eq!(reply.text(), "Hello, after!\n");
}

/// Once guard memories run low on address space, every guard-mode
/// function's software-bounds build is made ahead, before any call needs
/// it, so that no call waits for a compile: here no room is left from the
/// start, and a function no request has reached has its build.
#[test]
fn bounds_fallbacks_are_built_before_a_call_needs_them() {
    let _turn = timed();
    let ports = (free_port(), free_port());
    let fields = r#""bounds": "guard", "memory-limit-mib": 64"#;
    let routes = [route("/hello", &example("hello"), fields)];
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with_admin_adjusted(dir, ports, &routes, address_space_limit(3 << 30));
    let mut admin = Client::connect(ports.1);
    let started = Instant::now();
    loop {
        let listing = json(&admin.admin("GET", "/functions", b""));
        let hello = &listing["functions"][0];
        assert_eq!(hello["name"], "test/hello", "{listing}");
        if hello["bounds_fallback"] == true {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{listing}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = served.log();
    assert!(
        log.contains("test/hello: its software-bounds build is ready"),
        "{log}"
    );
    assert!(!log.contains("test/hello: guard memories are out"), "{log}");
    let reply = Client::connect(ports.0).post("/hello", b"ahead");
    assert_eq!(reply.text(), "Hello, ahead!\n");
    // The first sandbox on the fallback says so, once.
    let log = served.log();
    assert!(
        log.contains("test/hello: guard memories are out of address space"),
        "{log}"
    );
}

/// Guard-mode functions go on serving once guard memories (6 GiB of
/// address space each) have no room left: here an `RLIMIT_AS` of 3 GiB
/// leaves none at all. New sandboxes run on the function's software-bounds
/// build, which reserves only its memory limit, computes the same answers
/// and traps the same way: functions of the config, deployed ones, and
/// deployed ones restored at a restart.
#[test]
fn guard_functions_fall_back_to_bounds_checks_when_guard_memories_have_no_room() {
    let _turn = timed();
    let ports = (free_port(), free_port());
    let port = ports.0;
    let fields = r#""bounds": "guard", "memory-limit-mib": 64"#;
    let routes = [
        route("/hello", &example("hello"), fields),
        behave("/behave", fields),
    ];
    let dir = tempfile::tempdir().unwrap();
    let served = serve_with_admin_adjusted(dir, ports, &routes, address_space_limit(3 << 30));
    let mut client = Client::connect(port);
    for _ in 0..3 {
        let reply = client.post("/hello", b"edge");
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.text(), "Hello, edge!\n");
    }
    let hello = std::fs::read(example("hello")).unwrap();
    let mut admin = Client::connect(ports.1);
    let deployed = admin.admin(
        "PUT",
        "/functions/dep?route=/dep&memory-limit-mib=64&tier=fast",
        &hello,
    );
    assert_eq!(deployed.status, 201, "{}", deployed.text());
    let reply = client.post("/dep", b"deployed");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "Hello, deployed!\n");
    let reply = client.get("/behave?oob");
    assert_eq!(reply.status, 500, "{}", reply.text());
    assert!(
        reply.text().contains("out of bounds memory access"),
        "{}",
        reply.text()
    );
    let reply = client.get("/behave?recurse&1000");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "depth 1000\n");
    let metrics = metrics_of(port);
    for line in [
        r#"luge_bounds_fallbacks_total{route="/hello"} 3"#,
        r#"luge_bounds_fallbacks_total{route="/behave"} 2"#,
        r#"luge_bounds_fallbacks_total{route="/dep"} 1"#,
    ] {
        assert!(metrics.contains(line), "no {line} in:\n{metrics}");
    }
    let log = served.log();
    assert!(
        log.contains("test/hello: guard memories are out of address space"),
        "{log}"
    );
    // Restored from the state directory, the deployed function keeps its
    // module for the fallback too.
    let mut served = served;
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let dir = std::mem::replace(&mut served.dir, tempfile::tempdir().unwrap());
    let _served = serve_with_admin_adjusted(dir, ports, &routes, address_space_limit(3 << 30));
    let reply = Client::connect(port).post("/dep", b"again");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.text(), "Hello, again!\n");
}

/// A sandbox whose memory cannot even be reserved (the process is out of
/// address space: too many sandboxes at once, or as here an `RLIMIT_AS`
/// below one reservation) is answered 503 with Retry-After, a failure of
/// the moment rather than of the function, and the server goes on.
#[test]
fn no_address_space_for_a_sandbox_is_503_and_the_server_goes_on() {
    let _turn = timed();
    let port = free_port();
    // A 4 GiB limit makes every bounds mode reserve more than the 3 GiB.
    let hello = route("/hello", &example("hello"), r#""memory-limit-mib": 4096"#);
    let config = format!(r#"[{{"name": "t", "port": {port}, "routes": [{hello}]}}]"#);
    let dir = tempfile::tempdir().unwrap();
    let _served = launch_with(dir, &config, port, address_space_limit(3 << 30));
    let mut client = Client::connect(port);
    for _ in 0..3 {
        let reply = client.post("/hello", b"edge");
        assert_eq!(reply.status, 503, "{}", reply.text());
        assert_eq!(reply.header("Retry-After"), Some("1"));
        assert!(reply.text().contains("address space"), "{}", reply.text());
    }
    assert_eq!(client.get("/metrics").status, 200);
}
