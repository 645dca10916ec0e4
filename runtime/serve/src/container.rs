//! OpenWhisk's action-container protocol, on a listener of its own, so that
//! an OpenWhisk cluster (or Knative) can run a Luge function as an action:
//! `POST /init` once with the action (`{"value": {"code": BASE64, "binary":
//! true, "main": ..., "env": {...}}}`), then `POST /run` for every
//! activation (`{"value": PARAMS, "namespace": ..., "action_name": ...,
//! "activation_id": ..., "deadline": ..., ...}`).
//!
//! The action is a WASI command, run as OpenWhisk runs native actions: the
//! parameters (a JSON object or array) on stdin, the other `/run` fields as
//! `__OW_<FIELD>` variables; the last line of its stdout is the result, the
//! lines before it and its stderr are the activation's logs, which go to
//! this process's stdout and stderr, each ended by the sentinel line the
//! invoker waits for. Answers and messages are those of OpenWhisk's own
//! action proxies where its tests compare them (docs/openwhisk.md has the
//! table).

use crate::code::action_module;
use crate::config::{OpenWhiskConfig, RouteConfig, TierChoice};
use crate::function::{Function, Invocation};
use crate::http::{Request, RequestHead, Response};
use crate::invoke::{Invoker, Invokes, OPENWHISK_TENANT};
use crate::openwhisk::{end_activation_logs, error, Reply};
use crate::server::{Handled, Requester};
use luge_runtime::cache::ModuleCache;
use luge_scheduler::worker::Scheduler;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the action container's one action stands.
#[derive(Default)]
enum State {
    #[default]
    Uninitialized,
    /// `/init` came and its module is being compiled.
    Initializing,
    Ready(Arc<Function>),
}

/// The action container: its action and how it runs it.
pub struct ActionContainer {
    state: State,
    settings: ContainerSettings,
}

/// What the container is told at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSettings {
    /// The longest an activation may run, and its memory limit.
    pub limits: OpenWhiskConfig,
    /// Whether a second `/init` replaces the action
    /// (`PROXY_ALLOW_REINIT=1`, as OpenWhisk's Python proxy has it).
    pub allow_reinit: bool,
    /// The `__OW_*` variables of this process (the invoker passes
    /// `__OW_API_HOST` this way), which every activation sees.
    pub inherited_env: Vec<(String, String)>,
}

impl ContainerSettings {
    /// The settings for `limits` and this process's environment.
    pub fn from_env(limits: OpenWhiskConfig) -> ContainerSettings {
        ContainerSettings {
            limits,
            allow_reinit: std::env::var("PROXY_ALLOW_REINIT").is_ok_and(|v| v == "1"),
            inherited_env: std::env::vars()
                .filter(|(k, _)| k.starts_with("__OW_"))
                .collect(),
        }
    }
}

/// Whatever answers requests and owns the [`ActionContainer`], so that a
/// finished `/init` reaches it on the loop's thread.
pub trait HostsContainer: 'static {
    fn container(&mut self) -> &mut ActionContainer;
}

/// Room for the fields OpenWhisk wraps around a `/run`'s parameters
/// (namespace, action name, activation id, deadline, ...).
const RUN_ENVELOPE_BYTES: u64 = 64 << 10;

/// OpenWhisk's answer to an `/init` without code.
const NO_CODE: &str = "Missing main/no code to execute.";
/// OpenWhisk's answer to a second `/init`.
const INIT_TWICE: &str = "Cannot initialize the action more than once.";
/// OpenWhisk's answer to a `/run` before the action is initialized.
const NOT_INITIALIZED: &str = "Cannot invoke an uninitialized action.";
/// OpenWhisk's answer to parameters that are neither object nor array.
const BAD_ARGUMENT: &str = "The action did not receive a dictionary or array as an argument.";

/// Why the container does not serve a request.
enum Refusal {
    InitTwice,
    NotInitialized,
    NoSuchPath,
}

impl Refusal {
    /// The answer, with what OpenWhisk's proxies log for it: the message
    /// of a second `/init` on stderr, and a `/run`'s end of logs.
    fn answer(self) -> Response {
        match self {
            Refusal::InitTwice => {
                eprintln!("{INIT_TWICE}");
                error(403, INIT_TWICE)
            }
            Refusal::NotInitialized => run_error(502, NOT_INITIALIZED),
            Refusal::NoSuchPath => error(404, "the action container serves POST /init and /run"),
        }
    }
}

