//! File ops: action chains, copy flags, owners.

use bollard_buildkit_proto::pb;
use pb::file_action::Action;

use super::super::*;
use super::*;

#[test]
fn file_chain_addresses_previous_results() {
    let ctx = Local::new("context").finish();
    let other = Image::new("other").finish().unwrap();
    let st = base()
        .dir("/app")
        .file(
            FileActions::new()
                .then(
                    Mkdir::new("data", 0o4755)
                        .parents()
                        .owner(Chown::parse("app:staff"))
                        .timestamp(42),
                )
                .then(Copy::new(&ctx, "src", "dst/"))
                .then(Copy::new(&other.dir("/opt"), "lib", "/lib/").mode(0o644))
                .then(Copy::new(&ctx, "*.txt", "."))
                .then(Rm::new("tmp").allow_not_found())
                .then(Mkfile::new("/etc/x", 0o600, "data"))
                .then(Symlink::new("/etc/x", "link")),
            Constraints::new(),
        )
        .unwrap();
    let op = op_of(&st);
    assert!(op.platform.is_none(), "file ops are not platform specific");
    assert_eq!(op.inputs.len(), 3, "base, ctx (once), other");
    let a = actions_of(&st);
    let io: Vec<(i64, i64, i64)> = a
        .iter()
        .map(|x| (x.input, x.secondary_input, x.output))
        .collect();
    assert_eq!(
        io,
        [
            (0, -1, -1),
            (3, 1, -1),
            (4, 2, -1),
            (5, 1, -1),
            (6, -1, -1),
            (7, -1, -1),
            (8, -1, 0)
        ]
    );
    let Some(Action::Mkdir(mk)) = &a[0].action else {
        panic!()
    };
    assert_eq!(
        (mk.path.as_str(), mk.mode, mk.make_parents, mk.timestamp),
        ("/app/data", 0o755, true, 42)
    );
    let owner = mk.owner.clone().unwrap();
    assert_eq!(
        owner.user.unwrap().user,
        Some(pb::user_opt::User::ByName(pb::NamedUserOpt {
            name: "app".into(),
            input: 0
        }))
    );
    let Some(Action::Copy(c1)) = &a[1].action else {
        panic!()
    };
    assert_eq!(
        (c1.src.as_str(), c1.dest.as_str(), c1.mode, c1.timestamp),
        ("/src", "/app/dst/", -1, -1)
    );
    let Some(Action::Copy(c2)) = &a[2].action else {
        panic!()
    };
    assert_eq!(
        (c2.src.as_str(), c2.dest.as_str(), c2.mode),
        ("/opt/lib", "/lib/", 0o644)
    );
    let Some(Action::Copy(c3)) = &a[3].action else {
        panic!()
    };
    assert_eq!((c3.src.as_str(), c3.dest.as_str()), ("/*.txt", "/app"));
    let Some(Action::Rm(rm)) = &a[4].action else {
        panic!()
    };
    assert_eq!(
        (rm.path.as_str(), rm.allow_not_found, rm.allow_wildcard),
        ("/app/tmp", true, false)
    );
    let Some(Action::Mkfile(mf)) = &a[5].action else {
        panic!()
    };
    assert_eq!(
        (mf.path.as_str(), mf.mode, mf.data.as_slice()),
        ("/etc/x", 0o600, b"data".as_slice())
    );
    let Some(Action::Symlink(sl)) = &a[6].action else {
        panic!()
    };
    assert_eq!(
        (sl.oldpath.as_str(), sl.newpath.as_str()),
        ("/etc/x", "/app/link")
    );
    assert_eq!(caps(&st), ["file.base", "file.symlink.create"]);
    // The file op keeps the state's meta.
    assert_eq!(st.get_dir(), "/app");
}

#[test]
fn copy_flags_reach_the_wire() {
    let ctx = Local::new("context").finish();
    let st = State::scratch()
        .file(
            Copy::new(&ctx, "app", "/srv")
                .follow_symlinks()
                .dir_contents_only()
                .attempt_unpack()
                .create_dest_path()
                .allow_wildcard()
                .allow_empty_wildcard()
                .include_patterns(&["**/*.py"])
                .exclude_patterns(&["tests"])
                .owner(Chown::ids(1, 2))
                .timestamp(7)
                .always_replace_existing(),
            Constraints::new(),
        )
        .unwrap();
    let a = actions_of(&st);
    // Scratch target: no base input, the copy source is input 0.
    assert_eq!((a[0].input, a[0].secondary_input, a[0].output), (-1, 0, 0));
    let Some(Action::Copy(c)) = &a[0].action else {
        panic!()
    };
    assert!(
        c.follow_symlink
            && c.dir_copy_contents
            && c.attempt_unpack_docker_compatibility
            && c.create_dest_path
    );
    assert!(c.allow_wildcard && c.allow_empty_wildcard && c.always_replace_existing_dest_paths);
    assert_eq!(
        (c.include_patterns.clone(), c.exclude_patterns.clone()),
        (vec!["**/*.py".to_string()], vec!["tests".to_string()])
    );
    assert_eq!(
        c.owner.clone().unwrap().group.unwrap().user,
        Some(pb::user_opt::User::ById(2))
    );
    assert_eq!(c.timestamp, 7);
    assert_eq!(caps(&st), ["file.base", "file.copy.includeexcludepatterns"]);
    assert!(matches!(
        base().file(FileActions::new(), Constraints::new()),
        Err(LlbError::EmptyFileOp)
    ));
}
