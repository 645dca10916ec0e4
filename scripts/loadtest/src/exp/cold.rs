//! Experiment 2, cold start against concurrency (Funk, 2023): for each
//! level from 1 to `max` concurrent requests, `repeat` times: deploy a
//! fresh OpenWhisk action (a new name, so nothing of it is warm), release
//! that many blocking invocations at once, and record each activation's
//! `initTime` and `waitTime` annotations, its `duration`, and the latency
//! the client saw. The action is removed afterwards.

use crate::client::Client;
use crate::csv::{num, write_file, Table};
use crate::http::Target;
use crate::stats::mean_stddev_cv;
use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use luge_report::chart::{Labels, LineChart, Scale, Series};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct ColdArgs {
    /// The admin listener of `luge serve` (the `admin` config section).
    #[arg(long, default_value = "http://127.0.0.1:9090")]
    pub admin: String,
    /// The admin bearer token [default: $LUGE_ADMIN_TOKEN].
    #[arg(long)]
    pub token: Option<String>,
    /// The action deployed each time; its stdout must be a JSON object.
    #[arg(long, default_value = "scripts/loadtest/functions/echo.wasm")]
    pub wasm: PathBuf,
    /// Highest number of concurrent first requests.
    #[arg(long, default_value_t = 15)]
    pub max_concurrency: usize,
    /// Repetitions per level, each with a freshly deployed action.
    #[arg(long, default_value_t = 10)]
    pub repeat: usize,
    /// Seconds before a call counts as failed.
    #[arg(long, default_value_t = 30.0)]
    pub timeout: f64,
    /// Deploy the same bytes every time, so that deploys after the first
    /// hit Luge's compiled-module cache. By default each deploy carries a
    /// unique custom section, so every one compiles from scratch.
    #[arg(long)]
    pub reuse_compiled: bool,
    /// `luge serve`'s stderr, if it is written to a file: its per-call JSON
    /// lines give `init_us` and `wait_us` to the microsecond (the
    /// activation record's annotations are whole milliseconds), written to
    /// cold-server-log.csv and cold-server-log-summary.csv.
    #[arg(long)]
    pub server_log: Option<PathBuf>,
    /// Where cold.csv, cold-summary.csv and the chart go.
    #[arg(long, default_value = "target/loadtest/cold")]
    pub out: PathBuf,
}

/// One activation as measured.
#[derive(Debug, Clone, PartialEq)]
struct Activation {
    status: u16,
    init_ms: f64,
    wait_ms: f64,
    duration_ms: f64,
    total_ms: f64,
}

/// Reads `initTime`, `waitTime` and `duration` from an activation record.
fn parse_activation(body: &[u8]) -> Result<(f64, f64, f64)> {
    let record: Value = serde_json::from_slice(body).context("activation record is not JSON")?;
    let annotation = |key: &str| {
        record["annotations"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["key"] == key))
            .and_then(|x| x["value"].as_f64())
            .with_context(|| format!("activation record has no {key} annotation"))
    };
    let duration = record["duration"]
        .as_f64()
        .context("activation record has no duration")?;
    Ok((annotation("initTime")?, annotation("waitTime")?, duration))
}

/// The admin API of `luge serve`, called with its bearer token.
pub(super) struct Admin {
    pub(super) target: Target,
    pub(super) token: String,
    pub(super) timeout: Duration,
}

impl Admin {
    /// The admin token given, else `$LUGE_ADMIN_TOKEN`.
    pub(super) fn token(given: Option<String>) -> Result<String> {
        match given {
            Some(t) => Ok(t),
            None => std::env::var("LUGE_ADMIN_TOKEN")
                .context("--token not given and LUGE_ADMIN_TOKEN not set"),
        }
    }

    pub(super) fn request(&self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        let auth = format!("Bearer {}", self.token);
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.target.authority,
            body.len()
        );
        [head.as_bytes(), body].concat()
    }

    /// Sends one request on a new connection; fails unless 2xx.
    pub(super) fn call(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(Duration, Vec<u8>)> {
        let mut client = Client::new(&self.target, self.timeout);
        let (sample, body) = client.call(&self.request(method, path, body), Instant::now());
        if !sample.ok() {
            bail!(
                "{method} {path}: status {} ({})",
                sample.status,
                String::from_utf8_lossy(&body).trim()
            );
        }
        Ok((sample.latency, body))
    }
}

