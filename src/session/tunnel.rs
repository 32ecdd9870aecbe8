//! The byte pipe: `Control.Session` carries raw HTTP/2 in `BytesMessage`s, and on it the
//! daemon is the HTTP/2 client while we serve gRPC. hyper serves our routes over a
//! [`TunnelIo`] as a single connection whose future we keep (its failure fails the build).
//!
//! The transport moves bytes with as few copies as it can: what hyper writes lands in a
//! buffer that already is the next gRPC frame of our request stream (its header filled in
//! when the sender takes it whole; nothing re-encodes or copies it again), and the daemon's
//! messages are read by hyper straight out of the received buffers.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bytes::Bytes;
use tonic::codec::Codec;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tonic::metadata::AsciiMetadataValue;
use tonic::service::Routes;
use tonic::transport::Channel;

use super::SessionError;

/// Largest `BytesMessage` we send (the daemon's gRPC server rejects messages over 4 MiB).
/// Small enough that the few messages in flight keep the client's memory low.
const MAX_OUTER_MESSAGE: usize = 256 << 10;
/// Received messages queued for hyper before the daemon's stream is back-pressured.
const INBOUND_QUEUE: usize = 8;

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

fn header(value: &str, what: &str) -> Result<http::HeaderValue, SessionError> {
    let invalid = || SessionError::Header(format!("{what} {value:?} is not a valid header value"));
    // gRPC metadata is visible ASCII only (stricter than HTTP header values).
    value.parse::<AsciiMetadataValue>().map_err(|_| invalid())?;
    http::HeaderValue::from_str(value).map_err(|_| invalid())
}

