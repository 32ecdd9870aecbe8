//! `moby.filesync.v1.FileSync/DiffCopy`: we are the fsutil *sender* for `local://NAME`
//! sources.
//!
//! In: the daemon's request (`dir-name`, include/exclude patterns, followpaths in the
//! metadata) and our named [`LocalContext`]s. Out: STAT packets in walk order, an empty
//! STAT, then DATA chunks for each REQ (files read concurrently in big chunks, never whole
//! in memory), FIN for FIN, and the end of our stream. A walk or read error becomes an ERR
//! packet; the daemon reports it through `Control.Solve`.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bollard_buildkit_proto::fsutil::types::{packet::PacketType, Packet};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::{FileSync, FileSyncServer};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::context::LocalContext;
use super::walker::{walk, Entry, Filters, WalkError};

/// Bytes per DATA packet: big enough to keep per-packet overhead negligible, well under
/// the 16 MiB message limit inside the tunnel.
pub(crate) const CHUNK: usize = 1 << 20;
/// Files read at the same time (fsutil uses 4 too).
const READERS: usize = 4;

pub(crate) const METHODS: &[&str] = &["DiffCopy", "TarStream"];

pub(crate) struct FileSyncService {
    locals: Arc<HashMap<String, LocalContext>>,
}

pub(crate) fn server(locals: Arc<HashMap<String, LocalContext>>) -> FileSyncServer<FileSyncService> {
    FileSyncServer::new(FileSyncService { locals }).max_decoding_message_size(32 << 20)
}

type Out = mpsc::Sender<Result<Packet, Status>>;

fn packet(kind: PacketType, id: u32, data: Vec<u8>) -> Result<Packet, Status> {
    Ok(Packet { r#type: kind as i32, stat: None, id, data })
}

/// Values of a (possibly repeated) request header, undoing fsutil's query escaping when
/// `<key>-encoded: 1` is set.
pub(crate) fn header_values(md: &MetadataMap, key: &str) -> Vec<String> {
    let encoded = md.get(format!("{key}-encoded").as_str()).and_then(|v| v.to_str().ok()) == Some("1");
    md.get_all(key)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| if encoded { query_unescape(v) } else { v.to_string() })
        .collect()
}

/// Go's `url.QueryUnescape` (`+` is a space); malformed escapes are kept as they are.
fn query_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(&self, request: Request<Streaming<Packet>>) -> Result<Response<Self::DiffCopyStream>, Status> {
        let md = request.metadata();
        let name = header_values(md, "dir-name").into_iter().next().unwrap_or_default();
        let Some(ctx) = self.locals.get(&name).cloned() else {
            let known: Vec<&String> = self.locals.keys().collect();
            return Err(Status::not_found(format!("no local context named {name:?} in this build (known: {known:?})")));
        };
        let filters = Filters {
            include: header_values(md, "include-patterns"),
            exclude: header_values(md, "exclude-patterns"),
            follow_paths: header_values(md, "followpaths"),
        };
        let inbound = request.into_inner();
        // Few packets in flight: each DATA packet can be a full chunk, and RSS matters.
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(send_context(ctx, filters, inbound, tx));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type TarStreamStream = tokio_stream::Empty<Result<Packet, Status>>;
    async fn tar_stream(&self, _: Request<Streaming<Packet>>) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented("FileSync/TarStream is not supported; use DiffCopy"))
    }
}

