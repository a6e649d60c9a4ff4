//! Stable fallback for `cargo fuzz run`: runs every fuzz target body (or the ones named)
//! over its corpus and then over pseudo-random inputs, for a time or iteration budget.
//!
//! ```text
//! cargo run --release --example smoke -- [--seconds N | --iterations N] [--seed N] [TARGET...]
//! ```
//!
//! Exits 1 on the first crash (the input is saved under `fuzz/artifacts/<target>/`),
//! 2 on a usage error.

use std::process::ExitCode;
use std::time::Duration;
use wasm_smtp_fuzz::smoke::{run_target, Budget};
use wasm_smtp_fuzz::TARGETS;

fn usage(msg: &str) -> ExitCode {
    eprintln!("smoke: {msg}");
    eprintln!("usage: smoke [--seconds N | --iterations N] [--seed N] [TARGET...]");
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    eprintln!("targets: {}", names.join(" "));
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut budget = Budget::Time(Duration::from_secs(20));
    let mut seed = 0x5eed_u64;
    let mut names = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> Result<u64, ExitCode> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| usage(&format!("{what} needs a number")))
        };
        match a.as_str() {
            "--seconds" => match num("--seconds") {
                Ok(n) => budget = Budget::Time(Duration::from_secs(n)),
                Err(e) => return e,
            },
            "--iterations" => match num("--iterations") {
                Ok(n) => budget = Budget::Iterations(n),
                Err(e) => return e,
            },
            "--seed" => match num("--seed") {
                Ok(n) => seed = n,
                Err(e) => return e,
            },
            "-h" | "--help" => return usage("help"),
            name if TARGETS.iter().any(|(n, _)| *n == name) => names.push(name.to_string()),
            other => return usage(&format!("unknown target or option {other:?}")),
        }
    }
    for &(name, f) in TARGETS {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        match run_target(name, f, &budget, seed) {
            Ok(report) => println!("smoke {name}: ok, {report}"),
            Err(crash) => {
                eprintln!("smoke {name}: FAILED, {crash}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
