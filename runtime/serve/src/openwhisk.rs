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
use std::io::Write;
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
    /// `{"error": ...}`. The action's logs go to the container's stdout and
    /// stderr, each stream ended by [`LOG_SENTINEL`], before the answer
    /// leaves. The call may run for `time_limit` (its `deadline`).
    ContainerRun { time_limit: Duration },
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
    /// What takes the whole record once it is made (the activation
    /// store), whatever the answer carries.
    pub keep: KeepRecord,
}

/// What takes an activation record's JSON, on the worker that made it.
pub type KeepRecord = Box<dyn FnOnce(Vec<u8>) + Send>;

/// What OpenWhisk's messages say when an action's stdout does not end with
/// a JSON object or array.
pub const NOT_A_RESULT: &str = "The action did not return a dictionary or array.";

impl Reply {
    /// How long the call may run, where the reply rather than the function
    /// decides it.
    pub fn time_limit(&self) -> Option<Duration> {
        match self {
            Reply::ContainerRun { time_limit } => Some(*time_limit),
            _ => None,
        }
    }

    /// The answer to a call refused before it ran, with `response`.
    pub fn refused(self, response: Response) -> Response {
        match self {
            Reply::ContainerRun { .. } => {
                let reason = String::from_utf8_lossy(&response.body)
                    .trim_end()
                    .to_owned();
                end_activation_logs();
                error(response.status, &reason)
            }
            _ => response,
        }
    }

    /// The response to send for a call that ended with `invoked` after
    /// waiting `waited` for a worker, and, when the function finished but
    /// its output is no action result, why the call failed after all.
    pub fn respond(self, invoked: Invoked, waited: Duration) -> (Response, Option<String>) {
        match self {
            Reply::Http => (invoked.response, None),
            Reply::Activation(activation) => {
                let init_time = invoked.init_time;
                let run = ActionRun::judge(invoked, activation.timeout);
                (activation.respond(&run, waited, init_time), run.unfinished)
            }
            Reply::ContainerRun { time_limit } => {
                let run = ActionRun::judge(invoked, time_limit);
                run.write_logs();
                let status = if run.status == ActionStatus::DeveloperError {
                    502
                } else {
                    200
                };
                (Response::json(status, &run.result), run.unfinished)
            }
        }
    }
}

/// How OpenWhisk classes an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionStatus {
    Success,
    /// The action returned `{"error": ...}`.
    ApplicationError,
    /// The action did not produce a result: it trapped, ran out of time or
    /// printed something else.
    DeveloperError,
}

impl ActionStatus {
    fn name(self) -> &'static str {
        match self {
            ActionStatus::Success => "success",
            ActionStatus::ApplicationError => "application error",
            ActionStatus::DeveloperError => "action developer error",
        }
    }
}

/// An action's run as OpenWhisk judges it, from what the function wrote:
/// the last line of stdout is the result, a JSON object or array; the lines
/// before it and all of stderr are logs.
#[derive(Debug)]
struct ActionRun {
    result: Value,
    status: ActionStatus,
    stdout_log: Vec<u8>,
    stderr_log: Vec<u8>,
    /// Why a function that finished produced no result.
    unfinished: Option<String>,
}

