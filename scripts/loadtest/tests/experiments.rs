//! Every `luge-load` subcommand at a tiny scale against a real `luge serve`
//! (and the fork server), checking the CSV files have the expected rows.
//!
//! The `luge` binary is the one cargo built beside this test (`cargo test
//! --workspace` builds it for the runtime's own tests); `LUGE_BIN` names
//! another.

#[path = "../../../runtime/core/tests/common/target.rs"]
mod target;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use target::target_command;

const TOKEN: &str = "load-test-token";

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `luge` binary of this build: target/PROFILE/luge, two levels above
/// this test's executable (target/PROFILE/deps/...).
fn luge_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("LUGE_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().unwrap().parent().unwrap().join("luge");
    assert!(
        bin.is_file(),
        "{} is missing: build it with `cargo build -p luge-cli --bin luge` \
         (`cargo test --workspace` does), or set LUGE_BIN",
        bin.display()
    );
    bin
}

fn wait_for(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `luge serve` with the examples on `port` and the admin API on
/// `admin_port`.
fn start_luge(dir: &Path, port: u16, admin_port: u16) -> Running {
    let examples = repo().join("examples");
    let routes: Vec<String> = ["hello", "hash", "prime", "net", "sleep"]
        .iter()
        .map(|n| {
            let path = examples.join(n).join(format!("{n}.wasm"));
            format!(r#"{{"route": "/{n}", "path": "{}"}}"#, path.display())
        })
        .collect();
    let config = format!(
        r#"{{"workers": 2, "queue-limit": 4096, "state-dir": "{}",
            "admin": {{"port": {admin_port}, "token": "{TOKEN}"}},
            "tenants": [{{"name": "t", "port": {port}, "routes": [{}]}}]}}"#,
        dir.join("state").display(),
        routes.join(", ")
    );
    let path = dir.join("serve.json");
    std::fs::write(&path, config).unwrap();
    let child = target_command(luge_bin())
        .arg("serve")
        .arg(&path)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    wait_for(port, "luge serve");
    wait_for(admin_port, "the admin listener");
    running
}

/// Runs `luge-load ARGS`, which must succeed.
fn load(args: &[&str]) {
    let out = target_command(env!("CARGO_BIN_EXE_luge-load"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "luge-load {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rows of a CSV file, header first, split on commas (the experiments
/// write no quoted fields).
fn csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// The value of `column` in `row` under `header`.
fn field<'a>(rows: &'a [Vec<String>], row: usize, column: &str) -> &'a str {
    let i = rows[0].iter().position(|c| c == column).unwrap();
    &rows[row][i]
}

#[test]
fn every_experiment_runs_against_luge_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let luge = start_luge(dir.path(), port, admin_port);
    let base = format!("http://127.0.0.1:{port}");
    let out = |name: &str| dir.path().join(name).display().to_string();

    load(&[
        "rate",
        &format!("{base}/hello"),
        "--rate",
        "200",
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
        "--connections",
        "4",
        "--out",
        &out("rate"),
    ]);
    let rate = csv(&dir.path().join("rate/summary.csv"));
    assert_eq!(rate.len(), 2);
    // 200/s for 0.3 s measured: 60 calls, all answered.
    assert_eq!(field(&rate, 1, "ok"), "60");
    assert_eq!(field(&rate, 1, "errors"), "0");
    assert!(dir.path().join("rate/latency.svg").is_file());

    let server = format!("luge={base}");
    load(&[
        "access",
        "--server",
        &server,
        "--clients",
        "2",
        "--calls",
        "2",
        "--ramp",
        "0.1",
        "--out",
        &out("access"),
    ]);
    let access = csv(&dir.path().join("access/access.csv"));
    assert_eq!(access.len(), 1 + 3 * 3, "3 functions x 3 patterns");
    let requests: Vec<&str> = (1..4).map(|r| field(&access, r, "requests")).collect();
    assert_eq!(requests, ["2", "2", "4"], "SCMA, MCSA, MCMA");
    assert!((1..access.len()).all(|r| field(&access, r, "errors") == "0"));

    load(&[
        "cold",
        "--admin",
        &format!("http://127.0.0.1:{admin_port}"),
        "--token",
        TOKEN,
        "--max-concurrency",
        "2",
        "--repeat",
        "1",
        "--out",
        &out("cold"),
    ]);
    let cold = csv(&dir.path().join("cold/cold.csv"));
    assert_eq!(
        cold.len(),
        1 + 1 + 2,
        "one activation at level 1, two at level 2"
    );
    assert!((1..cold.len()).all(|r| field(&cold, r, "status") == "200"));
    assert_eq!(csv(&dir.path().join("cold/cold-summary.csv")).len(), 3);

    load(&[
        "concurrency",
        "--server",
        &server,
        "--min-clients",
        "1",
        "--max-clients",
        "2",
        "--step",
        "0.2",
        "--workloads",
        "hello,mix-50/50",
        "--out",
        &out("concurrency"),
    ]);
    let conc = csv(&dir.path().join("concurrency/concurrency.csv"));
    assert_eq!(conc.len(), 1 + 2 * 2, "2 workloads x 2 levels");
    assert_eq!(field(&conc, 4, "workload"), "mix-50/50");
    assert_eq!(field(&conc, 4, "clients"), "2");

    let pid = luge.0.id().to_string();
    load(&[
        "capacity",
        "--server",
        &server,
        "--pid",
        &pid,
        "--sleep",
        "1",
        "--step",
        "5",
        "--max",
        "10",
        "--out",
        &out("capacity"),
    ]);
    let cap = csv(&dir.path().join("capacity/capacity.csv"));
    assert_eq!(cap.len(), 2);
    assert_eq!(field(&cap, 1, "reached"), "10");
    assert_eq!(field(&cap, 1, "failed"), "0");
    assert!(csv(&dir.path().join("capacity/capacity-timeline.csv")).len() > 2);

    // The config's `sleep` is a route's function already.
    create_sleep_action(admin_port, "sleeper");
    detached_capacity(
        &format!("luge=http://127.0.0.1:{admin_port}"),
        &pid,
        &["--token", TOKEN, "--action", "sleeper"],
        &out("capacity-detached"),
    );
}