/// The whole sender side of one transfer.
async fn send_context(ctx: LocalContext, filters: Filters, mut inbound: Streaming<Packet>, out: Out) {
    let files: Arc<Mutex<HashMap<u32, PathBuf>>> = Arc::default();
    let walker = {
        let (files, out) = (files.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            let mut next_id = 0u32;
            let result = walk(&ctx, &filters, &mut |Entry { stat, file }| {
                if let Some(path) = file {
                    files.lock().unwrap_or_else(|p| p.into_inner()).insert(next_id, path);
                }
                next_id += 1;
                let p = Packet { r#type: PacketType::PacketStat as i32, stat: Some(stat), id: 0, data: Vec::new() };
                out.blocking_send(Ok(p)).map_err(|_| WalkError::Stopped)
            });
            match result {
                Ok(()) => {
                    let _ = out.blocking_send(packet(PacketType::PacketStat, 0, Vec::new()));
                }
                Err(WalkError::Stopped) => {}
                Err(e) => {
                    let _ = out.blocking_send(packet(PacketType::PacketErr, 0, e.to_string().into_bytes()));
                }
            }
        })
    };

    // Requests fan out to a few blocking readers; each sends its file's chunks in order.
    let (work_tx, work_rx) = std::sync::mpsc::channel::<(u32, PathBuf)>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (work_rx, out) = (work_rx.clone(), out.clone());
            tokio::task::spawn_blocking(move || loop {
                let job = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok((id, path)) = job else { return };
                if let Err(message) = send_file(id, &path, &out) {
                    let _ = out.blocking_send(packet(PacketType::PacketErr, id, message.into_bytes()));
                    return;
                }
            })
        })
        .collect();

    loop {
        let p = match inbound.message().await {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => break, // the daemon went away; its error reaches Control.Solve
        };
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketReq) => {
                let path = files.lock().unwrap_or_else(|e| e.into_inner()).remove(&p.id);
                let Some(path) = path else {
                    let _ = out.send(packet(PacketType::PacketErr, 0, format!("invalid file id {}", p.id).into_bytes())).await;
                    break;
                };
                if work_tx.send((p.id, path)).is_err() {
                    break;
                }
            }
            Ok(PacketType::PacketFin) => {
                // The receiver sends FIN only after it has every file: answer and end the stream.
                drop(work_tx);
                for r in readers {
                    let _ = r.await;
                }
                let _ = walker.await;
                let _ = out.send(packet(PacketType::PacketFin, 0, Vec::new())).await;
                return;
            }
            Ok(PacketType::PacketErr) => break,
            _ => {}
        }
    }
    walker.abort();
}

/// Streams one file as DATA chunks then an empty DATA. A file that vanished since the
/// walk is sent as empty, like fsutil does.
fn send_file(id: u32, path: &std::path::Path, out: &Out) -> Result<(), String> {
    if let Ok(mut file) = std::fs::File::open(path) {
        // Size each buffer to what is left (a 10 KB file must not cost a 1 MiB buffer);
        // one spare byte detects EOF without an extra read when the size is exact.
        let mut left = file.metadata().map(|m| m.len() as usize).unwrap_or(CHUNK);
        loop {
            let want = (left + 1).clamp(1, CHUNK);
            let mut buf = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                }
            }
            if filled == 0 {
                break;
            }
            buf.truncate(filled);
            out.blocking_send(packet(PacketType::PacketData, id, buf)).map_err(|_| "transfer stopped".to_string())?;
            if filled < want {
                break;
            }
            left = left.saturating_sub(filled);
        }
    }
    out.blocking_send(packet(PacketType::PacketData, id, Vec::new())).map_err(|_| "transfer stopped".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_sent_in_chunks_then_an_empty_data() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1, 10_240, CHUNK, CHUNK + 1, 2 * CHUNK + 5] {
            let path = dir.path().join(format!("f{size}"));
            std::fs::write(&path, vec![7u8; size]).unwrap();
            let (tx, mut rx) = mpsc::channel(64);
            std::thread::spawn(move || send_file(3, &path, &tx)).join().unwrap().unwrap();
            let mut sizes = Vec::new();
            while let Ok(Ok(p)) = rx.try_recv() {
                assert_eq!((p.id, p.r#type), (3, PacketType::PacketData as i32));
                sizes.push(p.data.len());
            }
            assert_eq!(sizes.last(), Some(&0), "{size}");
            assert_eq!(sizes.iter().sum::<usize>(), size);
            assert!(sizes.iter().all(|s| *s <= CHUNK));
            assert_eq!(sizes.len(), size.div_ceil(CHUNK) + 1, "{size}: {sizes:?}");
        }
    }

    #[test]
    fn unescapes_like_go() {
        assert_eq!(query_unescape("a%2Fb+c"), "a/b c");
        assert_eq!(query_unescape("%e2%82%ac"), "€");
        assert_eq!(query_unescape("bad%zz%"), "bad%zz%");
    }
}
