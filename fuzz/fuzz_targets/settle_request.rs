#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| broker_rules_fuzz::harness::settle_request(data));
