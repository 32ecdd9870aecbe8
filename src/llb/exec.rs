//! Exec ops (`RUN`): a command run in a container whose root is a state's filesystem, with
//! extra mounts (bind, cache, tmpfs, secret, ssh). The command inherits env, cwd, user,
//! hostname, network, security and extra hosts from the state; the builder can override them
//! for this one run. The result gives the root's output state and one per writable mount.
//! Nothing runs here: this only describes the op for BuildKit.

use bollard_buildkit_proto::pb;

use super::error::LlbError;
use super::state::{Constraints, InputList, Network, Node, Output, Platform, Security, State};

/// `sharing=` of a cache mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheSharing {
    #[default]
    Shared,
    Private,
    Locked,
}

#[derive(Clone, Debug)]
enum MountKind {
    Bind,
    Cache { id: String, sharing: CacheSharing },
    Tmpfs { size: i64 },
}

/// A filesystem mount of an exec (not secrets/ssh, see [`Secret`] and [`Ssh`]).
#[derive(Clone, Debug)]
pub struct Mount {
    target: String,
    source: Option<State>,
    selector: String,
    readonly: bool,
    no_output: bool,
    kind: MountKind,
}

impl Mount {
    /// `type=bind`: `source`'s filesystem at `target` (writable unless `readonly`, changes
    /// are visible as this mount's output state).
    pub fn bind(target: impl Into<String>, source: &State) -> Self {
        Mount::new(target.into(), Some(source.clone()), MountKind::Bind)
    }

    /// `type=cache`: a persistent directory shared between builds by `id`.
    pub fn cache(target: impl Into<String>, id: impl Into<String>, sharing: CacheSharing) -> Self {
        Mount::new(
            target.into(),
            None,
            MountKind::Cache {
                id: id.into(),
                sharing,
            },
        )
    }

    /// `type=tmpfs`: an empty in-memory filesystem.
    pub fn tmpfs(target: impl Into<String>) -> Self {
        Mount::new(target.into(), None, MountKind::Tmpfs { size: 0 })
    }

    fn new(target: String, source: Option<State>, kind: MountKind) -> Self {
        Mount {
            target,
            source,
            selector: String::new(),
            readonly: false,
            no_output: false,
            kind,
        }
    }

    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    /// Mount only this path of the source (`source=` of a bind or cache mount).
    pub fn selector(mut self, path: impl Into<String>) -> Self {
        self.selector = path.into();
        self
    }

    /// Initial contents of a cache mount (`from=`).
    pub fn from(mut self, source: &State) -> Self {
        self.source = Some(source.clone());
        self
    }

    /// Size limit of a tmpfs mount in bytes.
    pub fn size(mut self, bytes: i64) -> Self {
        if let MountKind::Tmpfs { size } = &mut self.kind {
            *size = bytes;
        }
        self
    }

    /// A writable mount whose changes are thrown away (no output state).
    pub fn no_output(mut self) -> Self {
        self.no_output = true;
        self
    }

    fn has_output(&self) -> bool {
        !self.no_output && !self.readonly && matches!(self.kind, MountKind::Bind)
    }
}

/// `type=secret`: a secret from the session, as a file and/or an environment variable.
#[derive(Clone, Debug)]
pub struct Secret {
    id: String,
    target: Option<String>,
    env: Option<String>,
    uid: u32,
    gid: u32,
    mode: u32,
    optional: bool,
}

impl Secret {
    /// A file at `/run/secrets/<id>` (change with `target`), mode 0400, owned by root.
    pub fn file(id: impl Into<String>) -> Self {
        let id = id.into();
        let target = format!("/run/secrets/{id}");
        Secret {
            id,
            target: Some(target),
            env: None,
            uid: 0,
            gid: 0,
            mode: 0o400,
            optional: false,
        }
    }

    /// Only an environment variable `name` (`--mount=type=secret,id=…,env=NAME`).
    pub fn env(id: impl Into<String>, name: impl Into<String>) -> Self {
        Secret {
            env: Some(name.into()),
            target: None,
            ..Secret::file(id)
        }
    }

    pub fn target(mut self, path: impl Into<String>) -> Self {
        self.target = Some(path.into());
        self
    }