/// A `/run` answered with an error before the action ran: its activation
/// logged nothing, and its logs end.
fn run_error(status: u16, reason: &str) -> Response {
    end_activation_logs();
    error(status, reason)
}

impl ActionContainer {
    pub fn new(settings: ContainerSettings) -> ActionContainer {
        ActionContainer {
            state: State::Uninitialized,
            settings,
        }
    }

    /// Judges a request by its head, before any body is read: one the
    /// container cannot take in its current state is refused now, so that
    /// nobody can make it read an action it would refuse. `init_limit` is
    /// the largest `/init` body; a `/run` may carry the function's
    /// `max-body-bytes` of parameters.
    pub fn admit(&self, head: &RequestHead, init_limit: u64) -> Result<u64, Response> {
        if let Some(refusal) = self.refusal(&head.method, &head.path) {
            return Err(refusal.answer());
        }
        Ok(match (&self.state, head.path.as_str()) {
            (State::Ready(function), "/run") => function
                .config
                .max_body_bytes
                .saturating_add(RUN_ENVELOPE_BYTES),
            _ => init_limit,
        })
    }

    /// Why the container cannot serve `method path` now, if it cannot.
    /// Asked at the head and again once the body is in, as the state may
    /// have changed meanwhile (another `/init` came first).
    fn refusal(&self, method: &str, path: &str) -> Option<Refusal> {
        match (method, path, &self.state) {
            ("POST", "/init", State::Uninitialized) => None,
            ("POST", "/init", State::Ready(_)) if self.settings.allow_reinit => None,
            ("POST", "/init", _) => Some(Refusal::InitTwice),
            ("POST", "/run", State::Ready(_)) => None,
            ("POST", "/run", _) => Some(Refusal::NotInitialized),
            _ => Some(Refusal::NoSuchPath),
        }
    }

    /// Answers a request on the action-container listener.
    pub fn handle<H: HostsContainer + Invokes>(
        &mut self,
        invoker: &mut Invoker,
        requester: Requester<H>,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        if let Some(refusal) = self.refusal(&request.head.method, &request.head.path) {
            return Handled::Now(refusal.answer());
        }
        match (&self.state, request.head.path.as_str()) {
            (State::Ready(function), "/run") => {
                let function = function.clone();
                let cap = self.settings.limits.timeout;
                run(function, cap, invoker, requester, &request.body, scheduler)
            }
            _ => self.init(requester, &request.body),
        }
    }

    fn init<H: HostsContainer>(&mut self, requester: Requester<H>, body: &[u8]) -> Handled {
        let mut action = match init_request(body) {
            Ok(action) => action,
            Err((status, reason)) => return Handled::Now(error(status, &reason)),
        };
        let mut config = RouteConfig::new("/run", "action.wasm".into());
        config.env = self.action_env(std::mem::take(&mut action.env));
        config.content_type = "application/json".to_owned();
        config.timeout = self.settings.limits.timeout;
        config.memory_limit_mib = self.settings.limits.memory_limit_mib;
        // The container's one action is never handed to tiering, which
        // would otherwise keep its module in memory for nothing.
        config.tier = TierChoice::Fast;
        // The thread gets its work once it runs: a thread that cannot be
        // started must still leave the request to answer here.
        let (start, started) = std::sync::mpsc::channel::<Requester<H>>();
        let compile = move || {
            let Ok(requester) = started.recv() else {
                return;
            };
            let cache = ModuleCache::new(ModuleCache::default_dir());
            let built = action_module(action.code, &action.main, "the code").and_then(|wasm| {
                Function::from_wasm("action", config, &wasm, &cache).map_err(|e| e.to_string())
            });
            requester.complete(Box::new(move |handler: &mut H| {
                let container = handler.container();
                match built {
                    Ok(function) => {
                        container.state = State::Ready(Arc::new(function));
                        Response::json(200, &json!({ "ok": true }))
                    }
                    Err(reason) => {
                        container.state = State::Uninitialized;
                        init_failed(&reason)
                    }
                }
            }));
        };
        match std::thread::Builder::new()
            .name("luge-init".into())
            .spawn(compile)
        {
            Ok(_) => {
                self.state = State::Initializing;
                let _ = start.send(requester);
                Handled::Later
            }
            Err(e) => Handled::Now(error(503, &format!("cannot start a compile thread: {e}"))),
        }
    }

