//! `luge container` against OpenWhisk's action-container protocol, driven
//! as the invoker drives it: `POST /init` with the action, `POST /run` per
//! activation, and the container's whole stdout and stderr read as the
//! activations' logs, each activation's ended by the sentinel line. The
//! checks are those of OpenWhisk's `BasicActionRunnerTests` and
//! `ActionProxyContainerTests` (docs/openwhisk.md has the table), with the
//! test action `wasi-programs/ow_action.c` standing in for theirs.

mod common;

use common::serve::*;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// A running `luge container`, its stdout and stderr in files; killed when
/// dropped.
struct Container {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Container {
    /// Starts `luge container` as an image would, with `__OW_API_HOST` in
    /// its environment (how the invoker passes it) and `env`.
    fn start(env: &[(&str, &str)]) -> Container {
        let port = free_port();
        let args = [
            "container",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ];
        Container::spawn(tempfile::tempdir().unwrap(), port, &args, env)
    }

    /// Starts `luge serve` of a config whose only listener is the action
    /// container, as examples/openwhisk-container.json is.
    fn serve_config() -> Container {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("container.json");
        let text = format!(r#"{{"host": "127.0.0.1", "openwhisk": {{"port": {port}}}}}"#);
        std::fs::write(&config, text).unwrap();
        let args = ["serve", config.to_str().unwrap()];
        Container::spawn(dir, port, &args, &[])
    }

    fn spawn(dir: tempfile::TempDir, port: u16, args: &[&str], env: &[(&str, &str)]) -> Container {
        let file = |name: &str| std::fs::File::create(dir.path().join(name)).unwrap();
        let mut command = luge_command();
        command
            .args(args)
            .env("__OW_API_HOST", "xyz")
            .envs(env.iter().copied())
            .stdout(Stdio::from(file("stdout")))
            .stderr(Stdio::from(file("stderr")));
        let mut container = Container {
            child: command.spawn().unwrap(),
            port,
            dir,
        };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = container.child.try_wait().unwrap() {
                panic!("luge exited with {status}: {}", container.logs().1);
            }
            assert!(start.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(20));
        }
        container
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, Value) {
        let reply = Client::connect(self.port).post(path, body);
        let length = reply.header("content-length").map(str::to_owned);
        assert_eq!(length, Some(reply.body.len().to_string()));
        let value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()));
        (reply.status, value)
    }

    fn init(&self, code: &[u8], env: Value) -> (u16, Value) {
        use base64::Engine;
        let code = base64::engine::general_purpose::STANDARD.encode(code);
        let body = json!({"value": {"name": "action", "main": "main", "code": code,
            "binary": true, "env": env}});
        self.post("/init", body.to_string().as_bytes())
    }

    fn init_action(&self) {
        let action = std::fs::read(wasm_program("ow_action")).unwrap();
        let (status, body) = self.init(&action, json!({}));
        assert_eq!((status, &body), (200, &json!({"ok": true})));
    }

    fn run(&self, value: Value) -> (u16, Value) {
        self.post("/run", json!({ "value": value }).to_string().as_bytes())
    }

    /// Everything the container has written to stdout and stderr so far.
    fn logs(&self) -> (String, String) {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap();
        (read("stdout"), read("stderr"))
    }
}

fn sentinels(log: &str) -> usize {
    log.matches(SENTINEL).count()
}

/// `log` without the sentinel lines, trimmed, as OpenWhisk's tests look
/// at it.
fn without_sentinels(log: &str) -> String {
    log.replace(&format!("{SENTINEL}\n"), "").trim().to_owned()
}

fn ends_every_activation(log: &str, lines: &str, activations: usize) {
    assert_eq!(log, format!("{lines}{SENTINEL}\n").repeat(activations));
}

#[test]
fn nothing_but_the_actions_output_reaches_stdout_and_stderr() {
    for container in [Container::start(&[]), Container::serve_config()] {
        container.init_action();
        assert_eq!(container.logs(), (String::new(), String::new()));
        let (status, _) = container.run(json!({"quiet": true}));
        assert_eq!(status, 200);
        let (out, err) = container.logs();
        ends_every_activation(&out, "", 1);
        ends_every_activation(&err, "", 1);
    }
}

#[test]
fn echo_arguments_and_print_logs_to_stdout_and_stderr() {
    let container = Container::start(&[]);
    container.init_action();
    let values = [
        json!({"log": 1, "string": "hello"}),
        json!({"log": 1, "string": "❄ ☃ ❄"}),
        json!({"log": 1, "numbers": [42, 1]}),
        json!({"log": 1, "object": {"a": "A"}}),
    ];
    for value in values {
        assert_eq!(container.run(value.clone()), (200, value));
    }
    let (out, err) = container.logs();
    // Each activation's logs, in order, each ended by its sentinel; the
    // result line is not among them.
    ends_every_activation(&out, "hello stdout\n", 4);
    ends_every_activation(&err, "hello stderr\n", 4);
}