/// Creates the OpenWhisk action `name` of examples/sleep through the admin
/// API on `admin_port`.
fn create_sleep_action(admin_port: u16, name: &str) {
    use base64::Engine as _;
    let wasm = std::fs::read(repo().join("examples/sleep/sleep.wasm")).unwrap();
    let code = base64::engine::general_purpose::STANDARD.encode(wasm);
    let body = format!(r#"{{"exec": {{"kind": "wasm", "code": "{code}", "binary": true}}}}"#);
    let mut stream = TcpStream::connect(("127.0.0.1", admin_port)).unwrap();
    let head = format!(
        "PUT /api/v1/namespaces/_/actions/{name} HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
}

/// Runs `capacity --detached` against `server` (process `pid`) with
/// `extra` arguments: ten calls of 2 s, five at a time, must all be
/// answered 202 and be seen alive at once on the server's /metrics.
fn detached_capacity(server: &str, pid: &str, extra: &[&str], out: &str) {
    let mut args = vec![
        "capacity",
        "--detached",
        "--server",
        server,
        "--pid",
        pid,
        "--sleep",
        "2",
        "--step",
        "5",
        "--max",
        "10",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    load(&args);
    let cap = csv(&Path::new(out).join("capacity.csv"));
    assert_eq!(field(&cap, 1, "reached"), "10", "{cap:?}");
    assert_eq!(field(&cap, 1, "ok"), "10", "{cap:?}");
    assert_eq!(field(&cap, 1, "failed"), "0", "{cap:?}");
}

#[test]
fn the_hostile_benchmark_runs_every_policy() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hostile");
    let luge = luge_bin();
    let (port_a, port_b) = (free_port().to_string(), free_port().to_string());
    let mut args = vec![
        "hostile",
        "--luge",
        luge.to_str().unwrap(),
        "--port-a",
        &port_a,
        "--port-b",
        &port_b,
        "--workers",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--b-rate",
        "50",
        "--b-connections",
        "4",
        "--spinners-per-worker",
        "1",
        "--a-timeout-ms",
        "1500",
        "--trap-rate",
        "5",
        "--stack-rate",
        "5",
        "--membomb-rate",
        "2",
        "--membomb-limit-mib",
        "16",
        "--sleep-rate",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    // Under emulation the hostile benchmark starts `luge` as the tests do.
    let runner = std::env::var("LUGE_TEST_RUNNER").unwrap_or_default();
    if !runner.is_empty() {
        args.extend(["--luge-runner", &runner]);
    }
    let run = target_command(env!("CARGO_BIN_EXE_luge-load"))
        .args(&args)
        .current_dir(repo())
        // The server compiles the functions into a cache of its own.
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .env_remove("LUGE_CACHE_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "luge-load hostile failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Whether the targets hold is the benchmark's finding, not the test's.
    assert!(
        stdout.contains("target: every B request answered 200"),
        "{stdout}"
    );
    assert!(stdout.contains("under attack in every policy"), "{stdout}");

    let rows = csv(&out.join("hostile.csv"));
    assert_eq!(rows.len(), 1 + 3 * 2, "3 policies x alone, attacked");
    let cells: Vec<(&str, &str)> = (1..rows.len())
        .map(|r| (field(&rows, r, "policy"), field(&rows, r, "phase")))
        .collect();
    assert_eq!(cells[0], ("fifo", "alone"));
    assert_eq!(cells[5], ("edf-budgets", "attacked"));
    for r in 1..rows.len() {
        // 50/s for 1 s measured, in every phase; alone, all answered
        // (under attack, how many are is what the benchmark measures).
        assert_eq!(field(&rows, r, "scheduled"), "50", "row {r}");
        if field(&rows, r, "phase") == "alone" {
            assert_eq!(field(&rows, r, "ok"), "50", "row {r}");
        }
    }
    // Tenant A attacked: every route of it was called.
    let attacked = field(&rows, 2, "a_outcomes");
    for route in ["/spin", "/trap", "/stack", "/membomb", "/sleep"] {
        assert!(attacked.contains(route), "{attacked}");
    }
    assert!(csv(&out.join("hostile-statuses.csv")).len() > 6);
    // A's functions do what they are meant to when called alone.
    let functions = csv(&out.join("hostile-functions.csv"));
    assert_eq!(functions.len(), 1 + 3 * 4);
    let status = |route: &str| {
        let r = (1..functions.len()).find(|&r| field(&functions, r, "route") == route);
        field(&functions, r.unwrap(), "status")
    };
    assert_eq!(
        [status("/trap"), status("/stack"), status("/membomb")],
        ["500", "500", "200"]
    );
    let svg = std::fs::read_to_string(out.join("hostile-latency.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("edf-budgets"));
    for policy in ["fifo", "edf", "edf-budgets"] {
        assert!(out.join(policy).join("serve.json").is_file(), "{policy}");
    }
}

/// Starts `luge-load SUBCOMMAND ARGS --port P`, a peer serving `hello`,
/// and checks one answer and a short concurrency level without errors.
fn peer_serves_hello(subcommand: &str, args: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Running(
        target_command(env!("CARGO_BIN_EXE_luge-load"))
            .arg(subcommand)
            .args(args)
            .args(["--port", &port.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, subcommand);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nContent-Length: 4\r\n\r\nedge")
        .unwrap();
    // The connection stays open (keep-alive): read until the whole answer
    // is in, or a read fails or times out.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !answer.ends_with(b"Hello, edge!\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("Hello, edge!\n"), "{answer}");

    let out = dir.path().join("concurrency");
    load(&[
        "concurrency",
        "--server",
        &format!("{subcommand}=http://127.0.0.1:{port}"),
        "--min-clients",
        "2",
        "--max-clients",
        "2",
        "--step",
        "0.2",
        "--workloads",
        "hello",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = csv(&out.join("concurrency.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(field(&rows, 1, "errors"), "0");
    assert!(field(&rows, 1, "requests").parse::<u32>().unwrap() > 0);
    drop(server);
}

#[test]
fn the_fork_server_runs_a_process_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let hello = dir.path().join("hello");
    let pids = dir.path().join("pids");
    // Each run of the function notes the process it ran in.
    let script = format!(
        "#!/bin/sh\necho $$ >> '{}'\necho \"Hello, $(cat)!\"\n",
        pids.display()
    );
    std::fs::write(&hello, script).unwrap();
    let mut perms = std::fs::metadata(&hello).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&hello, perms).unwrap();
    peer_serves_hello("fork-server", &[dir.path().to_str().unwrap()]);
    let pids = std::fs::read_to_string(&pids).unwrap();
    let runs: Vec<&str> = pids.lines().collect();
    let distinct: std::collections::HashSet<&str> = runs.iter().copied().collect();
    assert!(runs.len() >= 2, "{} runs", runs.len());
    assert_eq!(distinct.len(), runs.len(), "a process served two requests");
}

/// Built with `cargo test -p luge-loadtest --features wasmtime-peer`.
#[cfg(feature = "wasmtime-peer")]
#[test]
fn the_wasmtime_server_runs_an_instance_per_request() {
    let hello = repo().join("examples/hello/hello.wasm");
    peer_serves_hello("wasmtime-server", &[hello.to_str().unwrap()]);
}

/// Built with `cargo test -p luge-loadtest --features wasmtime-peer`.
#[cfg(feature = "wasmtime-peer")]
#[test]
fn the_wasmtime_server_runs_detached_calls_on_its_async_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let sleep = repo().join("examples/sleep/sleep.wasm");
    let hello = repo().join("examples/hello/hello.wasm");
    let server = Running(
        target_command(env!("CARGO_BIN_EXE_luge-load"))
            .args(["wasmtime-server", "--detached", "--instances", "50"])
            .args(["--memory-mib", "16", "--reserve-mib", "16"])
            .arg(&sleep)
            .arg(&hello)
            .args(["--port", &port.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(port, "wasmtime-server");
    detached_capacity(
        &format!("wasmtime=http://127.0.0.1:{port}"),
        &server.0.id().to_string(),
        &["--live-metric", "wasmtime_server_detached_running"],
        &dir.path().join("capacity").display().to_string(),
    );
}