impl ActionRun {
    /// Judges `invoked`, which ran within `time_limit`. How the program
    /// exited does not matter, as in OpenWhisk's native-action proxy:
    /// only what it printed.
    fn judge(invoked: Invoked, time_limit: Duration) -> ActionRun {
        let Invoked {
            response,
            output,
            outcome,
            ..
        } = invoked;
        let failure = match outcome {
            Outcome::Ok | Outcome::Exit => None,
            Outcome::Timeout => Some(format!(
                "The action exceeded its time limits of {} milliseconds.",
                time_limit.as_millis()
            )),
            _ => Some(
                String::from_utf8_lossy(&response.body)
                    .trim_end()
                    .to_owned(),
            ),
        };
        let stdout = if outcome == Outcome::Ok {
            response.body
        } else {
            output.stdout
        };
        if let Some(reason) = failure {
            return ActionRun {
                result: json!({ "error": reason }),
                status: ActionStatus::DeveloperError,
                stdout_log: stdout,
                stderr_log: output.stderr,
                unfinished: None,
            };
        }
        let (mut stdout_log, line) = split_result_line(stdout);
        let (result, status, unfinished) = match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Object(object)) if object.contains_key("error") => {
                (Value::Object(object), ActionStatus::ApplicationError, None)
            }
            Ok(result @ (Value::Object(_) | Value::Array(_))) => {
                (result, ActionStatus::Success, None)
            }
            _ => {
                // The line that is no result is kept as a log, as OpenWhisk
                // does, so that the developer sees what came instead.
                if !line.is_empty() {
                    stdout_log.extend_from_slice(&line);
                    stdout_log.push(b'\n');
                }
                let error = json!({ "error": NOT_A_RESULT });
                let reason = "no JSON object or array on the last line of stdout".to_owned();
                (error, ActionStatus::DeveloperError, Some(reason))
            }
        };
        ActionRun {
            result,
            status,
            stdout_log,
            stderr_log: output.stderr,
            unfinished,
        }
    }

    /// Writes the logs to this process's stdout and stderr, each ended by
    /// [`LOG_SENTINEL`] on a line of its own, as OpenWhisk's invoker reads
    /// an action container's logs. A log that cannot be written (a closed
    /// stream) must not stop the server.
    fn write_logs(&self) {
        let _ = write_log(&mut std::io::stdout().lock(), &self.stdout_log);
        let _ = write_log(&mut std::io::stderr().lock(), &self.stderr_log);
    }

    /// The log lines of an activation record: `TIME stdout: LINE`, stdout's
    /// first, as OpenWhisk formats them.
    fn log_lines(&self) -> Vec<String> {
        let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let lines = |stream: &str, log: &[u8]| -> Vec<String> {
            String::from_utf8_lossy(log)
                .lines()
                .map(|line| format!("{now} {stream}: {line}"))
                .collect()
        };
        let mut all = lines("stdout", &self.stdout_log);
        all.extend(lines("stderr", &self.stderr_log));
        all
    }
}

/// Splits an action's stdout into its log and its result line: the last
/// line (trimmed) and everything before it. A final newline ends the last
/// line, it does not start an empty one.
fn split_result_line(mut stdout: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let body_end = stdout.len().saturating_sub(1);
    let start = stdout[..body_end]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = stdout.split_off(start);
    (stdout, line.trim_ascii().to_vec())
}

/// Ends an activation that logged nothing: the sentinel on stdout and on
/// stderr.
pub fn end_activation_logs() {
    let _ = write_log(&mut std::io::stdout().lock(), b"");
    let _ = write_log(&mut std::io::stderr().lock(), b"");
}

/// Writes `log`, ending its last line if it is not ended, then the
/// sentinel line, and flushes.
fn write_log(out: &mut impl Write, log: &[u8]) -> std::io::Result<()> {
    out.write_all(log)?;
    if log.last().is_some_and(|&b| b != b'\n') {
        out.write_all(b"\n")?;
    }
    writeln!(out, "{LOG_SENTINEL}")?;
    out.flush()
}

impl Activation {
    fn respond(self, run: &ActionRun, waited: Duration, init_time: Duration) -> Response {
        let success = run.status == ActionStatus::Success;
        let status_code = if success { 200 } else { 502 };
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
                "status": run.status.name(),
                "statusCode": if success { 0 } else { 1 },
                "success": success,
                "result": run.result,
            },
            "logs": run.log_lines(),
            "annotations": [
                {"key": "kind", "value": "wasm:luge"},
                {"key": "waitTime", "value": waited.as_millis() as u64},
                {"key": "initTime", "value": init_time.as_millis() as u64},
                {"key": "limits", "value": {
                    "timeout": self.timeout.as_millis() as u64,
                    "memory": self.memory_mib.unwrap_or(4096),
                    "logs": 0,
                    "concurrency": 1,
                }},
            ],
            "publish": false,
        });
        let bytes = record.to_string().into_bytes();
        if self.result_only {
            (self.keep)(bytes);
            return Response::json(status_code, &run.result);
        }
        (self.keep)(bytes.clone());
        Response::new(status_code, "application/json", bytes)
    }
}

