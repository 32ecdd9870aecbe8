//! An in-process ssh-agent serving private key files (`--ssh ID=path/to/key`).
//!
//! In: private keys already read and decrypted-checked by `ssh.rs`, then the bytes of one
//! `ForwardAgent` stream as they arrive (messages are u32-BE length-prefixed and may be split
//! or merged across `BytesMessage`s). Out: the agent's replies, framed the same way. Speaks
//! the subset of the ssh-agent protocol (draft-miller-ssh-agent) a client needs to
//! authenticate: `REQUEST_IDENTITIES` → `IDENTITIES_ANSWER`, `SIGN_REQUEST` →
//! `SIGN_RESPONSE` (for RSA honouring the rsa-sha2-256/512 flags); everything else, adding
//! or removing keys included, gets `SSH_AGENT_FAILURE`. It never logs nor puts key material
//! or signed data into errors.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use ssh_key::private::KeypairData;
use ssh_key::{Algorithm, EcdsaCurve, PrivateKey};

const SSH_AGENT_FAILURE: u8 = 5;
const SSH2_AGENTC_REQUEST_IDENTITIES: u8 = 11;
const SSH2_AGENT_IDENTITIES_ANSWER: u8 = 12;
const SSH2_AGENTC_SIGN_REQUEST: u8 = 13;
const SSH2_AGENT_SIGN_RESPONSE: u8 = 14;
const SSH_AGENT_RSA_SHA2_256: u32 = 2;
const SSH_AGENT_RSA_SHA2_512: u32 = 4;

/// OpenSSH's agent refuses messages over 256 KiB; a bigger length means a broken peer.
pub(crate) const MAX_MESSAGE: usize = 256 * 1024;

/// The key types we can sign with (also what `ssh.rs` accepts when loading a file).
pub(crate) fn supported(algorithm: &Algorithm) -> bool {
    matches!(
        algorithm,
        Algorithm::Ed25519 | Algorithm::Rsa { .. } | Algorithm::Ecdsa { curve: EcdsaCurve::NistP256 | EcdsaCurve::NistP384 }
    )
}

struct AgentKey {
    path: PathBuf,
    key: PrivateKey,
    /// The public key in wire form: what clients list and name in sign requests.
    blob: Vec<u8>,
}

/// The keys of one `--ssh` id. Cloning shares them; `Debug` shows only the file names.
#[derive(Clone)]
pub struct Keyring {
    keys: Arc<Vec<AgentKey>>,
}

impl Keyring {
    /// `keys` are (file, unencrypted key) pairs of supported types (see [`supported`]).
    pub(crate) fn new(keys: Vec<(PathBuf, PrivateKey)>) -> Result<Self, ssh_key::Error> {
        let keys = keys
            .into_iter()
            .map(|(path, key)| Ok(AgentKey { blob: key.public_key().to_bytes()?, path, key }))
            .collect::<Result<_, ssh_key::Error>>()?;
        Ok(Keyring { keys: Arc::new(keys) })
    }

    pub fn paths(&self) -> impl Iterator<Item = &std::path::Path> {
        self.keys.iter().map(|k| k.path.as_path())
    }

    /// The reply (without its length prefix) to one request (without its length prefix).
    fn answer(&self, request: &[u8]) -> Vec<u8> {
        let reply = match request.split_first() {
            Some((&SSH2_AGENTC_REQUEST_IDENTITIES, [])) => Some(self.identities()),
            Some((&SSH2_AGENTC_SIGN_REQUEST, body)) => self.sign(body),
            _ => None,
        };
        reply.unwrap_or_else(|| vec![SSH_AGENT_FAILURE])
    }

    fn identities(&self) -> Vec<u8> {
        let mut out = vec![SSH2_AGENT_IDENTITIES_ANSWER];
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        for k in self.keys.iter() {
            put_string(&mut out, &k.blob);
            put_string(&mut out, k.key.comment().as_bytes());
        }
        out
    }

    /// `string key_blob, string data, uint32 flags` → `SIGN_RESPONSE`, or `None` (failure)
    /// for an unknown key, a malformed request or a legacy ssh-rsa (SHA-1) request.
    fn sign(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut wire = Wire(body);
        let blob = wire.string()?;
        let data = wire.string()?;
        let flags = wire.u32()?;
        let key = &self.keys.iter().find(|k| k.blob == blob)?.key;
        let (algorithm, signature) = match key.key_data() {
            KeypairData::Rsa(rsa) => sign_rsa(rsa, data, flags)?,
            _ => {
                let sig: ssh_key::Signature = rsa::signature::Signer::try_sign(key, data).ok()?;
                (sig.algorithm().as_str().to_string(), sig.as_bytes().to_vec())
            }
        };
        let mut sig_blob = Vec::with_capacity(signature.len() + algorithm.len() + 8);
        put_string(&mut sig_blob, algorithm.as_bytes());
        put_string(&mut sig_blob, &signature);
        let mut out = vec![SSH2_AGENT_SIGN_RESPONSE];
        put_string(&mut out, &sig_blob);
        Some(out)
    }
}

