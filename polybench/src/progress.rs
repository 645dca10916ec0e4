//! Progress on stderr: one line per kernel and runtime as results come in.
//! On a terminal, a status line also shows what is running right now.

use crate::bench::Event;
use crate::kernels::Kernel;
use crate::report::{format_slowdown, format_time};
use std::io::{IsTerminal, Write};

pub struct Progress {
    total: usize,
    reps: usize,
    kernel_width: usize,
    /// stderr is a terminal: transient status lines are overwritten.
    live: bool,
}

/// Width of the runtime column: the longest name, `luge-opt-guard-simd`.
pub const RUNTIME_WIDTH: usize = 19;

impl Progress {
    pub fn new(kernels: &[Kernel], reps: usize) -> Progress {
        Progress {
            total: kernels.len(),
            reps,
            kernel_width: kernels.iter().map(|k| k.name.len()).max().unwrap_or(0),
            live: std::io::stderr().is_terminal(),
        }
    }

    /// Reports `event` of kernel number `index` (from 1).
    pub fn show(&self, index: usize, kernel: &str, event: &Event) {
        let prefix = format!(
            "[{index:>w$}/{}] {kernel:<kw$}",
            self.total,
            w = self.total.to_string().len(),
            kw = self.kernel_width
        );
        match event {
            Event::Building => self.status(&format!("{prefix}  building")),
            Event::BuildFailed(error) => self.line(&format!("{prefix}  build failed: {error:#}")),
            Event::Compiling(runtime) => {
                self.status(&format!("{prefix}  {runtime:<RUNTIME_WIDTH$}  compiling"))
            }
            Event::Checking(runtime) => self.status(&format!(
                "{prefix}  {runtime:<RUNTIME_WIDTH$}  checking output"
            )),
            Event::Rep(runtime, rep) => self.status(&format!(
                "{prefix}  {runtime:<RUNTIME_WIDTH$}  rep {rep}/{}",
                self.reps
            )),
            Event::Done(measurement, slowdown) => {
                let runtime = measurement.runtime;
                let result = match &measurement.outcome {
                    Ok(runs) => format!(
                        "{:>10}  ({})  rep {}/{}",
                        measurement.median().map_or("-".into(), format_time),
                        slowdown.map_or("n/a".into(), format_slowdown),
                        runs.len(),
                        self.reps
                    ),
                    Err(reason) => format!("fail: {reason}"),
                };
                self.line(&format!("{prefix}  {runtime:<RUNTIME_WIDTH$}  {result}"));
            }
        }
    }

    /// A line that stays.
    fn line(&self, text: &str) {
        let clear = if self.live { "\r\x1b[2K" } else { "" };
        eprintln!("{clear}{text}");
    }

    /// A line the next one replaces; shown only on a terminal.
    fn status(&self, text: &str) {
        if self.live {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }
}