#[test]
fn unicode_in_parameters_logs_and_result() {
    let container = Container::start(&[]);
    container.init_action();
    let (status, result) = container.run(json!({"unicode": "❄"}));
    assert_eq!((status, &result["winter"]), (200, &json!("❄ ☃ ❄")));
    let (out, _) = container.logs();
    assert!(out.contains("❄ ☃ ❄"), "{out}");
}

#[test]
fn init_without_code_is_refused_with_openwhisk_s_message() {
    let container = Container::start(&[]);
    let missing = json!({"error": "Missing main/no code to execute."});
    assert_eq!(container.post("/init", b"{}"), (403, missing.clone()));
    let empty = br#"{"value": {"code": "", "main": "", "binary": false, "env": null}}"#;
    assert_eq!(container.post("/init", empty), (403, missing));
    // Still uninitialized, and the next /init is taken.
    container.init_action();
}

#[test]
fn init_a_second_time_is_refused_and_logged_without_a_sentinel() {
    let container = Container::start(&[]);
    container.init_action();
    let action = std::fs::read(wasm_program("ow_action")).unwrap();
    let (status, body) = container.init(&action, json!({}));
    let expected = json!({"error": "Cannot initialize the action more than once."});
    assert_eq!((status, body), (403, expected));
    let (out, err) = container.logs();
    assert_eq!((sentinels(&out), sentinels(&err)), (0, 0));
    assert_eq!(out, "");
    assert_eq!(err, "Cannot initialize the action more than once.\n");
}

#[test]
fn proxy_allow_reinit_replaces_the_action() {
    let container = Container::start(&[("PROXY_ALLOW_REINIT", "1")]);
    container.init_action();
    assert_eq!(container.run(json!({"n": 1})), (200, json!({"n": 1})));
    // The bundled hello prints a greeting, no JSON: the new action is the
    // one that runs.
    let hello = std::fs::read(examples_dir().join("hello/hello.wasm")).unwrap();
    assert_eq!(container.init(&hello, json!({})).0, 200);
    let (status, body) = container.run(json!({}));
    assert_eq!(status, 502, "{body}");
}

