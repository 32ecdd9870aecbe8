//! Real-daemon tests against registries: a registry cache exported by one build is
//! imported by a cold daemon (steps show CACHED); pushing to a registry with htpasswd auth
//! works with credentials from a docker config file and fails without them.

#[path = "gateway/mod.rs"]
mod common;

use std::process::Command;

use bentokit::session::AuthConfig;
use bentokit::solve::{plain_progress::collect_states, Build, BuildOptions, CacheSpec, Connection, ExportSpec, PlatformResult};
use common::auth_registry::AuthRegistry;
use common::private_daemon::PrivateDaemon;
use common::*;

async fn cached_build(conn: &Connection, marker: &str, opts: BuildOptions) -> Vec<(String, String)> {
    let mut build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let states = tokio::spawn(collect_states(build.take_status().unwrap()));
    let p = amd64();
    let resolved = build.gateway().resolve_image_config(BASE_IMAGE, &p).await.unwrap();
    let mut llb = Llb::default();
    let img = llb.image(&format!("{BASE_IMAGE}@{}", resolved.digest), &p);
    let run = llb.exec(&img, &format!("echo {marker} > /marker"), vec![], &p);
    build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&run), image_config: resolved.config_json }]).await.unwrap();
    states.await.unwrap()
}

#[tokio::test]
async fn registry_cache_is_imported_by_a_cold_daemon() {
    let Some(shared) = daemon().await else { return };
    let marker = unique("bentokit-regcache-");
    let cache_ref = format!("localhost:5000/bentokit-test/cache:{}", unique("c"));
    let export = BuildOptions {
        cache_exports: vec![CacheSpec::parse_export(&format!("type=registry,ref={cache_ref},mode=max")).unwrap()],
        ..Default::default()
    };
    let first = cached_build(&shared, &marker, export).await;
    let exec_state = |states: &[(String, String)]| states.iter().find(|(n, _)| n.contains(&marker)).map(|(_, s)| s.clone());
    assert_eq!(exec_state(&first).as_deref(), Some("DONE"), "{first:?}");

    let Some(cold) = PrivateDaemon::start(&[]).await else { return };
    let conn = cold.connect().await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let import = BuildOptions {
        cache_imports: vec![CacheSpec::parse_import(&format!("type=registry,ref={cache_ref}")).unwrap()],
        exports: vec![ExportSpec::parse(&format!("type=local,dest={}", tmp.path().join("out").display())).unwrap()],
        ..Default::default()
    };
    let second = cached_build(&conn, &marker, import).await;
    assert_eq!(exec_state(&second).as_deref(), Some("CACHED"), "{second:?}\n{}", cold.log());
    assert_eq!(std::fs::read_to_string(tmp.path().join("out/marker")).unwrap().trim(), marker);
}

#[tokio::test]
async fn local_cache_directory_is_imported_by_a_cold_daemon() {
    let Some(shared) = daemon().await else { return };
    let marker = unique("bentokit-localcache-");
    let tmp = tempfile::tempdir().unwrap();
    let cache_dir = tmp.path().join("cache");
    let export = BuildOptions {
        cache_exports: vec![CacheSpec::parse_export(&format!("type=local,dest={},mode=max", cache_dir.display())).unwrap()],
        ..Default::default()
    };
    let first = cached_build(&shared, &marker, export).await;
    let exec_state = |states: &[(String, String)]| states.iter().find(|(n, _)| n.contains(&marker)).map(|(_, s)| s.clone());
    assert_eq!(exec_state(&first).as_deref(), Some("DONE"), "{first:?}");
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(cache_dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest");

    let Some(cold) = PrivateDaemon::start(&[]).await else { return };
    let conn = cold.connect().await.unwrap();
    let import = BuildOptions {
        cache_imports: vec![CacheSpec::parse_import(&format!("type=local,src={}", cache_dir.display())).unwrap()],
        exports: vec![ExportSpec::parse(&format!("type=local,dest={}", tmp.path().join("out").display())).unwrap()],
        ..Default::default()
    };
    let second = cached_build(&conn, &marker, import).await;
    assert_eq!(exec_state(&second).as_deref(), Some("CACHED"), "{second:?}\n{}", cold.log());
    assert_eq!(std::fs::read_to_string(tmp.path().join("out/marker")).unwrap().trim(), marker);
}

#[tokio::test]
async fn inline_cache_in_a_pushed_image_is_imported_by_a_cold_daemon() {
    let Some(shared) = daemon().await else { return };
    let marker = unique("bentokit-inline-");
    let image = format!("localhost:5000/bentokit-test/inline:{}", unique("i"));
    let export = BuildOptions {
        exports: vec![ExportSpec::parse(&format!("type=image,name={image},push=true")).unwrap()],
        cache_exports: vec![CacheSpec::parse_export("type=inline").unwrap()],
        ..Default::default()
    };
    let first = cached_build(&shared, &marker, export).await;
    let exec_state = |states: &[(String, String)]| states.iter().find(|(n, _)| n.contains(&marker)).map(|(_, s)| s.clone());
    assert_eq!(exec_state(&first).as_deref(), Some("DONE"), "{first:?}");

    let Some(cold) = PrivateDaemon::start(&[]).await else { return };
    let conn = cold.connect().await.unwrap();
    let import = BuildOptions { cache_imports: vec![CacheSpec::parse_import(&image).unwrap()], ..Default::default() };
    let second = cached_build(&conn, &marker, import).await;
    assert_eq!(exec_state(&second).as_deref(), Some("CACHED"), "{second:?}");
}

async fn push(conn: &Connection, name: &str, auth: AuthConfig) -> Result<(), String> {
    let opts = BuildOptions { exports: vec![ExportSpec::parse(&format!("type=image,name={name},push=true")).unwrap()], auth: Some(auth), ..Default::default() };
    let build = Build::start(conn.channel.clone(), opts).await.unwrap();
    let p = amd64();
    let mut llb = Llb::default();
    let file = llb.mkfile(None, "/hello", unique("auth-").as_bytes(), &p);
    let config = image_config(&p, &[], "", &["/hello"]);
    build.finish(vec![PlatformResult { platform: p, definition: llb.definition(&file), image_config: config }]).await.map(|_| ()).map_err(|e| e.to_string())
}

#[tokio::test]
async fn push_with_htpasswd_credentials_from_docker_config() {
    let Some(registry) = AuthRegistry::start("bento", "s3cret-pw") else { return };
    let host = format!("127.0.0.1:{}", registry.port);
    let Some(daemon) = PrivateDaemon::start(&[&host]).await else { return };
    let conn = daemon.connect().await.unwrap();
    let config_dir = tempfile::tempdir().unwrap();
    let name = format!("{host}/bentokit-test/auth:1");

    // Without credentials the registry refuses the push.
    std::fs::write(config_dir.path().join("config.json"), "{}").unwrap();
    let anonymous = AuthConfig { config_file: config_dir.path().join("config.json") };
    let err = push(&conn, &name, anonymous).await.unwrap_err();
    assert!(err.contains("401") || err.to_lowercase().contains("unauthorized"), "{err}");

    // With an `auths` entry it works, and the password is in no error or response.
    let auth = base64_encode("bento:s3cret-pw");
    std::fs::write(config_dir.path().join("config.json"), format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#)).unwrap();
    let creds = AuthConfig { config_file: config_dir.path().join("config.json") };
    push(&conn, &name, creds).await.unwrap();
    let listing = run(Command::new("curl").args(["-fsS", "-u", "bento:s3cret-pw", &format!("http://{host}/v2/bentokit-test/auth/tags/list")]));
    assert!(listing.contains("\"1\""), "{listing}");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
