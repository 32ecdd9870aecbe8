//! Merge and diff ops: layering independent filesystems (`COPY --link`-style graphs) and
//! taking the changes between two states. Scratch inputs are dropped or short-circuited the
//! way BuildKit's client does, so no op is emitted when it would be a no-op.

use bollard_buildkit_proto::pb;

use super::state::{Constraints, InputList, Node, Output, State};

/// Layers `inputs` in order (later ones win). Scratch inputs are skipped; with one input left
/// that input is returned as is, with none the result is scratch. The result keeps the meta of
/// the first non-scratch input.
pub fn merge(inputs: &[State], c: Constraints) -> State {
    let present: Vec<&State> = inputs.iter().filter(|s| !s.is_scratch()).collect();
    match present.as_slice() {
        [] => return State::scratch(),
        [only] => return (*only).clone(),
        _ => {}
    }
    let mut c = c;
    c.add_cap("mergeop");
    let mut list = InputList::default();
    let mut merge_inputs = Vec::new();
    for st in &present {
        // Not deduplicated: merging a state twice is meaningful for ordering.
        let out = st.output().cloned();
        let index = list.pb.len() as i64;
        list.push_unique_slot(out.as_ref());
        merge_inputs.push(pb::MergeInput { input: index });
    }
    let op = pb::Op {
        inputs: std::mem::take(&mut list.pb),
        platform: None,
        constraints: Some(pb::WorkerConstraints {
            filter: c.worker_filters.clone(),
        }),
        op: Some(pb::op::Op::Merge(pb::MergeOp {
            inputs: merge_inputs,
        })),
    };
    let node = Node::new(op, list, c);
    present[0].with_output(Some(Output { node, index: 0 }))
}

/// The changes that turn `lower` into `upper`, as a filesystem of their own. A scratch lower
/// gives `upper` itself; both scratch gives scratch.
pub fn diff(lower: &State, upper: &State, c: Constraints) -> State {
    if lower.is_scratch() {
        return if upper.is_scratch() {
            State::scratch()
        } else {
            upper.clone()
        };
    }
    let mut c = c;
    c.add_cap("diffop");
    let mut list = InputList::default();
    let mut slot = |s: &State| match s.output() {
        Some(o) => {
            let index = list.pb.len() as i64;
            list.push_unique_slot(Some(o));
            index
        }
        None => -1,
    };
    let lower_index = slot(lower);
    let upper_index = slot(upper);
    let op = pb::Op {
        inputs: std::mem::take(&mut list.pb),
        platform: None,
        constraints: Some(pb::WorkerConstraints {
            filter: c.worker_filters.clone(),
        }),
        op: Some(pb::op::Op::Diff(pb::DiffOp {
            lower: Some(pb::LowerDiffInput { input: lower_index }),
            upper: Some(pb::UpperDiffInput { input: upper_index }),
        })),
    };
    let node = Node::new(op, list, c);
    lower.with_output(Some(Output { node, index: 0 }))
}
