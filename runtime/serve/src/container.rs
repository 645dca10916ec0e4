//! OpenWhisk's action-container protocol, on a listener of its own, so that
//! an OpenWhisk cluster can run Luge functions as the runtime of an action
//! kind: `POST /init` once with the action (`{"value": {"code": BASE64,
//! "binary": true, "main": ..., "env": {...}}}`), then `POST /run` for every
//! activation (`{"value": {...params}, "namespace": ..., "action_name":
//! ..., "activation_id": ..., "deadline": ..., ...}`): the parameters are
//! the function's stdin, the other fields `__OW_<FIELD>` variables, and its
//! stdout, a JSON object, the result.

use crate::config::RouteConfig;
use crate::function::{Function, Invocation};
use crate::http::{Request, RequestHead, Response};
use crate::invoke::{Invoker, Invokes, CONTAINER_TENANT};
use crate::openwhisk::{binary_code, error, Reply};
use crate::server::{Handled, Requester};
use luge_runtime::cache::ModuleCache;
use luge_scheduler::worker::Scheduler;
use serde_json::{json, Value};
use std::sync::Arc;

/// Where the action container's one action stands.
#[derive(Default)]
pub enum ActionContainer {
    #[default]
    Uninitialized,
    /// `/init` came and its module is being compiled.
    Initializing,
    Ready(Arc<Function>),
}

/// Whatever answers requests and owns the [`ActionContainer`], so that a
/// finished `/init` reaches it on the loop's thread.
pub trait HostsContainer: 'static {
    fn container(&mut self) -> &mut ActionContainer;
}

/// Room for the fields OpenWhisk wraps around a `/run`'s parameters
/// (namespace, action name, activation id, deadline, ...).
const RUN_ENVELOPE_BYTES: u64 = 64 << 10;

impl ActionContainer {
    /// Judges a request by its head, before any body is read: one the
    /// container cannot take in its current state is refused now, so that
    /// nobody can make it read an action it would refuse. `init_limit` is
    /// the largest `/init` body; a `/run` may carry the function's
    /// `max-body-bytes` of parameters.
    pub fn admit(&self, head: &RequestHead, init_limit: u64) -> Result<u64, Response> {
        if let Some(refusal) = self.refusal(&head.method, &head.path) {
            return Err(refusal);
        }
        Ok(match self {
            ActionContainer::Ready(function) => function
                .config
                .max_body_bytes
                .saturating_add(RUN_ENVELOPE_BYTES),
            _ => init_limit,
        })
    }

    /// Why the container cannot serve `method path` now, if it cannot.
    /// Asked at the head and again once the body is in, as the state may
    /// have changed meanwhile (another `/init` came first).
    fn refusal(&self, method: &str, path: &str) -> Option<Response> {
        match (method, path, self) {
            ("POST", "/init", ActionContainer::Uninitialized) => None,
            ("POST", "/init", _) => Some(error(403, "cannot initialize the action more than once")),
            ("POST", "/run", ActionContainer::Ready(_)) => None,
            ("POST", "/run", _) => Some(error(403, "the action has not been initialized")),
            _ => Some(error(
                404,
                "the action container serves POST /init and /run",
            )),
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
            return Handled::Now(refusal);
        }
        match self {
            ActionContainer::Ready(function) => {
                let function = function.clone();
                run(function, invoker, requester, &request.body, scheduler)
            }
            _ => self.init(requester, &request.body),
        }
    }

