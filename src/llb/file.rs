//! File ops: copy, mkdir, mkfile, rm and symlink, chained into one op the way BuildKit runs
//! them (each action works on the previous action's result; only the last is an output).
//! Relative paths are resolved against the working directory of the state the op is applied
//! to (copy sources against their own state's). Names in `--chown` are sent as names so the
//! daemon resolves them in the target's `/etc/passwd`; this module never guesses ids.

use bollard_buildkit_proto::pb;
use pb::file_action::Action;

use super::error::LlbError;
use super::state::{Constraints, InputList, Node, Output, State};

/// A user or group, by id or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    Id(u32),
    Name(String),
}

impl UserRef {
    /// `root` and numbers become ids (as in BuildKit), anything else stays a name.
    pub fn parse(s: &str) -> Self {
        if s == "root" {
            return UserRef::Id(0);
        }
        match s.parse::<u32>() {
            Ok(id) => UserRef::Id(id),
            Err(_) => UserRef::Name(s.to_string()),
        }
    }

    fn to_pb(&self, base: i64) -> pb::UserOpt {
        let user = match self {
            UserRef::Id(id) => pb::user_opt::User::ById(*id),
            UserRef::Name(name) => pb::user_opt::User::ByName(pb::NamedUserOpt {
                name: name.clone(),
                input: base,
            }),
        };
        pb::UserOpt { user: Some(user) }
    }
}

/// Owner of created files (`--chown=user[:group]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chown {
    pub user: Option<UserRef>,
    pub group: Option<UserRef>,
}

impl Chown {
    pub fn ids(uid: u32, gid: u32) -> Self {
        Chown {
            user: Some(UserRef::Id(uid)),
            group: Some(UserRef::Id(gid)),
        }
    }

    /// `user`, `user:group`, `1000:1000`, `app:0` … (the `--chown` syntax).
    pub fn parse(spec: &str) -> Self {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        Chown {
            user: Some(UserRef::parse(user)),
            group: group.map(UserRef::parse),
        }
    }

    fn to_pb(&self, base: i64) -> pb::ChownOpt {
        pb::ChownOpt {
            user: self.user.as_ref().map(|u| u.to_pb(base)),
            group: self.group.as_ref().map(|g| g.to_pb(base)),
        }
    }
}

/// Creates a directory.
#[derive(Clone, Debug)]
pub struct Mkdir {
    path: String,
    mode: u32,
    parents: bool,
    owner: Option<Chown>,
    timestamp: Option<i64>,
}

impl Mkdir {
    pub fn new(path: impl Into<String>, mode: u32) -> Self {
        Mkdir {
            path: path.into(),
            mode,
            parents: false,
            owner: None,
            timestamp: None,
        }
    }

    /// Create missing parents too (`mkdir -p`).
    pub fn parents(mut self) -> Self {
        self.parents = true;
        self
    }

    pub fn owner(mut self, owner: Chown) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Modification time in nanoseconds since the epoch.
    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }
}

/// Creates (or overwrites) a file with the given contents.
#[derive(Clone, Debug)]
pub struct Mkfile {
    path: String,
    mode: u32,
    data: Vec<u8>,
    owner: Option<Chown>,
    timestamp: Option<i64>,
}

impl Mkfile {
    pub fn new(path: impl Into<String>, mode: u32, data: impl Into<Vec<u8>>) -> Self {
        Mkfile {
            path: path.into(),
            mode,
            data: data.into(),
            owner: None,
            timestamp: None,
        }
    }

    pub fn owner(mut self, owner: Chown) -> Self {
        self.owner = Some(owner);
        self
    }

    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }
}

/// Removes a path.
#[derive(Clone, Debug)]
pub struct Rm {
    path: String,
    allow_not_found: bool,
    allow_wildcard: bool,
}

impl Rm {
    pub fn new(path: impl Into<String>) -> Self {
        Rm {
            path: path.into(),
            allow_not_found: false,
            allow_wildcard: false,
        }
    }

