//! `containerd.services.content.v1.Content` over the session: the directories of
//! `--cache-to type=local,dest=DIR` / `--cache-from type=local,src=DIR` as OCI-layout
//! content stores.
//!
//! In: the store id (`local:DIR`, header `buildkit-attachable-store-id`) and content
//! requests: Info, Read (ranges of a blob), Write (STAT / WRITE / COMMIT with digest check),
//! Status, Abort. Out: blobs under `DIR/blobs/sha256/`, in-progress writes under
//! `DIR/ingest/`. The `index.json` tag is updated by the build after success
//! ([`put_index_tag`]), and read before it ([`index_tag_digest`]).

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

#[allow(clippy::all, missing_docs)]
pub(crate) mod api {
    tonic::include_proto!("containerd.services.content.v1");
}

use api::content_server::{Content, ContentServer};
use api::*;

pub(crate) const METHODS: &[&str] = &["Info", "Update", "List", "Delete", "Read", "Status", "ListStatuses", "Write", "Abort"];

const STORE_HEADER: &str = "buildkit-attachable-store-id";
const READ_CHUNK: usize = 1 << 20;

pub(crate) struct ContentService {
    /// store id (`local:DIR`) -> DIR
    stores: Arc<HashMap<String, PathBuf>>,
}

pub(crate) fn server(stores: HashMap<String, PathBuf>) -> ContentServer<ContentService> {
    ContentServer::new(ContentService { stores: Arc::new(stores) }).max_decoding_message_size(64 << 20)
}

fn io_status(what: &str, e: std::io::Error) -> Status {
    if e.kind() == std::io::ErrorKind::NotFound {
        Status::not_found(format!("{what}: not found"))
    } else {
        Status::internal(format!("{what}: {e}"))
    }
}

fn blob_path(root: &Path, digest: &str) -> Result<PathBuf, Status> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| Status::invalid_argument(format!("unsupported digest {digest}")))?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Status::invalid_argument(format!("invalid digest {digest}")));
    }
    Ok(root.join("blobs/sha256").join(hex))
}

fn ingest_path(root: &Path, reference: &str) -> PathBuf {
    root.join("ingest").join(hex::encode(Sha256::digest(reference.as_bytes())))
}

impl ContentService {
    fn store<T>(&self, request: &Request<T>) -> Result<PathBuf, Status> {
        let id = request
            .metadata()
            .get(STORE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Status::invalid_argument(format!("request lacks metadata {STORE_HEADER}")))?;
        self.stores.get(id).cloned().ok_or_else(|| Status::not_found(format!("unknown store {id}")))
    }
}

fn info_of(path: &Path, digest: &str) -> Result<Info, Status> {
    let md = std::fs::metadata(path).map_err(|e| io_status(&format!("content {digest}"), e))?;
    let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).unwrap_or_default();
    let ts = prost_types::Timestamp { seconds: mtime.as_secs() as i64, nanos: mtime.subsec_nanos() as i32 };
    Ok(Info { digest: digest.into(), size: md.len() as i64, created_at: Some(ts), updated_at: Some(ts), labels: HashMap::new() })
}

#[tonic::async_trait]
impl Content for ContentService {
    async fn info(&self, request: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let root = self.store(&request)?;
        let digest = request.into_inner().digest;
        let info = info_of(&blob_path(&root, &digest)?, &digest)?;
        Ok(Response::new(InfoResponse { info: Some(info) }))
    }

    async fn update(&self, request: Request<UpdateRequest>) -> Result<Response<UpdateResponse>, Status> {
        // Labels are not kept (an OCI layout has no place for them): echo the info back.
        let root = self.store(&request)?;
        let digest = request.into_inner().info.map(|i| i.digest).unwrap_or_default();
        let info = info_of(&blob_path(&root, &digest)?, &digest)?;
        Ok(Response::new(UpdateResponse { info: Some(info) }))
    }

    type ListStream = tokio_stream::Empty<Result<ListContentResponse, Status>>;
    async fn list(&self, _: Request<ListContentRequest>) -> Result<Response<Self::ListStream>, Status> {
        Err(Status::unimplemented("listing a local cache store is not supported"))
    }

