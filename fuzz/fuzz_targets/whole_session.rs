//! libFuzzer entry point; the checks live in `wasm_smtp_fuzz::whole_session` (fuzz/src/whole_session.rs)
//! so that the stable smoke runner (`examples/smoke.rs`) runs the very same code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasm_smtp_fuzz::whole_session(data));