pub fn run(args: ColdArgs) -> Result<()> {
    ensure!(
        args.max_concurrency >= 1 && args.repeat >= 1,
        "--max-concurrency and --repeat must be >= 1"
    );
    let token = Admin::token(args.token.clone())?;
    let wasm =
        std::fs::read(&args.wasm).with_context(|| format!("reading {}", args.wasm.display()))?;
    let admin = Admin {
        target: Target::parse(&args.admin)?,
        token,
        timeout: Duration::from_secs_f64(args.timeout),
    };
    let action = |name: &str| {
        let code = if args.reuse_compiled {
            wasm.clone()
        } else {
            with_custom_section(&wasm, "luge-load-nonce", name.as_bytes())
        };
        serde_json::json!({
            "exec": {"kind": "wasm", "binary": true,
                     "code": base64::engine::general_purpose::STANDARD.encode(code)},
        })
        .to_string()
    };
    let mut rows = Table::new(&[
        "concurrency",
        "repetition",
        "request",
        "deploy_ms",
        "status",
        "init_ms",
        "wait_ms",
        "duration_ms",
        "total_ms",
    ]);
    let mut summary = Table::new(&[
        "concurrency",
        "activations",
        "failed",
        "deploy_mean_ms",
        "init_mean_ms",
        "init_sd_ms",
        "init_cv",
        "wait_mean_ms",
        "wait_sd_ms",
        "wait_cv",
        "total_mean_ms",
        "total_sd_ms",
        "total_cv",
    ]);
    let mut lines: Vec<Series> = ["deploy", "total latency", "waitTime", "initTime"]
        .iter()
        .map(|n| Series {
            name: n.to_string(),
            points: Vec::new(),
        })
        .collect();
    // The action names of each level, to find their calls in the log.
    let mut names: Vec<(usize, Vec<String>)> = Vec::new();
    for level in 1..=args.max_concurrency {
        names.push((level, Vec::new()));
        let mut level_acts = Vec::new();
        let mut deploys = Vec::new();
        for rep in 1..=args.repeat {
            let name = format!("cold-{}-{level}-{rep}", std::process::id());
            names[level - 1].1.push(name.clone());
            let action_path = format!("/api/v1/namespaces/_/actions/{name}");
            let (deploy, _) = admin.call("PUT", &action_path, action(&name).as_bytes())?;
            let invoke = admin.request("POST", &format!("{action_path}?blocking=true"), b"{}");
            let acts = invoke_at_once(&admin, &invoke, level);
            admin.call("DELETE", &format!("/functions/{name}"), b"")?;
            let deploy_ms = deploy.as_secs_f64() * 1e3;
            for (i, a) in acts.iter().enumerate() {
                rows.row(vec![
                    level.to_string(),
                    rep.to_string(),
                    i.to_string(),
                    num(deploy_ms, 3),
                    a.status.to_string(),
                    num(a.init_ms, 0),
                    num(a.wait_ms, 0),
                    num(a.duration_ms, 0),
                    num(a.total_ms, 3),
                ]);
            }
            deploys.push(deploy_ms);
            level_acts.extend(acts);
        }
        let ok: Vec<&Activation> = level_acts.iter().filter(|a| a.status == 200).collect();
        let stat = |f: fn(&Activation) -> f64| {
            mean_stddev_cv(&ok.iter().map(|a| f(a)).collect::<Vec<_>>())
        };
        let (init, wait, total) = (
            stat(|a| a.init_ms),
            stat(|a| a.wait_ms),
            stat(|a| a.total_ms),
        );
        let deploy = mean_stddev_cv(&deploys).0;
        eprintln!(
            "cold: {level:>2} concurrent x {}: deploy {deploy:.1} ms, total {:.2} ms (sd {:.2}, cv {:.2}), init {:.1} ms, wait {:.1} ms, {} failed",
            args.repeat, total.0, total.1, total.2, init.0, wait.0, level_acts.len() - ok.len()
        );
        let mut row = vec![
            level.to_string(),
            level_acts.len().to_string(),
            (level_acts.len() - ok.len()).to_string(),
            num(deploy, 3),
        ];
        for (mean, sd, cv) in [init, wait, total] {
            row.extend([num(mean, 3), num(sd, 3), num(cv, 3)]);
        }
        summary.row(row);
        for (series, v) in lines.iter_mut().zip([deploy, total.0, wait.0, init.0]) {
            series.points.push((level as f64, v));
        }
    }
    rows.write(&args.out.join("cold.csv"))?;
    if let Some(log) = &args.server_log {
        // The server writes its line after answering; give it a moment.
        std::thread::sleep(Duration::from_millis(200));
        let text =
            std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
        let (calls, summary) = server_log_tables(&text, &names);
        calls.write(&args.out.join("cold-server-log.csv"))?;
        summary.write(&args.out.join("cold-server-log-summary.csv"))?;
    }
    summary.write(&args.out.join("cold-summary.csv"))?;
    let chart = LineChart {
        labels: Labels {
            title: "Cold start: first requests to a just-deployed action".into(),
            x: "concurrent requests".into(),
            y: "mean (ms)".into(),
        },
        scale: Scale::Linear,
        series: lines,
    };
    write_file(&args.out.join("cold.svg"), chart.svg()?.as_bytes())?;
    eprintln!("cold: wrote {}", args.out.display());
    Ok(())
}