    pub fn allow_not_found(mut self) -> Self {
        self.allow_not_found = true;
        self
    }

    pub fn allow_wildcard(mut self) -> Self {
        self.allow_wildcard = true;
        self
    }
}

/// Creates a symlink `newpath` -> `oldpath` (needs a daemon with the `file.symlink.create` cap,
/// BuildKit ≥ 0.16).
#[derive(Clone, Debug)]
pub struct Symlink {
    oldpath: String,
    newpath: String,
    owner: Option<Chown>,
    timestamp: Option<i64>,
}

impl Symlink {
    pub fn new(oldpath: impl Into<String>, newpath: impl Into<String>) -> Self {
        Symlink {
            oldpath: oldpath.into(),
            newpath: newpath.into(),
            owner: None,
            timestamp: None,
        }
    }

    pub fn owner(mut self, owner: Chown) -> Self {
        self.owner = Some(owner);
        self
    }
}

/// Copies `src` from another state into the target state at `dest`.
#[derive(Clone, Debug)]
pub struct Copy {
    source: State,
    src: String,
    dest: String,
    mode: Option<u32>,
    follow_symlinks: bool,
    dir_contents_only: bool,
    attempt_unpack: bool,
    create_dest_path: bool,
    allow_wildcard: bool,
    allow_empty_wildcard: bool,
    include_patterns: Vec<String>,
    exclude_patterns: Vec<String>,
    owner: Option<Chown>,
    timestamp: Option<i64>,
    always_replace_existing: bool,
}

impl Copy {
    /// `src` is relative to `source`'s working directory; a `dest` ending in `/` (or `/.`)
    /// keeps that ending, which tells BuildKit to copy *into* the directory.
    pub fn new(source: &State, src: impl Into<String>, dest: impl Into<String>) -> Self {
        Copy {
            source: source.clone(),
            src: src.into(),
            dest: dest.into(),
            mode: None,
            follow_symlinks: false,
            dir_contents_only: false,
            attempt_unpack: false,
            create_dest_path: false,
            allow_wildcard: false,
            allow_empty_wildcard: false,
            include_patterns: Vec::new(),
            exclude_patterns: Vec::new(),
            owner: None,
            timestamp: None,
            always_replace_existing: false,
        }
    }

    /// `--chmod` (octal permission bits).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn follow_symlinks(mut self) -> Self {
        self.follow_symlinks = true;
        self
    }

    /// Copy a directory's contents rather than the directory itself (Dockerfile COPY semantics).
    pub fn dir_contents_only(mut self) -> Self {
        self.dir_contents_only = true;
        self
    }

    /// Unpack local archives (ADD semantics).
    pub fn attempt_unpack(mut self) -> Self {
        self.attempt_unpack = true;
        self
    }

    pub fn create_dest_path(mut self) -> Self {
        self.create_dest_path = true;
        self
    }

    pub fn allow_wildcard(mut self) -> Self {
        self.allow_wildcard = true;
        self
    }

    pub fn allow_empty_wildcard(mut self) -> Self {
        self.allow_empty_wildcard = true;
        self
    }

    pub fn include_patterns<S: AsRef<str>>(mut self, patterns: &[S]) -> Self {
        self.include_patterns = patterns.iter().map(|p| p.as_ref().to_string()).collect();
        self
    }

    /// `COPY --exclude`.
    pub fn exclude_patterns<S: AsRef<str>>(mut self, patterns: &[S]) -> Self {
        self.exclude_patterns = patterns.iter().map(|p| p.as_ref().to_string()).collect();
        self
    }

    pub fn owner(mut self, owner: Chown) -> Self {
        self.owner = Some(owner);
        self
    }

    pub fn timestamp(mut self, unix_nanos: i64) -> Self {
        self.timestamp = Some(unix_nanos);
        self
    }

    /// Replace existing non-directory destinations (newer daemons; v0.13 ignores it).
    pub fn always_replace_existing(mut self) -> Self {
        self.always_replace_existing = true;
        self
    }
}

