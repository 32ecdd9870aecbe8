//! Merge and diff ops.

use bollard_buildkit_proto::pb;

use super::super::*;
use super::*;

#[test]
fn merge_and_diff_shapes() {
    let a = base();
    let b = a
        .file(Mkfile::new("/b", 0o644, "b"), Constraints::new())
        .unwrap();
    assert!(merge(&[], Constraints::new()).is_scratch());
    let only = merge(&[State::scratch(), b.clone()], Constraints::new());
    assert_eq!(
        only.output().unwrap().digest(),
        b.output().unwrap().digest()
    );
    let m = merge(&[a.clone(), b.clone(), a.clone()], Constraints::new());
    let op = op_of(&m);
    assert_eq!(
        op.inputs.len(),
        3,
        "merge keeps repeated inputs: order matters"
    );
    let Some(pb::op::Op::Merge(mo)) = op.op else {
        panic!()
    };
    assert_eq!(
        mo.inputs.iter().map(|i| i.input).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(caps(&m), ["mergeop"]);

    let d = diff(&a, &b, Constraints::new());
    let Some(pb::op::Op::Diff(dop)) = op_of(&d).op else {
        panic!()
    };
    assert_eq!((dop.lower.unwrap().input, dop.upper.unwrap().input), (0, 1));
    let d = diff(&a, &State::scratch(), Constraints::new());
    let Some(pb::op::Op::Diff(dop)) = op_of(&d).op else {
        panic!()
    };
    assert_eq!(
        (dop.lower.unwrap().input, dop.upper.unwrap().input),
        (0, -1)
    );
    assert_eq!(
        diff(&State::scratch(), &b, Constraints::new())
            .output()
            .unwrap()
            .digest(),
        b.output().unwrap().digest()
    );
    // Marshalling a merge visits every input once, before the merge.
    let def = m.marshal();
    assert_eq!(def.as_pb().def.len(), 4, "image, mkfile, merge, terminal");
}