/// From `luge serve`'s JSON log lines, the calls of each level's actions
/// (wait, init, run and total in µs) and their per-level statistics.
fn server_log_tables(log: &str, levels: &[(usize, Vec<String>)]) -> (Table, Table) {
    let lines: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    let mut calls = Table::new(&[
        "concurrency",
        "function",
        "wait_us",
        "init_us",
        "run_us",
        "total_us",
    ]);
    let mut summary = Table::new(&[
        "concurrency",
        "calls",
        "init_mean_us",
        "init_sd_us",
        "init_cv",
        "wait_mean_us",
        "wait_sd_us",
        "wait_cv",
    ]);
    const FIELDS: [&str; 4] = ["wait_us", "init_us", "run_us", "total_us"];
    for (level, names) in levels {
        let (mut init, mut wait) = (Vec::new(), Vec::new());
        for line in &lines {
            let Some(function) = line["function"].as_str() else {
                continue;
            };
            if !names.iter().any(|n| n == function) {
                continue;
            }
            let v: Vec<f64> = FIELDS
                .iter()
                .map(|f| line[f].as_f64().unwrap_or(f64::NAN))
                .collect();
            wait.push(v[0]);
            init.push(v[1]);
            let mut row = vec![level.to_string(), function.to_owned()];
            row.extend(v.iter().map(|x| num(*x, 0)));
            calls.row(row);
        }
        let mut row = vec![level.to_string(), init.len().to_string()];
        for values in [&init, &wait] {
            let (mean, sd, cv) = mean_stddev_cv(values);
            row.extend([num(mean, 1), num(sd, 1), num(cv, 3)]);
        }
        summary.row(row);
    }
    (calls, summary)
}

/// `wasm` with a custom section appended: the module means the same, but
/// its bytes (and so its compile-cache key) differ.
pub(super) fn with_custom_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    fn leb128(mut v: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    leb128(content.len(), &mut out);
    out.extend_from_slice(&content);
    out
}

/// Sends `request` on `n` connections released together, and measures each.
fn invoke_at_once(admin: &Admin, request: &[u8], n: usize) -> Vec<Activation> {
    let barrier = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut client = Client::new(&admin.target, admin.timeout);
                    // Connect before the barrier so that only the call is timed.
                    let _ = client.connect();
                    barrier.wait();
                    let (sample, body) = client.call(request, Instant::now());
                    let (init_ms, wait_ms, duration_ms) =
                        parse_activation(&body).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
                    Activation {
                        status: sample.status,
                        init_ms,
                        wait_ms,
                        duration_ms,
                        total_ms: sample.latency.as_secs_f64() * 1e3,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("invoker panicked"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_records_give_init_wait_and_duration() {
        let record = br#"{"duration": 3, "annotations": [{"key": "kind", "value": "wasm:luge"},
            {"key": "waitTime", "value": 2}, {"key": "initTime", "value": 1}]}"#;
        assert_eq!(parse_activation(record).unwrap(), (1.0, 2.0, 3.0));
        assert!(parse_activation(br#"{"duration": 3, "annotations": []}"#).is_err());
        assert!(parse_activation(b"not json").is_err());
    }

    #[test]
    fn server_log_lines_are_grouped_by_level() {
        let log = r#"luge serve: 2 workers
{"function":"a","wait_us":10,"init_us":4,"run_us":1,"total_us":20}
{"function":"other","wait_us":99,"init_us":99,"run_us":1,"total_us":200}
{"function":"b","wait_us":30,"init_us":8,"run_us":1,"total_us":40}
"#;
        let levels = [
            (1, vec!["a".to_owned()]),
            (2, vec!["b".to_owned(), "c".to_owned()]),
        ];
        let (calls, summary) = server_log_tables(log, &levels);
        assert_eq!(
            calls.text(),
            "concurrency,function,wait_us,init_us,run_us,total_us\n1,a,10,4,1,20\n2,b,30,8,1,40\n"
        );
        let lines: Vec<&str> = summary.text().lines().collect();
        assert_eq!(lines[1], "1,1,4.0,0.0,0.000,10.0,0.0,0.000");
        assert_eq!(lines[2], "2,1,8.0,0.0,0.000,30.0,0.0,0.000");
    }

    #[test]
    fn custom_sections_are_appended_with_leb128_sizes() {
        let out = with_custom_section(b"\0asm\x01\0\0\0", "n", b"xy");
        assert_eq!(&out[8..], b"\x00\x04\x01nxy");
        let long = with_custom_section(b"", "n", &[7; 200]);
        // 202 bytes of content: 0xca 0x01 in LEB128.
        assert_eq!(&long[..4], b"\x00\xca\x01\x01");
        assert_eq!(long.len(), 3 + 202);
    }
}