    async fn delete(&self, _: Request<DeleteContentRequest>) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("deleting from a local cache store is not supported"))
    }

    type ReadStream = ReceiverStream<Result<ReadContentResponse, Status>>;
    async fn read(&self, request: Request<ReadContentRequest>) -> Result<Response<Self::ReadStream>, Status> {
        let root = self.store(&request)?;
        let req = request.into_inner();
        let path = blob_path(&root, &req.digest)?;
        let mut file = std::fs::File::open(&path).map_err(|e| io_status(&format!("content {}", req.digest), e))?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let mut offset = req.offset.max(0) as u64;
            let mut left = if req.size > 0 { req.size as u64 } else { u64::MAX };
            if let Err(e) = file.seek(SeekFrom::Start(offset)) {
                let _ = tx.blocking_send(Err(Status::internal(format!("seek: {e}"))));
                return;
            }
            while left > 0 {
                let mut buf = vec![0u8; READ_CHUNK.min(left.min(usize::MAX as u64) as usize)];
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(ReadContentResponse { offset: offset as i64, data: buf })).is_err() {
                            return;
                        }
                        offset += n as u64;
                        left -= n as u64;
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(Status::internal(format!("read: {e}"))));
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn status(&self, request: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        let root = self.store(&request)?;
        let reference = request.into_inner().r#ref;
        let md = std::fs::metadata(ingest_path(&root, &reference)).map_err(|e| io_status(&format!("ingest {reference}"), e))?;
        Ok(Response::new(StatusResponse { status: Some(api::Status { r#ref: reference, offset: md.len() as i64, ..Default::default() }) }))
    }

    async fn list_statuses(&self, _: Request<ListStatusesRequest>) -> Result<Response<ListStatusesResponse>, Status> {
        Ok(Response::new(ListStatusesResponse { statuses: Vec::new() }))
    }

    type WriteStream = ReceiverStream<Result<WriteContentResponse, Status>>;
    async fn write(&self, request: Request<Streaming<WriteContentRequest>>) -> Result<Response<Self::WriteStream>, Status> {
        let root = self.store(&request)?;
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut writer: Option<Ingest> = None;
            loop {
                let req = match inbound.message().await {
                    Ok(Some(r)) => r,
                    _ => return,
                };
                let root = root.clone();
                let current = writer.take();
                let result = tokio::task::spawn_blocking(move || handle_write(&root, current, req)).await;
                let (next, response) = match result {
                    Ok(r) => r,
                    Err(e) => (None, Err(Status::internal(e.to_string()))),
                };
                writer = next;
                let failed = response.is_err();
                if tx.send(response).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn abort(&self, request: Request<AbortRequest>) -> Result<Response<()>, Status> {
        let root = self.store(&request)?;
        let _ = std::fs::remove_file(ingest_path(&root, &request.into_inner().r#ref));
        Ok(Response::new(()))
    }
}

/// An open ingest: the file being written and what it should become.
struct Ingest {
    file: std::fs::File,
    path: PathBuf,
    offset: i64,
    total: i64,
    expected: String,
}

fn handle_write(root: &Path, current: Option<Ingest>, req: WriteContentRequest) -> (Option<Ingest>, Result<WriteContentResponse, Status>) {
    let mut ingest = match current {
        Some(i) => i,
        None => {
            if req.r#ref.is_empty() {
                return (None, Err(Status::invalid_argument("first write request lacks a ref")));
            }
            if !req.expected.is_empty() {
                if let Ok(path) = blob_path(root, &req.expected) {
                    if path.exists() {
                        return (None, Err(Status::already_exists(format!("content {} already exists", req.expected))));
                    }
                }
            }
            let path = ingest_path(root, &req.r#ref);
            let opened = std::fs::create_dir_all(root.join("ingest"))
                .and_then(|_| std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path));
            match opened {
                Ok(file) => {
                    let offset = file.metadata().map(|m| m.len() as i64).unwrap_or(0);
                    Ingest { file, path, offset, total: req.total, expected: req.expected.clone() }
                }
                Err(e) => return (None, Err(Status::internal(format!("cannot open ingest: {e}")))),
            }
        }
    };
    if req.total > 0 {
        ingest.total = req.total;
    }
    if !req.expected.is_empty() {
        ingest.expected = req.expected.clone();
    }
    let action = WriteAction::try_from(req.action).unwrap_or(WriteAction::Stat);
    if matches!(action, WriteAction::Write | WriteAction::Commit) && !req.data.is_empty() {
        if req.offset != ingest.offset {
            if let Err(e) = ingest.file.set_len(req.offset as u64) {
                return (None, Err(Status::internal(format!("truncate ingest: {e}"))));
            }
            ingest.offset = req.offset;
        }
        let written = ingest.file.seek(SeekFrom::Start(ingest.offset as u64)).and_then(|_| ingest.file.write_all(&req.data));
        if let Err(e) = written {
            return (None, Err(Status::internal(format!("write ingest: {e}"))));
        }
        ingest.offset += req.data.len() as i64;
    }
    let mut response = WriteContentResponse { action: req.action, offset: ingest.offset, total: ingest.total, ..Default::default() };
    if action == WriteAction::Commit {
        match commit(root, &mut ingest) {
            Ok(digest) => response.digest = digest,
            Err(e) => return (None, Err(e)),
        }
        return (None, Ok(response));
    }
    (Some(ingest), Ok(response))
}

/// Checks size and digest, then moves the ingest to its blob path.
fn commit(root: &Path, ingest: &mut Ingest) -> Result<String, Status> {
    ingest.file.flush().map_err(|e| Status::internal(format!("flush ingest: {e}")))?;
    if ingest.total > 0 && ingest.offset != ingest.total {
        return Err(Status::failed_precondition(format!("unexpected commit size {}, expected {}", ingest.offset, ingest.total)));
    }
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(&ingest.path).map_err(|e| Status::internal(format!("read ingest: {e}")))?;
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = file.read(&mut buf).map_err(|e| Status::internal(format!("read ingest: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    if !ingest.expected.is_empty() && ingest.expected != digest {
        return Err(Status::failed_precondition(format!("unexpected commit digest {digest}, expected {}", ingest.expected)));
    }
    let target = blob_path(root, &digest)?;
    std::fs::create_dir_all(target.parent().unwrap_or(root)).map_err(|e| Status::internal(format!("create blobs dir: {e}")))?;
    std::fs::rename(&ingest.path, &target).map_err(|e| Status::internal(format!("commit blob: {e}")))?;
    Ok(digest)
}

const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn read_index(dir: &Path) -> std::io::Result<serde_json::Value> {
    match std::fs::read(dir.join("index.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({"schemaVersion": 2, "manifests": []})),
        Err(e) => Err(e),
    }
}

/// The digest tagged `tag` in `DIR/index.json`, if any.
pub fn index_tag_digest(dir: &Path, tag: &str) -> std::io::Result<Option<String>> {
    let index = read_index(dir)?;
    Ok(index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"][REF_NAME] == tag)
        .and_then(|m| m["digest"].as_str().map(str::to_string)))
}

/// Points `tag` at `descriptor` (JSON) in `DIR/index.json`, replacing an older entry;
/// writes `oci-layout` too. Atomic (temporary file + rename).
pub fn put_index_tag(dir: &Path, tag: &str, descriptor_json: &str) -> std::io::Result<()> {
    let mut desc: serde_json::Value = serde_json::from_str(descriptor_json).map_err(std::io::Error::other)?;
    desc["annotations"][REF_NAME] = tag.into();
    let mut index = read_index(dir)?;
    let mut manifests: Vec<serde_json::Value> = index["manifests"].as_array().cloned().unwrap_or_default();
    manifests.retain(|m| m["annotations"][REF_NAME] != tag);
    manifests.push(desc);
    index["manifests"] = manifests.into();
    index["schemaVersion"] = 2.into();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&serde_json::to_vec(&index).map_err(std::io::Error::other)?)?;
    tmp.persist(dir.join("index.json")).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_commit_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello content store";
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(data)));
        let stat = WriteContentRequest { action: WriteAction::Stat as i32, r#ref: "r1".into(), total: data.len() as i64, expected: digest.clone(), ..Default::default() };
        let (ingest, resp) = handle_write(dir.path(), None, stat);
        assert_eq!(resp.unwrap().offset, 0);
        let write = WriteContentRequest { action: WriteAction::Write as i32, offset: 0, data: data[..5].to_vec(), ..Default::default() };
        let (ingest, resp) = handle_write(dir.path(), ingest, write);
        assert_eq!(resp.unwrap().offset, 5);
        let commit = WriteContentRequest { action: WriteAction::Commit as i32, offset: 5, data: data[5..].to_vec(), total: data.len() as i64, expected: digest.clone(), ..Default::default() };
        let (ingest, resp) = handle_write(dir.path(), ingest, commit);
        assert!(ingest.is_none());
        assert_eq!(resp.unwrap().digest, digest);
        assert_eq!(std::fs::read(blob_path(dir.path(), &digest).unwrap()).unwrap(), data);
        // A second write of the same content is refused as existing.
        let again = WriteContentRequest { action: WriteAction::Stat as i32, r#ref: "r2".into(), expected: digest.clone(), ..Default::default() };
        assert_eq!(handle_write(dir.path(), None, again).1.unwrap_err().code(), tonic::Code::AlreadyExists);
    }

    #[test]
    fn index_tags() {
        let dir = tempfile::tempdir().unwrap();
        put_index_tag(dir.path(), "latest", r#"{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:aa","size":1}"#).unwrap();
        put_index_tag(dir.path(), "latest", r#"{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:bb","size":1}"#).unwrap();
        assert_eq!(index_tag_digest(dir.path(), "latest").unwrap().as_deref(), Some("sha256:bb"));
        assert_eq!(index_tag_digest(dir.path(), "other").unwrap(), None);
    }
}
