//! OpenWhisk's action-container protocol, on a listener of its own, so that
//! an OpenWhisk cluster can run Luge functions as the runtime of an action
//! kind: `POST /init` once with the action (`{"value": {"code": BASE64,
//! "binary": true, "main": ..., "env": {...}}}`), then `POST /run` for every
//! activation (`{"value": {...params}, "namespace": ..., "action_name":
//! ..., "activation_id": ..., "deadline": ..., ...}`): the parameters are
//! the function's stdin, the other fields `__OW_<FIELD>` variables, and its
//! stdout, a JSON object, the result.

use super::config::RouteConfig;
use super::function::{Function, Invocation};
use super::http::{Request, Response};
use super::openwhisk::{binary_code, Reply};
use super::routes::{ContainerAction, Handled, State};
use crate::cache::ModuleCache;
use luge_scheduler::worker::Scheduler;

use super::server::Requester;
use serde_json::{json, Value};
use std::sync::Arc;

impl State {
    /// Answers a request on the action-container listener.
    pub(super) fn handle_container(
        &mut self,
        requester: Requester,
        request: Request,
        scheduler: &Scheduler,
    ) -> Handled {
        match (request.head.method.as_str(), request.head.path.as_str()) {
            ("POST", "/init") => self.init(requester, &request.body),
            ("POST", "/run") => self.run(requester, &request.body, scheduler),
            _ => Handled::Now(error(
                404,
                "the action container serves POST /init and /run",
            )),
        }
    }

    fn init(&mut self, requester: Requester, body: &[u8]) -> Handled {
        if !matches!(self.container, ContainerAction::Uninitialized) {
            return Handled::Now(error(403, "cannot initialize the action more than once"));
        }
        let InitRequest { wasm, env } = match init_request(body) {
            Ok(init) => init,
            Err(e) => return Handled::Now(error(400, &e)),
        };
        self.container = ContainerAction::Initializing;
        std::thread::Builder::new()
            .name("luge-init".into())
            .spawn(move || {
                let mut config = RouteConfig::new("/run", "action.wasm".into());
                config.env = env;
                config.content_type = "application/json".to_owned();
                let cache = ModuleCache::new(ModuleCache::default_dir());
                let built = Function::from_wasm("action", config, &wasm, &cache);
                requester.complete(Box::new(move |state: &mut State| match built {
                    Ok(function) => {
                        state.container = ContainerAction::Ready(Arc::new(function));
                        Response::json(200, &json!({ "ok": true }))
                    }
                    Err(e) => {
                        state.container = ContainerAction::Uninitialized;
                        error(502, &e.to_string())
                    }
                }));
            })
            .expect("cannot start an init thread");
        Handled::Later
    }

    fn run(&mut self, requester: Requester, body: &[u8], scheduler: &Scheduler) -> Handled {
        let ContainerAction::Ready(function) = &self.container else {
            return Handled::Now(error(403, "the action has not been initialized"));
        };
        let function = function.clone();
        match run_request(body) {
            Ok(invocation) => self.invoke(
                function,
                requester,
                invocation,
                scheduler,
                Reply::ContainerRun,
            ),
            Err(e) => Handled::Now(error(400, &e)),
        }
    }
}

fn error(status: u16, reason: &str) -> Response {
    Response::json(status, &json!({ "error": reason }))
}

/// What an `/init` body carries.
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
