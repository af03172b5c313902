#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| tiermq_wire::fuzz::mechanism(bytes));