/// RSA signs with the hash the flags ask for (SHA-256 first, as OpenSSH's agent does).
/// Without a flag the client wants a SHA-1 `ssh-rsa` signature, which we do not make.
fn sign_rsa(key: &ssh_key::private::RsaKeypair, data: &[u8], flags: u32) -> Option<(String, Vec<u8>)> {
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use ssh_key::sha2::{Sha256, Sha512};
    let private = rsa_private_key(key)?;
    if flags & SSH_AGENT_RSA_SHA2_256 != 0 {
        Some(("rsa-sha2-256".into(), SigningKey::<Sha256>::new(private).try_sign(data).ok()?.to_vec()))
    } else if flags & SSH_AGENT_RSA_SHA2_512 != 0 {
        Some(("rsa-sha2-512".into(), SigningKey::<Sha512>::new(private).try_sign(data).ok()?.to_vec()))
    } else {
        None
    }
}

/// Built here because ssh-key 0.6.7's own conversion passes the prime p twice (no q).
fn rsa_private_key(key: &ssh_key::private::RsaKeypair) -> Option<rsa::RsaPrivateKey> {
    let int = |m: &ssh_key::Mpint| m.as_positive_bytes().map(rsa::BigUint::from_bytes_be);
    let private = rsa::RsaPrivateKey::from_components(
        int(&key.public.n)?,
        int(&key.public.e)?,
        int(&key.private.d)?,
        vec![int(&key.private.p)?, int(&key.private.q)?],
    )
    .ok()?;
    private.validate().ok()?;
    Some(private)
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.paths()).finish()
    }
}

impl PartialEq for Keyring {
    fn eq(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len() && self.keys.iter().zip(other.keys.iter()).all(|(a, b)| a.path == b.path && a.blob == b.blob)
    }
}
impl Eq for Keyring {}

/// One agent connection: buffers partial messages and answers each complete one.
pub(crate) struct AgentConnection {
    keyring: Keyring,
    pending: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Oversized(pub usize);

impl AgentConnection {
    pub(crate) fn new(keyring: Keyring) -> Self {
        AgentConnection { keyring, pending: Vec::new() }
    }

    /// Takes the next chunk of the client's bytes; returns the framed replies to every
    /// message it completed (empty while a message is still partial).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<u8>, Oversized> {
        self.pending.extend_from_slice(chunk);
        let mut replies = Vec::new();
        let mut start = 0;
        while let Some(len) = self.pending.get(start..start + 4) {
            let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
            if len > MAX_MESSAGE {
                return Err(Oversized(len));
            }
            let Some(request) = self.pending.get(start + 4..start + 4 + len) else { break };
            let reply = self.keyring.answer(request);
            put_string(&mut replies, &reply);
            start += 4 + len;
        }
        self.pending.drain(..start);
        Ok(replies)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

/// A reader of the protocol's `uint32` and `string` fields.
struct Wire<'a>(&'a [u8]);

impl<'a> Wire<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        let s = self.0.get(..len)?;
        self.0 = &self.0[len..];
        Some(s)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use rsa::signature::Verifier;
    use ssh_key::{HashAlg, PublicKey, Signature};

