//! A stable-toolchain stand-in for libFuzzer: runs a target over its corpus directory,
//! then over inputs from a fixed-seed xorshift generator (random bytes, sequences of
//! dictionary tokens, and mutations and splices of corpus entries).
//!
//! It has no coverage feedback, so it finds far less than `cargo fuzz`, but it needs no
//! nightly toolchain and no cargo-fuzz, it is deterministic for a given seed and
//! iteration count, and it runs exactly the same checks (the functions in the crate root).

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The fuzz directory (where `corpus/`, `artifacts/` and `smtp.dict` live).
pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// xorshift64* generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced by a fixed non-zero value).
    pub fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }
}

/// Parse a libFuzzer dictionary: lines `name="value"` or `"value"`, with `\\`, `\"` and
/// `\xNN` escapes; `#` comments.
pub fn parse_dict(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (Some(start), Some(end)) = (line.find('"'), line.rfind('"')) else {
            continue;
        };
        if end <= start {
            continue;
        }
        let raw = &line.as_bytes()[start + 1..end];
        let mut v = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'\\' && i + 1 < raw.len() {
                if raw[i + 1] == b'x' && i + 3 < raw.len() {
                    let hex = std::str::from_utf8(&raw[i + 2..i + 4]).unwrap_or("");
                    if let Ok(b) = u8::from_str_radix(hex, 16) {
                        v.push(b);
                        i += 4;
                        continue;
                    }
                }
                v.push(raw[i + 1]);
                i += 2;
            } else {
                v.push(raw[i]);
                i += 1;
            }
        }
        out.push(v);
    }
    out
}

/// Check the named seeds of `target` (files `seed-<name>` in its corpus): `run` gives
/// each seed's log, and the log must contain what `expected` says for its name (a
/// name with no expectation fails). Returns how many seeds were checked.
pub fn check_seeds(
    target: &str,
    run: impl Fn(&[u8]) -> Vec<String>,
    expected: impl Fn(&str) -> Option<&'static str>,
) -> usize {
    let seeds = read_corpus(&fuzz_dir().join("corpus").join(target))
        .unwrap_or_else(|e| panic!("corpus of {target}: {e}"));
    let mut seen = 0;
    for (path, data) in seeds {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(name) = name.strip_prefix("seed-") else {
            continue;
        };
        let log = run(&data).join("; ");
        let Some(expected) = expected(name) else {
            panic!("no expectation for seed {name}: {log}");
        };
        assert!(log.contains(expected), "seed {name}: {log}");
        seen += 1;
    }
    seen
}

/// Every file of `dir` (none if it does not exist), sorted by name.
pub fn read_corpus(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.is_file() {
            let data = std::fs::read(&path)?;
            out.push((path, data));
        }
    }
    out.sort();
    Ok(out)
}

const MAX_LEN: usize = 4096;

/// One generated input.
pub fn generate(rng: &mut Rng, corpus: &[Vec<u8>], dict: &[Vec<u8>]) -> Vec<u8> {
    let mut v = match rng.below(4) {
        // Random bytes, short.
        0 => (0..rng.below(64)).map(|_| rng.byte()).collect(),
        // A header byte, then dictionary tokens with the odd random byte.
        1 => {
            let mut v = vec![rng.byte()];
            for _ in 0..rng.below(48) {
                if !dict.is_empty() && rng.below(4) != 0 {
                    v.extend_from_slice(&dict[rng.below(dict.len())]);
                } else {
                    v.push(rng.byte());
                }
            }
            v
        }
        // A corpus entry, or a splice of two.
        _ if !corpus.is_empty() => {
            let a = &corpus[rng.below(corpus.len())];
            if rng.below(3) == 0 {
                let b = &corpus[rng.below(corpus.len())];
                let (i, j) = (rng.below(a.len() + 1), rng.below(b.len() + 1));
                let mut v = a[..i].to_vec();
                v.extend_from_slice(&b[j..]);
                v
            } else {
                a.clone()
            }
        }
        _ => Vec::new(),
    };
    // Then a few mutations.
    for _ in 0..rng.below(6) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.byte();
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = rng.below(len + 1);
                let b = [b'\r', b'\n', b'.', b'-', b' ', 0, b'2', b'5'][rng.below(8)];
                v.insert(i, b);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below((len - i).min(16) + 1);
                v.drain(i..i + n);
            }
            4 if !dict.is_empty() => {
                let i = rng.below(len + 1);
                let tok = &dict[rng.below(dict.len())];
                v.splice(i..i, tok.iter().copied());
            }
            5 if len > 0 => {
                // Duplicate a range (long lines, many lines).
                let i = rng.below(len);
                let n = rng.below((len - i).min(64) + 1);
                let piece = v[i..i + n].to_vec();
                for _ in 0..rng.below(16) {
                    v.splice(i..i, piece.iter().copied());
                }
            }
            6 if len > 0 => {
                // Change the header byte (the split/room configuration).
                v[0] = rng.byte();
            }
            _ => {}
        }
    }
    v.truncate(MAX_LEN);
    v
}