    /// The action's environment: its own `env` from `/init`, then this
    /// process's `__OW_*` variables it does not set itself.
    fn action_env(&self, own: Vec<(String, String)>) -> Vec<(String, String)> {
        let inherited = self
            .settings
            .inherited_env
            .iter()
            .filter(|(k, _)| !own.iter().any(|(o, _)| o == k))
            .cloned()
            .collect::<Vec<_>>();
        own.into_iter().chain(inherited).collect()
    }
}

/// An `/init` whose action did not compile: 502 with the reason, which is
/// also the activation's log, as OpenWhisk's proxies log init failures.
fn init_failed(reason: &str) -> Response {
    eprintln!("{reason}");
    end_activation_logs();
    error(502, reason)
}

/// Runs the action for a `/run` body, for no longer than `cap` or the
/// body's deadline.
fn run<H: Invokes>(
    function: Arc<Function>,
    cap: Duration,
    invoker: &mut Invoker,
    requester: Requester<H>,
    body: &[u8],
    scheduler: &Scheduler,
) -> Handled {
    match run_request(body, SystemTime::now(), cap) {
        Ok((invocation, time_limit)) => invoker.invoke(
            function,
            OPENWHISK_TENANT,
            requester,
            invocation,
            scheduler,
            Reply::ContainerRun { time_limit },
        ),
        Err((status, reason)) => Handled::Now(run_error(status, &reason)),
    }
}

/// A refused request: its status and reason.
type Refused = (u16, String);

/// What an `/init` body carries.
#[derive(Debug, PartialEq, Eq)]
struct InitRequest {
    /// The decoded `code`: a module, or a zip holding one.
    code: Vec<u8>,
    /// `main`, which names the module in a zip.
    main: String,
    env: Vec<(String, String)>,
}

/// The action of an `/init` body. Refusals are OpenWhisk's: 403 without
/// code, 400 for a body that cannot be read.
fn init_request(body: &[u8]) -> Result<InitRequest, Refused> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| (400, format!("Error unmarshaling request: {e}")))?;
    let value = doc.get("value").unwrap_or(&Value::Null);
    let code = match value.get("code") {
        Some(Value::String(code)) if !code.trim().is_empty() => code,
        _ => return Err((403, NO_CODE.to_owned())),
    };
    if value.get("binary").and_then(Value::as_bool) != Some(true) {
        return Err((
            400,
            "value.binary: must be true: Luge runs WebAssembly, so create the action from a \
             .wasm file or a zip holding one (OpenWhisk sends either as base64)"
                .to_owned(),
        ));
    }
    use base64::Engine;
    let code = base64::engine::general_purpose::STANDARD
        .decode(code.trim())
        .map_err(|e| (400, format!("cannot decode the request: value.code: {e}")))?;
    let main = value
        .get("main")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or("main")
        .to_owned();
    let env = match value.get("env") {
        Some(Value::Object(env)) => env.iter().map(|(k, v)| (k.clone(), env_text(v))).collect(),
        _ => Vec::new(),
    };
    Ok(InitRequest { code, main, env })
}

/// An environment value as OpenWhisk passes it: strings as they are, null
/// as nothing, anything else as its JSON text.
fn env_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The invocation of a `/run` body received at `now`, and how long it may
/// run: until its `deadline` (milliseconds since the epoch), but not
/// longer than `cap`. `value` goes to stdin, every other field to
/// `__OW_<FIELD>`. An empty body or `null` is `{}`, as are a missing or
/// null `value`.
fn run_request(
    body: &[u8],
    now: SystemTime,
    cap: Duration,
) -> Result<(Invocation, Duration), Refused> {
    let doc: Value = if body.trim_ascii().is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| (400, format!("Error unmarshaling request: {e}")))?
    };
    let fields = match doc {
        Value::Null => Map::new(),
        Value::Object(fields) => fields,
        _ => return Err((404, BAD_ARGUMENT.to_owned())),
    };
    let params = match fields.get("value") {
        None | Some(Value::Null) => json!({}),
        Some(params @ (Value::Object(_) | Value::Array(_))) => params.clone(),
        Some(_) => return Err((404, BAD_ARGUMENT.to_owned())),
    };
    let env = fields
        .iter()
        .filter(|(k, _)| *k != "value")
        .map(|(k, v)| (format!("__OW_{}", k.to_ascii_uppercase()), env_text(v)))
        .collect();
    // A deadline already past (or 0) says more about the invoker's clock
    // against this host's than about the action: it runs to the cap, and
    // the invoker, which enforces its own limit, stops it if it must.
    let time_limit = fields
        .get("deadline")
        .and_then(deadline_ms)
        .and_then(|deadline| {
            (UNIX_EPOCH + Duration::from_millis(deadline))
                .duration_since(now)
                .ok()
                .filter(|left| !left.is_zero())
        })
        .map_or(cap, |left| left.min(cap));
    let invocation = Invocation::Direct {
        args: Vec::new(),
        env,
        stdin: params.to_string().into_bytes(),
    };
    Ok((invocation, time_limit))
}

