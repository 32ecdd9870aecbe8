//! Any word, with both escape characters and every lexer mode: expansion never panics and
//! the split words never hold more characters than the joined word.
#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/dockerfile/mod.rs"]
mod dockerfile;

use dockerfile::shell::Lexer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(word) = std::str::from_utf8(rest) else { return };
    let env: Vec<(String, String)> = vec![
        ("A".into(), "alpha".into()),
        ("B".into(), "two words".into()),
        ("EMPTY".into(), String::new()),
        ("P".into(), "/usr/local/lib/python3.11/site-packages".into()),
    ];
    let mut lexer = Lexer::new(if mode & 1 == 0 { '\\' } else { '`' });
    lexer.raw_quotes = mode & 2 != 0;
    lexer.raw_escapes = mode & 4 != 0;
    lexer.skip_unset_env = mode & 8 != 0;
    lexer.skip_process_quotes = mode & 16 != 0;
    if let Ok(e) = lexer.process(word, &env) {
        let split: usize = e.words.iter().map(|w| w.chars().count()).sum();
        assert!(split <= e.word.chars().count());
    }
});
