//! A real `luge serve` on loopback ports, and a small HTTP/1.1 client to
//! speak to it, for the serve tests.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `luge serve`, killed when dropped.
pub struct Served {
    pub child: Child,
    pub port: u16,
    /// The admin listener's port, when the config has one.
    pub admin_port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        // A test that failed shows how the server ended and what it said
        // (its stderr goes to `server.log` in its directory), so that a
        // failure seen only in CI can be read there.
        if std::thread::panicking() {
            let status = self.child.try_wait().ok().flatten();
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "luge serve on port {}: {}; the last lines of its stderr:\n{}",
                self.port,
                status.map_or("still running".to_owned(), |s| format!("exited with {s}")),
                tail.join("\n")
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a server started by [`launch_with`] writes its stderr, in its
/// directory.
const SERVER_LOG: &str = "server.log";

impl Served {
    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(SERVER_LOG)).unwrap_or_default()
    }

    /// Returns once `port` takes connections; panics if the server exits
    /// first or takes longer than a minute.
    pub fn wait_listening(&mut self, port: u16) {
        let what = format!("listening on {port}");
        self.wait_for(&what, |_| TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    /// Returns once `done` holds of the server; panics, naming `what` it
    /// waited for, if the server exits first or it takes over a minute.
    pub fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Served) -> bool) {
        let start = Instant::now();
        while !done(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("luge serve exited with {status} before {what}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "luge serve: not {what} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A loopback port nothing uses now, from below the kernel's range of
/// ephemeral ports. Several tests restart a server on its ports, and in
/// the moment between the old listener closing and the new one binding,
/// an outgoing connection anywhere on the machine (the tests' own clients
/// among them) may be given an ephemeral port as its own: then the new
/// server cannot listen (seen in CI). No connection is given a port from
/// below that range.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const LOWEST: u16 = 10_000;
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32_768);
    let span = ephemeral.saturating_sub(LOWEST).max(1_000);
    // Test processes of their own start at their own offsets.
    let start = (std::process::id() % u32::from(span)) as u16;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOWEST + start.wrapping_add(n) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Starts `luge serve` with a Sledge-style config of one tenant whose
/// routes are `routes` (JSON objects without the surrounding array), and
/// the Luge settings `settings` (JSON members, may be empty). Returns once
/// the server accepts connections.
pub fn serve(routes: &[String], settings: &str) -> Served {
    serve_in(tempfile::tempdir().unwrap(), free_port(), routes, settings)
}

/// The admin token of the tests' servers.
pub const TOKEN: &str = "test-token";

/// Like [`serve`], with an admin listener keeping its state in `dir`.
pub fn serve_with_admin(dir: tempfile::TempDir, routes: &[String]) -> Served {
    serve_with_admin_on(dir, (free_port(), free_port()), routes)
}

/// [`serve_with_admin`] on the given tenant and admin ports.
pub fn serve_with_admin_on(dir: tempfile::TempDir, ports: (u16, u16), routes: &[String]) -> Served {
    serve_with_admin_adjusted(dir, ports, routes, |_| {})
}

/// [`serve_with_admin_on`], with `adjust` given the command before it
/// starts (see [`launch_with`]).
pub fn serve_with_admin_adjusted(
    dir: tempfile::TempDir,
    ports: (u16, u16),
    routes: &[String],
    adjust: impl FnOnce(&mut Command),
) -> Served {
    let (port, admin_port) = ports;
    let state = dir.path().join("state");
    let settings = format!(
        r#""admin": {{"port": {admin_port}, "token": "{TOKEN}"}}, "state-dir": "{}""#,
        state.display()
    );
    let mut served = launch_with(dir, &config_file(port, routes, &settings), port, adjust);
    // The listeners are bound one after another, so the tenant port taking
    // connections does not mean the admin port does yet.
    served.wait_listening(admin_port);
    served.admin_port = admin_port;
    served
}

/// Kills `served` and starts a server with an admin listener on its state
/// and ports.
pub fn restart(mut served: Served, routes: &[String]) -> Served {
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    let dir = std::mem::replace(&mut served.dir, tempfile::tempdir().unwrap());
    serve_with_admin_on(dir, (served.port, served.admin_port), routes)
}

pub fn serve_in(dir: tempfile::TempDir, port: u16, routes: &[String], settings: &str) -> Served {
    launch(dir, &config_file(port, routes, settings), port)
}

/// The config of one tenant on `port` with `routes`, and `settings`.
pub fn config_file(port: u16, routes: &[String], settings: &str) -> String {
    let tenants = format!(
        r#"[{{"name": "test", "port": {port}, "routes": [{}]}}]"#,
        routes.join(", ")
    );
    if settings.is_empty() {
        tenants
    } else {
        format!(r#"{{"tenants": {tenants}, {settings}}}"#)
    }
}

/// Starts `luge serve` with the configuration `config` (written to a file
/// in `dir`); returns once it accepts connections on `port`.
pub fn launch(dir: tempfile::TempDir, config: &str, port: u16) -> Served {
    launch_with(dir, config, port, |_| {})
}

/// [`launch`], with `adjust` given the command before it starts (to keep
/// its stderr, set its limits, ...).
pub fn launch_with(
    dir: tempfile::TempDir,
    config: &str,
    port: u16,
    adjust: impl FnOnce(&mut Command),
) -> Served {
    let mut served = start_with(dir, config, port, adjust);
    served.wait_listening(port);
    served
}

/// [`launch_with`], returning as soon as the server is started.
pub fn start_with(
    dir: tempfile::TempDir,
    config: &str,
    port: u16,
    adjust: impl FnOnce(&mut Command),
) -> Served {
    let path = dir.path().join("spec.json");
    std::fs::write(&path, config).unwrap();
    let mut command = luge_command();
    command
        .arg("serve")
        .arg(&path)
        .env("LUGE_CACHE_DIR", cache_dir())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join(SERVER_LOG)).unwrap());
    adjust(&mut command);
    let child = command.spawn().unwrap();
    Served {
        child,
        port,
        admin_port: 0,
        dir,
    }
}

pub fn route(path: &str, module: &Path, extra: &str) -> String {
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(", {extra}")
    };
    format!(
        r#"{{"route": "{path}", "path": "{}", "relative-deadline-us": 0, "http-resp-content-type": "text/plain"{extra}}}"#,
        module.display()
    )
}

pub fn example(name: &str) -> std::path::PathBuf {
    examples_dir().join(format!("{name}/{name}.wasm"))
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response (the server always sends `Content-Length`).
pub fn read_reply(reader: &mut BufReader<TcpStream>) -> Reply {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("Content-Length");
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

/// A keep-alive connection to the server.
pub struct Client {
    pub writer: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        Client::over(TcpStream::connect(("127.0.0.1", port)).unwrap())
    }

    /// A client on `stream`, already connected.
    pub fn over(stream: TcpStream) -> Client {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Waits at most `limit` for each read of a reply.
    pub fn read_timeout(&self, limit: Duration) {
        self.reader.get_ref().set_read_timeout(Some(limit)).unwrap();
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
    }

    pub fn post(&mut self, path: &str, body: &[u8]) -> Reply {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.send(head.as_bytes());
        self.send(body);
        read_reply(&mut self.reader)
    }

    pub fn get(&mut self, path: &str) -> Reply {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        read_reply(&mut self.reader)
    }

    /// A request with the admin token.
    pub fn admin(&mut self, method: &str, path: &str, body: &[u8]) -> Reply {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.send(head.as_bytes());
        self.send(body);
        read_reply(&mut self.reader)
    }
}

/// A connection to `port` from the loopback address `127.0.0.<host>`, so
/// that one test can be many clients.
pub fn connect_from(host: u8, port: u16) -> std::io::Result<TcpStream> {
    use socket2::{Domain, SockAddr, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    let local = SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0));
    socket.bind(&SockAddr::from(local))?;
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    socket.connect_timeout(&SockAddr::from(server), Duration::from_secs(10))?;
    Ok(socket.into())
}

/// The Prometheus text the server on `port` answers `/metrics` with.
pub fn metrics_of(port: u16) -> String {
    Client::connect(port).get("/metrics").text()
}

pub fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()))
}
