//! The fsutil *receiver*, for `local` exports: the daemon walks the result and we write it
//! into a directory.
//!
//! In: STAT packets (then an empty STAT), DATA for the files we REQ. Out: the tree under
//! `root` with modes and modification times, REQ packets, then FIN once every file is
//! complete. Paths that would escape `root` (absolute, `..`) are refused.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::{packet::PacketType, Packet, Stat};
use bytes::Bytes;
use prost::Message;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use super::context::go_mode;

type Out = mpsc::Sender<Result<Bytes, Status>>;

fn encode(kind: PacketType, id: u32) -> Result<Bytes, Status> {
    Ok(Packet { r#type: kind as i32, stat: None, id, data: Vec::new() }.encode_to_vec().into())
}

fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, String> {
    let path = Path::new(rel);
    if rel.is_empty() || path.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!("refusing export path {rel:?}: it is not a plain relative path"));
    }
    Ok(root.join(path))
}

struct OpenFile {
    file: tokio::fs::File,
    path: PathBuf,
    stat: Stat,
}

/// Receives one tree into `root`. Errors are sent to the daemon as ERR packets; they
/// also end our stream, so `Control.Solve` fails and the temporary is discarded.
pub(crate) async fn receive_tree(root: PathBuf, mut inbound: Streaming<Bytes>, out: Out) {
    if let Err(message) = run(&root, &mut inbound, &out).await {
        let p = Packet { r#type: PacketType::PacketErr as i32, stat: None, id: 0, data: message.clone().into_bytes() };
        let _ = out.send(Ok(p.encode_to_vec().into())).await;
        let _ = out.send(Err(Status::internal(message))).await;
    }
}

async fn run(root: &Path, inbound: &mut Streaming<Bytes>, out: &Out) -> Result<(), String> {
    let mut next_id = 0u32;
    let mut wanted: HashMap<u32, (PathBuf, Stat)> = HashMap::new();
    let mut open: HashMap<u32, OpenFile> = HashMap::new();
    let mut dirs: Vec<(PathBuf, Stat)> = Vec::new();
    let mut stats_done = false;
    let mut fin_sent = false;
    loop {
        if stats_done && wanted.is_empty() && open.is_empty() && !fin_sent {
            out.send(encode(PacketType::PacketFin, 0)).await.map_err(|_| "export stream closed")?;
            fin_sent = true;
        }
        let raw = match inbound.message().await {
            Ok(Some(raw)) => raw,
            Ok(None) if fin_sent => break,
            Ok(None) => return Err("the daemon ended the export before sending every file".into()),
            Err(status) => return Err(format!("export stream failed: {}", status.message())),
        };
        let p = Packet::decode(raw).map_err(|e| format!("bad export packet: {e}"))?;
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketStat) => {
                let Some(stat) = p.stat else {
                    stats_done = true;
                    continue;
                };
                let id = next_id;
                next_id += 1;
                let path = safe_join(root, &stat.path)?;
                let io = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
                if stat.mode & go_mode::DIR != 0 {
                    tokio::fs::create_dir_all(&path).await.map_err(io)?;
                    dirs.push((path, stat));
                } else if stat.mode & go_mode::SYMLINK != 0 {
                    tokio::fs::symlink(&stat.linkname, &path).await.map_err(io)?;
                } else if stat.mode & go_mode::TYPE != 0 {
                    // Devices, pipes: not representable for an unprivileged export; skipped.
                } else if !stat.linkname.is_empty() {
                    let target = safe_join(root, &stat.linkname)?;
                    tokio::fs::hard_link(&target, &path).await.map_err(io)?;
                } else {
                    wanted.insert(id, (path, stat));
                    out.send(encode(PacketType::PacketReq, id)).await.map_err(|_| "export stream closed")?;
                }
            }
            Ok(PacketType::PacketData) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = open.entry(p.id) {
                    let (path, stat) = wanted.remove(&p.id).ok_or_else(|| format!("data for unknown file id {}", p.id))?;
                    let file = tokio::fs::File::create(&path).await.map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                    slot.insert(OpenFile { file, path, stat });
                }
                if p.data.is_empty() {
                    let mut f = open.remove(&p.id).expect("inserted above"); // OK because of the check above
                    f.file.flush().await.map_err(|e| format!("cannot write {}: {e}", f.path.display()))?;
                    drop(f.file);
                    finish_entry(&f.path, &f.stat)?;
                } else {
                    let f = open.get_mut(&p.id).expect("inserted above"); // OK because of the check above
                    f.file.write_all(&p.data).await.map_err(|e| format!("cannot write {}: {e}", f.path.display()))?;
                }
            }
            Ok(PacketType::PacketFin) => {}
            Ok(PacketType::PacketErr) => return Err(format!("daemon error: {}", String::from_utf8_lossy(&p.data))),
            _ => {}
        }
    }
    // Directories last, deepest first, so writing children does not disturb their times.
    for (path, stat) in dirs.iter().rev() {
        finish_entry(path, stat)?;
    }
    Ok(())
}

/// Applies permission bits and the modification time.
fn finish_entry(path: &Path, stat: &Stat) -> Result<(), String> {
    let mut perm = stat.mode & 0o777;
    if stat.mode & go_mode::SETUID != 0 {
        perm |= 0o4000;
    }
    if stat.mode & go_mode::SETGID != 0 {
        perm |= 0o2000;
    }
    if stat.mode & go_mode::STICKY != 0 {
        perm |= 0o1000;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(perm))
        .map_err(|e| format!("cannot set mode of {}: {e}", path.display()))?;
    let secs = stat.mod_time.div_euclid(1_000_000_000);
    let nanos = stat.mod_time.rem_euclid(1_000_000_000);
    let time = libc::timespec { tv_sec: secs as libc::time_t, tv_nsec: nanos as _ };
    let times = [time, time];
    let Ok(cpath) = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str())) else {
        return Ok(());
    };
    // SAFETY: cpath is NUL-terminated and `times` holds the two timespecs utimensat reads.
    unsafe { libc::utimensat(libc::AT_FDCWD, cpath.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escaping_paths() {
        let root = Path::new("/tmp/x");
        assert!(safe_join(root, "a/b").is_ok());
        for bad in ["../a", "/etc/passwd", "a/../../b", ""] {
            assert!(safe_join(root, bad).is_err(), "{bad}");
        }
    }
}
