//! The stage graph: what each stage is built on (an image, an earlier stage, scratch or a
//! named context), which stages and images its instructions read from (`COPY --from`,
//! `RUN --mount=from=`), which of them the target needs, and their vertex-name prefixes.

use std::collections::{BTreeMap, HashMap};

use super::error::ConvertError;
use crate::dockerfile::{Dockerfile, Instruction, Location};
use crate::llb;

/// What a node starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Base {
    /// An image reference, expanded but not yet normalised.
    Image(String),
    /// An earlier node.
    Stage(usize),
    Scratch,
    /// A `--build-context name=…` given on the command line.
    Context(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `Some(i)` for `df.stages[i]`; `None` for an image only named by `--from`.
    pub stage: Option<usize>,
    pub base: Base,
    /// `FROM --platform=…`, parsed.
    pub platform: Option<llb::Platform>,
    /// The name shown in vertex prefixes (`base-container`, `stage-1`); empty when the
    /// Dockerfile has a single node, as BuildKit prints `[1/3]` then.
    pub display_name: String,
    /// Nodes this one reads from, with the instruction that does.
    pub deps: Vec<(usize, Location)>,
    pub location: Location,
    /// How many numbered steps the node has (`[name i/total]`).
    pub cmd_total: usize,
}

pub(crate) struct Graph {
    pub nodes: Vec<Node>,
    pub target: usize,
    /// Implicit image nodes by the `--from` text that named them.
    images_by_from: HashMap<String, usize>,
    names: BTreeMap<String, usize>,
}

const SCRATCH: &str = "scratch";

impl Graph {
    /// Builds the graph. `expanded_from[i]` is stage i's FROM with the global ARGs expanded:
    /// `(base, platform)`.
    pub(crate) fn build(
        df: &Dockerfile,
        expanded_from: &[(String, Option<llb::Platform>)],
        named_contexts: &dyn Fn(&str) -> bool,
        target: Option<&str>,
    ) -> Result<Graph, ConvertError> {
        let mut g = Graph { nodes: Vec::new(), target: 0, images_by_from: HashMap::new(), names: BTreeMap::new() };
        if df.stages.is_empty() {
            return Err(ConvertError::new("the Dockerfile has no FROM instruction: every build needs at least one stage"));
        }
        for (i, stage) in df.stages.iter().enumerate() {
            let (base_text, platform) = &expanded_from[i];
            // Like BuildKit: a FROM names an earlier stage only when it matches exactly.
            let base = if let Some(&j) = g.names.get(base_text.as_str()) {
                Base::Stage(j)
            } else if base_text.eq_ignore_ascii_case(SCRATCH) {
                Base::Scratch
            } else if named_contexts(base_text) {
                Base::Context(base_text.clone())
            } else {
                Base::Image(base_text.clone())
            };
            let steps = stage
                .instructions
                .iter()
                .filter(|i| matches!(i, Instruction::Add(_) | Instruction::Copy(_) | Instruction::Run(_) | Instruction::Workdir(_)))
                .count();
            let cmd_total = steps + usize::from(matches!(base, Base::Image(_)));
            g.nodes.push(Node {
                stage: Some(i),
                base,
                platform: platform.clone(),
                display_name: stage.display_name(),
                deps: Vec::new(),
                location: stage.from.source.location,
                cmd_total,
            });
            if let Some(name) = &stage.name {
                g.names.insert(name.clone(), i);
            }
        }
        for (i, stage) in df.stages.iter().enumerate() {
            for instruction in &stage.instructions {
                let location = instruction.location();
                let froms: Vec<(String, bool)> = match instruction {
                    Instruction::Copy(c) => c.from.iter().map(|f| (f.clone(), true)).collect(),
                    Instruction::Run(r) => r.mounts.iter().filter_map(|m| mount_from(&m.fields)).map(|f| (f, false)).collect(),
                    _ => Vec::new(),
                };
                for (from, index_allowed) in froms {
                    let dep = g.resolve_from(&from, index_allowed, named_contexts, location).map_err(|e| e.at(df, location))?;
                    g.nodes[i].deps.push((dep, location));
                }
            }
        }
        if g.nodes.len() == 1 {
            g.nodes[0].display_name.clear();
        }
        g.target = match target {
            None | Some("") => df.stages.len() - 1,
            Some(t) => *g
                .names
                .get(&t.to_ascii_lowercase())
                .ok_or_else(|| ConvertError::new(format!("target stage {t:?} could not be found")))?,
        };
        g.check_cycles(df)?;
        Ok(g)
    }