    /// Also expose the secret as environment variable `name`.
    pub fn also_env(mut self, name: impl Into<String>) -> Self {
        self.env = Some(name.into());
        self
    }

    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }

    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = gid;
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Don't fail when the client has no such secret.
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// `type=ssh`: an SSH agent socket forwarded from the client.
#[derive(Clone, Debug)]
pub struct Ssh {
    id: String,
    target: Option<String>,
    uid: u32,
    gid: u32,
    mode: u32,
    optional: bool,
}

impl Ssh {
    /// Agent `id` (`default` unless the user named one); socket mode 0600.
    pub fn new(id: impl Into<String>) -> Self {
        Ssh {
            id: id.into(),
            target: None,
            uid: 0,
            gid: 0,
            mode: 0o600,
            optional: false,
        }
    }

    pub fn target(mut self, path: impl Into<String>) -> Self {
        self.target = Some(path.into());
        self
    }

    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }

    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = gid;
        self
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// Proxy settings passed to the command but kept out of the cache key (`HTTP_PROXY` & co.
/// build args in Dockerfiles). Empty fields are not set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub http_proxy: String,
    pub https_proxy: String,
    pub ftp_proxy: String,
    pub no_proxy: String,
    pub all_proxy: String,
}

/// Builder of one exec op; start with [`State::run`], end with [`Exec::finish`].
#[derive(Clone, Debug)]
pub struct Exec {
    /// The state `run` was called on: result states keep its meta.
    caller: State,
    /// `caller` plus this run's overrides (env, cwd, user, ...).
    base: State,
    args: Vec<String>,
    mounts: Vec<Mount>,
    secrets: Vec<Secret>,
    ssh: Vec<Ssh>,
    readonly_root: bool,
    valid_exit_codes: Vec<i32>,
    proxy_env: Option<ProxyEnv>,
    constraints: Constraints,
}

impl State {
    /// Runs `args` (argv, no shell added) on this state's filesystem.
    pub fn run<I, S>(&self, args: I) -> Exec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Exec {
            caller: self.clone(),
            base: self.clone(),
            args: args.into_iter().map(Into::into).collect(),
            mounts: Vec::new(),
            secrets: Vec::new(),
            ssh: Vec::new(),
            readonly_root: false,
            valid_exit_codes: Vec::new(),
            proxy_env: None,
            constraints: Constraints::default(),
        }
    }
}

impl Exec {
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    pub fn secret(mut self, secret: Secret) -> Self {
        self.secrets.push(secret);
        self
    }

    pub fn ssh(mut self, ssh: Ssh) -> Self {
        self.ssh.push(ssh);
        self
    }

