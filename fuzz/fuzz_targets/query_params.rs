//! Fuzz target: query-string parsing (`request::Params::parse`), which sees every request's
//! raw query. It must never panic, never grow a value (a `%XX` escape shrinks to one byte, a
//! byte that is not UTF-8 becomes one U+FFFD in place of its three-byte escape), and borrow
//! every value when there is nothing to decode.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mirrorlist::answer::request::{Mode, Params};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params = Params::parse(&text);
    let _ = params.netblock_matching();
    let _ = Mode::from_path(&text);
    let values = [
        &params.repo,
        &params.arch,
        &params.path,
        &params.country,
        &params.ip,
        &params.netblock,
        &params.protocol,
    ];
    for value in values.into_iter().flatten() {
        assert!(
            value.len() <= text.len(),
            "a decoded value is longer than the query"
        );
        if !text.contains('%') {
            assert!(
                matches!(value, Cow::Borrowed(_)),
                "nothing to decode, yet a value was copied"
            );
        }
    }
});
