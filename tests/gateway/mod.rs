//! Shared helpers for the real-daemon tests: finding buildkitd, hand-built LLB (digests =
//! sha256 of the encoded op; the llb module will replace this), and unpacking OCI
//! tarballs with the system `tar`.
#![allow(dead_code)]

pub mod auth_registry;
pub mod private_daemon;

use std::collections::BTreeMap as HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use bentokit::solve::{connect, ConnectOptions, Connection};
use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest, Sha256};

pub const BASE_IMAGE: &str = "localhost:5000/base:latest";

/// Connects to the daemon (`BUILDKIT_HOST` or the default socket). `None` (with a note)
/// when it is missing, unless `CI=true`, where a missing daemon fails the test.
pub async fn daemon() -> Option<Connection> {
    let addr = std::env::var("BUILDKIT_HOST").ok().or_else(|| Some("unix:///run/buildkit/buildkitd.sock".into()));
    match connect(&ConnectOptions { addr, ..Default::default() }).await {
        Ok(c) => Some(c),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => panic!("buildkitd is required in CI: {e}"),
        Err(e) => {
            eprintln!("note: skipping, no buildkitd: {e}");
            None
        }
    }
}

pub fn amd64() -> pb::Platform {
    pb::Platform { os: "linux".into(), architecture: "amd64".into(), ..Default::default() }
}

pub fn platform(arch: &str) -> pb::Platform {
    pb::Platform { os: "linux".into(), architecture: arch.into(), ..Default::default() }
}

/// A definition under construction: ops in dependency order.
#[derive(Default)]
pub struct Llb {
    ops: Vec<Vec<u8>>,
}

/// An op's output: (digest, output index).
#[derive(Clone)]
pub struct Out(pub String, pub i64);

impl Llb {
    pub fn add(&mut self, op: pb::Op) -> Out {
        let bytes = op.encode_to_vec();
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if !self.ops.contains(&bytes) {
            self.ops.push(bytes);
        }
        Out(digest, 0)
    }

    pub fn image(&mut self, reference: &str, platform: &pb::Platform) -> Out {
        self.add(pb::Op {
            platform: Some(platform.clone()),
            op: Some(pb::op::Op::Source(pb::SourceOp { identifier: format!("docker-image://{reference}"), attrs: HashMap::new() })),
            ..Default::default()
        })
    }

    pub fn local(&mut self, name: &str, session: &str, attrs: &[(&str, &str)]) -> Out {
        let mut a: HashMap<String, String> = attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        a.insert("local.session".into(), session.into());
        a.insert("local.sharedkeyhint".into(), name.into());
        self.add(pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp { identifier: format!("local://{name}"), attrs: a })),
            ..Default::default()
        })
    }

    /// Copies `src` of `from` to `dest` on top of `onto` (None = scratch).
    pub fn copy(&mut self, onto: Option<&Out>, from: &Out, src: &str, dest: &str, platform: &pb::Platform) -> Out {
        let mut inputs = Vec::new();
        let base = match onto {
            Some(o) => {
                inputs.push(pb::Input { digest: o.0.clone(), index: o.1 });
                0
            }
            None => -1,
        };
        inputs.push(pb::Input { digest: from.0.clone(), index: from.1 });
        let copy = pb::FileActionCopy {
            src: src.into(),
            dest: dest.into(),
            mode: -1,
            follow_symlink: false,
            dir_copy_contents: true,
            create_dest_path: true,
            allow_wildcard: true,
            allow_empty_wildcard: true,
            timestamp: -1,
            ..Default::default()
        };
        let action = pb::FileAction { input: base, secondary_input: inputs.len() as i64 - 1, output: 0, action: Some(pb::file_action::Action::Copy(copy)) };
        self.add(pb::Op { inputs, platform: Some(platform.clone()), op: Some(pb::op::Op::File(pb::FileOp { actions: vec![action] })), ..Default::default() })
    }

    /// Writes a file on top of `onto` (None = scratch).
    pub fn mkfile(&mut self, onto: Option<&Out>, path: &str, data: &[u8], platform: &pb::Platform) -> Out {
        let inputs: Vec<pb::Input> = onto.map(|o| pb::Input { digest: o.0.clone(), index: o.1 }).into_iter().collect();
        let action = pb::FileAction {
            input: if onto.is_some() { 0 } else { -1 },
            secondary_input: -1,
            output: 0,
            action: Some(pb::file_action::Action::Mkfile(pb::FileActionMkFile { path: path.into(), mode: 0o644, data: data.to_vec(), owner: None, timestamp: -1 })),
        };
        self.add(pb::Op { inputs, platform: Some(platform.clone()), op: Some(pb::op::Op::File(pb::FileOp { actions: vec![action] })), ..Default::default() })
    }

    /// `sh -c script` on `rootfs` with extra mounts (sorted by dest here).
    pub fn exec(&mut self, rootfs: &Out, script: &str, extra: Vec<(Option<&Out>, pb::Mount)>, platform: &pb::Platform) -> Out {
        let mut inputs = vec![pb::Input { digest: rootfs.0.clone(), index: rootfs.1 }];
        let mut mounts = vec![pb::Mount { input: 0, dest: "/".into(), output: 0, ..Default::default() }];
        let mut extra = extra;
        extra.sort_by(|a, b| a.1.dest.cmp(&b.1.dest));
        for (input, mut m) in extra {
            m.input = match input {
                Some(o) => {
                    inputs.push(pb::Input { digest: o.0.clone(), index: o.1 });
                    inputs.len() as i64 - 1
                }
                None => -1,
            };
            if m.output == 0 {
                m.output = -1;
            }
            mounts.push(m);
        }
        let meta = pb::Meta {
            args: vec!["/bin/sh".into(), "-c".into(), script.into()],
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cwd: "/".into(),
            ..Default::default()
        };
        self.add(pb::Op {
            inputs,
            platform: Some(platform.clone()),
            op: Some(pb::op::Op::Exec(pb::ExecOp { meta: Some(meta), mounts, ..Default::default() })),
            ..Default::default()
        })
    }

    pub fn definition(&self, result: &Out) -> pb::Definition {
        let mut def = self.ops.clone();
        def.push(pb::Op { inputs: vec![pb::Input { digest: result.0.clone(), index: result.1 }], ..Default::default() }.encode_to_vec());
        pb::Definition { def, ..Default::default() }
    }
}