    /// Overrides the environment variable for this run only (the result states keep the base env).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.base = self.base.add_env(key, value);
        self
    }

    pub fn cwd(mut self, dir: &str) -> Self {
        self.base = self.base.dir(dir);
        self
    }

    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.base = self.base.user(user);
        self
    }

    pub fn network(mut self, network: Network) -> Self {
        self.base = self.base.network(network);
        self
    }

    pub fn security(mut self, security: Security) -> Self {
        self.base = self.base.security(security);
        self
    }

    pub fn extra_host(mut self, host: impl Into<String>, ip: impl Into<String>) -> Self {
        self.base = self.base.add_extra_host(host, ip);
        self
    }

    pub fn readonly_root(mut self) -> Self {
        self.readonly_root = true;
        self
    }

    /// Exit codes that count as success (needs a daemon with the `exec.validexitcode` cap).
    pub fn valid_exit_codes(mut self, codes: &[i32]) -> Self {
        self.valid_exit_codes = codes.to_vec();
        self
    }

    pub fn proxy_env(mut self, proxy: ProxyEnv) -> Self {
        self.proxy_env = Some(proxy);
        self
    }

    pub fn constraints(mut self, c: Constraints) -> Self {
        self.constraints = c;
        self
    }

    /// Encodes the op. Fails on an empty command or a mount BuildKit would reject.
    pub fn finish(self) -> Result<ExecState, LlbError> {
        if self.args.is_empty() {
            return Err(LlbError::EmptyArgs);
        }
        let Exec {
            caller,
            base,
            args,
            mut mounts,
            secrets,
            ssh,
            readonly_root,
            valid_exit_codes,
            proxy_env,
            mut constraints,
        } = self;
        for m in &mounts {
            let bad = |reason| {
                Err(LlbError::InvalidMount {
                    target: m.target.clone(),
                    reason,
                })
            };
            if !m.target.starts_with('/') {
                return bad("mount targets must be absolute paths");
            }
            if m.target == "/" {
                return bad("the root is mounted already; mount something below it");
            }
            if matches!(m.kind, MountKind::Tmpfs { .. }) && m.source.is_some() {
                return bad("a tmpfs mount cannot have a source");
            }
        }
        let mut root = Mount::bind("/", &base);
        root.readonly = readonly_root;
        mounts.push(root);
        // BuildKit's client orders mounts by target; output indices follow that order.
        mounts.sort_by(|a, b| a.target.cmp(&b.target));

        let ssh_targets: Vec<String> = ssh
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.target
                    .clone()
                    .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{i}"))
            })
            .collect();
        let meta = &base.meta;
        let key_value = |k: &str, v: &str| {
            let mut kv = String::with_capacity(k.len() + 1 + v.len());
            kv.push_str(k);
            kv.push('=');
            kv.push_str(v);
            kv
        };
        let mut env: Vec<String> = Vec::with_capacity(meta.env.len() + 1);
        env.extend(meta.env.iter().map(|(k, v)| key_value(k, v)));
        if let Some(first) = ssh_targets.first() {
            if !meta.env.iter().any(|(k, _)| k == "SSH_AUTH_SOCK") {
                env.push(key_value("SSH_AUTH_SOCK", first));
            }
        }
        let pb_meta = pb::Meta {
            args,
            env,
            cwd: meta.dir.to_string(),
            user: meta.user.to_string(),
            hostname: meta.hostname.to_string(),
            extra_hosts: meta
                .extra_hosts
                .iter()
                .map(|(host, ip)| pb::HostIp {
                    host: host.clone(),
                    ip: ip.clone(),
                })
                .collect(),
            remove_mount_stubs_recursive: true,
            valid_exit_codes: valid_exit_codes.clone(),
            proxy_env: proxy_env.map(|p| pb::ProxyEnv {
                http_proxy: p.http_proxy,
                https_proxy: p.https_proxy,
                ftp_proxy: p.ftp_proxy,
                no_proxy: p.no_proxy,
                all_proxy: p.all_proxy,
            }),
            ..Default::default()
        };
        if pb_meta.proxy_env.is_some() {
            constraints.add_cap("exec.meta.proxyenv");
        }
        let network = match meta.network {
            Network::Sandbox => pb::NetMode::Unset,
            Network::Host => pb::NetMode::Host,
            Network::None => pb::NetMode::None,
        };
        let security = match meta.security {
            Security::Sandbox => pb::SecurityMode::Sandbox,
            Security::Insecure => pb::SecurityMode::Insecure,
        };
        if network != pb::NetMode::Unset {
            constraints.add_cap("exec.meta.network");
        }
        if security != pb::SecurityMode::Sandbox {
            constraints.add_cap("exec.meta.security");
        }
        if !valid_exit_codes.is_empty() {
            constraints.add_cap("exec.validexitcode");
        }
        constraints.add_cap("exec.meta.base");

        let mut inputs = InputList::default();
        let mut pb_mounts = Vec::new();
        let mut output_count = 0i64;
        let mut output_of = Vec::new(); // per sorted mount: Some(output index)
        for m in &mounts {
            if !m.selector.is_empty() {
                constraints.add_cap("exec.mount.selector");
            }
            let source_out = m.source.as_ref().and_then(State::output);
            let mut pm = pb::Mount {
                input: source_out.map_or(-1, |o| inputs.add(o)),
                selector: m.selector.clone(),
                dest: m.target.clone(),
                output: -1,
                readonly: m.readonly,
                ..Default::default()
            };
            match &m.kind {
                MountKind::Bind => {
                    if source_out.is_some() {
                        constraints.add_cap("exec.mount.bind");
                    }
                }
                MountKind::Cache { id, sharing } => {
                    constraints.add_cap("exec.mount.cache");
                    constraints.add_cap("exec.mount.cache.sharing");
                    pm.mount_type = pb::MountType::Cache as i32;
                    let sharing = match sharing {
                        CacheSharing::Shared => pb::CacheSharingOpt::Shared,
                        CacheSharing::Private => pb::CacheSharingOpt::Private,
                        CacheSharing::Locked => pb::CacheSharingOpt::Locked,
                    };
                    pm.cache_opt = Some(pb::CacheOpt {
                        id: id.clone(),
                        sharing: sharing as i32,
                    });
                }
                MountKind::Tmpfs { size } => {
                    constraints.add_cap("exec.mount.tmpfs");
                    if *size > 0 {
                        constraints.add_cap("exec.mount.tmpfs.size");
                    }
                    pm.mount_type = pb::MountType::Tmpfs as i32;
                    pm.tmpfs_opt = Some(pb::TmpfsOpt { size: *size });
                }
            }
            if m.has_output() {
                pm.output = output_count;
                output_of.push(Some(output_count));
                output_count += 1;
            } else {
                output_of.push(None);
            }
            pb_mounts.push(pm);
        }

        let mut secret_env = Vec::new();
        if !secrets.is_empty() {
            constraints.add_cap("exec.mount.secret");
        }
        for s in &secrets {
            if let Some(name) = &s.env {
                constraints.add_cap("exec.secretenv");
                secret_env.push(pb::SecretEnv {
                    id: s.id.clone(),
                    name: name.clone(),
                    optional: s.optional,
                });
            }
            if let Some(target) = &s.target {
                pb_mounts.push(pb::Mount {
                    dest: target.clone(),
                    mount_type: pb::MountType::Secret as i32,
                    secret_opt: Some(pb::SecretOpt {
                        id: s.id.clone(),
                        uid: s.uid,
                        gid: s.gid,
                        mode: s.mode,
                        optional: s.optional,
                    }),
                    ..Default::default()
                });
            }
        }
        if !ssh.is_empty() {
            constraints.add_cap("exec.mount.ssh");
        }
        for (s, target) in ssh.iter().zip(ssh_targets) {
            pb_mounts.push(pb::Mount {
                dest: target,
                mount_type: pb::MountType::Ssh as i32,
                ssh_opt: Some(pb::SshOpt {
                    id: s.id.clone(),
                    uid: s.uid,
                    gid: s.gid,
                    mode: s.mode,
                    optional: s.optional,
                }),
                ..Default::default()
            });
        }

        let platform = match constraints.platform.as_deref().or(meta.platform.as_deref()) {
            Some(p) => p.to_pb(),
            None => Platform::host().to_pb(),
        };
        let op = pb::Op {
            inputs: std::mem::take(&mut inputs.pb),
            platform: Some(platform),
            constraints: Some(pb::WorkerConstraints {
                filter: constraints.worker_filters.clone(),
            }),
            op: Some(pb::op::Op::Exec(pb::ExecOp {
                meta: Some(pb_meta),
                mounts: pb_mounts,
                network: network as i32,
                security: security as i32,
                secretenv: secret_env,
                cdi_devices: Vec::new(),
            })),
        };
        let node = Node::new(op, inputs, constraints);

        let mut root_state = None;
        let mut mount_states = Vec::new();
        for (m, out) in mounts.iter().zip(output_of) {
            let source = m.source.clone().unwrap_or_default();
            let state = match out {
                Some(index) => source.with_output(Some(Output {
                    node: node.clone(),
                    index,
                })),
                None if m.readonly && matches!(m.kind, MountKind::Bind) => source,
                None => continue,
            };
            if m.target == "/" {
                root_state = Some(caller.with_output(state.output));
            } else {
                mount_states.push((m.target.clone(), state));
            }
        }
        // OK to expect: the root mount was pushed above and is writable or readonly.
        let root = root_state.expect("root mount present");
        Ok(ExecState {
            root,
            mounts: mount_states,
        })
    }
}

/// The outputs of an exec op.
#[derive(Clone, Debug)]
pub struct ExecState {
    root: State,
    mounts: Vec<(String, State)>,
}

impl ExecState {
    /// The root filesystem after the command ran (the next `RUN`'s base).
    pub fn root(&self) -> State {
        self.root.clone()
    }

    /// The state of the mount at `target` after the run: the changed filesystem for a writable
    /// bind mount, the source for a readonly one, `None` for cache/tmpfs/no-output mounts.
    pub fn mount(&self, target: &str) -> Option<State> {
        self.mounts
            .iter()
            .find(|(t, _)| t == target)
            .map(|(_, s)| s.clone())
    }
}
