//! Marshalling a state into a `pb::Definition`: every op reachable from the state, each once,
//! inputs before the ops that read them (depth-first, inputs in `Op.inputs` order), then the
//! terminal `Op{inputs: [head]}` — the layout BuildKit's Go client produces and the daemon and
//! `buildctl build` read. Same graph in, byte-identical definition out: the op bytes are fixed
//! at creation, maps are `BTreeMap`s and the walk order only depends on the graph.

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest as _, Sha256};

use super::error::LlbError;
use super::sourcemap::SourceMap;
use super::state::{Node, State};

/// Caps BuildKit's client always puts on the terminal op.
const CAP_CONSTRAINTS: &str = "constraints";
const CAP_PLATFORM: &str = "platform";

/// Ranges of one source file an op was built from. Ops almost always have exactly one
/// (their Dockerfile lines): it is kept inline, the others in `more`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SourceLocation {
    pub(crate) map: SourceMap,
    pub(crate) first: Option<pb::Range>,
    pub(crate) more: Vec<pb::Range>,
}

impl SourceLocation {
    fn ranges(&self) -> Vec<pb::Range> {
        let mut ranges = Vec::with_capacity(usize::from(self.first.is_some()) + self.more.len());
        ranges.extend(self.first);
        ranges.extend(self.more.iter().cloned());
        ranges
    }
}

/// A marshalled LLB graph, ready for `Solve` or `buildctl build`.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    pb: pb::Definition,
}

impl Definition {
    /// The wire message (what goes into `SolveRequest.definition`).
    pub fn as_pb(&self) -> &pb::Definition {
        &self.pb
    }

    pub fn into_pb(mut self) -> pb::Definition {
        std::mem::take(&mut self.pb)
    }

    /// The encoded `Definition` — what `buildctl build` reads on stdin. Byte-identical to what
    /// BuildKit's Go client writes for the same graph (see `encode_definition`).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode_definition(&self.pb)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LlbError> {
        pb::Definition::decode(bytes)
            .map(|pb| Definition { pb })
            .map_err(LlbError::Decode)
    }

    pub fn from_pb(pb: pb::Definition) -> Self {
        Definition { pb }
    }

    /// Each op with its digest and metadata, in definition order (terminal op last).
    pub fn ops(&self) -> Result<Vec<OpEntry>, LlbError> {
        self.pb
            .def
            .iter()
            .map(|bytes| {
                let op = pb::Op::decode(bytes.as_slice()).map_err(LlbError::Decode)?;
                let digest = digest_of(bytes);
                let md = self.pb.metadata.get(&digest).cloned().unwrap_or_default();
                Ok(OpEntry {
                    digest,
                    op,
                    metadata: md,
                })
            })
            .collect()
    }

    /// Digest of the op whose output is the result (`None` for an empty definition).
    pub fn head(&self) -> Option<String> {
        let last = self.pb.def.last()?;
        let op = pb::Op::decode(last.as_slice()).ok()?;
        op.inputs.first().map(|i| i.digest.clone())
    }
}

impl Drop for Definition {
    /// Frees the source section (the Dockerfile's bytes, one large block) before the
    /// thousands of small metadata strings: glibc tidies all its recently freed small
    /// blocks whenever a large one is freed, and doing that last costs more than the
    /// rest of the drop.
    fn drop(&mut self) {
        drop(self.pb.source.take());
    }
}

/// One decoded op of a definition.
#[derive(Clone, Debug, PartialEq)]
pub struct OpEntry {
    /// `sha256:…` of the op's encoded bytes (how other ops and the metadata refer to it).
    pub digest: String,
    pub op: pb::Op,
    pub metadata: pb::OpMetadata,
}

