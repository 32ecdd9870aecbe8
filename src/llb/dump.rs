//! A readable JSON view of a definition, one object per op like `buildctl debug dump-llb`:
//! `{"Op": …, "Digest": "sha256:…", "OpMetadata": …}`. Field names follow the protobuf JSON
//! names BuildKit prints; zero values are left out. For people and snapshots, not for parsing
//! back (use `Definition::to_bytes` for that).

use bollard_buildkit_proto::pb;
use serde_json::{json, Map, Value};

use super::error::LlbError;
use super::marshal::Definition;

impl Definition {
    /// One JSON value per op, in definition order.
    pub fn dump(&self) -> Result<Vec<Value>, LlbError> {
        Ok(self
            .ops()?
            .into_iter()
            .map(|e| json!({"Op": op_json(&e.op), "Digest": e.digest, "OpMetadata": metadata_json(&e.metadata)}))
            .collect())
    }

    /// The dump as newline-separated JSON objects (what `buildctl debug dump-llb` prints).
    pub fn dump_json_lines(&self) -> Result<String, LlbError> {
        let mut out = String::new();
        for v in self.dump()? {
            out.push_str(&v.to_string());
            out.push('\n');
        }
        Ok(out)
    }
}

/// Builds an object, skipping zero values (`omitempty`).
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn put(mut self, key: &str, v: impl Into<Value>) -> Self {
        let v = v.into();
        let empty = match &v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_i64() == Some(0) || n.as_u64() == Some(0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        };
        if !empty {
            self.0.insert(key.into(), v);
        }
        self
    }

    /// Always present, even when zero (indices where 0 and -1 both mean something).
    fn put_always(mut self, key: &str, v: impl Into<Value>) -> Self {
        self.0.insert(key.into(), v.into());
        self
    }

    fn done(self) -> Value {
        Value::Object(self.0)
    }

    /// Finishes with an optional field that is shown even when empty (`"constraints": {}`).
    fn done_with(mut self, field: Option<(&str, Value)>) -> Value {
        if let Some((k, v)) = field {
            self.0.insert(k.into(), v);
        }
        Value::Object(self.0)
    }
}

fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> Value) -> Value {
    v.as_ref().map_or(Value::Null, f)
}

fn op_json(op: &pb::Op) -> Value {
    let inputs: Vec<Value> = op
        .inputs
        .iter()
        .map(|i| {
            Obj::default()
                .put("digest", i.digest.clone())
                .put_always("index", i.index)
                .done()
        })
        .collect();
    let body = match &op.op {
        Some(pb::op::Op::Exec(e)) => json!({ "exec": exec_json(e) }),
        Some(pb::op::Op::Source(s)) => {
            json!({ "source": Obj::default().put("identifier", s.identifier.clone()).put("attrs", json!(s.attrs)).done() })
        }
        Some(pb::op::Op::File(f)) => {
            json!({ "file": { "actions": f.actions.iter().map(file_action_json).collect::<Vec<_>>() } })
        }
        Some(pb::op::Op::Merge(m)) => {
            json!({ "merge": { "inputs": m.inputs.iter().map(|i| json!({"input": i.input})).collect::<Vec<_>>() } })
        }
        Some(pb::op::Op::Diff(d)) => json!({ "diff": {
            "lower": { "input": d.lower.map_or(-1, |l| l.input) },
            "upper": { "input": d.upper.map_or(-1, |u| u.input) },
        }}),
        Some(pb::op::Op::Build(_)) => json!({ "build": {} }),
        None => Value::Null,
    };
    Obj::default()
        .put("inputs", inputs)
        .put("Op", body)
        .put(
            "platform",
            opt(&op.platform, |p| {
                Obj::default()
                    .put("Architecture", p.architecture.clone())
                    .put("OS", p.os.clone())
                    .put("Variant", p.variant.clone())
                    .done()
            }),
        )
        .done_with(op.constraints.as_ref().map(|c| {
            (
                "constraints",
                Obj::default().put("filter", json!(c.filter)).done(),
            )
        }))
}