#[test]
fn run_before_init_fails_and_ends_its_logs() {
    let container = Container::start(&[]);
    let (status, body) = container.post("/run", br#"{"value": {}}"#);
    let expected = json!({"error": "Cannot invoke an uninitialized action."});
    assert_eq!((status, body), (502, expected));
    let (out, err) = container.logs();
    ends_every_activation(&out, "", 1);
    ends_every_activation(&err, "", 1);
    // Refused at its head, before any body is read.
    let mut client = Client::connect(container.port);
    client.read_timeout(Duration::from_secs(10));
    client.send(
        format!(
            "POST /run HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            300 << 20
        )
        .as_bytes(),
    );
    let reply = read_reply(&mut client.reader);
    assert_eq!(reply.status, 502, "{}", reply.text());
    let mut byte = [0u8; 1];
    assert!(matches!(client.reader.read(&mut byte), Ok(0)));
}

#[test]
fn environment_from_init_run_and_the_container() {
    let container = Container::start(&[]);
    let action = std::fs::read(wasm_program("ow_action")).unwrap();
    let env = json!({"SOME_VAR": "xyz", "ANOTHER_VAR": null});
    assert_eq!(container.init(&action, env).0, 200);
    let run = json!({"value": {"env": true}, "api_key": "abc", "namespace": "zzz",
        "action_name": "xxx", "action_version": "0.0.1", "activation_id": "iii",
        "deadline": "99999999999999"});
    let (status, result) = container.post("/run", run.to_string().as_bytes());
    let expected = json!({"api_host": "xyz", "api_key": "abc", "namespace": "zzz",
        "action_name": "xxx", "action_version": "0.0.1", "activation_id": "iii",
        "deadline": "99999999999999", "SOME_VAR": "xyz", "ANOTHER_VAR": ""});
    assert_eq!((status, result), (200, expected));
    let (out, err) = container.logs();
    ends_every_activation(&out, "", 1);
    ends_every_activation(&err, "", 1);
}

#[test]
fn a_large_input_is_echoed() {
    let container = Container::start(&[]);
    container.init_action();
    let value = json!({"arg": "a".repeat(1_048_561)});
    assert_eq!(container.run(value.clone()), (200, value));
}

#[test]
fn output_that_is_no_result_is_a_502_and_is_logged() {
    let container = Container::start(&[]);
    container.init_action();
    let (status, body) = container.run(json!({"notjson": true}));
    let expected = json!({"error": "The action did not return a dictionary or array."});
    assert_eq!((status, body), (502, expected));
    let (out, err) = container.logs();
    ends_every_activation(&out, "not a json object\n", 1);
    ends_every_activation(&err, "", 1);
}

#[test]
fn arguments_that_are_neither_object_nor_array_get_404() {
    let container = Container::start(&[]);
    container.init_action();
    let (status, body) = container.run(json!("A"));
    let expected =
        json!({"error": "The action did not receive a dictionary or array as an argument."});
    assert_eq!((status, body), (404, expected));
    let (out, err) = container.logs();
    assert_eq!((sentinels(&out), sentinels(&err)), (1, 1));
    assert_eq!(
        (without_sentinels(&out), without_sentinels(&err)),
        (String::new(), String::new())
    );
}

#[test]
fn null_empty_and_array_inputs_and_array_and_error_results() {
    let container = Container::start(&[]);
    container.init_action();
    for body in [&b""[..], b"null", b"{}", br#"{"value": null}"#] {
        assert_eq!(container.post("/run", body), (200, json!({})), "{body:?}");
    }
    assert_eq!(container.run(json!(["a", "b"])), (200, json!(["a", "b"])));
    assert_eq!(container.run(json!({"array": 1})), (200, json!(["a", "b"])));
    // An application error is the action's answer: 200.
    assert_eq!(
        container.run(json!({"error": 1})),
        (200, json!({"error": "sorry"}))
    );
    // How the program exits does not matter, only what it printed.
    assert_eq!(
        container.run(json!({"exitfail": 1})),
        (200, json!({"exited": true}))
    );
    let (out, err) = container.logs();
    assert_eq!((sentinels(&out), sentinels(&err)), (8, 8));
}

#[test]
fn traps_and_the_deadline_end_an_activation_with_an_error() {
    let container = Container::start(&[]);
    container.init_action();
    let (status, body) = container.run(json!({"trap": true}));
    assert_eq!((status, body), (502, json!({"error": "trap: unreachable"})));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let deadline = (now + Duration::from_millis(400)).as_millis().to_string();
    let run = json!({"value": {"spin": true}, "deadline": deadline});
    let started = Instant::now();
    let (status, body) = container.post("/run", run.to_string().as_bytes());
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("The action exceeded its time limits of ")
            && error.ends_with(" milliseconds."),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let (out, err) = container.logs();
    assert_eq!((sentinels(&out), sentinels(&err)), (2, 2));
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in entries {
        zip.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn a_zipped_action_runs() {
    let container = Container::start(&[]);
    let action = std::fs::read(wasm_program("ow_action")).unwrap();
    let zip = zip_of(&[("README.txt", b"an action"), ("exec", &action)]);
    assert_eq!(container.init(&zip, json!({})), (200, json!({"ok": true})));
    assert_eq!(container.run(json!({"z": 1})), (200, json!({"z": 1})));
}

fn init_failure(code: &[u8]) -> (String, String) {
    let container = Container::start(&[]);
    let (status, body) = container.init(code, json!({}));
    assert_eq!(status, 502, "{body}");
    let reason = body["error"].as_str().unwrap().to_owned();
    let (out, err) = container.logs();
    // The reason is the activation's log.
    ends_every_activation(&out, "", 1);
    ends_every_activation(&err, &format!("{reason}\n"), 1);
    // Still uninitialized, and the next /init is taken.
    container.init_action();
    (reason, err)
}

#[test]
fn actions_that_cannot_run_are_refused_at_init_with_the_reason() {
    let (elf, _) = init_failure(b"\x7fELF\x02\x01\x01\0");
    assert!(elf.contains("native ELF"), "{elf}");
    let no_start = wat::parse_str(r#"(module (func (export "main")))"#).unwrap();
    let (reason, _) = init_failure(&no_start);
    assert!(reason.contains("no `_start`"), "{reason}");
    let unknown =
        wat::parse_str(r#"(module (import "env" "f" (func)) (func (export "_start")))"#).unwrap();
    let (reason, _) = init_failure(&unknown);
    assert!(reason.contains("wasm32-wasip1"), "{reason}");
}

/// `luge container --help` says what the invoker needs.
#[test]
fn container_help_names_the_protocol() {
    let out = luge_command()
        .args(["container", "--help"])
        .output()
        .unwrap();
    let help = stdout_text(&out);
    for needle in ["/init", "/run", "0.0.0.0", "8080", "deadline"] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
}
