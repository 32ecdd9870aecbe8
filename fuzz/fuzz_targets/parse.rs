//! Any text: parsing never panics; a success holds stages whose lines stay inside the
//! file, and errors always carry a span and render.
#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/dockerfile/mod.rs"]
mod dockerfile;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match dockerfile::parse(text, "Dockerfile") {
        Ok(df) => {
            let lines = text.split('\n').count().max(1);
            let lexer = df.lexer();
            let env: Vec<(String, String)> = vec![("A".into(), "a b".into()), ("EMPTY".into(), String::new())];
            for stage in &df.stages {
                assert!(stage.from.source.location.end_line <= lines);
                for ins in &stage.instructions {
                    let loc = ins.location();
                    assert!(loc.start_line <= loc.end_line && loc.end_line <= lines);
                    let _ = ins.expand(&lexer, &env);
                    if let dockerfile::Instruction::Run(run) = ins {
                        let _ = run.resolve_mounts(&lexer, &env);
                    }
                }
            }
        }
        Err(e) => {
            assert!(e.span().is_some());
            let _ = e.render();
        }
    }
});