    pub(crate) fn random_key(algorithm: Algorithm, comment: &str) -> PrivateKey {
        let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, algorithm).unwrap();
        key.set_comment(comment);
        key
    }

    fn keyring(keys: Vec<PrivateKey>) -> Keyring {
        Keyring::new(keys.into_iter().enumerate().map(|(i, k)| (PathBuf::from(format!("/keys/{i}")), k)).collect()).unwrap()
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_string(&mut out, body);
        out
    }

    fn sign_request(blob: &[u8], data: &[u8], flags: u32) -> Vec<u8> {
        let mut body = vec![SSH2_AGENTC_SIGN_REQUEST];
        put_string(&mut body, blob);
        put_string(&mut body, data);
        body.extend_from_slice(&flags.to_be_bytes());
        frame(&body)
    }

    /// Splits framed replies into their bodies (asserting nothing is left over).
    fn replies(mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let mut wire = Wire(bytes);
            out.push(wire.string().expect("a whole reply").to_vec());
            bytes = wire.0;
        }
        out
    }

    /// Parses a SIGN_RESPONSE body into the signature, as a client would.
    fn signature(reply: &[u8]) -> Signature {
        assert_eq!(reply[0], SSH2_AGENT_SIGN_RESPONSE, "{reply:?}");
        let mut outer = Wire(&reply[1..]);
        let mut blob = Wire(outer.string().unwrap());
        let algorithm = std::str::from_utf8(blob.string().unwrap()).unwrap();
        let data = blob.string().unwrap();
        assert!(blob.0.is_empty() && outer.0.is_empty());
        Signature::new(Algorithm::new(algorithm).unwrap(), data).unwrap()
    }

    fn sign(keyring: &Keyring, key: &PublicKey, data: &[u8], flags: u32) -> Vec<u8> {
        let mut conn = AgentConnection::new(keyring.clone());
        let mut out = replies(&conn.feed(&sign_request(&key.to_bytes().unwrap(), data, flags)).unwrap());
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    #[test]
    fn a_message_split_byte_by_byte_is_answered_once_complete() {
        let mut conn = AgentConnection::new(keyring(vec![random_key(Algorithm::Ed25519, "a")]));
        let request = frame(&[SSH2_AGENTC_REQUEST_IDENTITIES]);
        for (i, byte) in request.iter().enumerate() {
            let out = conn.feed(&[*byte]).unwrap();
            assert_eq!(out.is_empty(), i + 1 < request.len(), "byte {i}");
        }
        assert!(conn.pending.is_empty());
    }

    #[test]
    fn merged_messages_get_one_reply_each_and_a_partial_tail_waits() {
        let mut conn = AgentConnection::new(keyring(vec![random_key(Algorithm::Ed25519, "a")]));
        let mut bytes = frame(&[SSH2_AGENTC_REQUEST_IDENTITIES]);
        bytes.extend(frame(&[99]));
        let third = frame(&[SSH2_AGENTC_REQUEST_IDENTITIES]);
        bytes.extend_from_slice(&third[..3]);
        let out = replies(&conn.feed(&bytes).unwrap());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0][0], SSH2_AGENT_IDENTITIES_ANSWER);
        assert_eq!(out[1], vec![SSH_AGENT_FAILURE]);
        let out = replies(&conn.feed(&third[3..]).unwrap());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0][0], SSH2_AGENT_IDENTITIES_ANSWER);
    }

    #[test]
    fn identities_list_every_key_with_its_comment() {
        let keys = vec![random_key(Algorithm::Ed25519, "first@test"), random_key(Algorithm::new("ecdsa-sha2-nistp256").unwrap(), "second@test")];
        let ring = keyring(keys.clone());
        let out = replies(&AgentConnection::new(ring).feed(&frame(&[SSH2_AGENTC_REQUEST_IDENTITIES])).unwrap());
        let mut wire = Wire(&out[0][1..]);
        assert_eq!(wire.u32(), Some(2));
        for key in &keys {
            assert_eq!(PublicKey::from_bytes(wire.string().unwrap()).unwrap().key_data(), key.public_key().key_data());
            assert_eq!(wire.string().unwrap(), key.comment().as_bytes());
        }
        assert!(wire.0.is_empty());
    }

    #[test]
    fn ed25519_and_ecdsa_signatures_verify_with_the_public_key() {
        let keys = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384"].map(|a| random_key(Algorithm::new(a).unwrap(), a));
        let ring = keyring(keys.to_vec());
        for key in &keys {
            let data = b"session id and userauth request";
            let sig = signature(&sign(&ring, key.public_key(), data, 0));
            assert_eq!(sig.algorithm(), key.algorithm());
            Verifier::verify(key.public_key(), data, &sig).unwrap();
            assert!(Verifier::verify(key.public_key(), b"other data", &sig).is_err());
        }
    }

    #[test]
    fn unknown_messages_keys_and_malformed_requests_fail() {
        let ring = keyring(vec![random_key(Algorithm::Ed25519, "a")]);
        let stranger = random_key(Algorithm::Ed25519, "b");
        assert_eq!(sign(&ring, stranger.public_key(), b"x", 0), vec![SSH_AGENT_FAILURE]);
        let mut conn = AgentConnection::new(ring);
        // ADD_IDENTITY (17), REMOVE_ALL (19), LOCK (22), EXTENSION (27), an empty message,
        // a sign request cut short, and identities with trailing bytes.
        for body in [&[17u8, 0, 0][..], &[19], &[22], &[27, 0, 0, 0, 1, b'x'], &[], &[SSH2_AGENTC_SIGN_REQUEST, 0, 0, 0, 9, 1], &[11, 0]] {
            assert_eq!(replies(&conn.feed(&frame(body)).unwrap()), vec![vec![SSH_AGENT_FAILURE]], "{body:?}");
        }
    }

    #[test]
    fn an_oversized_length_is_refused() {
        let mut conn = AgentConnection::new(keyring(vec![]));
        assert_eq!(conn.feed(&(MAX_MESSAGE as u32 + 1).to_be_bytes()), Err(Oversized(MAX_MESSAGE + 1)));
    }

    #[test]
    fn rsa_honours_the_sha2_flags_and_refuses_sha1() {
        let Some(key) = keygen_rsa() else { return };
        let ring = keyring(vec![key.clone()]);
        let data = b"data to sign";
        for (flags, hash) in [(SSH_AGENT_RSA_SHA2_256, HashAlg::Sha256), (SSH_AGENT_RSA_SHA2_512, HashAlg::Sha512)] {
            let sig = signature(&sign(&ring, key.public_key(), data, flags));
            assert_eq!(sig.algorithm(), Algorithm::Rsa { hash: Some(hash) });
            Verifier::verify(key.public_key(), data, &sig).unwrap();
        }
        assert_eq!(sign(&ring, key.public_key(), data, 0), vec![SSH_AGENT_FAILURE]);
    }

    /// RSA key generation is slow in debug builds, so ssh-keygen makes the key.
    fn keygen_rsa() -> Option<PrivateKey> {
        let dir = tempfile::tempdir().unwrap();
        keygen(dir.path(), "rsa").map(|path| PrivateKey::read_openssh_file(&path).unwrap())
    }

    /// `ssh-keygen -t TYPE` into `dir/TYPE` (+ `.pub`), or None (skip; a failure in CI).
    fn keygen(dir: &std::path::Path, kind: &str) -> Option<PathBuf> {
        ssh_keygen(&dir.join(kind), kind, "", &format!("{kind}@test"))
    }

    /// A fresh OpenSSH key at `path` (+ `.pub`); a non-empty `passphrase` encrypts it. None
    /// when ssh-keygen is missing (skip; a failure in CI).
    pub(in crate::session) fn ssh_keygen(path: &std::path::Path, kind: &str, passphrase: &str, comment: &str) -> Option<PathBuf> {
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", passphrase, "-C", comment, "-f"])
            .arg(path)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !made {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "ssh-keygen is required in CI");
            eprintln!("note: skipping, no ssh-keygen");
            return None;
        }
        Some(path.to_path_buf())
    }

    /// Serves the keyring on a unix socket, one thread per connection.
    fn serve(ring: Keyring, socket: &std::path::Path) {
        use std::io::{Read, Write};
        let listener = std::os::unix::net::UnixListener::bind(socket).unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().map_while(Result::ok) {
                let mut conn = AgentConnection::new(ring.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = stream.read(&mut buf) {
                        let Ok(replies) = conn.feed(&buf[..n]) else { break };
                        if stream.write_all(&replies).is_err() {
                            break;
                        }
                    }
                });
            }
        });
    }

    /// OpenSSH's own clients against the agent: `ssh-add -L` lists the keys, and
    /// `ssh-keygen -Y sign` (given only the public key, so the agent signs) makes signatures
    /// that `ssh-keygen -Y check-novalidate` accepts — RSA with rsa-sha2-512.
    #[test]
    fn openssh_clients_list_and_sign_through_the_agent() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let (Some(ed), Some(rsa)) = (keygen(dir.path(), "ed25519"), keygen(dir.path(), "rsa")) else { return };
        let keys: Vec<_> = [&ed, &rsa].iter().map(|p| (p.to_path_buf(), PrivateKey::read_openssh_file(p).unwrap())).collect();
        for path in [&ed, &rsa] {
            std::fs::remove_file(path).unwrap();
        }
        let socket = dir.path().join("agent.sock");
        serve(Keyring::new(keys).unwrap(), &socket);

        let listed = Command::new("ssh-add").arg("-L").env("SSH_AUTH_SOCK", &socket).output().unwrap();
        assert!(listed.status.success(), "{listed:?}");
        let listed = String::from_utf8(listed.stdout).unwrap();
        let data = dir.path().join("data");
        std::fs::write(&data, b"signed through the in-process agent").unwrap();
        for path in [&ed, &rsa] {
            let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
            assert!(listed.contains(public.trim()), "{listed}\nlacks {public}");
            let sign = Command::new("ssh-keygen")
                .args(["-Y", "sign", "-n", "test", "-f"])
                .arg(path.with_extension("pub"))
                .arg(&data)
                .env("SSH_AUTH_SOCK", &socket)
                .output()
                .unwrap();
            assert!(sign.status.success(), "{}", String::from_utf8_lossy(&sign.stderr));
            let check = Command::new("ssh-keygen")
                .args(["-Y", "check-novalidate", "-n", "test", "-f"])
                .arg(path.with_extension("pub"))
                .arg("-s")
                .arg(data.with_extension("sig"))
                .stdin(std::fs::File::open(&data).unwrap())
                .output()
                .unwrap();
            assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
            std::fs::remove_file(data.with_extension("sig")).unwrap();
        }
    }
}
