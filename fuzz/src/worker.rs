//! The child side: runs cases for the campaign, or minimizes one.

use crate::{single_configuration, Args};
use anyhow::{Context, Result};
use luge_fuzz::case::{self, Finding, Report};
use luge_fuzz::engines::{panic_message, CASE_THREAD_STACK};
use luge_fuzz::{generate, minimize, regression};
use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::path::Path;

/// Reads seeds from stdin, one per line, and answers each with its
/// [`Report`] as a JSON line on stdout. Replies go to a copy of stdout
/// taken first; stdout itself then points at stderr, so that nothing an
/// engine prints can be taken for a reply. Cases run on a thread with a
/// stack deep enough for every engine's guest stack.
pub fn serve(args: &Args) -> Result<()> {
    let replies = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating stdout")?;
    rustix::stdio::dup2_stdout(std::io::stderr()).context("pointing stdout at stderr")?;
    let args = args.clone();
    std::thread::Builder::new()
        .name("cases".into())
        .stack_size(CASE_THREAD_STACK)
        .spawn(move || answer(&args, std::fs::File::from(replies)))
        .context("starting the case thread")?
        .join()
        .map_err(|panic| anyhow::anyhow!("the case thread panicked: {}", panic_message(&*panic)))?
}

fn answer(args: &Args, replies: std::fs::File) -> Result<()> {
    let dir = tempfile::tempdir().context("a directory for compiled modules")?;
    let mut out = std::io::BufWriter::new(replies);
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading a seed")?;
        let seed: u64 = line
            .trim()
            .parse()
            .with_context(|| format!("seed {line:?}"))?;
        if args.abort_on_seed == Some(seed) {
            std::process::abort();
        }
        let report = run(args, seed, dir.path());
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
        out.flush()?;
    }
    Ok(())
}

/// Case `seed` under the configurations `args` gives it.
fn run(args: &Args, seed: u64, dir: &Path) -> Report {
    match generate::module(seed) {
        Ok(wasm) => case::run(seed, &wasm, &args.configurations(seed), dir),
        Err(e) => Report {
            seed,
            skipped: Some(format!("generating the module: {e:#}")),
            ..Report::default()
        },
    }
}

/// Shrinks case `--seed`'s divergence in its one configuration, saving
/// each smaller module found as a regression test (so that a minimization
/// stopped for taking too long still leaves its best); prints the file's
/// path.
pub fn minimize(args: &Args) -> Result<()> {
    let (seed, config) = single_configuration(args)?;
    let dir = tempfile::tempdir().context("a directory for compiled modules")?;
    let wasm = generate::module(seed)?;
    let report = case::run(seed, &wasm, std::slice::from_ref(&config), dir.path());
    let divergence = |f: &Finding| matches!(f, Finding::Divergence { .. });
    let Some(finding) = report.findings.into_iter().find(divergence) else {
        anyhow::bail!("case {seed} does not diverge in {}", config.name());
    };
    eprintln!(
        "minimizing case {seed} in {} ({} bytes): {finding}",
        config.name(),
        wasm.len()
    );
    let header = vec![format!("found in: {}", config.name()), finding.to_string()];
    let name = format!("{seed}-{}", config.name().replace('@', "-"));
    let regressions = args.regressions.clone();
    let path = regression::save(&regressions, &name, seed, &header, &wasm)?;
    minimize::divergence(seed, wasm, &config, &finding, dir.path(), move |small| {
        eprintln!("  {} bytes", small.len());
        regression::save(&regressions, &name, seed, &header, small).map(drop)
    })?;
    println!("{}", path.display());
    Ok(())
}