/// A `deadline` field: milliseconds since the epoch, as a string (how the
/// invoker sends it) or a number (how its documentation has it).
fn deadline_ms(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        other => other.as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(300);

    /// A run's environment, stdin and time limit.
    type RunParts = (Vec<(String, String)>, Vec<u8>, Duration);

    fn run_parts(body: &[u8]) -> Result<RunParts, Refused> {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let (invocation, limit) = run_request(body, now, CAP)?;
        let (_, env, stdin) = invocation.into_parts();
        Ok((env, stdin, limit))
    }

    #[test]
    fn run_bodies_map_to_stdin_ow_variables_and_a_time_limit() {
        let body = br#"{"value": {"n": 1}, "action_name": "/guest/a", "deadline": "1700000002500", "api_key": null, "n": 3}"#;
        let (env, stdin, limit) = run_parts(body).unwrap();
        assert_eq!(stdin, br#"{"n":1}"#);
        assert!(env.contains(&("__OW_ACTION_NAME".into(), "/guest/a".into())));
        assert!(env.contains(&("__OW_DEADLINE".into(), "1700000002500".into())));
        assert!(env.contains(&("__OW_API_KEY".into(), String::new())));
        assert!(env.contains(&("__OW_N".into(), "3".into())));
        assert_eq!(limit, Duration::from_millis(2500));
        // A deadline past the cap, or past already, or none at all.
        let far = run_parts(br#"{"deadline": 1800000000000}"#).unwrap().2;
        assert_eq!(far, CAP);
        let past = run_parts(br#"{"deadline": "1"}"#).unwrap().2;
        assert_eq!(past, CAP);
        assert_eq!(run_parts(b"{}").unwrap().2, CAP);
    }

    #[test]
    fn run_parameters_may_be_empty_null_or_an_array() {
        for empty in [&b""[..], b"  \n", b"null", b"{}", br#"{"value": null}"#] {
            assert_eq!(run_parts(empty).unwrap().1, b"{}", "{empty:?}");
        }
        assert_eq!(
            run_parts(br#"{"value": [1, "a"]}"#).unwrap().1,
            br#"[1,"a"]"#
        );
        for bad in [
            &br#"{"value": "A"}"#[..],
            br#"{"value": 3}"#,
            b"[1]",
            b"\"x\"",
        ] {
            assert_eq!(run_parts(bad).unwrap_err(), (404, BAD_ARGUMENT.into()));
        }
        let (status, reason) = run_parts(b"{nope").unwrap_err();
        assert_eq!(status, 400);
        assert!(
            reason.starts_with("Error unmarshaling request: "),
            "{reason}"
        );
    }

    #[test]
    fn init_bodies_need_base64_code() {
        let ok = br#"{"value": {"code": "AGFzbQ==", "binary": true, "env": {"K": "v", "N": null, "B": true, "O": {"a": 1}}}}"#;
        let expected = InitRequest {
            code: b"\0asm".to_vec(),
            main: "main".into(),
            env: vec![
                ("B".into(), "true".into()),
                ("K".into(), "v".into()),
                ("N".into(), String::new()),
                ("O".into(), r#"{"a":1}"#.into()),
            ],
        };
        let mut got = init_request(ok).unwrap();
        got.env.sort();
        assert_eq!(got, expected);
        for no_code in [
            &b"{}"[..],
            br#"{"value": {}}"#,
            br#"{"value": {"code": "", "main": "", "binary": false, "env": null}}"#,
            br#"{"value": {"code": null, "binary": true}}"#,
        ] {
            assert_eq!(init_request(no_code).unwrap_err(), (403, NO_CODE.into()));
        }
        let text = init_request(br#"{"value": {"code": "(module)", "binary": false}}"#);
        assert!(text.unwrap_err().1.contains("value.binary"));
        let bad = init_request(br#"{"value": {"code": "!!", "binary": true}}"#);
        assert_eq!(bad.unwrap_err().0, 400);
    }
}
