//! Unit tests: each builder feature produces the expected `pb` message.

mod combine;
mod exec;
mod file;
mod marshal;
mod sources;

use bollard_buildkit_proto::pb;
use prost::Message;

use super::*;

pub(super) fn op_of(st: &State) -> pb::Op {
    pb::Op::decode(st.output().expect("not scratch").node.bytes.as_slice()).unwrap()
}

pub(super) fn exec_of(st: &State) -> pb::ExecOp {
    match op_of(st).op {
        Some(pb::op::Op::Exec(e)) => e,
        other => panic!("not an exec: {other:?}"),
    }
}

pub(super) fn source_of(st: &State) -> pb::SourceOp {
    match op_of(st).op {
        Some(pb::op::Op::Source(s)) => s,
        other => panic!("not a source: {other:?}"),
    }
}

pub(super) fn actions_of(st: &State) -> Vec<pb::FileAction> {
    match op_of(st).op {
        Some(pb::op::Op::File(f)) => f.actions,
        other => panic!("not a file op: {other:?}"),
    }
}

pub(super) fn caps(st: &State) -> Vec<String> {
    st.output()
        .unwrap()
        .node
        .metadata
        .cap_names()
}

pub(super) fn base() -> State {
    Image::new("localhost:5000/base:latest").finish().unwrap()
}

pub(super) const DIGEST: &str =
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