/// One step of a file op.
#[derive(Clone, Debug)]
pub enum FileAction {
    Mkdir(Mkdir),
    Mkfile(Mkfile),
    Rm(Rm),
    Copy(Box<Copy>),
    Symlink(Symlink),
}

impl From<Mkdir> for FileAction {
    fn from(a: Mkdir) -> Self {
        FileAction::Mkdir(a)
    }
}
impl From<Mkfile> for FileAction {
    fn from(a: Mkfile) -> Self {
        FileAction::Mkfile(a)
    }
}
impl From<Rm> for FileAction {
    fn from(a: Rm) -> Self {
        FileAction::Rm(a)
    }
}
impl From<Copy> for FileAction {
    fn from(a: Copy) -> Self {
        FileAction::Copy(Box::new(a))
    }
}
impl From<Symlink> for FileAction {
    fn from(a: Symlink) -> Self {
        FileAction::Symlink(a)
    }
}

/// An ordered chain of actions run as one file op.
#[derive(Clone, Debug, Default)]
pub struct FileActions(Vec<FileAction>);

impl FileActions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an action; it runs on the result of the previous one.
    pub fn then(mut self, action: impl Into<FileAction>) -> Self {
        self.0.push(action.into());
        self
    }
}

impl<A: Into<FileAction>> From<A> for FileActions {
    fn from(a: A) -> Self {
        FileActions(vec![a.into()])
    }
}