pub fn secret_mount(id: &str, dest: &str) -> pb::Mount {
    pb::Mount {
        dest: dest.into(),
        output: -1,
        mount_type: pb::MountType::Secret as i32,
        secret_opt: Some(pb::SecretOpt { id: id.into(), uid: 0, gid: 0, mode: 0o400, optional: false }),
        ..Default::default()
    }
}

pub fn cache_mount(id: &str, dest: &str) -> pb::Mount {
    pb::Mount {
        dest: dest.into(),
        output: -1,
        mount_type: pb::MountType::Cache as i32,
        cache_opt: Some(pb::CacheOpt { id: id.into(), sharing: pb::CacheSharingOpt::Shared as i32 }),
        ..Default::default()
    }
}

/// An image config JSON for `platform` with ENV/USER/ENTRYPOINT.
pub fn image_config(platform: &pb::Platform, env: &[&str], user: &str, entrypoint: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": { "Env": env, "User": user, "Entrypoint": entrypoint, "WorkingDir": "/" },
        "rootfs": { "type": "layers", "diff_ids": [] },
    }))
    .unwrap()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An unpacked OCI layout.
pub struct OciLayout {
    pub dir: PathBuf,
}

impl OciLayout {
    pub fn unpack(tarball: &Path, into: &Path) -> OciLayout {
        std::fs::create_dir_all(into).unwrap();
        run(Command::new("tar").arg("-xf").arg(tarball).arg("-C").arg(into));
        OciLayout { dir: into.to_path_buf() }
    }

    pub fn blob(&self, digest: &str) -> Vec<u8> {
        let (algo, hex) = digest.split_once(':').unwrap();
        std::fs::read(self.dir.join("blobs").join(algo).join(hex)).unwrap()
    }

    pub fn json(&self, digest: &str) -> serde_json::Value {
        serde_json::from_slice(&self.blob(digest)).unwrap()
    }

    pub fn index(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap()).unwrap()
    }

    /// Manifests reachable from index.json (through a nested index when there is one).
    pub fn manifests(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        let mut todo: Vec<serde_json::Value> = self.index()["manifests"].as_array().unwrap().clone();
        while let Some(desc) = todo.pop() {
            let doc = self.json(desc["digest"].as_str().unwrap());
            if doc.get("manifests").is_some() {
                todo.extend(doc["manifests"].as_array().unwrap().iter().cloned());
            } else if doc.get("layers").is_some() {
                out.push(doc);
            }
        }
        out
    }

    /// Extracts every layer of `manifest` into `rootfs` (in order).
    pub fn rootfs(&self, manifest: &serde_json::Value, rootfs: &Path) {
        std::fs::create_dir_all(rootfs).unwrap();
        for layer in manifest["layers"].as_array().unwrap() {
            let (algo, hex) = layer["digest"].as_str().unwrap().split_once(':').unwrap();
            let path = self.dir.join("blobs").join(algo).join(hex);
            run(Command::new("tar").arg("-xf").arg(&path).arg("-C").arg(rootfs).arg("--no-same-owner"));
        }
    }

    /// Every blob, decompressed when it is gzip (for "no trace of X" checks).
    pub fn all_blob_bytes(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for entry in walk_files(&self.dir) {
            let raw = std::fs::read(&entry).unwrap();
            if raw.starts_with(&[0x1f, 0x8b]) {
                out.push(Command::new("gzip").arg("-dc").arg(&entry).output().unwrap().stdout);
            }
            out.push(raw);
        }
        out
    }
}

/// Every file under `dir`. Entries that vanish while it walks (a live daemon's state
/// directory) are skipped.
pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        match std::fs::symlink_metadata(&p) {
            Ok(meta) if meta.is_dir() => out.extend(walk_files(&p)),
            Ok(_) => out.push(p),
            Err(_) => {}
        }
    }
    out
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A unique string for cache busting and names.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}{}", std::process::id(), std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}
