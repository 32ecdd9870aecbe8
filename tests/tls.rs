//! bentokit over tcp:// with mutual TLS, against a private buildkitd using certificates
//! generated here with openssl.

mod common;

use common::*;

fn tls_daemon() -> Option<(PrivateDaemon, Certs, tempfile::TempDir)> {
    if shared_daemon().is_none() || !require_program("buildkitd") || !require_program("openssl") {
        return None;
    }
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = make_certs(certs_dir.path(), "ca");
    let addr = format!("tcp://127.0.0.1:{}", free_tcp_port());
    let daemon = PrivateDaemon::start(
        &addr,
        &[
            "--tlscacert",
            certs.ca.to_str().unwrap(),
            "--tlscert",
            certs.server_cert.to_str().unwrap(),
            "--tlskey",
            certs.server_key.to_str().unwrap(),
        ],
        &[
            "--tlscacert",
            certs.ca.to_str().unwrap(),
            "--tlscert",
            certs.client_cert.to_str().unwrap(),
            "--tlskey",
            certs.client_key.to_str().unwrap(),
        ],
    );
    Some((daemon, certs, certs_dir))
}

#[test]
fn mtls_workers_wrong_ca_and_missing_client_cert() {
    let Some((daemon, certs, dir)) = tls_daemon() else { return };

    // Flags.
    let out = run(bentokit()
        .args(["--addr", &daemon.addr, "debug", "workers", "--tlscacert"])
        .arg(&certs.ca)
        .arg("--tlscert")
        .arg(&certs.client_cert)
        .arg("--tlskey")
        .arg(&certs.client_key));
    assert!(out.status.success(), "{}\n{}", text(&out.stderr), daemon.log());
    assert!(text(&out.stdout).contains("linux/amd64"), "{}", text(&out.stdout));

    // The documented environment variables.
    let out = run(bentokit()
        .env("BUILDKIT_HOST", &daemon.addr)
        .env("BUILDKIT_TLS_CA_CERT", &certs.ca)
        .env("BUILDKIT_TLS_CERT", &certs.client_cert)
        .env("BUILDKIT_TLS_KEY", &certs.client_key)
        .env("BUILDKIT_TLS_SERVER_NAME", "localhost")
        .args(["debug", "info"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("v0.13"));

    // --tlsdir with buildctl's file names.
    let tlsdir = dir.path().join("tlsdir");
    std::fs::create_dir(&tlsdir).unwrap();
    std::fs::copy(&certs.ca, tlsdir.join("ca.pem")).unwrap();
    std::fs::copy(&certs.client_cert, tlsdir.join("cert.pem")).unwrap();
    std::fs::copy(&certs.client_key, tlsdir.join("key.pem")).unwrap();
    let out = run(bentokit().args(["--addr", &daemon.addr, "debug", "workers", "--tlsdir"]).arg(&tlsdir));
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A CA that did not sign the daemon's certificate.
    let other = make_certs(&dir.path().join("other").tap_mkdir(), "otherca");
    let out = run(bentokit()
        .args(["--addr", &daemon.addr, "debug", "workers", "--tlscacert"])
        .arg(&other.ca)
        .arg("--tlscert")
        .arg(&certs.client_cert)
        .arg("--tlskey")
        .arg(&certs.client_key));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("TLS handshake with buildkitd at {} failed", daemon.addr)), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "names the certificate problem: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // No client certificate: the daemon requires one.
    let out = run(bentokit().args(["--addr", &daemon.addr, "debug", "workers", "--tlscacert"]).arg(&certs.ca));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&daemon.addr), "{stderr}");

    // A key without its certificate is a usage error, not a connection attempt.
    let out = run(bentokit().args(["--addr", &daemon.addr, "debug", "workers", "--tlskey"]).arg(&certs.client_key));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--tlscert and --tlskey must be given together"));
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