impl State {
    /// Applies `actions` to this state's filesystem as one file op.
    pub fn file(&self, actions: impl Into<FileActions>, c: Constraints) -> Result<State, LlbError> {
        let actions = actions.into().0;
        if actions.is_empty() {
            return Err(LlbError::EmptyFileOp);
        }
        let mut c = c;
        c.add_cap("file.base");
        let parent = self.get_dir();

        // Inputs first: the target filesystem, then each copy source; the chain's
        // intermediate results are addressed after them (index = inputs + action number).
        let mut inputs = InputList::default();
        let base = self.output().map_or(-1, |o| inputs.add(o));
        let secondaries: Vec<i64> = actions
            .iter()
            .map(|a| match a {
                FileAction::Copy(cp) => cp.source.output().map_or(-1, |o| inputs.add(o)),
                _ => -1,
            })
            .collect();
        let input_count = inputs.pb.len() as i64;

        let mut pb_actions = Vec::with_capacity(actions.len());
        for (i, (action, secondary)) in actions.iter().zip(secondaries).enumerate() {
            let timestamp = |t: Option<i64>| t.unwrap_or(-1);
            let owner = |o: &Option<Chown>| o.as_ref().map(|o| o.to_pb(base));
            let pb_action = match action {
                FileAction::Mkdir(a) => Action::Mkdir(pb::FileActionMkDir {
                    path: normalize_path(parent, &a.path, false),
                    mode: (a.mode & 0o777) as i32,
                    make_parents: a.parents,
                    owner: owner(&a.owner),
                    timestamp: timestamp(a.timestamp),
                }),
                FileAction::Mkfile(a) => Action::Mkfile(pb::FileActionMkFile {
                    path: normalize_path(parent, &a.path, false),
                    mode: (a.mode & 0o777) as i32,
                    data: a.data.clone(),
                    owner: owner(&a.owner),
                    timestamp: timestamp(a.timestamp),
                }),
                FileAction::Rm(a) => Action::Rm(pb::FileActionRm {
                    path: normalize_path(parent, &a.path, false),
                    allow_not_found: a.allow_not_found,
                    allow_wildcard: a.allow_wildcard,
                }),
                FileAction::Symlink(a) => {
                    c.add_cap("file.symlink.create");
                    Action::Symlink(pb::FileActionSymlink {
                        oldpath: a.oldpath.clone(),
                        newpath: normalize_path(parent, &a.newpath, false),
                        owner: owner(&a.owner),
                        timestamp: timestamp(a.timestamp),
                    })
                }
                FileAction::Copy(a) => {
                    if !a.include_patterns.is_empty() || !a.exclude_patterns.is_empty() {
                        c.add_cap("file.copy.includeexcludepatterns");
                    }
                    let src = super::state::join_path(
                        if a.src.starts_with('/') {
                            "/"
                        } else {
                            a.source.get_dir()
                        },
                        &crate::paths::clean(&a.src),
                    );
                    Action::Copy(pb::FileActionCopy {
                        src,
                        dest: normalize_path(parent, &a.dest, true),
                        owner: owner(&a.owner),
                        mode: a.mode.map_or(-1, |m| m as i32),
                        follow_symlink: a.follow_symlinks,
                        dir_copy_contents: a.dir_contents_only,
                        attempt_unpack_docker_compatibility: a.attempt_unpack,
                        create_dest_path: a.create_dest_path,
                        allow_wildcard: a.allow_wildcard,
                        allow_empty_wildcard: a.allow_empty_wildcard,
                        timestamp: timestamp(a.timestamp),
                        include_patterns: a.include_patterns.clone(),
                        exclude_patterns: a.exclude_patterns.clone(),
                        always_replace_existing_dest_paths: a.always_replace_existing,
                        mode_str: String::new(),
                        required_paths: Vec::new(),
                    })
                }
            };
            let last = i + 1 == actions.len();
            pb_actions.push(pb::FileAction {
                input: if i == 0 {
                    base
                } else {
                    input_count + i as i64 - 1
                },
                secondary_input: secondary,
                output: if last { 0 } else { -1 },
                action: Some(pb_action),
            });
        }

        let op = pb::Op {
            inputs: std::mem::take(&mut inputs.pb),
            platform: None, // file ops are not platform specific
            constraints: Some(pb::WorkerConstraints {
                filter: c.worker_filters.clone(),
            }),
            op: Some(pb::op::Op::File(pb::FileOp {
                actions: pb_actions,
            })),
        };
        let node = Node::new(op, inputs, c);
        Ok(self.with_output(Some(Output { node, index: 0 })))
    }
}

/// Absolute, cleaned path of `p` seen from `parent`; `keep_slash` keeps a trailing `/` or `/.`
/// (meaningful for copy destinations).
fn normalize_path(parent: &str, p: &str, keep_slash: bool) -> String {
    let mut out = super::state::join_path(if parent.is_empty() { "/" } else { parent }, p);
    if keep_slash {
        if p.ends_with('/') && !out.ends_with('/') {
            out.push('/');
        } else if p.ends_with("/.") {
            if out != "/" {
                out.push('/');
            }
            out.push('.');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_path_keeps_dir_markers_for_copy_dest() {
        assert_eq!(normalize_path("/app", "sub/", true), "/app/sub/");
        assert_eq!(normalize_path("/app", "sub/", false), "/app/sub");
        assert_eq!(normalize_path("/app", "./", true), "/app/");
        assert_eq!(normalize_path("/", "/.", true), "/.");
        assert_eq!(normalize_path("/app", "x/.", true), "/app/x/.");
        assert_eq!(normalize_path("/", "/", true), "/");
    }

    #[test]
    fn chown_parse() {
        assert_eq!(
            Chown::parse("root"),
            Chown {
                user: Some(UserRef::Id(0)),
                group: None
            }
        );
        assert_eq!(Chown::parse("1000:1001"), Chown::ids(1000, 1001));
        assert_eq!(
            Chown::parse("app:staff"),
            Chown {
                user: Some(UserRef::Name("app".into())),
                group: Some(UserRef::Name("staff".into()))
            }
        );
    }
}