/// The record of an activation, at most `limit` bytes (and a little):
/// `record` as it is if it fits; else with its logs replaced by a line
/// that says how long the record was; else with its result replaced by
/// an error too, as OpenWhisk replaces results over its size limit. What a
/// guest printed must not decide which records a store can keep.
pub fn bounded_record(record: Vec<u8>, limit: usize) -> Vec<u8> {
    if record.len() <= limit {
        return record;
    }
    let size = record.len();
    let mut value: Value = serde_json::from_slice(&record).unwrap_or_else(|_| json!({}));
    let note = format!("the activation record was {size} bytes, more than the {limit} kept");
    value["logs"] = json!([format!("logs dropped: {note}")]);
    let trimmed = value.to_string().into_bytes();
    if trimmed.len() <= limit {
        return trimmed;
    }
    value["response"]["result"] = json!({ "error": format!("result dropped: {note}") });
    value["response"]["success"] = json!(false);
    value["response"]["status"] = json!(ActionStatus::ApplicationError.name());
    value["response"]["statusCode"] = json!(1);
    value.to_string().into_bytes()
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
/// {"kind": ..., "code": BASE64, "binary": true, "main": ...}, "limits":
/// {...}}`); the code is a `.wasm` or a zip holding one.
pub fn action_module(body: &[u8]) -> Result<ActionModule, String> {
    use base64::Engine;
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the action is not JSON: {e}"))?;
    let code = doc
        .pointer("/exec/code")
        .and_then(Value::as_str)
        .ok_or("exec.code: missing (the base64 of a .wasm, or of a zip holding one)")?;
    if doc.pointer("/exec/binary").and_then(Value::as_bool) != Some(true) {
        return Err("exec.binary: must be true (code is the base64 of a .wasm)".to_owned());
    }
    let code = base64::engine::general_purpose::STANDARD
        .decode(code.trim())
        .map_err(|e| format!("exec.code: not base64: {e}"))?;
    let main = doc
        .pointer("/exec/main")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or("main");
    Ok(ActionModule {
        wasm: crate::code::action_module(code, main, "exec.code")?,
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
        let elf = br#"{"exec": {"code": "f0VMRg==", "binary": true}}"#;
        let reason = action_module(elf).unwrap_err();
        assert!(
            reason.starts_with("exec.code is a native ELF file"),
            "{reason}"
        );
    }

    #[test]
    fn records_over_the_limit_lose_their_logs_then_their_result() {
        let record = |logs: usize, result: usize| {
            let record = json!({
                "activationId": "a1",
                "response": {"status": "success", "statusCode": 0, "success": true,
                             "result": {"out": "r".repeat(result)}},
                "logs": vec!["l".repeat(logs)],
            });
            record.to_string().into_bytes()
        };
        let small = record(10, 10);
        assert_eq!(bounded_record(small.clone(), 1000), small);
        let kept: Value = serde_json::from_slice(&bounded_record(record(5000, 10), 1000)).unwrap();
        assert_eq!(kept["response"]["result"]["out"], "r".repeat(10));
        assert!(kept["logs"][0]
            .as_str()
            .unwrap()
            .starts_with("logs dropped"));
        let huge = bounded_record(record(5000, 5000), 1000);
        assert!(huge.len() <= 1000, "{}", huge.len());
        let kept: Value = serde_json::from_slice(&huge).unwrap();
        assert_eq!(kept["activationId"], "a1");
        assert_eq!(kept["response"]["success"], false);
        let error = kept["response"]["result"]["error"].as_str().unwrap();
        assert!(error.starts_with("result dropped"), "{error}");
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
            keep: Box::new(drop),
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