    fn init<H: HostsContainer>(&mut self, requester: Requester<H>, body: &[u8]) -> Handled {
        let InitRequest { wasm, env } = match init_request(body) {
            Ok(init) => init,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        // The thread gets its work once it runs: a thread that cannot be
        // started must still leave the request to answer here.
        let (start, started) = std::sync::mpsc::channel::<Requester<H>>();
        let compile = move || {
            let Ok(requester) = started.recv() else {
                return;
            };
            let mut config = RouteConfig::new("/run", "action.wasm".into());
            config.env = env;
            config.content_type = "application/json".to_owned();
            let cache = ModuleCache::new(ModuleCache::default_dir());
            let built = Function::from_wasm("action", config, &wasm, &cache);
            requester.complete(Box::new(move |handler: &mut H| match built {
                Ok(function) => {
                    *handler.container() = ActionContainer::Ready(Arc::new(function));
                    Response::json(200, &json!({ "ok": true }))
                }
                Err(e) => {
                    *handler.container() = ActionContainer::Uninitialized;
                    error(502, &e.to_string())
                }
            }));
        };
        match std::thread::Builder::new()
            .name("luge-init".into())
            .spawn(compile)
        {
            Ok(_) => {
                *self = ActionContainer::Initializing;
                let _ = start.send(requester);
                Handled::Later
            }
            Err(e) => Handled::Now(error(503, &format!("cannot start a compile thread: {e}"))),
        }
    }
}

/// Runs the action for a `/run` body.
fn run<H: Invokes>(
    function: Arc<Function>,
    invoker: &mut Invoker,
    requester: Requester<H>,
    body: &[u8],
    scheduler: &Scheduler,
) -> Handled {
    match run_request(body) {
        Ok(invocation) => invoker.invoke(
            function,
            CONTAINER_TENANT,
            requester,
            invocation,
            scheduler,
            Reply::ContainerRun,
        ),
        Err(e) => Handled::Now(error(400, &e)),
    }
}

#[derive(Debug, PartialEq, Eq)]
struct InitRequest {
    wasm: Vec<u8>,
    env: Vec<(String, String)>,
}

/// The module and environment of an `/init` body.
fn init_request(body: &[u8]) -> Result<InitRequest, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let wasm = binary_code(&doc, "value")?;
    let env = doc
        .pointer("/value/env")
        .and_then(Value::as_object)
        .map(|env| {
            env.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_owned)))
                .collect()
        })
        .unwrap_or_default();
    Ok(InitRequest { wasm, env })
}

/// The invocation of a `/run` body: `value` on stdin, every other field as
/// `__OW_<FIELD>`.
fn run_request(body: &[u8]) -> Result<Invocation, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(fields) = doc else {
        return Err("the body must be a JSON object".to_owned());
    };
    let params = fields.get("value").cloned().unwrap_or_else(|| json!({}));
    if !params.is_object() {
        return Err("value: must be a JSON object".to_owned());
    }
    let env = fields
        .iter()
        .filter(|(k, _)| *k != "value")
        .map(|(k, v)| {
            let value = v.as_str().map_or(v.to_string(), str::to_owned);
            (format!("__OW_{}", k.to_ascii_uppercase()), value)
        })
        .collect();
    Ok(Invocation::Direct {
        args: Vec::new(),
        env,
        stdin: params.to_string().into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_bodies_map_to_stdin_and_ow_variables() {
        let body =
            br#"{"value": {"n": 1}, "action_name": "/guest/a", "deadline": "1700000000000"}"#;
        let (_, env, stdin) = run_request(body).unwrap().into_parts();
        assert_eq!(stdin, br#"{"n":1}"#);
        assert!(env.contains(&("__OW_ACTION_NAME".into(), "/guest/a".into())));
        assert!(env.contains(&("__OW_DEADLINE".into(), "1700000000000".into())));
        assert!(run_request(br#"{"value": 3}"#).is_err());
    }

    #[test]
    fn init_bodies_need_binary_code() {
        let ok = br#"{"value": {"code": "AGFzbQ==", "binary": true, "env": {"K": "v"}}}"#;
        let expected = InitRequest {
            wasm: b"\0asm".to_vec(),
            env: vec![("K".into(), "v".into())],
        };
        assert_eq!(init_request(ok).unwrap(), expected);
        assert!(init_request(br#"{"value": {"code": "AGFzbQ=="}}"#)
            .unwrap_err()
            .contains("binary"));
    }
}
