//! OCI image tarballs → their root filesystem and image config, for comparing two builds.
//!
//! In: the bytes of an `--output type=oci` tarball. Out: every path of the unpacked image
//! (layers applied in order, OCI whiteouts honoured) with its type, mode, owner and a
//! digest of its contents or its link target — never mtimes — plus the config JSON.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use sha2::{Digest, Sha256};

/// One path of the unpacked root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: char,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// sha256 of a file's contents, a symlink's target, empty for directories.
    pub content: String,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:o} {}:{} {}", self.kind, self.mode, self.uid, self.gid, self.content)
    }
}

pub struct Image {
    pub fs: BTreeMap<String, Entry>,
    pub config: serde_json::Value,
}

fn blob<'a>(files: &'a HashMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    files.get(&format!("blobs/sha256/{hex}")).unwrap_or_else(|| panic!("blob {digest} missing")).as_slice()
}

/// Reads an OCI layout tarball into its root filesystem and config.
pub fn read_oci(bytes: &[u8]) -> Image {
    let mut files = HashMap::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().trim_start_matches("./").to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let mut desc = index["manifests"][0].clone();
    loop {
        let doc: serde_json::Value = serde_json::from_slice(blob(&files, desc["digest"].as_str().unwrap())).unwrap();
        if doc.get("manifests").is_some() {
            desc = doc["manifests"][0].clone();
            continue;
        }
        let config: serde_json::Value = serde_json::from_slice(blob(&files, doc["config"]["digest"].as_str().unwrap())).unwrap();
        let mut fs = BTreeMap::new();
        for layer in doc["layers"].as_array().cloned().unwrap_or_default() {
            apply_layer(&mut fs, blob(&files, layer["digest"].as_str().unwrap()));
        }
        return Image { fs, config };
    }
}

fn clean(path: &str) -> String {
    path.trim_start_matches("./").trim_start_matches('/').trim_end_matches('/').to_string()
}

fn remove_tree(fs: &mut BTreeMap<String, Entry>, path: &str, keep_self: bool) {
    let prefix = if path.is_empty() { String::new() } else { format!("{path}/") };
    fs.retain(|p, _| !(p.starts_with(&prefix) || (!keep_self && p == path)));
}

fn apply_layer(fs: &mut BTreeMap<String, Entry>, compressed: &[u8]) {
    let mut raw = Vec::new();
    if compressed.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(compressed).read_to_end(&mut raw).unwrap();
    } else {
        raw = compressed.to_vec();
    }
    // Whiteouts hide the lower layers only: apply them before this layer's own entries.
    let mut additions = Vec::new();
    let mut archive = tar::Archive::new(raw.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = clean(&entry.path().unwrap().to_string_lossy());
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            remove_tree(fs, &dir, true);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = if dir.is_empty() { hidden.to_string() } else { format!("{dir}/{hidden}") };
            remove_tree(fs, &target, false);
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let link = entry.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        additions.push((path, header, kind, link, data));
    }
    for (path, header, kind, link, data) in additions {
        if path.is_empty() {
            continue;
        }
        let mode = header.mode().unwrap() & 0o7777;
        let (uid, gid) = (header.uid().unwrap(), header.gid().unwrap());
        let entry = match kind {
            tar::EntryType::Directory => Entry { kind: 'd', mode, uid, gid, content: String::new() },
            tar::EntryType::Symlink => Entry { kind: 'l', mode: 0, uid, gid, content: link.unwrap_or_default() },
            tar::EntryType::Link => {
                let target = clean(&link.unwrap_or_default());
                match fs.get(&target) {
                    Some(t) => t.clone(),
                    None => Entry { kind: 'h', mode, uid, gid, content: target },
                }
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                Entry { kind: 'f', mode, uid, gid, content: hex::encode(Sha256::digest(&data)) }
            }
            other => Entry { kind: 'o', mode, uid, gid, content: format!("{other:?}") },
        };
        if entry.kind != 'd' {
            remove_tree(fs, &path, true);
        }
        fs.insert(path, entry);
    }
}

/// The differences between two root filesystems, one line each.
pub fn diff_fs(left: &BTreeMap<String, Entry>, right: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, l) in left {
        match right.get(path) {
            None => out.push(format!("only in ours: /{path} ({l})")),
            Some(r) if r != l => out.push(format!("/{path}: ours {l} ≠ frontend {r}")),
            _ => {}
        }
    }
    for (path, r) in right {
        if !left.contains_key(path) {
            out.push(format!("only in frontend: /{path} ({r})"));
        }
    }
    out
}

/// The config fields compared between bentokit and the frontend.
pub const CONFIG_FIELDS: &[&str] = &[
    "Env", "User", "WorkingDir", "Entrypoint", "Cmd", "ExposedPorts", "Volumes", "Labels", "StopSignal", "Healthcheck",
    "Shell", "OnBuild",
];

fn normalized(v: Option<&serde_json::Value>) -> serde_json::Value {
    match v {
        None | Some(serde_json::Value::Null) => serde_json::Value::Null,
        Some(serde_json::Value::String(s)) if s.is_empty() => serde_json::Value::Null,
        Some(serde_json::Value::Array(a)) if a.is_empty() => serde_json::Value::Null,
        Some(serde_json::Value::Object(o)) if o.is_empty() => serde_json::Value::Null,
        Some(v) => v.clone(),
    }
}

pub fn diff_config(ours: &serde_json::Value, frontend: &serde_json::Value) -> Vec<String> {
    let (o, f) = (&ours["config"], &frontend["config"]);
    CONFIG_FIELDS
        .iter()
        .filter_map(|k| {
            let (a, b) = (normalized(o.get(*k)), normalized(f.get(*k)));
            (a != b).then(|| format!("config {k}: ours {a} ≠ frontend {b}"))
        })
        .collect()
}

/// The image history (created_by, empty_layer): what `docker history` shows.
pub fn diff_history(ours: &serde_json::Value, frontend: &serde_json::Value) -> Vec<String> {
    let pick = |v: &serde_json::Value| -> Vec<(String, bool)> {
        v["history"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|h| (h["created_by"].as_str().unwrap_or("").to_string(), h["empty_layer"].as_bool().unwrap_or(false)))
            .collect()
    };
    let (a, b) = (pick(ours), pick(frontend));
    if a == b {
        return vec![];
    }
    let mut out = vec![format!("history: {} entries ≠ frontend {}", a.len(), b.len())];
    for i in 0..a.len().max(b.len()) {
        if a.get(i) != b.get(i) {
            out.push(format!("history[{i}]: ours {:?} ≠ frontend {:?}", a.get(i), b.get(i)));
        }
    }
    out
}
