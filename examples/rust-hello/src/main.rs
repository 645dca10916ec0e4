//! rust-hello — Luge example function written in Rust.
//!
//! Reads all of stdin and prints "Hello from Rust, <stdin>!".  One trailing
//! newline is dropped; with empty input it prints "Hello from Rust, world!".

use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    if let Err(e) = io::stdin().read_to_string(&mut input) {
        eprintln!("rust-hello: cannot read stdin: {e}");
        std::process::exit(1);
    }
    let name = input.strip_suffix('\n').unwrap_or(&input);
    let name = name.strip_suffix('\r').unwrap_or(name);
    let name = if name.is_empty() { "world" } else { name };

    let mut out = io::stdout().lock();
    let _ = writeln!(out, "Hello from Rust, {name}!");
}
