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
use futures_util::FutureExt;
use tokio::sync::mpsc;
use futures_util::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::context::LocalContext;
use super::walker::{walk, Entry, Filters, WalkError};

/// Bytes per DATA packet: big enough to keep per-packet overhead negligible, well under
/// the 16 MiB message limit inside the tunnel.
pub(crate) const CHUNK: usize = 256 << 10;
/// Files read at the same time (fsutil uses 4 too).
const READERS: usize = 4;
/// A batch of packets is handed to the stream once it holds this much file data...
const BATCH_BYTES: usize = CHUNK;
/// ...or this many packets (STATs of a walk, requests that arrived together).
const BATCH_PACKETS: usize = 256;

pub(crate) const METHODS: &[&str] = &["DiffCopy", "TarStream"];

pub(crate) struct FileSyncService {
    locals: Arc<HashMap<String, LocalContext>>,
}

pub(crate) fn server(locals: Arc<HashMap<String, LocalContext>>) -> FileSyncServer<FileSyncService> {
    FileSyncServer::new(FileSyncService { locals }).max_decoding_message_size(32 << 20)
}

type Out = mpsc::Sender<Vec<Packet>>;

fn packet(kind: PacketType, id: u32, data: Vec<u8>) -> Packet {
    Packet { r#type: kind as i32, stat: None, id, data }
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

/// What the sender streams: packets in batches, so that a walk of 10,000 entries or a run of
/// small files costs a few channel hand-offs (thread wake-ups), not one per packet.
type PacketStream = std::pin::Pin<Box<dyn futures_core::Stream<Item = Result<Packet, Status>> + Send>>;

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = PacketStream;

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
        // Few batches in flight: each holds up to BATCH_BYTES of file data, and RSS matters.
        let (tx, rx) = mpsc::channel::<Vec<Packet>>(2);
        tokio::spawn(send_context(ctx, filters, inbound, tx));
        let packets = ReceiverStream::new(rx).flat_map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok)));
        Ok(Response::new(Box::pin(packets)))
    }

    type TarStreamStream = tokio_stream::Empty<Result<Packet, Status>>;
    async fn tar_stream(&self, _: Request<Streaming<Packet>>) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented("FileSync/TarStream is not supported; use DiffCopy"))
    }
}

/// Packets collected for one hand-off to the stream.
struct Batch<'a> {
    out: &'a Out,
    packets: Vec<Packet>,
    bytes: usize,
}

impl<'a> Batch<'a> {
    fn new(out: &'a Out) -> Self {
        Batch { out, packets: Vec::new(), bytes: 0 }
    }

    /// Adds a packet, handing the batch over once it is big enough.
    fn push(&mut self, packet: Packet) -> Result<(), Stopped> {
        // 64: a rough per-packet overhead, so a run of empty packets also fills a batch.
        self.bytes += packet.data.len() + 64;
        self.packets.push(packet);
        if self.bytes >= BATCH_BYTES || self.packets.len() >= BATCH_PACKETS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.packets.is_empty() {
            return Ok(());
        }
        self.bytes = 0;
        self.out.blocking_send(std::mem::take(&mut self.packets)).map_err(|_| Stopped)
    }
}

/// The daemon stopped reading.
struct Stopped;

/// The whole sender side of one transfer.
async fn send_context(ctx: LocalContext, filters: Filters, mut inbound: Streaming<Packet>, out: Out) {
    // Requestable files by id: the path and the size the walk saw.
    let files: Arc<Mutex<HashMap<u32, (PathBuf, i64)>>> = Arc::default();
    let walker = {
        let (files, out) = (files.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            let mut next_id = 0u32;
            let mut batch = Batch::new(&out);
            let result = walk(&ctx, &filters, &mut |Entry { stat, file }| {
                if let Some(path) = file {
                    files.lock().unwrap_or_else(|p| p.into_inner()).insert(next_id, (path, stat.size));
                }
                next_id += 1;
                let p = Packet { r#type: PacketType::PacketStat as i32, stat: Some(stat), id: 0, data: Vec::new() };
                batch.push(p).map_err(|Stopped| WalkError::Stopped)
            });
            let last = match result {
                Ok(()) => packet(PacketType::PacketStat, 0, Vec::new()),
                Err(WalkError::Stopped) => return,
                Err(e) => packet(PacketType::PacketErr, 0, e.to_string().into_bytes()),
            };
            if batch.push(last).is_ok() {
                let _ = batch.flush();
            }
        })
    };

    // Requests fan out to a few blocking readers; each sends its files' chunks in order.
    // The requests that arrived together go to one reader as one job.
    let (work_tx, work_rx) = std::sync::mpsc::channel::<Vec<(u32, PathBuf)>>();
    let work_rx = Arc::new(Mutex::new(work_rx));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (work_rx, out) = (work_rx.clone(), out.clone());
            tokio::task::spawn_blocking(move || loop {
                let job = work_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                let Ok(job) = job else { return };
                let mut batch = Batch::new(&out);
                for (id, path) in job {
                    match send_file(id, &path, &mut batch) {
                        Ok(()) => {}
                        Err(SendError::Stopped) => return,
                        Err(SendError::Read(message)) => {
                            let _ = batch.push(packet(PacketType::PacketErr, id, message.into_bytes()));
                            let _ = batch.flush();
                            return;
                        }
                    }
                }
                if batch.flush().is_err() {
                    return;
                }
            })
        })
        .collect();

    let mut next = inbound.message().await;
    'serve: loop {
        let p = match next {
            Ok(Some(p)) => p,
            Ok(None) | Err(_) => break, // the daemon went away; its error reaches Control.Solve
        };
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketReq) => {
                // The requests already here (taken without waiting) make one job.
                let mut job = Vec::new();
                let mut req = Some(p);
                let mut following = None;
                while let Some(p) = req.take() {
                    let file = files.lock().unwrap_or_else(|e| e.into_inner()).remove(&p.id);
                    let Some((path, size)) = file else {
                        let bad = packet(PacketType::PacketErr, 0, format!("invalid file id {}", p.id).into_bytes());
                        let _ = out.send(vec![bad]).await;
                        break 'serve;
                    };
                    // A big file is a job of its own, so big files are read in parallel.
                    let sent = if size > CHUNK as i64 {
                        work_tx.send(vec![(p.id, path)])
                    } else {
                        job.push((p.id, path));
                        if job.len() >= BATCH_PACKETS { work_tx.send(std::mem::take(&mut job)) } else { Ok(()) }
                    };
                    if sent.is_err() {
                        break 'serve;
                    }
                    match inbound.message().now_or_never() {
                        Some(Ok(Some(p))) if p.r#type == PacketType::PacketReq as i32 => req = Some(p),
                        Some(other) => following = Some(other),
                        None => {}
                    }
                }
                if !job.is_empty() && work_tx.send(job).is_err() {
                    break;
                }
                next = match following {
                    Some(m) => m,
                    None => inbound.message().await,
                };
                continue;
            }
            Ok(PacketType::PacketFin) => {
                // The receiver sends FIN only after it has every file: answer and end the stream.
                drop(work_tx);
                for r in readers {
                    let _ = r.await;
                }
                let _ = walker.await;
                let _ = out.send(vec![packet(PacketType::PacketFin, 0, Vec::new())]).await;
                return;
            }
            Ok(PacketType::PacketErr) => break,
            _ => {}
        }
        next = inbound.message().await;
    }
    walker.abort();
}