pub(crate) async fn open(mut channel: Channel, headers: Headers<'_>, routes: Routes) -> Result<Tunnel, SessionError> {
    let outgoing = Arc::new(Mutex::new(Outgoing::default()));
    let (inbound_tx, inbound_rx) = mpsc::channel::<Vec<u8>>(INBOUND_QUEUE);
    let io = TunnelIo { inbound: inbound_rx, current: Vec::new(), position: 0, outgoing: OutgoingWriter(outgoing.clone()) };

    let service = TowerToHyperService::new(routes.prepare());
    let server = tokio::spawn(async move {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.max_frame_size(1 << 20).initial_stream_window_size(8 << 20).initial_connection_window_size(16 << 20);
        builder.serve_connection(TokioIo::new(io), service).await.map_err(|e| e.to_string())
    });

    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let (close_tx, close_rx) = oneshot::channel();
    tokio::spawn(send_to_daemon(outgoing, tx, close_rx));

    // `Control.Session` by hand: the body is our ready-made frames (tonic's client would
    // encode each message again); the response is decoded by tonic as usual.
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(SESSION_PATH)
        .version(http::Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers")
        .header("x-docker-expose-session-uuid", header(headers.id, "session id")?)
        .header("x-docker-expose-session-name", header(headers.name, "session name")?)
        .header("x-docker-expose-session-sharedkey", header(headers.shared_key, "shared key")?);
    for m in headers.methods {
        request = request.header("x-docker-expose-session-grpc-method", header(m, "method")?);
    }
    let request = request
        .body(tonic::body::Body::new(FrameBody(rx)))
        .map_err(|e| SessionError::Header(e.to_string()))?;
    let ready = tower::ServiceExt::ready(&mut channel)
        .await
        .map_err(|e| SessionError::Open(tonic::Status::from_error(Box::new(e))))?;
    let response = tower::Service::call(ready, request)
        .await
        .map_err(|e| SessionError::Open(tonic::Status::from_error(Box::new(e))))?;
    if let Some(status) = tonic::Status::from_header_map(response.headers()) {
        if status.code() != tonic::Code::Ok {
            return Err(SessionError::Open(status));
        }
    }
    let status = response.status();
    let decoder = tonic_prost::ProstCodec::<BytesMessage, BytesMessage>::default().decoder();
    let mut stream = tonic::codec::Streaming::new_response(decoder, response.into_body(), status, None, Some(64 << 20));
    let inbound = tokio::spawn(async move {
        // Dropping the sender at the end is EOF for hyper, which ends the connection.
        loop {
            match stream.message().await {
                Ok(Some(m)) => {
                    if !m.data.is_empty() && inbound_tx.send(m.data).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                Err(status) => return Err(status),
            }
        }
    });
    Ok(Tunnel { server, inbound, close: Some(close_tx) })
}

/// Sends what hyper wrote as `BytesMessage` frames until hyper closes its side or we are
/// told to end the stream. Each frame is the whole buffer accumulated since the last one.
async fn send_to_daemon(outgoing: Arc<Mutex<Outgoing>>, tx: mpsc::Sender<Bytes>, mut close: oneshot::Receiver<()>) {
    loop {
        let taken = std::future::poll_fn(|cx| lock(&outgoing).poll_take(cx));
        tokio::select! {
            _ = &mut close => break,
            frame = taken => match frame {
                Some(frame) => {
                    if tx.send(frame).await.is_err() {
                        break;
                    }
                }
                None => break,
            }
        }
    }
    // Writes after this point fail: hyper sees a broken pipe.
    let mut out = lock(&outgoing);
    out.closed = true;
    out.wake_writer();
}

/// The request body of `Control.Session`: ready-made gRPC frames, then the end of the
/// stream (our CloseSend) when the sender stops.
struct FrameBody(mpsc::Receiver<Bytes>);

impl http_body::Body for FrameBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, tonic::Status>>> {
        self.0.poll_recv(cx).map(|frame| frame.map(|bytes| Ok(http_body::Frame::data(bytes))))
    }
}

const SESSION_PATH: &str = "/moby.buildkit.v1.Control/Session";

/// Room before the data for the frame's header: the gRPC prefix (flag and u32 length),
/// then `BytesMessage.data`'s tag and its length as a varint (at most 3 bytes here).
const FRAME_HEADER_ROOM: usize = 5 + 1 + 3;

/// Writes the header in front of the data at the end of `buffer` (which starts with
/// [`FRAME_HEADER_ROOM`] reserved bytes) and returns the finished frame.
fn finish_frame(mut buffer: Vec<u8>) -> Bytes {
    use bytes::BufMut;
    let data_len = (buffer.len() - FRAME_HEADER_ROOM) as u64;
    let varint_len = prost::encoding::encoded_len_varint(data_len);
    let start = FRAME_HEADER_ROOM - (5 + 1 + varint_len);
    let mut header = &mut buffer[start..FRAME_HEADER_ROOM];
    header.put_u8(0); // not compressed
    header.put_u32((1 + varint_len) as u32 + data_len as u32);
    header.put_u8(0x0a); // field 1 (data), length-delimited
    prost::encoding::encode_varint(data_len, &mut header);
    Bytes::from(buffer).slice(start..)
}

fn lock(outgoing: &Mutex<Outgoing>) -> std::sync::MutexGuard<'_, Outgoing> {
    outgoing.lock().unwrap_or_else(|p| p.into_inner())
}

/// Bytes hyper wrote that the sender has not taken yet, behind room for the frame header
/// (an empty buffer has no room reserved yet).
#[derive(Default)]
struct Outgoing {
    buffer: Vec<u8>,
    /// hyper shut its side down: the sender ends the stream after the buffer.
    shut: bool,
    /// The sender stopped: writes fail.
    closed: bool,
    writer: Option<Waker>,
    sender: Option<Waker>,
}

impl Outgoing {
    fn poll_take(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.buffer.len() > FRAME_HEADER_ROOM {
            self.wake_writer();
            return Poll::Ready(Some(finish_frame(std::mem::take(&mut self.buffer))));
        }
        if self.shut {
            return Poll::Ready(None);
        }
        self.sender = Some(cx.waker().clone());
        Poll::Pending
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }

    fn wake_sender(&mut self) {
        if let Some(w) = self.sender.take() {
            w.wake();
        }
    }
}

struct OutgoingWriter(Arc<Mutex<Outgoing>>);

