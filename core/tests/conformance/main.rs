//! Adversarial conformance suite: hostile servers and hostile caller input, one test per
//! case, grouped by class. Each test's doc comment names the RFC section, CVE or
//! advisory the case comes from.
//!
//! Every test scripts exactly what the client may write (the mock transport fails on any
//! other byte), so `assert_done` also proves that nothing is written after a failure.
//!
//! | module | class |
//! |---|---|
//! | [`starttls`] | STARTTLS stripping, response injection, capabilities after TLS |
//! | [`greeting_ehlo`] | non-220 greetings, EHLO refusal, hostile capability lines |
//! | [`reply_grammar`] | reply codes, line framing, control bytes, unsolicited replies |
//! | [`injection`] | CR/LF/control injection through every caller input |
//! | [`data`] | SMTP smuggling shapes and body edge cases |
//! | [`auth`] | plaintext refusal, challenges, failure replies, secrets |
//! | [`connection`] | 421, end of stream and I/O errors at every stage |
//! | [`transaction`] | recipient outcomes, reuse after a failed transaction |
//!
//! Run with `cargo test -p wasm-smtp-core --test conformance`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod connection;
mod data;
mod greeting_ehlo;
mod injection;
mod reply_grammar;
mod starttls;
mod transaction;
