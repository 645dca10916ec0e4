//! The child side: runs cases for the campaign, or minimizes one.

use crate::{single_configuration, Args};
use anyhow::{Context, Result};
use luge_fuzz::case::{self, Report};
use luge_fuzz::{generate, minimize, regression};
use std::io::{BufRead, Write};
use std::path::Path;

/// Reads seeds from stdin, one per line, and answers each with its
/// [`Report`] as a JSON line on stdout.
pub fn serve(args: &Args) -> Result<()> {
    let dir = tempfile::tempdir().context("a directory for compiled modules")?;
    let mut out = std::io::stdout().lock();
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

/// Shrinks case `--seed`'s divergence in its one configuration and saves
/// the result as a regression test; prints the file's path.
pub fn minimize(args: &Args) -> Result<()> {
    let (seed, config) = single_configuration(args)?;
    let dir = tempfile::tempdir().context("a directory for compiled modules")?;
    let wasm = generate::module(seed)?;
    eprintln!(
        "minimizing case {seed} in {} ({} bytes)",
        config.name(),
        wasm.len()
    );
    let small = minimize::divergence(seed, wasm, &config, dir.path(), |len| {
        eprintln!("  {len} bytes")
    })?;
    let report = case::run(seed, &small, std::slice::from_ref(&config), dir.path());
    let mut header = vec![format!("found in: {}", config.name())];
    header.extend(report.findings.iter().map(|f| f.to_string()));
    let name = format!("{seed}-{}", config.name().replace('@', "-"));
    let path = regression::save(&args.regressions, &name, seed, &header, &small)?;
    println!("{}", path.display());
    Ok(())
}
