//! libFuzzer entry point; the checks live in `wasm_smtp_fuzz::command_encoding` (fuzz/src/command_encoding.rs)
//! so that the stable smoke runner (`examples/smoke.rs`) runs the very same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_smtp_fuzz::command_encoding(data));