pub(crate) fn digest_of(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let sum = Sha256::digest(bytes);
    let mut out = Vec::with_capacity(7 + 64);
    out.extend_from_slice(b"sha256:");
    for b in sum {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
    // OK to expect: only ASCII was written.
    String::from_utf8(out).expect("hex digest is ASCII")
}

impl State {
    /// Marshals this state and everything it depends on. A scratch state gives an empty
    /// definition (which BuildKit solves to an empty result).
    pub fn marshal(&self) -> Definition {
        let mut def = pb::Definition::default();
        let Some(out) = self.output() else {
            return Definition { pb: def };
        };
        let mut walk = Walk {
            seen_nodes: HashSet::default(),
            maps: Vec::new(),
            locations: BTreeMap::new(),
        };
        walk.visit(&out.node, &mut def);

        let terminal = pb::Op {
            inputs: vec![out.to_pb()],
            ..Default::default()
        };
        let bytes = terminal.encode_to_vec();
        let digest = digest_of(&bytes);
        def.def.push(bytes);
        let mut md = def.metadata.remove(&digest).unwrap_or_default();
        md.caps.insert(CAP_CONSTRAINTS.into(), true);
        md.caps.insert(CAP_PLATFORM.into(), true);
        for m in def.metadata.values() {
            if m.ignore_cache {
                md.caps.insert("meta.ignorecache".into(), true);
            }
            if !m.description.is_empty() {
                md.caps.insert("meta.description".into(), true);
            }
            if m.export_cache.is_some() {
                md.caps.insert("meta.exportcache".into(), true);
            }
        }
        def.metadata.insert(digest, md);

        // Like BuildKit's client: a source section with one (possibly empty) entry per op.
        def.source = Some(pb::Source {
            infos: walk.maps.iter().map(SourceMap::to_info).collect(),
            locations: walk.locations,
        });
        Definition { pb: def }
    }
}

struct Walk {
    seen_nodes: HashSet<*const Node, BuildHasherDefault<PtrHasher>>,
    maps: Vec<SourceMap>,
    locations: BTreeMap<String, pb::Locations>,
}

/// Hashes node addresses (distinct, aligned): a multiply is enough, SipHash is not needed.
#[derive(Default)]
struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

impl Walk {
    fn visit(&mut self, node: &std::sync::Arc<Node>, def: &mut pb::Definition) {
        if !self.seen_nodes.insert(std::sync::Arc::as_ptr(node)) {
            return;
        }
        for input in &node.inputs {
            self.visit(&input.node, def);
        }
        // Two distinct nodes can encode to the same op: one entry, merged metadata.
        let first_of_digest = match def.metadata.get_mut(&node.digest) {
            Some(md) => {
                node.metadata.merge_into(md);
                false
            }
            None => {
                let mut md = pb::OpMetadata::default();
                node.metadata.merge_into(&mut md);
                def.metadata.insert(node.digest.clone(), md);
                true
            }
        };
        let entry = self.locations.entry(node.digest.clone()).or_default();
        for loc in &node.locations {
            let index = match self.maps.iter().position(|m| *m == loc.map) {
                Some(i) => i,
                None => {
                    self.maps.push(loc.map.clone());
                    self.maps.len() - 1
                }
            };
            entry.locations.push(pb::Location {
                source_index: i32::try_from(index).unwrap_or(i32::MAX),
                ranges: loc.ranges(),
            });
        }
        if first_of_digest {
            def.def.push(node.bytes.clone());
        }
    }
}

/// Encodes like gogo-protobuf does: map entries always carry their value, even an empty
/// message (prost leaves empty values out). Both decode the same; this keeps our bytes equal
/// to the Go client's, so definitions can be compared byte for byte.
fn encode_definition(d: &pb::Definition) -> Vec<u8> {
    use prost::encoding::{bytes, message, string};
    fn map_entry<M: Message>(tag: u32, key: &str, value: &M, buf: &mut Vec<u8>) {
        let mut entry = Vec::new();
        string::encode(1, &key.to_string(), &mut entry);
        message::encode(2, value, &mut entry);
        bytes::encode(tag, &entry, buf);
    }
    let mut buf = Vec::new();
    for op in &d.def {
        bytes::encode(1, op, &mut buf);
    }
    for (digest, md) in &d.metadata {
        map_entry(2, digest, md, &mut buf);
    }
    if let Some(source) = &d.source {
        let mut inner = Vec::new();
        for (digest, locs) in &source.locations {
            map_entry(1, digest, locs, &mut inner);
        }
        for info in &source.infos {
            message::encode(2, info, &mut inner);
        }
        bytes::encode(3, &inner, &mut buf);
    }
    buf
}
