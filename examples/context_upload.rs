//! Benchmark client for `bench/context-upload.sh`: sends a directory as `local://context`
//! and copies it onto scratch (no export), like `FROM scratch` + `COPY . /`.
//!
//! Usage: context_upload --addr unix:///path/buildkitd.sock DIR

use std::collections::HashMap;

use bentokit::session::LocalContext;
use bentokit::solve::{connect, Build, BuildOptions, ConnectOptions, PlatformResult};
use bollard_buildkit_proto::pb;
use prost::Message;
use sha2::{Digest, Sha256};

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn main() -> anyhow::Result<()> {
    // As the CLI does.
    bentokit::session::tune_allocator();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (addr, dir) = match args.as_slice() {
        [_, flag, addr, dir] if flag == "--addr" => (addr.clone(), dir.clone()),
        _ => anyhow::bail!("usage: context_upload --addr ADDR DIR"),
    };
    let conn = connect(&ConnectOptions { addr: Some(addr), ..Default::default() }).await?;
    // A stable shared key, as `bentokit build` uses: an unchanged context transfers nothing.
    let shared_key = Some(bentokit::session::shared_key_for(&[std::path::Path::new(&dir)]));
    let opts = BuildOptions { locals: HashMap::from([("context".to_string(), LocalContext::new(&dir))]), shared_key, ..Default::default() };
    let build = Build::start(conn.channel.clone(), opts).await?;
    let platform = pb::Platform { os: "linux".into(), architecture: "amd64".into(), ..Default::default() };
    let local = pb::Op {
        op: Some(pb::op::Op::Source(pb::SourceOp {
            identifier: "local://context".into(),
            attrs: [("local.session".to_string(), build.session_id().to_string()), ("local.sharedkeyhint".into(), "context".into())].into(),
        })),
        ..Default::default()
    }
    .encode_to_vec();
    let copy = pb::FileActionCopy { src: "/".into(), dest: "/".into(), mode: -1, dir_copy_contents: true, create_dest_path: true, allow_wildcard: true, allow_empty_wildcard: true, timestamp: -1, ..Default::default() };
    let file = pb::Op {
        inputs: vec![pb::Input { digest: digest(&local), index: 0 }],
        platform: Some(platform.clone()),
        op: Some(pb::op::Op::File(pb::FileOp { actions: vec![pb::FileAction { input: -1, secondary_input: 0, output: 0, action: Some(pb::file_action::Action::Copy(copy)) }] })),
        ..Default::default()
    }
    .encode_to_vec();
    let term = pb::Op { inputs: vec![pb::Input { digest: digest(&file), index: 0 }], ..Default::default() }.encode_to_vec();
    let definition = pb::Definition { def: vec![local, file, term], ..Default::default() };
    let config = br#"{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec();
    build.finish(vec![PlatformResult { platform, definition, image_config: config }]).await?;
    Ok(())
}
