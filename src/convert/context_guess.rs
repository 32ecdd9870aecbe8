//! A guess, without dispatching, of the context paths a build reads: the local sources of
//! COPY/ADD and the sources of `RUN --mount=type=bind` (no `from`) in the stages the target
//! needs, expanded with an empty environment.
//!
//! The context source must carry its followpaths when it is created, and dispatch only
//! learns them at the end. With this guess `convert` dispatches once and compares: when
//! the paths dispatch collected equal the guess, that pass is the result; otherwise it
//! dispatches again with the collected paths (variables in sources, ONBUILD triggers).
//! A wrong guess therefore costs time, never different output.

use std::collections::BTreeSet;

use super::stages::Graph;
use crate::dockerfile::{self, classify_add_source, shell::NoEnv, AddSourceKind, Instruction, MountType, RawMount};
use crate::paths::clean_absolute;

/// The context paths (as `/path`) the reachable stages' instructions name, for
/// `normalize_context_paths`.
pub(super) fn guess(df: &dockerfile::Dockerfile, graph: &Graph, reachable: &[bool]) -> BTreeSet<String> {
    let lexer = df.lexer();
    let mut paths = BTreeSet::new();
    let stages = graph.nodes.iter().zip(reachable).filter(|(_, r)| **r).filter_map(|(node, _)| node.stage);
    for stage in stages {
        for instruction in &df.stages[stage].instructions {
            let sources = match instruction {
                Instruction::Copy(c) if c.from.is_none() => &c.sources,
                Instruction::Add(c) => &c.sources,
                // Mounts that name another type or a `from` cannot read the context (a
                // wrong call here only costs a second dispatch).
                Instruction::Run(run) if run.mounts.iter().any(may_bind_context) => {
                    if let Ok(mounts) = run.resolve_mounts(&lexer, &NoEnv) {
                        for m in mounts.value.iter().filter(|m| m.kind == MountType::Bind && m.from.is_none()) {
                            paths.insert(clean_absolute(m.source.as_deref().unwrap_or("")));
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            for src in sources {
                let Ok(src) = lexer.process_word(src, &NoEnv) else { continue };
                if classify_add_source(&src) == AddSourceKind::Local {
                    paths.insert(clean_absolute(&src));
                }
            }
        }
    }
    paths
}

/// Whether a `--mount` value may be a bind mount of the context: no `from=` and no literal
/// `type=` other than bind.
fn may_bind_context(raw: &RawMount) -> bool {
    !raw.fields.iter().any(|f| {
        let f = f.trim();
        f.starts_with("from=") || (f.starts_with("type=") && f != "type=bind" && !f.contains('$'))
    })
}