enum SendError {
    Stopped,
    Read(String),
}

impl From<Stopped> for SendError {
    fn from(_: Stopped) -> Self {
        SendError::Stopped
    }
}

/// Queues one file as DATA chunks then an empty DATA. A file that vanished since the walk
/// is sent as empty, like fsutil does.
fn send_file(id: u32, path: &std::path::Path, batch: &mut Batch<'_>) -> Result<(), SendError> {
    if let Ok(mut file) = std::fs::File::open(path) {
        // Size each buffer to what is left (a 10 KB file must not cost a full chunk);
        // one spare byte detects EOF without an extra read when the size is exact.
        let mut left = file.metadata().map(|m| m.len() as usize).unwrap_or(CHUNK);
        loop {
            let want = (left + 1).clamp(1, CHUNK);
            // Read into spare capacity: no zeroing of a buffer the file overwrites anyway.
            let mut buf = Vec::with_capacity(want);
            let filled = (&mut file)
                .take(want as u64)
                .read_to_end(&mut buf)
                .map_err(|e| SendError::Read(format!("cannot read {}: {e}", path.display())))?;
            if filled == 0 {
                break;
            }
            batch.push(packet(PacketType::PacketData, id, buf))?;
            if filled < want {
                break;
            }
            left = left.saturating_sub(filled);
        }
    }
    Ok(batch.push(packet(PacketType::PacketData, id, Vec::new()))?)
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
            std::thread::spawn(move || {
                let mut batch = Batch::new(&tx);
                assert!(send_file(3, &path, &mut batch).is_ok());
                assert!(batch.flush().is_ok());
            })
            .join()
            .unwrap();
            let mut sizes = Vec::new();
            while let Ok(batch) = rx.try_recv() {
                assert!(batch.iter().map(|p| p.data.len()).sum::<usize>() <= BATCH_BYTES + CHUNK);
                for p in batch {
                    assert_eq!((p.id, p.r#type), (3, PacketType::PacketData as i32));
                    sizes.push(p.data.len());
                }
            }
            assert_eq!(sizes.last(), Some(&0), "{size}");
            assert_eq!(sizes.iter().sum::<usize>(), size);
            assert!(sizes.iter().all(|s| *s <= CHUNK));
            assert_eq!(sizes.len(), size.div_ceil(CHUNK) + 1, "{size}: {sizes:?}");
        }
    }

    #[test]
    fn small_files_share_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = (0..100)
            .map(|i| {
                let p = dir.path().join(format!("f{i}"));
                std::fs::write(&p, vec![1u8; 1000]).unwrap();
                p
            })
            .collect();
        let (tx, mut rx) = mpsc::channel(64);
        std::thread::spawn(move || {
            let mut batch = Batch::new(&tx);
            for (i, p) in paths.iter().enumerate() {
                assert!(send_file(i as u32, p, &mut batch).is_ok());
            }
            assert!(batch.flush().is_ok());
        })
        .join()
        .unwrap();
        let batches: Vec<Vec<Packet>> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 200, "a DATA and an empty DATA per file");
        assert!(batches.len() <= 2, "100 small files in {} hand-offs", batches.len());
    }

    #[test]
    fn unescapes_like_go() {
        assert_eq!(query_unescape("a%2Fb+c"), "a/b c");
        assert_eq!(query_unescape("%e2%82%ac"), "€");
        assert_eq!(query_unescape("bad%zz%"), "bad%zz%");
    }
}
