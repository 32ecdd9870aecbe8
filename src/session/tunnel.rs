//! The byte pipe: `Control.Session` carries raw HTTP/2 in `BytesMessage`s, and on it the
//! daemon is the HTTP/2 client while we serve gRPC. One end of an in-memory duplex is
//! bridged to the RPC; hyper serves our routes on the other end as a single connection
//! whose future we keep (its failure fails the build).

use bollard_buildkit_proto::moby::buildkit::v1::{control_client::ControlClient, BytesMessage};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::service::Routes;
use tonic::transport::Channel;

use super::SessionError;

/// Largest `BytesMessage` we send (the daemon's gRPC server rejects messages over 4 MiB).
/// Small enough that the few messages in flight keep the client's memory low.
const MAX_OUTER_MESSAGE: usize = 256 << 10;
/// In-memory pipe buffer between the bridge and hyper.
const PIPE_BUFFER: usize = 512 << 10;

pub(crate) struct Headers<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub shared_key: &'a str,
    pub methods: &'a [String],
}

/// The live tunnel: the hyper connection task, the daemon->us copy task, and a switch
/// that ends our request stream (a gRPC CloseSend) for a clean shutdown.
pub(crate) struct Tunnel {
    pub server: JoinHandle<Result<(), String>>,
    pub inbound: JoinHandle<Result<(), tonic::Status>>,
    pub close: Option<oneshot::Sender<()>>,
}

fn header(value: &str, what: &str) -> Result<AsciiMetadataValue, SessionError> {
    value.parse().map_err(|_| SessionError::Header(format!("{what} {value:?} is not a valid header value")))
}

pub(crate) async fn open(channel: Channel, headers: Headers<'_>, routes: Routes) -> Result<Tunnel, SessionError> {
    let (server_io, bridge_io) = tokio::io::duplex(PIPE_BUFFER);

    let service = TowerToHyperService::new(routes.prepare());
    let server = tokio::spawn(async move {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.max_frame_size(1 << 20).initial_stream_window_size(8 << 20).initial_connection_window_size(16 << 20);
        builder.serve_connection(TokioIo::new(server_io), service).await.map_err(|e| e.to_string())
    });

    let (bridge_read, bridge_write) = tokio::io::split(bridge_io);
    let (tx, rx) = mpsc::channel::<BytesMessage>(2);
    let (close_tx, close_rx) = oneshot::channel();
    tokio::spawn(pipe_to_daemon(bridge_read, tx, close_rx));

    let mut request = tonic::Request::new(ReceiverStream::new(rx));
    let md: &mut MetadataMap = request.metadata_mut();
    md.insert("x-docker-expose-session-uuid", header(headers.id, "session id")?);
    md.insert("x-docker-expose-session-name", header(headers.name, "session name")?);
    md.insert("x-docker-expose-session-sharedkey", header(headers.shared_key, "shared key")?);
    for m in headers.methods {
        md.append("x-docker-expose-session-grpc-method", header(m, "method")?);
    }
    let response = ControlClient::new(channel)
        .max_decoding_message_size(64 << 20)
        .session(request)
        .await
        .map_err(SessionError::Open)?;
    let mut stream = response.into_inner();
    let inbound = tokio::spawn(async move {
        let mut write = bridge_write;
        let result = loop {
            match stream.message().await {
                Ok(Some(m)) => {
                    if write.write_all(&m.data).await.is_err() {
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(status) => break Err(status),
            }
        };
        // EOF on the pipe ends the hyper connection.
        let _ = write.shutdown().await;
        result
    });
    Ok(Tunnel { server, inbound, close: Some(close_tx) })
}

/// Copies what hyper writes into `BytesMessage`s until hyper closes the pipe or we are
/// told to end the stream.
async fn pipe_to_daemon(
    mut read: tokio::io::ReadHalf<DuplexStream>,
    tx: mpsc::Sender<BytesMessage>,
    mut close: oneshot::Receiver<()>,
) {
    loop {
        // Read straight into the message's buffer (no copy); uninitialised capacity.
        let mut data = Vec::with_capacity(MAX_OUTER_MESSAGE);
        tokio::select! {
            _ = &mut close => break,
            read = read.read_buf(&mut data) => match read {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(BytesMessage { data }).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}