/// How long to run each target.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// Generated inputs (after the corpus).
    Iterations(u64),
    /// Wall time (corpus included).
    Time(Duration),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Corpus files run.
    pub corpus: usize,
    /// Inputs run in all (corpus included).
    pub execs: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} execs ({} corpus files) in {:.1} s, {:.0} exec/s",
            self.execs,
            self.corpus,
            secs,
            self.execs as f64 / secs.max(1e-9)
        )
    }
}

/// A failing input, saved under `artifacts/<target>/`.
#[derive(Debug)]
pub struct Crash {
    /// Where the input was written (if it could be).
    pub path: Option<PathBuf>,
    /// The input.
    pub input: Vec<u8>,
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "crash on input {:?}",
            String::from_utf8_lossy(&self.input)
        )?;
        if let Some(p) = &self.path {
            write!(f, " (saved to {})", p.display())?;
        }
        Ok(())
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn run_one(name: &str, f: fn(&[u8]), input: &[u8]) -> Result<(), Crash> {
    if catch_unwind(AssertUnwindSafe(|| f(input))).is_ok() {
        return Ok(());
    }
    let dir = fuzz_dir().join("artifacts").join(name);
    let path = dir.join(format!("smoke-crash-{:016x}", fnv1a(input)));
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, input))
        .is_ok();
    Err(Crash {
        path: saved.then_some(path),
        input: input.to_vec(),
    })
}

/// Run target `name` (body `f`) over `corpus/<name>/*`, then over generated inputs until
/// `budget` is spent. `seed` picks the generated inputs.
pub fn run_target(name: &str, f: fn(&[u8]), budget: &Budget, seed: u64) -> Result<Report, Crash> {
    let start = Instant::now();
    let dir = fuzz_dir();
    let corpus: Vec<Vec<u8>> = read_corpus(&dir.join("corpus").join(name))
        .unwrap_or_default()
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let dict = std::fs::read_to_string(dir.join("smtp.dict"))
        .map(|t| parse_dict(&t))
        .unwrap_or_default();
    let mut execs = 0u64;
    run_one(name, f, &[])?;
    execs += 1;
    for input in &corpus {
        run_one(name, f, input)?;
        execs += 1;
    }
    let mut rng = Rng::new(seed ^ fnv1a(name.as_bytes()));
    let mut generated = 0u64;
    loop {
        match *budget {
            Budget::Iterations(n) if generated >= n => break,
            Budget::Time(t) if generated.is_multiple_of(256) && start.elapsed() >= t => break,
            _ => {}
        }
        let input = generate(&mut rng, &corpus, &dict);
        run_one(name, f, &input)?;
        generated += 1;
        execs += 1;
    }
    Ok(Report {
        corpus: corpus.len(),
        execs,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_escapes() {
        let d = parse_dict("# c\ncrlf=\"\\x0d\\x0a\"\n\"250-\"\nq=\"a\\\"b\\\\\"\n");
        assert_eq!(
            d,
            vec![b"\r\n".to_vec(), b"250-".to_vec(), b"a\"b\\".to_vec()]
        );
    }

    #[test]
    fn dict_file_parses() {
        let text = std::fs::read_to_string(fuzz_dir().join("smtp.dict")).unwrap();
        let d = parse_dict(&text);
        assert!(d.len() > 20);
        assert!(d.contains(&b"\r\n".to_vec()));
        assert!(d.contains(&b"250-".to_vec()));
    }

    #[test]
    fn generator_is_deterministic() {
        let a: Vec<_> = {
            let mut r = Rng::new(7);
            (0..50)
                .map(|_| generate(&mut r, &[b"250 OK\r\n".to_vec()], &[b"\r\n".to_vec()]))
                .collect()
        };
        let mut r = Rng::new(7);
        for x in a {
            assert_eq!(
                generate(&mut r, &[b"250 OK\r\n".to_vec()], &[b"\r\n".to_vec()]),
                x
            );
        }
    }
}