    /// The node a `--from` value names: a stage by name, a stage by index (COPY only),
    /// or an image (a new implicit node per distinct value).
    fn resolve_from(&mut self, from: &str, index_allowed: bool, named_contexts: &dyn Fn(&str) -> bool, location: Location) -> Result<usize, ConvertError> {
        if let Some(&i) = self.names.get(&from.to_ascii_lowercase()) {
            return Ok(i);
        }
        if index_allowed {
            if let Ok(index) = from.parse::<i64>() {
                return usize::try_from(index)
                    .ok()
                    .filter(|&i| i < self.stage_count())
                    .ok_or_else(|| ConvertError::new(format!("invalid stage index {index}")));
            }
        }
        if let Some(&i) = self.images_by_from.get(from) {
            return Ok(i);
        }
        let base = if from.eq_ignore_ascii_case(SCRATCH) {
            Base::Scratch
        } else if named_contexts(from) {
            Base::Context(from.to_string())
        } else {
            Base::Image(from.to_string())
        };
        self.nodes.push(Node {
            stage: None,
            base,
            platform: None,
            display_name: String::new(),
            deps: Vec::new(),
            location,
            cmd_total: 0,
        });
        let i = self.nodes.len() - 1;
        self.images_by_from.insert(from.to_string(), i);
        Ok(i)
    }

    fn stage_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.stage.is_some()).count()
    }

    /// The node a `--from` value resolved to while building the graph.
    pub(crate) fn lookup_from(&self, from: &str) -> Option<usize> {
        self.names
            .get(&from.to_ascii_lowercase())
            .copied()
            .or_else(|| self.images_by_from.get(from).copied())
            .or_else(|| from.parse::<usize>().ok().filter(|&i| i < self.stage_count()))
    }

    /// Every node the target needs (itself, its bases and dependencies), as a mask.
    pub(crate) fn reachable(&self) -> Vec<bool> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![self.target];
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            if let Base::Stage(b) = self.nodes[n].base {
                stack.push(b);
            }
            stack.extend(self.nodes[n].deps.iter().map(|(d, _)| *d));
        }
        seen
    }

    fn check_cycles(&self, df: &Dockerfile) -> Result<(), ConvertError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        fn visit(g: &Graph, n: usize, marks: &mut [Mark]) -> Option<Location> {
            marks[n] = Mark::OnPath;
            let base = match g.nodes[n].base {
                Base::Stage(b) => Some((b, g.nodes[n].location)),
                _ => None,
            };
            for (dep, loc) in g.nodes[n].deps.iter().copied().chain(base) {
                match marks[dep] {
                    Mark::OnPath => return Some(loc),
                    Mark::New => {
                        if let Some(l) = visit(g, dep, marks) {
                            return Some(l);
                        }
                    }
                    Mark::Done => {}
                }
            }
            marks[n] = Mark::Done;
            None
        }
        let mut marks = vec![Mark::New; self.nodes.len()];
        for n in 0..self.nodes.len() {
            if marks[n] == Mark::New {
                if let Some(loc) = visit(self, n, &mut marks) {
                    let name = &self.nodes[n].display_name;
                    return Err(ConvertError::new(format!("circular dependency detected on stage: {name}")).at(df, loc));
                }
            }
        }
        Ok(())
    }
}

/// The `from=` value of a raw `--mount` (never expanded, as in BuildKit).
fn mount_from(fields: &[String]) -> Option<String> {
    fields.iter().find_map(|f| {
        let (k, v) = f.split_once('=')?;
        k.eq_ignore_ascii_case("from").then(|| v.to_string()).filter(|v| !v.is_empty())
    })
}
