//! Test helpers: run `buildctl build` with a marshalled definition on stdin and read the OCI
//! tarball it exports (uncompressed layers, applied in order with whiteouts) into a map of
//! final filesystem entries, keeping every layer's raw bytes for leak checks.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bentokit::llb::Definition;

/// Where the shared daemon listens, or `None` (after a note) when it is not there.
/// With `CI=true` a missing daemon fails the test instead.
pub fn daemon() -> Option<String> {
    let addr = std::env::var("BUILDKIT_HOST")
        .unwrap_or_else(|_| "unix:///run/buildkit/buildkitd.sock".into());
    let socket_ok = addr
        .strip_prefix("unix://")
        .is_none_or(|p| Path::new(p).exists());
    let buildctl_ok = Command::new("buildctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if socket_ok && buildctl_ok {
        return Some(addr);
    }
    let why =
        format!("buildkitd at {addr} reachable: {socket_ok}, buildctl on PATH: {buildctl_ok}");
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("real-daemon test cannot run: {why}");
    }
    eprintln!("note: skipping real-daemon test ({why})");
    None
}

#[derive(Default)]
pub struct BuildOpts {
    pub locals: Vec<(String, PathBuf)>,
    pub secrets: Vec<(String, PathBuf)>,
    /// `--ssh id=socket`.
    pub ssh: Vec<(String, PathBuf)>,
}

pub struct BuildOutput {
    pub image: Image,
    /// buildctl's plain progress output.
    pub log: String,
}

/// Solves `def` and exports it as an OCI tarball; `Err` carries buildctl's output.
pub fn build(addr: &str, def: &Definition, opts: &BuildOpts) -> Result<BuildOutput, String> {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("image.tar");
    let mut cmd = Command::new("buildctl");
    cmd.args(["--addr", addr, "build", "--progress=plain", "--output"])
        .arg(format!(
            "type=oci,dest={},compression=uncompressed,force-compression=true",
            dest.display()
        ));
    for (name, path) in &opts.locals {
        cmd.arg("--local").arg(format!("{name}={}", path.display()));
    }
    for (id, path) in &opts.secrets {
        cmd.arg("--secret")
            .arg(format!("id={id},src={}", path.display()));
    }
    for (id, path) in &opts.ssh {
        cmd.arg("--ssh").arg(format!("{id}={}", path.display()));
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&def.to_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(log);
    }
    Ok(BuildOutput {
        image: Image::read(&dest),
        log,
    })
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub data: Vec<u8>,
    pub link: Option<String>,
}

pub struct Image {
    pub files: BTreeMap<String, Entry>,
    pub layers: Vec<Vec<u8>>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let mut blobs = BTreeMap::new();
        let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            blobs.insert(name, data);
        }
        let json =
            |name: &str| -> serde_json::Value { serde_json::from_slice(&blobs[name]).unwrap() };
        let blob = |digest: &str| format!("blobs/{}", digest.replacen(':', "/", 1));
        let index = json("index.json");
        let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
        let mut files = BTreeMap::new();
        let mut layers = Vec::new();
        for layer in manifest["layers"].as_array().unwrap() {
            let bytes = blobs[&blob(layer["digest"].as_str().unwrap())].clone();
            apply_layer(&mut files, &bytes);
            layers.push(bytes);
        }
        Image { files, layers }
    }

    pub fn get(&self, path: &str) -> &Entry {
        self.files
            .get(path.trim_start_matches('/'))
            .unwrap_or_else(|| panic!("{path} missing from image"))
    }

    pub fn text(&self, path: &str) -> String {
        String::from_utf8_lossy(&self.get(path).data).into_owned()
    }

    pub fn has(&self, path: &str) -> bool {
        self.files.contains_key(path.trim_start_matches('/'))
    }

    /// True when `needle` appears in any layer's bytes (content, names, anything).
    pub fn layers_contain(&self, needle: &[u8]) -> bool {
        self.layers
            .iter()
            .any(|l| l.windows(needle.len()).any(|w| w == needle))
    }
}

fn apply_layer(files: &mut BTreeMap<String, Entry>, bytes: &[u8]) {
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        let (dir, base) = path
            .rsplit_once('/')
            .map_or(("", path.as_str()), |(d, b)| (d, b));
        if base == ".wh..wh..opq" {
            let prefix = format!("{dir}/");
            files.retain(|k, _| !k.starts_with(&prefix));
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let target = if dir.is_empty() {
                hidden.to_string()
            } else {
                format!("{dir}/{hidden}")
            };
            let prefix = format!("{target}/");
            files.retain(|k, _| *k != target && !k.starts_with(&prefix));
            continue;
        }
        let header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let link = entry
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned());
        files.insert(
            path,
            Entry {
                kind: header.entry_type(),
                mode: header.mode().unwrap() & 0o7777,
                uid: header.uid().unwrap(),
                gid: header.gid().unwrap(),
                data,
                link,
            },
        );
    }
}

/// A value unlikely to exist anywhere else (cache ids, secrets), without a rand dependency.
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}-{}-{nanos}", std::process::id())
}

/// The manifest digest the local registry serves for `repo:tag` (a plain HTTP HEAD).
pub fn registry_digest(repo: &str, tag: &str) -> String {
    use std::io::BufRead;
    let mut conn =
        std::net::TcpStream::connect("127.0.0.1:5000").expect("local registry on 127.0.0.1:5000");
    let accept = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, \
                  application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
    write!(conn, "HEAD /v2/{repo}/manifests/{tag} HTTP/1.1\r\nHost: localhost:5000\r\nAccept: {accept}\r\nConnection: close\r\n\r\n").unwrap();
    let reader = std::io::BufReader::new(conn);
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("docker-content-digest") {
                return v.trim().to_string();
            }
        }
        if line.is_empty() {
            break;
        }
    }
    panic!("registry gave no digest for {repo}:{tag}");
}

/// Serves `body` to every HTTP request on a fresh localhost port (the daemon shares our
/// network namespace); returns the URL. The thread ends with the test process.
pub fn serve_http(path: &str, body: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/{path}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body);
        }
    });
    url
}
