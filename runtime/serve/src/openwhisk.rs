//! OpenWhisk compatibility: blocking invocations answered with activation
//! records in the shape of OpenWhisk's REST API
//! (`POST /api/v1/namespaces/{ns}/actions/{name}?blocking=true`), and the
//! conventions of its actions: the parameters (a JSON object) are the
//! function's stdin, `__OW_*` variables its environment, and its stdout
//! must be a JSON object, the result.

use crate::function::{Invocation, Invoked};
use crate::http::Response;
use crate::metrics::Outcome;
use serde_json::{json, Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The line OpenWhisk's invoker waits for on an action container's stdout
/// and stderr at the end of every activation's logs.
pub const LOG_SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// An error answer in OpenWhisk's shape, `{"error": REASON}`, which the
/// admin API and the action container both use.
pub fn error(status: u16, reason: &str) -> Response {
    Response::json(status, &json!({ "error": reason }))
}

/// How the response to a function call is made.
pub enum Reply {
    /// The function's response as it is.
    Http,
    /// An activation record, or with `result_only` just the result.
    Activation(Activation),
    /// The action container's `/run` answer: the result, or 502 with
    /// `{"error": ...}`; the activation's log markers follow on stdout and
    /// stderr.
    ContainerRun,
}

/// What an activation record needs besides the call's outcome.
pub struct Activation {
    pub namespace: String,
    pub name: String,
    pub id: String,
    pub start: SystemTime,
    pub result_only: bool,
    pub timeout: Duration,
    pub memory_mib: Option<u64>,
}

impl Reply {
    /// The response to send for a call that ended with `invoked` after
    /// waiting `waited` for a worker.
    pub fn respond(self, invoked: Invoked, waited: Duration) -> Response {
        match self {
            Reply::Http => invoked.response,
            Reply::Activation(activation) => activation.respond(&invoked, waited),
            Reply::ContainerRun => {
                let (result, status) = action_result(&invoked);
                println!("{LOG_SENTINEL}");
                eprintln!("{LOG_SENTINEL}");
                Response::json(if status == "success" { 200 } else { 502 }, &result)
            }
        }
    }
}

impl Activation {
    fn respond(self, invoked: &Invoked, waited: Duration) -> Response {
        let (result, status) = action_result(invoked);
        let success = status == "success";
        if self.result_only {
            return Response::json(if success { 200 } else { 502 }, &result);
        }
        let start = millis(self.start);
        let end = millis(SystemTime::now());
        let record = json!({
            "activationId": self.id,
            "namespace": self.namespace,
            "name": self.name,
            "version": "0.0.1",
            "subject": self.namespace,
            "start": start,
            "end": end,
            "duration": end.saturating_sub(start),
            "response": {
                "status": status,
                "statusCode": if success { 0 } else { 1 },
                "success": success,
                "result": result,
            },
            "logs": [],
            "annotations": [
                {"key": "kind", "value": "wasm:luge"},
                {"key": "waitTime", "value": waited.as_millis() as u64},
                {"key": "initTime", "value": invoked.init_time.as_millis() as u64},
                {"key": "limits", "value": {
                    "timeout": self.timeout.as_millis() as u64,
                    "memory": self.memory_mib.unwrap_or(4096),
                    "logs": 0,
                    "concurrency": 1,
                }},
            ],
            "publish": false,
        });
        Response::json(if success { 200 } else { 502 }, &record)
    }
}

/// The activation's result and status (`success`, `application error`,
/// `action developer error`, as OpenWhisk names them): the function's stdout
/// when it is a JSON object and the function succeeded, an `{"error": ...}`
/// object otherwise.
fn action_result(invoked: &Invoked) -> (Value, &'static str) {
    if invoked.outcome != Outcome::Ok {
        let reason = String::from_utf8_lossy(&invoked.response.body)
            .trim_end()
            .to_owned();
        return (json!({ "error": reason }), "action developer error");
    }
    match serde_json::from_slice::<Value>(&invoked.response.body) {
        Ok(Value::Object(result)) => match result.get("error") {
            Some(_) => (Value::Object(result), "application error"),
            None => (Value::Object(result), "success"),
        },
        _ => (
            json!({ "error": "the action did not print a JSON object on stdout" }),
            "action developer error",
        ),
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// The call for an action invoked with `params` (the request body, a JSON
/// object or empty): the parameters on stdin and the `__OW_*` variables.
pub fn action_invocation(
    params: &[u8],
    activation: &Activation,
    deadline: SystemTime,
) -> Result<Invocation, String> {
    let params: Value = if params.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(params).map_err(|e| format!("the parameters are not JSON: {e}"))?
    };
    if !params.is_object() {
        return Err("the parameters must be a JSON object".to_owned());
    }
    let env = vec![
        ("__OW_NAMESPACE".to_owned(), activation.namespace.clone()),
        (
            "__OW_ACTION_NAME".to_owned(),
            format!("/{}/{}", activation.namespace, activation.name),
        ),
        ("__OW_ACTIVATION_ID".to_owned(), activation.id.clone()),
        ("__OW_DEADLINE".to_owned(), millis(deadline).to_string()),
    ];
    Ok(Invocation::Direct {
        args: Vec::new(),
        env,
        stdin: params.to_string().into_bytes(),
    })
}

/// The module in `doc[section]`: its `code`, the base64 of a `.wasm`, with
/// `binary` true (how OpenWhisk carries binary actions).
pub fn binary_code(doc: &Value, section: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let code = doc
        .pointer(&format!("/{section}/code"))
        .and_then(Value::as_str)
        .ok_or(format!("{section}.code: missing (the base64 of a .wasm)"))?;
    if doc
        .pointer(&format!("/{section}/binary"))
        .and_then(Value::as_bool)
        != Some(true)
    {
        return Err(format!(
            "{section}.binary: must be true (code is the base64 of a .wasm)"
        ));
    }
    base64::engine::general_purpose::STANDARD
        .decode(code.trim())
        .map_err(|e| format!("{section}.code: not base64: {e}"))
}

/// A fresh activation id: 32 hex digits, as OpenWhisk's are.
pub fn new_activation_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an action-create request carries.
#[derive(Debug, PartialEq, Eq)]
pub struct ActionModule {
    pub wasm: Vec<u8>,
    /// `limits.timeout`, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// `limits.memory`, in MiB.
    pub memory_mib: Option<u64>,
}

/// The module and limits of an action-create request body (`{"exec":
/// {"kind": ..., "code": BASE64, "binary": true}, "limits": {...}}`).
pub fn action_module(body: &[u8]) -> Result<ActionModule, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the action is not JSON: {e}"))?;
    Ok(ActionModule {
        wasm: binary_code(&doc, "exec")?,
        timeout_ms: doc.pointer("/limits/timeout").and_then(Value::as_u64),
        memory_mib: doc.pointer("/limits/memory").and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_bodies_are_decoded_and_checked() {
        let body = br#"{"exec": {"kind": "wasm", "code": "AGFzbQ==", "binary": true}, "limits": {"timeout": 500}}"#;
        let expected = ActionModule {
            wasm: b"\0asm".to_vec(),
            timeout_ms: Some(500),
            memory_mib: None,
        };
        assert_eq!(action_module(body).unwrap(), expected);
        let text = br#"{"exec": {"code": "AGFzbQ==", "binary": false}}"#;
        assert!(action_module(text).unwrap_err().contains("exec.binary"));
        assert!(action_module(b"{}").unwrap_err().contains("exec.code"));
    }

    #[test]
    fn parameters_must_be_an_object() {
        let activation = Activation {
            namespace: "guest".into(),
            name: "hello".into(),
            id: new_activation_id(),
            start: SystemTime::now(),
            result_only: false,
            timeout: Duration::from_secs(1),
            memory_mib: None,
        };
        let now = SystemTime::now();
        let call = action_invocation(br#"{"name": "edge"}"#, &activation, now).unwrap();
        let (_, env, stdin) = call.into_parts();
        assert_eq!(stdin, br#"{"name":"edge"}"#);
        assert!(env.contains(&("__OW_ACTION_NAME".into(), "/guest/hello".into())));
        let (_, _, empty) = action_invocation(b"", &activation, now)
            .unwrap()
            .into_parts();
        assert_eq!(empty, b"{}");
        assert!(action_invocation(b"[1]", &activation, now).is_err());
        assert_eq!(activation.id.len(), 32);
    }
}
