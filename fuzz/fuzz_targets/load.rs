//! The loader on arbitrary bytes: parse, validate the image, decode every frame (a few at most)
//! and sum it. Any panic, or an allocation the header talks it into, is a finding; in a run,
//! `pipeline::process` would turn the panic into an error row, but it should not happen at all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tbs_batch::decode;
use tbs_batch::engine::cpu;

/// `--max-pixels` for the fuzzer: a quarter of a million pixels, half an iDXA image.
const MAX_PIXELS: u64 = 1 << 18;

/// Frames decoded per input: enough to reach multi-frame code, few enough to stay fast.
const FRAMES: u32 = 4;

fuzz_target!(|bytes: &[u8]| {
    let Ok(file) = decode::parse(bytes, MAX_PIXELS * 2) else {
        return;
    };
    // A run refuses images over its pixel cap before decoding them (pipeline::process); a smaller
    // cap here reaches the same code while keeping each execution fast.
    let Ok(geometry) = file.geometry() else {
        return;
    };
    if geometry.pixels() > MAX_PIXELS {
        return;
    }
    for index in 0..geometry.frames.min(FRAMES) {
        if let Ok(frame) = file.frame(&geometry, index) {
            let _ = cpu::whole_frame(&frame, 4);
        }
    }
});
