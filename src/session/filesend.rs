//! `moby.filesync.v1.FileSend/DiffCopy`: exporter output coming back to us.
//!
//! In: the exporter index (`buildkit-attachable-exporter-id`) and a stream that is either
//! raw `BytesMessage`s (tar, oci, docker tarballs) or fsutil packets (a `local` export,
//! sent by the daemon as an fsutil sender on the same method). Out: a file or directory
//! written next to its destination under a temporary name and renamed into place only
//! when the build succeeds ([`Outputs::commit`]); anything else removes it, so a failed
//! build never leaves a partial output.
//!
//! The method carries two message types, so it is served by hand with a byte codec
//! instead of the generated server (which would decode every message as `BytesMessage`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bollard_buildkit_proto::moby::filesync::v1::file_send_server::SERVICE_NAME;
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tokio::io::AsyncWriteExt;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::NamedService;
use tonic::{Request, Response, Status, Streaming};

pub(crate) const METHODS: &[&str] = &["DiffCopy"];

/// Where one exporter's output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSink {
    /// A tarball (`oci`, `docker`, `tar` exporters) written atomically to this file.
    File(PathBuf),
    /// A tarball streamed to standard output (`dest=-`): cannot be atomic.
    Stdout,
    /// A `local` export written atomically into this directory.
    Directory(PathBuf),
}

struct Pending {
    temp: PathBuf,
    dest: PathBuf,
    is_dir: bool,
}

/// The outputs of one build, by exporter index, and the temporaries written so far.
#[derive(Clone, Default)]
pub struct Outputs {
    sinks: Arc<HashMap<usize, ExportSink>>,
    pending: Arc<Mutex<Vec<Pending>>>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs").field("sinks", &self.sinks).finish()
    }
}

impl Outputs {
    pub fn new(sinks: HashMap<usize, ExportSink>) -> Self {
        Outputs { sinks: Arc::new(sinks), pending: Arc::default() }
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves every finished output into place. Called once the build succeeded.
    pub fn commit(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut done = Vec::new();
        for p in self.pending().drain(..) {
            if p.is_dir {
                move_dir_into(&p.temp, &p.dest)?;
            } else {
                std::fs::rename(&p.temp, &p.dest)
                    .map_err(|e| std::io::Error::new(e.kind(), format!("cannot move output to {}: {e}", p.dest.display())))?;
            }
            done.push(p.dest);
        }
        Ok(done)
    }

    /// Removes every temporary (a failed or cancelled build).
    pub fn discard(&self) {
        for p in self.pending().drain(..) {
            let _ = if p.is_dir { std::fs::remove_dir_all(&p.temp) } else { std::fs::remove_file(&p.temp) };
        }
    }
}

/// `DEST` -> `.DEST.bentokit-XXXX` in the same directory (so the rename stays on one filesystem).
fn temp_name(dest: &Path) -> PathBuf {
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    parent.join(format!(".{name}.bentokit-{}", super::random_id(10)))
}

/// Puts the received tree at `dest`: a rename when `dest` does not exist, else each top
/// entry replaces its namesake (a local export over an existing directory).
fn move_dir_into(temp: &Path, dest: &Path) -> std::io::Result<()> {
    if std::fs::symlink_metadata(dest).is_err() {
        return std::fs::rename(temp, dest);
    }
    for entry in std::fs::read_dir(temp)? {
        let entry = entry?;
        let target = dest.join(entry.file_name());
        if let Ok(md) = std::fs::symlink_metadata(&target) {
            if md.is_dir() {
                std::fs::remove_dir_all(&target)?;
            } else {
                std::fs::remove_file(&target)?;
            }
        }
        std::fs::rename(entry.path(), target)?;
    }
    std::fs::remove_dir(temp)
}

/// Passes message bytes through undecoded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RawCodec;
pub(crate) struct RawCoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCoder;
    type Decoder = RawCoder;
    fn encoder(&mut self) -> RawCoder {
        RawCoder
    }
    fn decoder(&mut self) -> RawCoder {
        RawCoder
    }
}

impl Encoder for RawCoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[derive(Clone)]
pub(crate) struct FileSendService {
    outputs: Outputs,
}

