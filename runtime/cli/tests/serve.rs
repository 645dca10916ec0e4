//! `luge serve` end to end: the real server on a loopback port, spoken to
//! over HTTP/1.1 by a small client here. Every status the server answers
//! with, keep-alive and pipelining, a client that dribbles its request, a
//! flood past the queue bound, metrics, and a graceful shutdown.

mod common;

use common::serve::*;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn every_status_the_server_answers_with() {
    let behave = wasm_program("behave");
    let served = serve(
        &[
            route("/hello", &example("hello"), r#""max-body-bytes": 64"#),
            route("/behave", &behave, r#""timeout-ms": 300"#),
        ],
        "",
    );
    let mut client = Client::connect(served.port);

    let ok = client.post("/hello", b"edge");
    assert_eq!((ok.status, ok.text().as_str()), (200, "Hello, edge!\n"));
    assert_eq!(ok.header("content-type"), Some("text/plain"));

    let missing = client.get("/nowhere");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("/nowhere"), "{}", missing.text());

    // Query parameters are the program's arguments.
    let trap = client.get("/behave?trap");
    assert_eq!(
        (trap.status, trap.text().as_str()),
        (500, "trap: unreachable\n")
    );
    let exit = client.get("/behave?exit42");
    assert_eq!(exit.status, 500);
    assert!(exit.text().contains("status 42"), "{}", exit.text());
    let started = Instant::now();
    let spin = client.get("/behave?spin");
    assert_eq!(spin.status, 504, "{}", spin.text());
    assert!(spin.text().contains("300 ms"), "{}", spin.text());
    assert!(started.elapsed() < Duration::from_secs(5));

    // Over the limit: refused from the head, and the connection closed.
    let big = client.post("/hello", &[b'x'; 65]);
    assert_eq!(big.status, 413);
    assert_eq!(big.header("connection"), Some("close"));
}

#[test]
fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let served = serve(&[route("/hello", &example("hello"), "")], "");
    let mut client = Client::connect(served.port);
    for name in ["one", "two", "three"] {
        let reply = client.post("/hello", name.as_bytes());
        assert_eq!(reply.text(), format!("Hello, {name}!\n"));
    }
    let mut pipelined = Vec::new();
    for name in ["a", "b", "c", "d"] {
        pipelined.extend_from_slice(
            format!("POST /hello HTTP/1.1\r\nContent-Length: 1\r\n\r\n{name}").as_bytes(),
        );
    }
    client.send(&pipelined);
    for name in ["a", "b", "c", "d"] {
        let reply = read_reply(&mut client.reader);
        assert_eq!(reply.text(), format!("Hello, {name}!\n"));
    }
}

