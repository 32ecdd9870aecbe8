//! Snapshot tests of the JSON dump (`bentokit llb --format json`) for a handful of graphs,
//! the shapes the Dockerfile converter produces. Review changes with `cargo insta review`.

use bentokit::llb::*;

fn snapshot_of(st: &State) -> String {
    let dump = st.marshal().dump().unwrap();
    serde_json::to_string_pretty(&dump).unwrap()
}

fn base() -> State {
    let digest = format!("sha256:{}", "ab".repeat(32));
    Image::new("localhost:5000/base:latest")
        .pin(digest)
        .constraints(Constraints::new().platform(Platform::linux_amd64()).custom_name("[internal] load base"))
        .finish()
        .unwrap()
        .with_image_config(br#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/usr/local/bin:/usr/bin:/bin"],"WorkingDir":"/"}}"#)
        .unwrap()
}

fn context() -> State {
    Local::new("context")
        .session_id("session-1")
        .shared_key_hint("context")
        .follow_paths(&["requirements.txt", "src"])
        .exclude_patterns(&["**/__pycache__", "*.pyc"])
        .constraints(Constraints::new().custom_name("[internal] load build context"))
        .finish()
}

#[test]
fn dump_run_with_mounts() {
    let sm = SourceMap::new(
        "Dockerfile",
        "FROM base\nRUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt\n",
    );
    let st = base()
        .dir("/app")
        .run(["/bin/sh", "-c", "pip install -r requirements.txt"])
        .mount(Mount::cache(
            "/root/.cache",
            "/root/.cache",
            CacheSharing::Shared,
        ))
        .mount(
            Mount::bind("/app/requirements.txt", &context())
                .readonly()
                .selector("requirements.txt"),
        )
        .mount(Mount::tmpfs("/tmp").size(1 << 26))
        .secret(Secret::file("hf_token").mode(0o400))
        .secret(Secret::env("pip_index", "PIP_INDEX_URL"))
        .network(Network::Host)
        .constraints(
            Constraints::new()
                .custom_name("[stage-0 2/3] RUN pip install -r requirements.txt")
                .location(&sm, [line_range(2, 2)]),
        )
        .finish()
        .unwrap()
        .root();
    insta::assert_snapshot!(snapshot_of(&st));
}

#[test]
fn dump_copy_chain_with_chown() {
    let st = base()
        .dir("/home/bentoml/bento")
        .file(
            FileActions::new()
                .then(
                    Mkdir::new("/home/bentoml/bento", 0o755)
                        .parents()
                        .owner(Chown::parse("bentoml:bentoml")),
                )
                .then(
                    Copy::new(&context(), "src", "./src/")
                        .dir_contents_only()
                        .follow_symlinks()
                        .create_dest_path()
                        .allow_wildcard()
                        .allow_empty_wildcard()
                        .owner(Chown::parse("bentoml:bentoml")),
                ),
            Constraints::new().custom_name("[stage-0 3/3] COPY --chown=bentoml:bentoml src ./src/"),
        )
        .unwrap();
    insta::assert_snapshot!(snapshot_of(&st));
}

#[test]
fn dump_multi_stage_copy_from() {
    let builder = base()
        .run(["/bin/sh", "-c", "echo built > /out.txt"])
        .finish()
        .unwrap()
        .root();
    let st = base()
        .file(
            Copy::new(&builder, "/out.txt", "/srv/out.txt")
                .mode(0o644)
                .create_dest_path(),
            Constraints::new()
                .custom_name("[stage-1 2/2] COPY --from=builder /out.txt /srv/out.txt"),
        )
        .unwrap();
    insta::assert_snapshot!(snapshot_of(&st));
}

#[test]
fn dump_merge_diff() {
    let b = base();
    let layer = diff(
        &b,
        &b.file(
            Mkfile::new("/etc/app.conf", 0o600, "k=v\n"),
            Constraints::new(),
        )
        .unwrap(),
        Constraints::new(),
    );
    let st = merge(&[b, layer], Constraints::new().custom_name("COPY --link"));
    insta::assert_snapshot!(snapshot_of(&st));
}