impl OutgoingWriter {
    /// Appends as much of `bufs` as fits into the outgoing buffer.
    fn poll_write_slices<'b>(&self, cx: &mut Context<'_>, bufs: impl IntoIterator<Item = &'b [u8]>) -> Poll<io::Result<usize>> {
        let mut out = lock(&self.0);
        if out.closed || out.shut {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if out.buffer.is_empty() {
            // One allocation per message: the buffer is sent as it is, never regrown.
            out.buffer.reserve_exact(FRAME_HEADER_ROOM + MAX_OUTER_MESSAGE);
            out.buffer.resize(FRAME_HEADER_ROOM, 0);
        }
        let room = (FRAME_HEADER_ROOM + MAX_OUTER_MESSAGE).saturating_sub(out.buffer.len());
        if room == 0 {
            out.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut written = 0;
        for b in bufs {
            let n = b.len().min(room - written);
            out.buffer.extend_from_slice(&b[..n]);
            written += n;
            if written == room {
                break;
            }
        }
        if written > 0 {
            out.wake_sender();
        }
        Poll::Ready(Ok(written))
    }
}

/// hyper's side of the tunnel.
struct TunnelIo {
    inbound: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    position: usize,
    outgoing: OutgoingWriter,
}

impl AsyncRead for TunnelIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.position == this.current.len() {
            match this.inbound.poll_recv(cx) {
                Poll::Ready(Some(data)) => {
                    this.current = data;
                    this.position = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = buf.remaining().min(this.current.len() - this.position);
        buf.put_slice(&this.current[this.position..this.position + n]);
        this.position += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TunnelIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.outgoing.poll_write_slices(cx, [buf])
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.outgoing.poll_write_slices(cx, bufs.iter().map(|b| &**b))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are already the sender's: it takes them as soon as it runs.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut out = lock(&self.outgoing.0);
        out.shut = true;
        out.wake_sender();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn pipe() -> (TunnelIo, mpsc::Sender<Vec<u8>>, Arc<Mutex<Outgoing>>) {
        let outgoing = Arc::new(Mutex::new(Outgoing::default()));
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        (TunnelIo { inbound: rx, current: Vec::new(), position: 0, outgoing: OutgoingWriter(outgoing.clone()) }, tx, outgoing)
    }

    #[tokio::test]
    async fn reads_received_messages_in_order_then_eof() {
        let (mut io, tx, _) = pipe();
        tx.send(b"hello ".to_vec()).await.unwrap();
        tx.send(b"world".to_vec()).await.unwrap();
        drop(tx);
        let mut all = String::new();
        io.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }

    /// The `BytesMessage` inside one gRPC frame.
    fn decode_frame(frame: &[u8]) -> Vec<u8> {
        assert_eq!(frame[0], 0, "not compressed");
        let len = u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize;
        assert_eq!(frame.len(), 5 + len, "one whole frame");
        <BytesMessage as prost::Message>::decode(&frame[5..]).unwrap().data
    }

    #[test]
    fn frames_decode_as_bytes_messages_for_every_varint_width() {
        for len in [1usize, 127, 128, 16_383, 16_384, MAX_OUTER_MESSAGE] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut buffer = vec![0u8; FRAME_HEADER_ROOM];
            buffer.extend_from_slice(&data);
            assert_eq!(decode_frame(&finish_frame(buffer)), data, "{len} bytes");
        }
    }

    #[tokio::test]
    async fn writes_are_taken_whole_and_bounded_by_the_message_size() {
        let (mut io, _tx, outgoing) = pipe();
        let big: Vec<u8> = (0..MAX_OUTER_MESSAGE + 10).map(|i| (i % 13) as u8).collect();
        let expected = big.clone();
        let writer = tokio::spawn(async move {
            io.write_all(&big).await.unwrap();
            io.shutdown().await.unwrap();
        });
        let mut received = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| lock(&outgoing).poll_take(cx)).await {
            let data = decode_frame(&frame);
            assert!(!data.is_empty() && data.len() <= MAX_OUTER_MESSAGE);
            received.extend_from_slice(&data);
        }
        writer.await.unwrap();
        assert_eq!(received, expected);
    }

    #[tokio::test]
    async fn writes_fail_once_the_sender_stopped() {
        let (mut io, _tx, outgoing) = pipe();
        lock(&outgoing).closed = true;
        assert_eq!(io.write(b"x").await.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }
}