fn exec_json(e: &pb::ExecOp) -> Value {
    let meta = opt(&e.meta, |m| {
        Obj::default()
            .put("args", json!(m.args))
            .put("env", json!(m.env))
            .put("cwd", m.cwd.clone())
            .put("user", m.user.clone())
            .put("hostname", m.hostname.clone())
            .put(
                "extraHosts",
                m.extra_hosts
                    .iter()
                    .map(|h| json!({"Host": h.host, "IP": h.ip}))
                    .collect::<Vec<_>>(),
            )
            .put("removeMountStubsRecursive", m.remove_mount_stubs_recursive)
            .put("validExitCodes", json!(m.valid_exit_codes))
            .done()
    });
    let mounts: Vec<Value> = e
        .mounts
        .iter()
        .map(|m| {
            let kind = pb::MountType::try_from(m.mount_type).map_or("UNKNOWN", |k| k.as_str_name());
            Obj::default()
                .put_always("input", m.input)
                .put("selector", m.selector.clone())
                .put("dest", m.dest.clone())
                .put_always("output", m.output)
                .put("readonly", m.readonly)
                .put(
                    "mountType",
                    if m.mount_type == 0 {
                        Value::Null
                    } else {
                        kind.into()
                    },
                )
                .put("TmpfsOpt", opt(&m.tmpfs_opt, |t| json!({"size": t.size})))
                .put(
                    "cacheOpt",
                    opt(&m.cache_opt, |c| {
                        let sharing = pb::CacheSharingOpt::try_from(c.sharing)
                            .map_or("UNKNOWN", |s| s.as_str_name());
                        json!({"ID": c.id, "sharing": sharing})
                    }),
                )
                .put(
                    "secretOpt",
                    opt(&m.secret_opt, |s| {
                        Obj::default()
                            .put("ID", s.id.clone())
                            .put("uid", s.uid)
                            .put("gid", s.gid)
                            .put("mode", s.mode)
                            .put("optional", s.optional)
                            .done()
                    }),
                )
                .put(
                    "SSHOpt",
                    opt(&m.ssh_opt, |s| {
                        Obj::default()
                            .put("ID", s.id.clone())
                            .put("uid", s.uid)
                            .put("gid", s.gid)
                            .put("mode", s.mode)
                            .put("optional", s.optional)
                            .done()
                    }),
                )
                .done()
        })
        .collect();
    let network = pb::NetMode::try_from(e.network).map_or("UNKNOWN", |n| n.as_str_name());
    let security = pb::SecurityMode::try_from(e.security).map_or("UNKNOWN", |s| s.as_str_name());
    Obj::default()
        .put("meta", meta)
        .put("mounts", mounts)
        .put(
            "network",
            if e.network == 0 {
                Value::Null
            } else {
                network.into()
            },
        )
        .put(
            "security",
            if e.security == 0 {
                Value::Null
            } else {
                security.into()
            },
        )
        .put(
            "secretenv",
            e.secretenv
                .iter()
                .map(|s| {
                    Obj::default()
                        .put("ID", s.id.clone())
                        .put("name", s.name.clone())
                        .put("optional", s.optional)
                        .done()
                })
                .collect::<Vec<_>>(),
        )
        .done()
}

fn chown_json(c: &Option<pb::ChownOpt>) -> Value {
    let user = |u: &pb::UserOpt| match &u.user {
        Some(pb::user_opt::User::ById(id)) => json!({"ByID": id}),
        Some(pb::user_opt::User::ByName(n)) => {
            json!({"ByName": {"name": n.name, "input": n.input}})
        }
        None => Value::Null,
    };
    opt(c, |c| {
        Obj::default()
            .put("user", opt(&c.user, user))
            .put("group", opt(&c.group, user))
            .done()
    })
}

fn file_action_json(a: &pb::FileAction) -> Value {
    use pb::file_action::Action;
    let ts = |t: i64| if t == -1 { Value::Null } else { t.into() };
    let action = match &a.action {
        Some(Action::Copy(c)) => json!({ "copy": Obj::default()
            .put("src", c.src.clone())
            .put("dest", c.dest.clone())
            .put("owner", chown_json(&c.owner))
            .put_always("mode", c.mode)
            .put("followSymlink", c.follow_symlink)
            .put("dirCopyContents", c.dir_copy_contents)
            .put("attemptUnpackDockerCompatibility", c.attempt_unpack_docker_compatibility)
            .put("createDestPath", c.create_dest_path)
            .put("allowWildcard", c.allow_wildcard)
            .put("allowEmptyWildcard", c.allow_empty_wildcard)
            .put_always("timestamp", c.timestamp)
            .put("include_patterns", json!(c.include_patterns))
            .put("exclude_patterns", json!(c.exclude_patterns))
            .put("alwaysReplaceExistingDestPaths", c.always_replace_existing_dest_paths)
            .done() }),
        Some(Action::Mkfile(m)) => json!({ "mkfile": Obj::default()
            .put("path", m.path.clone())
            .put_always("mode", m.mode)
            .put("data", match std::str::from_utf8(&m.data) {
                Ok(s) => Value::String(s.to_string()),
                Err(_) => json!({"hex": hex::encode(&m.data)}),
            })
            .put("owner", chown_json(&m.owner))
            .put("timestamp", ts(m.timestamp))
            .done() }),
        Some(Action::Mkdir(m)) => json!({ "mkdir": Obj::default()
            .put("path", m.path.clone())
            .put_always("mode", m.mode)
            .put("makeParents", m.make_parents)
            .put("owner", chown_json(&m.owner))
            .put("timestamp", ts(m.timestamp))
            .done() }),
        Some(Action::Rm(r)) => json!({ "rm": Obj::default()
            .put("path", r.path.clone())
            .put("allowNotFound", r.allow_not_found)
            .put("allowWildcard", r.allow_wildcard)
            .done() }),
        Some(Action::Symlink(s)) => json!({ "symlink": Obj::default()
            .put("oldpath", s.oldpath.clone())
            .put("newpath", s.newpath.clone())
            .put("owner", chown_json(&s.owner))
            .put("timestamp", ts(s.timestamp))
            .done() }),
        None => Value::Null,
    };
    Obj::default()
        .put_always("input", a.input)
        .put_always("secondaryInput", a.secondary_input)
        .put_always("output", a.output)
        .put("Action", action)
        .done()
}

fn metadata_json(md: &pb::OpMetadata) -> Value {
    Obj::default()
        .put("ignore_cache", md.ignore_cache)
        .put("description", json!(md.description))
        .put(
            "export_cache",
            opt(&md.export_cache, |e| json!({"Value": e.value})),
        )
        .put("caps", json!(md.caps))
        .put(
            "progress_group",
            opt(&md.progress_group, |g| {
                Obj::default()
                    .put("id", g.id.clone())
                    .put("name", g.name.clone())
                    .put("weak", g.weak)
                    .done()
            }),
        )
        .done()
}
