//! Reply parser throughput: `ReplyParser::step` over a single-line reply, a 12-line EHLO
//! reply and a long stream of replies; a session's connect exchange over the greeting and
//! the EHLO reply (line framing, capability folding, the dialogue's checks). Throughput
//! is in input bytes.
//!
//! Run: `cargo bench -p wasm-smtp-benches --bench reply_parser`.

// Benchmarks are binaries: an unexpected input is a bug worth stopping on.
#![allow(clippy::expect_used, clippy::panic, missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use wasm_smtp_benches::{
    count_lines, reply_stream, EHLO_REPLY, GREETING, LINES_PER_TRANSACTION,
    REPLIES_PER_TRANSACTION, SINGLE_LINE_REPLY,
};
use wasm_smtp_core::reply::{ReplyParser, Step, DEFAULT_MAX_LINES};
use wasm_smtp_core::{Config, Session, Want};

/// Transactions in the long stream: 1000 x 10 replies, 25 000 lines, 791 000 bytes.
const STREAM_TRANSACTIONS: usize = 1000;

/// Step through every line of `input`; returns the number of lines (checked by the
/// caller through `black_box`).
#[inline]
fn parse_all(parser: &mut ReplyParser, input: &[u8]) -> usize {
    let mut pos = 0;
    let mut lines = 0;
    while let Ok(Step::Line { consumed, line, .. }) = parser.step(&input[pos..]) {
        black_box(&line);
        pos += consumed;
        lines += 1;
    }
    lines
}

fn reply_parser(c: &mut Criterion) {
    let stream = reply_stream(STREAM_TRANSACTIONS);
    assert_eq!(
        count_lines(&stream),
        Some((
            STREAM_TRANSACTIONS * LINES_PER_TRANSACTION,
            STREAM_TRANSACTIONS * REPLIES_PER_TRANSACTION
        ))
    );

    let mut g = c.benchmark_group("reply_parser");

    g.throughput(Throughput::Bytes(SINGLE_LINE_REPLY.len() as u64));
    g.bench_function("single_line", |b| {
        let mut parser = ReplyParser::new(512, DEFAULT_MAX_LINES);
        b.iter(|| parse_all(&mut parser, black_box(SINGLE_LINE_REPLY)));
    });

    g.throughput(Throughput::Bytes(EHLO_REPLY.len() as u64));
    g.bench_function("ehlo_12_lines", |b| {
        let mut parser = ReplyParser::new(512, DEFAULT_MAX_LINES);
        b.iter(|| parse_all(&mut parser, black_box(EHLO_REPLY)));
    });

    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("stream_10k_replies", |b| {
        let mut parser = ReplyParser::new(512, DEFAULT_MAX_LINES);
        b.iter(|| parse_all(&mut parser, black_box(&stream)));
    });

    // The session on top: frames the greeting and the same EHLO reply, folds each line
    // into the capability set and applies the replies (the connect exchange of a new
    // session; the input copies are setup, not measured).
    fn connect(s: &mut Session, greeting: &mut [u8], ehlo: &mut [u8]) -> usize {
        let mut ex = s.connect("client.example.com").expect("connect starts");
        let mut tx = [0u8; 64];
        let mut used = ex.receive(greeting).consumed;
        black_box(ex.transmit(&mut tx));
        used += ex.receive(ehlo).consumed;
        assert_eq!(ex.want(), Want::Done);
        used
    }
    {
        let mut s = Session::new(Config::new(), 512, 512, true);
        let used = connect(&mut s, &mut GREETING.to_vec(), &mut EHLO_REPLY.to_vec());
        assert_eq!(used, GREETING.len() + EHLO_REPLY.len());
        assert_eq!(s.capabilities().size_limit(), Some(35_882_577));
    }
    g.throughput(Throughput::Bytes(
        (GREETING.len() + EHLO_REPLY.len()) as u64,
    ));
    g.bench_function("session_connect_replies", |b| {
        b.iter_batched_ref(
            || {
                let s = Session::new(Config::new(), 512, 512, true);
                (s, GREETING.to_vec(), EHLO_REPLY.to_vec())
            },
            |(s, greeting, ehlo)| black_box(connect(s, greeting, ehlo)),
            BatchSize::SmallInput,
        );
    });

    g.finish();
}

criterion_group!(benches, reply_parser);
criterion_main!(benches);
