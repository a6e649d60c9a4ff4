//! DATA encoder throughput: `DataEncoder::encode` over 1 MiB bodies (typical text with
//! CRLF lines, the same with LF-only lines, and lines that all start with a dot) into a
//! fixed output buffer of 512 or 4096 bytes, then `finish`. Throughput is in input bytes.
//!
//! Run: `cargo bench -p wasm-smtp-benches --bench data_encoder`.

#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use wasm_smtp_benches::{dotted_body, text_body, Eol, MIB};
use wasm_smtp_core::data::{DataEncoder, FINISH_MAX};

/// Encode `input` whole through `out`, the way a client streams it to the socket; returns
/// the number of bytes written (so the work cannot be optimized away).
#[inline]
fn encode_all(input: &[u8], out: &mut [u8]) -> usize {
    let mut enc = DataEncoder::new();
    let mut rest = input;
    let mut total = 0;
    while !rest.is_empty() {
        let (used, n) = enc.encode(rest, out);
        // Stands in for the write to the transport.
        black_box(&out[..n]);
        total += n;
        rest = &rest[used..];
    }
    total + enc.finish(out).unwrap_or(0)
}

fn data_encoder(c: &mut Criterion) {
    let bodies = [
        ("text_crlf", text_body(MIB, Eol::Crlf)),
        ("text_lf", text_body(MIB, Eol::Lf)),
        ("dot_lines", dotted_body(MIB)),
    ];
    let mut g = c.benchmark_group("data_encoder");
    g.throughput(Throughput::Bytes(MIB as u64));
    for (name, body) in &bodies {
        for room in [512usize, 4096] {
            let mut out = vec![0u8; room.max(FINISH_MAX)];
            let written = encode_all(body, &mut out);
            assert!(written >= body.len());
            g.bench_with_input(BenchmarkId::new(*name, room), body, |b, body| {
                b.iter(|| encode_all(black_box(body), &mut out));
            });
        }
    }
    g.finish();
}

criterion_group!(benches, data_encoder);
criterion_main!(benches);