pub(crate) fn server(outputs: Outputs) -> FileSendService {
    FileSendService { outputs }
}

impl NamedService for FileSendService {
    const NAME: &'static str = SERVICE_NAME;
}

type BoxStream = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<Bytes, Status>> + Send>>;

struct DiffCopy(Outputs);

impl tonic::server::StreamingService<Bytes> for DiffCopy {
    type Response = Bytes;
    type ResponseStream = BoxStream;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<BoxStream>, Status>> + Send>>;
    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        let outputs = self.0.clone();
        Box::pin(async move { receive(outputs, request).await })
    }
}

impl<B> tower::Service<http::Request<B>> for FileSendService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let outputs = self.outputs.clone();
        let known = req.uri().path() == format!("/{SERVICE_NAME}/DiffCopy");
        Box::pin(async move {
            if !known {
                return Ok(Status::unimplemented("").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec).apply_max_message_size_config(Some(64 << 20), None);
            Ok(grpc.streaming(DiffCopy(outputs), req).await)
        })
    }
}

async fn receive(outputs: Outputs, request: Request<Streaming<Bytes>>) -> Result<Response<BoxStream>, Status> {
    let id = request
        .metadata()
        .get("buildkit-attachable-exporter-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let Some(sink) = outputs.sinks.get(&id).cloned() else {
        return Err(Status::not_found(format!("this build has no output for exporter {id}")));
    };
    let stream = request.into_inner();
    match sink {
        ExportSink::Stdout => {
            let mut out = tokio::io::stdout();
            copy_bytes(stream, &mut out).await?;
            out.flush().await.map_err(|e| Status::internal(format!("cannot write to stdout: {e}")))?;
            Ok(Response::new(Box::pin(tokio_stream::empty())))
        }
        ExportSink::File(dest) => {
            let temp = temp_name(&dest);
            let mut file = tokio::fs::File::create(&temp)
                .await
                .map_err(|e| Status::internal(format!("cannot create {}: {e}", temp.display())))?;
            // Registered before writing so a failure part-way still removes it.
            outputs.pending().push(Pending { temp: temp.clone(), dest, is_dir: false });
            copy_bytes(stream, &mut file).await?;
            file.sync_all().await.map_err(|e| Status::internal(format!("cannot write {}: {e}", temp.display())))?;
            Ok(Response::new(Box::pin(tokio_stream::empty())))
        }
        ExportSink::Directory(dest) => {
            let temp = temp_name(&dest);
            tokio::fs::create_dir_all(&temp)
                .await
                .map_err(|e| Status::internal(format!("cannot create {}: {e}", temp.display())))?;
            outputs.pending().push(Pending { temp: temp.clone(), dest, is_dir: true });
            let (tx, rx) = tokio::sync::mpsc::channel(64);
            tokio::spawn(super::receive::receive_tree(temp, stream, tx));
            Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
        }
    }
}

/// Writes the data of every `BytesMessage` to `out`, to the end of the stream.
async fn copy_bytes(mut stream: Streaming<Bytes>, out: &mut (impl tokio::io::AsyncWrite + Unpin)) -> Result<(), Status> {
    while let Some(raw) = stream.message().await? {
        let msg = BytesMessage::decode(raw).map_err(|e| Status::invalid_argument(format!("bad export chunk: {e}")))?;
        out.write_all(&msg.data).await.map_err(|e| Status::internal(format!("cannot write export: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_and_discard() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.tar");
        let outputs = Outputs::new(HashMap::from([(0, ExportSink::File(dest.clone()))]));
        let temp = temp_name(&dest);
        std::fs::write(&temp, "x").unwrap();
        outputs.pending().push(Pending { temp: temp.clone(), dest: dest.clone(), is_dir: false });
        outputs.discard();
        assert!(!temp.exists() && !dest.exists());
        std::fs::write(&temp, "x").unwrap();
        outputs.pending().push(Pending { temp: temp.clone(), dest: dest.clone(), is_dir: false });
        assert_eq!(outputs.commit().unwrap(), vec![dest.clone()]);
        assert_eq!(std::fs::read(&dest).unwrap(), b"x");
    }
}
