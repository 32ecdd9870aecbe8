//! An in-process [`ImageResolver`] for tests and benchmarks that run without a daemon:
//! every reference resolves to a busybox-like config (the ONBUILD base of the corpus gets
//! its triggers), pinned to a digest derived from the reference.

use bentokit::convert::{ImageResolver, ResolvedImage};
use bentokit::llb::Platform;
use sha2::{Digest, Sha256};

pub struct FakeResolver;

impl ImageResolver for FakeResolver {
    fn resolve_image_config(
        &self,
        reference: &str,
        platform: &Platform,
        _log_name: &str,
    ) -> impl std::future::Future<Output = Result<ResolvedImage, String>> + Send {
        let onbuild = if reference.contains("onbuild-base") {
            r#","OnBuild":["RUN echo triggered > /trigger","COPY a.txt /onbuild-a.txt","ENV FROM_TRIGGER=yes"]"#
        } else {
            ""
        };
        let config = format!(
            r#"{{"architecture":"{}","os":"{}","config":{{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]{onbuild}}},"rootfs":{{"type":"layers","diff_ids":["sha256:{}"]}},"history":[{{"created_by":"ADD busybox /"}}]}}"#,
            platform.architecture,
            platform.os,
            hex::encode(Sha256::digest(b"layer")),
        );
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(reference.as_bytes())));
        let resolved = ResolvedImage { reference: reference.to_string(), digest, config: config.into_bytes() };
        std::future::ready(Ok(resolved))
    }
}

#[allow(dead_code)]
/// Drives a converter future to completion (the fake resolver never waits).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}