#[test]
fn a_slow_client_does_not_hold_up_others() {
    let served = serve(&[route("/hello", &example("hello"), "")], "");
    let mut slow = Client::connect(served.port);
    let request = b"POST /hello HTTP/1.1\r\nContent-Length: 4\r\n\r\nslow";
    let (first, rest) = request.split_at(10);
    slow.send(first);
    // Others are served while the slow request is still arriving.
    for _ in 0..20 {
        let mut fast = Client::connect(served.port);
        assert_eq!(fast.post("/hello", b"fast").text(), "Hello, fast!\n");
    }
    for byte in rest {
        slow.send(std::slice::from_ref(byte));
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(read_reply(&mut slow.reader).text(), "Hello, slow!\n");
}

#[test]
fn a_flood_past_the_queue_bound_gets_429_and_loses_no_accepted_request() {
    // net sleeps 300 ms, so ten requests fill a queue of four.
    let served = serve(&[route("/net", &example("net"), "")], r#""queue-limit": 4"#);
    let handles: Vec<_> = (0..10)
        .map(|_| {
            let port = served.port;
            std::thread::spawn(move || Client::connect(port).get("/net"))
        })
        .collect();
    let replies: Vec<Reply> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(ok + refused, 10, "{replies:?}");
    assert!(ok >= 4 && refused >= 1, "{ok} answered, {refused} refused");
    for reply in replies.iter().filter(|r| r.status == 200) {
        assert_eq!(reply.text(), "done\n");
    }
}

#[test]
fn metrics_count_requests_and_traps() {
    let behave = wasm_program("behave");
    let served = serve(&[route("/behave", &behave, "")], "");
    let mut client = Client::connect(served.port);
    assert_eq!(client.get("/behave?return3").status, 500);
    assert_eq!(client.get("/behave?trap").status, 500);
    let metrics = client.get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    let line = |prefix: &str| {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .to_string()
    };
    assert!(line(r#"luge_requests_total{route="/behave",status="500"}"#).ends_with(" 2"));
    assert!(line(r#"luge_traps_total{kind="unreachable"}"#).ends_with(" 1"));
    // The route's sandboxes: one exited with status 3, one trapped.
    let sandboxes = |state: &str| {
        line(&format!(
            r#"luge_sandbox_state_entered_total{{route="/behave",state="{state}"}}"#
        ))
    };
    assert!(sandboxes("instantiating").ends_with(" 2"));
    assert!(sandboxes("exited").ends_with(" 1"));
    assert!(sandboxes("trapped").ends_with(" 1"));
    assert!(sandboxes("returned").ends_with(" 0"));
    // Their tasks ran; a task is counted finished only after its response
    // has left, so that count may still lag here.
    let running = line(r#"luge_task_state_entered_total{route="/behave",state="running"}"#);
    let running: u64 = running.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(running >= 2, "{running}");
    assert!(
        line("luge_resident_memory_bytes")
            .split(' ')
            .nth(1)
            .unwrap()
            != "0"
    );
}

#[test]
fn sigterm_finishes_requests_in_flight_then_exits() {
    let mut served = serve(&[route("/net", &example("net"), "")], "");
    let port = served.port;
    let in_flight = std::thread::spawn(move || Client::connect(port).get("/net"));
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: sends SIGTERM to the child we started and still own.
    unsafe { libc::kill(served.child.id() as i32, libc::SIGTERM) };
    let reply = in_flight.join().unwrap();
    assert_eq!((reply.status, reply.text().as_str()), (200, "done\n"));
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn a_server_whose_port_is_held_for_a_moment_waits_for_it() {
    // As for a server restarted at once after a crash, whose predecessor's
    // compiler child still holds the old listener for a moment.
    let port = free_port();
    let held = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let config = config_file(port, &[route("/hello", &example("hello"), "")], "");
    let mut served = start_with(tempfile::tempdir().unwrap(), &config, port, |_| {});
    served.wait_for("saying its port is in use", |s| {
        s.log().contains("is in use")
    });
    drop(held);
    served.wait_listening(port);
    let reply = Client::connect(port).post("/hello", b"again");
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "Hello, again!\n")
    );
}

#[test]
fn a_response_larger_than_the_socket_takes_reaches_a_slow_reader_whole_and_in_order() {
    // The sandbox writes what the socket takes at once; the loop sends the
    // rest, before the next pipelined request's response.
    let served = serve(
        &[route(
            "/hello",
            &example("hello"),
            r#""max-body-bytes": 12000000"#,
        )],
        "",
    );
    let mut client = Client::connect(served.port);
    let big = vec![b'y'; 10_000_000];
    let mut requests = format!(
        "POST /hello HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        big.len()
    )
    .into_bytes();
    requests.extend_from_slice(&big);
    requests.extend_from_slice(b"POST /hello HTTP/1.1\r\nContent-Length: 5\r\n\r\nsmall");
    client.send(&requests);
    std::thread::sleep(Duration::from_millis(500));
    let first = read_reply(&mut client.reader);
    assert_eq!(first.status, 200);
    assert_eq!(first.body.len(), big.len() + "Hello, !\n".len());
    assert!(first.body[7..7 + big.len()].iter().all(|&b| b == b'y'));
    assert_eq!(read_reply(&mut client.reader).text(), "Hello, small!\n");
}

#[test]
fn a_large_body_arriving_at_once_is_read_whole() {
    let served = serve(
        &[route(
            "/hello",
            &example("hello"),
            r#""max-body-bytes": 1000000"#,
        )],
        "",
    );
    let body = vec![b'x'; 300_000];
    let reply = Client::connect(served.port).post("/hello", &body);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), body.len() + "Hello, !\n".len());
}

#[test]
fn functions_deploy_and_go_while_traffic_flows_and_survive_a_restart() {
    let hello = std::fs::read(example("hello")).unwrap();
    let served = serve_with_admin(
        tempfile::tempdir().unwrap(),
        &[route("/prime", &example("prime"), "")],
    );
    let mut admin = Client::connect(served.admin_port);
    let mut refused = Client::connect(served.admin_port);
    refused.send(b"GET /functions HTTP/1.1\r\n\r\n");
    assert_eq!(read_reply(&mut refused.reader).status, 401);

    // Traffic to the configured function all along.
    let port = served.port;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut client = Client::connect(port);
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(client.get("/prime?100").text(), "541\n");
                answered += 1;
            }
            answered
        })
    };

    let deployed = admin.admin(
        "PUT",
        "/functions/greet?route=/greet&timeout-ms=2000",
        &hello,
    );
    assert_eq!(deployed.status, 201, "{}", deployed.text());
    let mut client = Client::connect(served.port);
    assert_eq!(client.post("/greet", b"live").text(), "Hello, live!\n");

    let listed = json(&admin.admin("GET", "/functions", b""));
    let names: Vec<_> = listed["functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["greet", "test/prime"]);
    let inspected = json(&admin.admin("GET", "/functions/greet", b""));
    assert_eq!(inspected["route"], "/greet");
    assert_eq!(inspected["timeout_ms"], 2000);
    assert_eq!(inspected["deployed"], true);

    // A route of another function cannot be taken; bad uploads are refused.
    assert_eq!(
        admin
            .admin("PUT", "/functions/x?route=/prime", &hello)
            .status,
        409
    );
    assert_eq!(
        admin.admin("PUT", "/functions/bad", b"not wasm").status,
        400
    );
    assert_eq!(admin.admin("PUT", "/functions/a.b", &hello).status, 400);
    // A redeploy that does not compile leaves the deployed version serving,
    // now and after the restart below.
    let mut broken = hello.clone();
    broken.truncate(100);
    assert_eq!(
        admin
            .admin("PUT", "/functions/greet?route=/greet", &broken)
            .status,
        400
    );
    assert_eq!(client.post("/greet", b"still").text(), "Hello, still!\n");

    // A second deployment under a name that is then removed.
    assert_eq!(admin.admin("PUT", "/functions/gone", &hello).status, 201);
    assert_eq!(client.post("/gone", b"x").status, 200);
    assert_eq!(admin.admin("DELETE", "/functions/gone", b"").status, 200);
    assert_eq!(client.post("/gone", b"x").status, 404);
    assert_eq!(admin.admin("DELETE", "/functions/gone", b"").status, 404);

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(traffic.join().unwrap() > 0);

    // Restarted on the same state: greet is back, gone stays gone.
    let restarted = restart(served, &[route("/prime", &example("prime"), "")]);
    let mut client = Client::connect(restarted.port);
    assert_eq!(client.post("/greet", b"again").text(), "Hello, again!\n");
    assert_eq!(client.post("/gone", b"x").status, 404);
}

#[test]
fn a_redeploy_keeps_the_settings_it_does_not_give_and_says_so() {
    let hello = std::fs::read(example("hello")).unwrap();
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let mut admin = Client::connect(served.admin_port);
    let first = "/functions/greet?route=/hi&timeout-ms=2000&content-type=text/x-greeting";
    let deployed = json(&admin.admin("PUT", first, &hello));
    assert_eq!(deployed["kept"], serde_json::json!([]), "{deployed}");

    // A new module alone changes nothing else.
    let again = admin.admin("PUT", "/functions/greet", &hello);
    assert_eq!(again.status, 201, "{}", again.text());
    let again = json(&again);
    assert_eq!(again["route"], "/hi");
    assert_eq!(again["timeout_ms"], 2000);
    assert_eq!(again["content_type"], "text/x-greeting");
    assert_eq!(again["port"], served.port);
    let kept = again["kept"].as_array().unwrap();
    assert_eq!(kept.len(), 8, "{again}");
    assert!(kept.contains(&serde_json::json!("tier")), "{again}");
    let answer = Client::connect(served.port).post("/hi", b"you");
    assert_eq!(answer.header("content-type"), Some("text/x-greeting"));
    assert_eq!(answer.text(), "Hello, you!\n");

    // What a redeploy gives replaces what was; the rest stays.
    let third = json(&admin.admin("PUT", "/functions/greet?timeout-ms=3000", &hello));
    assert_eq!(third["timeout_ms"], 3000);
    assert_eq!(third["content_type"], "text/x-greeting");
    assert!(!third["kept"]
        .as_array()
        .unwrap()
        .contains(&"timeout-ms".into()));

    // Uploads that cannot be a function are refused with what they are.
    let refusal = |path: &str, body: &[u8]| {
        let reply = Client::connect(served.admin_port).admin("PUT", path, body);
        assert_eq!(reply.status, 400, "{}", reply.text());
        json(&reply)["error"].as_str().unwrap().to_owned()
    };
    let elf = refusal("/functions/native", b"\x7fELF\x02\x01\x01\0");
    assert!(elf.starts_with("the body is a native ELF file"), "{elf}");
    let library = refusal("/functions/lib", b"\0asm\x01\0\0\0");
    assert!(library.contains("_start"), "{library}");
    let port = refusal("/functions/elsewhere?port=1", &hello);
    let tenants = format!("port: 1 is no tenant's (tenants listen on {})", served.port);
    assert_eq!(port, tenants);
}

#[test]
fn openwhisk_actions_deploy_where_the_config_has_no_tenant() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    let config = format!(
        r#"{{"admin": {{"port": {admin_port}, "token": "{TOKEN}"}}, "state-dir": "{}"}}"#,
        dir.path().join("state").display()
    );
    let log = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&log).unwrap();
    let _served = launch_with(dir, &config, admin_port, |command| {
        command.stderr(stderr);
    });
    let mut client = Client::connect(admin_port);
    let hello = std::fs::read(example("hello")).unwrap();
    let refused = client.admin("PUT", "/functions/greet", &hello);
    assert_eq!(refused.status, 400);
    let reason = json(&refused)["error"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("the config has no tenant to route greet to"),
        "{reason}"
    );

    let echo = std::fs::read(wasm_program("json_echo")).unwrap();
    let code = base64::engine::general_purpose::STANDARD.encode(&echo);
    let action = |limits: &str| {
        format!(r#"{{"exec": {{"kind": "wasm", "code": "{code}", "binary": true}}{limits}}}"#)
    };
    let path = "/api/v1/namespaces/guest/actions/echo";
    let limited = action(r#", "limits": {"timeout": 3000}"#);
    let created = client.admin("PUT", path, limited.as_bytes());
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(json(&created)["port"], serde_json::Value::Null);
    let invoke = format!("{path}?blocking=true&result=true");
    let result = json(&client.admin("POST", &invoke, br#"{"n": 1}"#));
    assert_eq!(result["echo"]["n"], 1, "{result}");

    // An update without limits keeps the earlier ones, as OpenWhisk's does.
    let updated = json(&client.admin("PUT", path, action("").as_bytes()));
    assert_eq!(updated["timeout_ms"], 3000, "{updated}");
    assert!(updated["kept"]
        .as_array()
        .unwrap()
        .contains(&"timeout-ms".into()));
    let result = json(&client.admin("POST", &invoke, b"{}"));
    assert_eq!(result["echo"], serde_json::json!({}));

    // An action whose output is no result fails with 502, and its log line
    // says 502, not the 200 of the sandbox's clean exit.
    let code = base64::engine::general_purpose::STANDARD.encode(&hello);
    let greet = format!(r#"{{"exec": {{"kind": "wasm", "code": "{code}", "binary": true}}}}"#);
    let path = "/api/v1/namespaces/guest/actions/greet";
    assert_eq!(client.admin("PUT", path, greet.as_bytes()).status, 201);
    let failed = client.admin("POST", &format!("{path}?blocking=true"), b"{}");
    assert_eq!(failed.status, 502, "{}", failed.text());
    let started = Instant::now();
    let line = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        let line = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["function"] == "greet");
        if let Some(line) = line {
            break line;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(line["status"], 502, "{line}");
    assert_eq!(line["outcome"], "error", "{line}");
}

#[test]
fn openwhisk_actions_are_created_and_invoked_blocking() {
    use base64::Engine;
    let echo = std::fs::read(wasm_program("json_echo")).unwrap();
    let served = serve_with_admin(tempfile::tempdir().unwrap(), &[]);
    let mut client = Client::connect(served.admin_port);
    let code = base64::engine::general_purpose::STANDARD.encode(&echo);
    let action = format!(
        r#"{{"exec": {{"kind": "wasm", "code": "{code}", "binary": true}}, "limits": {{"timeout": 3000}}}}"#
    );
    let created = client.admin(
        "PUT",
        "/api/v1/namespaces/guest/actions/echo",
        action.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());

    let path = "/api/v1/namespaces/guest/actions/echo?blocking=true";
    let record = json(&client.admin("POST", path, br#"{"name": "edge"}"#));
    assert_eq!(record["response"]["success"], true, "{record}");
    assert_eq!(record["response"]["result"]["echo"]["name"], "edge");
    assert_eq!(record["response"]["result"]["action"], "/guest/echo");
    assert_eq!(record["activationId"].as_str().unwrap().len(), 32);
    let end = record["end"].as_u64().unwrap();
    let start = record["start"].as_u64().unwrap();
    assert_eq!(record["duration"].as_u64().unwrap(), end - start);
    let annotation = |key: &str| {
        record["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["key"] == key)
            .unwrap_or_else(|| panic!("no {key} annotation"))["value"]
            .clone()
    };
    assert!(annotation("waitTime").is_u64());
    assert!(annotation("initTime").is_u64());
    assert_eq!(annotation("limits")["timeout"], 3000);

    let result = client.admin("POST", &format!("{path}&result=true"), b"{}");
    assert_eq!(json(&result)["echo"], serde_json::json!({}));
    assert_eq!(
        client
            .admin(
                "POST",
                "/api/v1/namespaces/guest/actions/nope?blocking=true",
                b"{}"
            )
            .status,
        404
    );
}

/// Creates the OpenWhisk action `name` from `wasm` with `limits` (a JSON
/// object) through `client`, an admin connection.
fn create_action(client: &mut Client, name: &str, wasm: &Path, limits: &str) {
    use base64::Engine;
    let code = base64::engine::general_purpose::STANDARD.encode(std::fs::read(wasm).unwrap());
    let action = format!(
        r#"{{"exec": {{"kind": "wasm", "code": "{code}", "binary": true}}, "limits": {limits}}}"#
    );
    let path = format!("/api/v1/namespaces/guest/actions/{name}");
    let created = client.admin("PUT", &path, action.as_bytes());
    assert_eq!(created.status, 201, "{}", created.text());
}

/// The activation record of `id`, asked for until it is kept.
fn activation_when_done(client: &mut Client, id: &str) -> serde_json::Value {
    let path = format!("/api/v1/namespaces/guest/activations/{id}");
    let started = Instant::now();
    loop {
        let reply = client.admin("GET", &path, b"");
        if reply.status == 200 {
            return json(&reply);
        }
        assert_eq!(reply.status, 404, "{}", reply.text());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{id} never ended"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn openwhisk_non_blocking_invocations_hold_no_connection_and_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let admin_port = free_port();
    // No tenant: actions run as tenant `openwhisk`, with the server's
    // queue limit.
    let config = format!(
        r#"{{"admin": {{"port": {admin_port}, "token": "{TOKEN}"}}, "state-dir": "{}", "queue-limit": 2}}"#,
        dir.path().join("state").display()
    );
    let mut served = launch_with(dir, &config, admin_port, |_| {});
    let mut client = Client::connect(admin_port);
    create_action(
        &mut client,
        "sleep",
        &example("sleep"),
        r#"{"timeout": 10000}"#,
    );
    create_action(&mut client, "echo", &wasm_program("json_echo"), "{}");

    // Two sleepers are answered at once on one connection, which the
    // calls do not hold: the sandboxes run on without a client.
    let sleep = "/api/v1/namespaces/guest/actions/sleep";
    let asked = Instant::now();
    let first = client.admin("POST", sleep, br#"{"seconds": 1}"#);
    assert_eq!(first.status, 202, "{}", first.text());
    let second = client.admin(
        "POST",
        &format!("{sleep}?blocking=false"),
        br#"{"seconds": 1}"#,
    );
    assert_eq!(second.status, 202, "{}", second.text());
    assert!(
        asked.elapsed() < Duration::from_millis(900),
        "{:?}",
        asked.elapsed()
    );
    let id = json(&first)["activationId"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    assert_ne!(json(&second)["activationId"], id.as_str());
    // Detached calls count against the tenant's queue limit like any.
    let third = client.admin("POST", sleep, br#"{"seconds": 1}"#);
    assert_eq!(third.status, 429, "{}", third.text());
    // Running, the activation is not yet kept.
    let running = client.admin(
        "GET",
        &format!("/api/v1/namespaces/guest/activations/{id}"),
        b"",
    );
    assert_eq!(running.status, 404, "{}", running.text());

    let record = activation_when_done(&mut client, &id);
    assert_eq!(record["activationId"], id.as_str(), "{record}");
    assert_eq!(record["name"], "sleep", "{record}");
    assert_eq!(record["response"]["success"], true, "{record}");
    assert_eq!(record["response"]["result"]["slept"], 1, "{record}");
    assert!(record["duration"].as_u64().unwrap() >= 1000, "{record}");

    let echo = "/api/v1/namespaces/guest/actions/echo";
    let echoed = json(&client.admin("POST", echo, br#"{"name": "edge"}"#));
    let id = echoed["activationId"].as_str().unwrap().to_owned();
    activation_when_done(&mut client, &id);
    let activation = format!("/api/v1/namespaces/guest/activations/{id}");
    let result = json(&client.admin("GET", &format!("{activation}/result"), b""));
    assert_eq!(result["result"]["echo"]["name"], "edge", "{result}");
    assert_eq!(result["success"], true, "{result}");
    let logs = json(&client.admin("GET", &format!("{activation}/logs"), b""));
    assert!(logs["logs"].is_array(), "{logs}");
    // A blocking call's record is kept too, as OpenWhisk keeps it.
    let blocking = json(&client.admin("POST", &format!("{echo}?blocking=true"), br#"{"n": 2}"#));
    let blocking_id = blocking["activationId"].as_str().unwrap().to_owned();
    let kept = format!("/api/v1/namespaces/guest/activations/{blocking_id}");
    let kept = json(&client.admin("GET", &kept, b""));
    assert_eq!(kept["response"]["result"]["echo"]["n"], 2, "{kept}");
    for unknown in ["0123456789abcdef0123456789abcdef", "../../functions", "x"] {
        let path = format!("/api/v1/namespaces/guest/activations/{unknown}");
        assert_eq!(client.admin("GET", &path, b"").status, 404, "{unknown}");
    }
    let bad = client.admin("POST", &format!("{echo}?blocking=maybe"), b"{}");
    assert_eq!(bad.status, 400, "{}", bad.text());

    // A failed action's record says so.
    create_action(&mut client, "greet", &example("hello"), "{}");
    let greet = "/api/v1/namespaces/guest/actions/greet";
    let failed = json(&client.admin("POST", greet, b"{}"));
    let failed_id = failed["activationId"].as_str().unwrap().to_owned();
    let record = activation_when_done(&mut client, &failed_id);
    assert_eq!(record["response"]["success"], false, "{record}");
    // Listed newest first, without their logs.
    let listed = json(&client.admin("GET", "/api/v1/namespaces/_/activations?limit=2", b""));
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["activationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [failed_id.as_str(), blocking_id.as_str()], "{listed}");
    assert!(listed[0].get("logs").is_none(), "{listed}");

    // Parameters are held until the call runs: no more than the
    // function's max-body-bytes (1 MiB) of them, refused from the head.
    let mut big = Client::connect(admin_port);
    big.send(
        format!("POST {echo} HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 2000000\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(read_reply(&mut big.reader).status, 413);

    // A shutdown lets detached calls finish, as it does requests in flight.
    let last = client.admin("POST", sleep, br#"{"seconds": 1}"#);
    assert_eq!(last.status, 202, "{}", last.text());
    let stopping = Instant::now();
    // SAFETY: sends SIGTERM to the child we started and still own.
    unsafe { libc::kill(served.child.id() as i32, libc::SIGTERM) };
    let status = served.child.wait().unwrap();
    assert!(status.success(), "{status}");
    // ... and no longer: a call refused earlier left nothing to wait for
    // (the grace is 10 s).
    let took = stopping.elapsed();
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    let log = served.log();
    let slept = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["function"] == "sleep" && l["status"] == 200)
        .count();
    assert_eq!(slept, 3, "{log}");
}

#[test]
fn the_openwhisk_action_container_protocol_inits_once_then_runs() {
    use base64::Engine;
    let container_port = free_port();
    let settings = format!(r#""openwhisk": {{"port": {container_port}}}"#);
    let _served = serve(&[], &settings);
    // A request refused at its head closes its connection: its body, if
    // any, is never read.
    let early = Client::connect(container_port).post("/run", br#"{"value": {}}"#);
    assert_eq!(early.status, 502, "{}", early.text());
    let mut client = Client::connect(container_port);

    let echo = std::fs::read(wasm_program("json_echo")).unwrap();
    let code = base64::engine::general_purpose::STANDARD.encode(&echo);
    let init = format!(
        r#"{{"value": {{"name": "echo", "main": "main", "code": "{code}", "binary": true}}}}"#
    );
    let initialized = client.post("/init", init.as_bytes());
    assert_eq!(initialized.status, 200, "{}", initialized.text());
    let again = Client::connect(container_port).post("/init", init.as_bytes());
    assert_eq!(again.status, 403);

    let run = br#"{"value": {"n": 7}, "action_name": "/guest/echo", "activation_id": "abc", "deadline": "0"}"#;
    let result = client.post("/run", run);
    assert_eq!(result.status, 200, "{}", result.text());
    let result = json(&result);
    assert_eq!(result["echo"]["n"], 7);
    assert_eq!(result["action"], "/guest/echo");
}
