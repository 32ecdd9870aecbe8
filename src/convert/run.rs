//! RUN: the command line (shell or exec form, heredocs), its mounts (bind, cache, tmpfs,
//! secret, ssh), network and security modes, and the history entry.

use super::dispatch::{history, run_history, shell_of, Dispatcher, StageEnv, StageState, COMMAND_DESCRIPTION};
use super::error::ConvertError;
use crate::dockerfile::{self, CacheSharing, CommandLine, Mount, MountType, NetworkMode, SecurityMode};
use crate::llb;

/// Where a shebang heredoc is mounted to be run as a script.
const PIPES_DIR: &str = "/dev/pipes/";

impl Dispatcher<'_> {
    pub(super) fn run(&mut self, st: &mut StageState, n: usize, run: &dockerfile::Run, env: &StageEnv) -> Result<(), ConvertError> {
        let shell = shell_of(&st.image);
        let mut custom_name = run.source.original.clone();
        let mut script_mount = None;
        let argv = if run.heredocs.is_empty() {
            run.command.to_argv(shell)
        } else {
            let CommandLine::Shell(line) = &run.command else {
                return Err(ConvertError::new("heredocs need the shell form of RUN"));
            };
            let first = &run.heredocs[0];
            let cmd = if run.heredocs.len() == 1 && is_lone_heredoc(line) {
                custom_name.push_str(&format!(" ({})", summarize_heredoc(&first.content)));
                if first.content.starts_with("#!") {
                    // A script with its own interpreter: write it to a file and run that.
                    let script = llb::State::scratch().file(
                        llb::Mkfile::new(format!("/{}", first.name), 0o755, first.body().into_bytes()),
                        llb::Constraints::new().shared_platform(st.platform.clone()).custom_name("[internal] preparing inline document"),
                    )?;
                    script_mount = Some(llb::Mount::bind(PIPES_DIR, &script).selector("/").readonly());
                    format!("{PIPES_DIR}{}", first.name)
                } else {
                    first.body()
                }
            } else {
                // Several heredocs (or a command around one): the shell reads them itself.
                let mut full = line.clone();
                for doc in &run.heredocs {
                    full.push('\n');
                    full.push_str(&doc.content);
                    full.push_str(&doc.name);
                }
                full
            };
            shell.iter().cloned().chain(std::iter::once(cmd)).collect()
        };

        let name = {
            let mut display_lexer = self.lexer;
            display_lexer.raw_quotes = true;
            display_lexer.skip_unset_env = true;
            // Quotes stay as written here, so without `$` or the escape character the text
            // comes back unchanged (or, unbalanced, falls back to itself).
            let text = if custom_name.contains(['$', self.lexer.escape()]) {
                display_lexer.process_word(&custom_name, env).unwrap_or(custom_name)
            } else {
                custom_name
            };
            let text = super::dispatch::uppercase_keyword(text);
            self.prefix(st, &text, env)
        };
        let c = self.constraints(st, run.source.location, name).description(COMMAND_DESCRIPTION, run.source.original.clone());

        let created_by = format!("RUN {}", run_history(&argv, &st.args, env));
        let mut exec = st.state.run(argv).constraints(c);
        if let Some(m) = script_mount {
            exec = exec.mount(m);
        }
        let mounts = run.resolve_mounts(&self.lexer, env)?.value;
        for mount in &mounts {
            exec = self.add_mount(exec, st, n, mount)?;
        }
        match run.network {
            NetworkMode::Default => {}
            NetworkMode::None => exec = exec.network(llb::Network::None),
            NetworkMode::Host => {
                if !self.input.opts.allow_network_host {
                    return Err(ConvertError::new(
                        "RUN --network=host needs the network.host entitlement: pass --allow network.host (and start buildkitd with --allow-insecure-entitlement network.host)",
                    ));
                }
                exec = exec.network(llb::Network::Host);
            }
        }
        if run.security == SecurityMode::Insecure {
            if !self.input.opts.allow_security_insecure {
                return Err(ConvertError::new(
                    "RUN --security=insecure needs the security.insecure entitlement: pass --allow security.insecure (and start buildkitd with --allow-insecure-entitlement security.insecure)",
                ));
            }
            exec = exec.security(llb::Security::Insecure);
        }
        for (host, ip) in &self.input.opts.extra_hosts {
            exec = exec.extra_host(host.clone(), ip.clone());
        }
        st.state = exec.finish()?.root();
        history(&mut st.image, created_by, true, true);
        Ok(())
    }

    fn add_mount(&mut self, exec: llb::Exec, st: &StageState, n: usize, m: &Mount) -> Result<llb::Exec, ConvertError> {
        let target = match &m.target {
            // `target=` is no target at all (not the working directory).
            Some(t) if t.is_empty() => String::new(),
            Some(t) if !t.starts_with('/') => crate::paths::clean_absolute_joined(st.state.get_dir(), t),
            Some(t) => crate::paths::clean_absolute(t),
            None => String::new(),
        };
        match m.kind {
            MountType::Secret => {
                let id = m.source.clone().or_else(|| m.id.clone()).filter(|s| !s.is_empty());
                let id = match id {
                    Some(id) => id,
                    None if !target.is_empty() => base_name(&target),
                    None => return Err(ConvertError::new("secret mount needs one of source/id or target")),
                };
                let mut secret = match (&m.env, m.target.is_some()) {
                    (Some(var), false) => llb::Secret::env(id.clone(), var.clone()),
                    (Some(var), true) => llb::Secret::file(id.clone()).target(target.clone()).also_env(var.clone()),
                    (None, _) => {
                        let t = if target.is_empty() { format!("/run/secrets/{}", base_name(&id)) } else { target.clone() };
                        llb::Secret::file(id.clone()).target(t)
                    }
                };
                if m.uid.is_some() || m.gid.is_some() || m.mode.is_some() {
                    secret = secret.uid(m.uid.unwrap_or(0)).gid(m.gid.unwrap_or(0)).mode(m.mode.unwrap_or(0o400));
                }
                if !m.required {
                    secret = secret.optional();
                }
                return Ok(exec.secret(secret));
            }
            MountType::Ssh => {
                let mut ssh = llb::Ssh::new(m.id.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "default".into()));
                if !target.is_empty() {
                    ssh = ssh.target(target.clone());
                }
                if m.uid.is_some() || m.gid.is_some() || m.mode.is_some() {
                    ssh = ssh.uid(m.uid.unwrap_or(0)).gid(m.gid.unwrap_or(0)).mode(m.mode.unwrap_or(0o600));
                }
                if !m.required {
                    ssh = ssh.optional();
                }
                return Ok(exec.ssh(ssh));
            }
            _ => {}
        }
        if target.is_empty() {
            let kind = format!("{:?}", m.kind).to_lowercase();
            return Err(ConvertError::new(format!("RUN --mount=type={kind} needs a target: add target=/path/in/container")));
        }
        if target == "/" {
            return Err(ConvertError::new("invalid mount target \"/\": a mount cannot replace the root filesystem"));
        }
        let source_path = crate::paths::clean_absolute(m.source.as_deref().unwrap_or(""));
        let mut source = match (&m.from, m.kind) {
            (Some(from), _) => self.from_state(n, from, "mount")?,
            (None, MountType::Bind) => self.context.clone(),
            (None, _) => llb::State::scratch(),
        };
        let mut selector = (source_path != "/").then(|| source_path.clone());
        if m.kind == MountType::Cache && selector.is_none() && (m.uid.is_some() || m.gid.is_some() || m.mode.is_some()) {
            // Ownership and mode of a fresh cache directory come from a prepared /cache.
            let mkdir = llb::Mkdir::new("/cache", m.mode.unwrap_or(0o755)).owner(llb::Chown::ids(m.uid.unwrap_or(0), m.gid.unwrap_or(0)));
            source = source.file(mkdir, llb::Constraints::new().custom_name("[internal] settings cache mount permissions"))?;
            selector = Some("/cache".into());
        }
        let mut mount = match m.kind {
            MountType::Cache => {
                let id = m.id.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| target.clone());
                let sharing = match m.sharing.unwrap_or(CacheSharing::Shared) {
                    CacheSharing::Shared => llb::CacheSharing::Shared,
                    CacheSharing::Private => llb::CacheSharing::Private,
                    CacheSharing::Locked => llb::CacheSharing::Locked,
                };
                // BuildKit namespaces cache ids (empty namespace by default): "/<id>".
                llb::Mount::cache(target.clone(), format!("/{id}"), sharing).from(&source)
            }
            MountType::Tmpfs => {
                let mut t = llb::Mount::tmpfs(target.clone());
                if let Some(size) = m.size_limit {
                    t = t.size(size);
                }
                t
            }
            _ => llb::Mount::bind(target.clone(), &source),
        };
        if m.kind != MountType::Tmpfs {
            if let Some(sel) = selector {
                mount = mount.selector(sel);
            }
        }
        if m.read_only {
            mount = mount.readonly();
        } else if m.kind == MountType::Bind {
            mount = mount.no_output();
        }
        if m.kind == MountType::Bind && m.from.is_none() {
            self.context_paths.insert(source_path);
        }
        Ok(exec.mount(mount))
    }
}

fn base_name(p: &str) -> String {
    p.trim_end_matches('/').rsplit('/').next().unwrap_or(p).to_string()
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'` and nothing else on the line.
fn is_lone_heredoc(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("<<") else { return false };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let name = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => match rest[1..].strip_suffix(q) {
            Some(inner) => inner,
            None => return false,
        },
        _ => rest,
    };
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn summarize_heredoc(doc: &str) -> String {
    let doc = doc.trim();
    let mut lines = doc.split('\n');
    let first = lines.next().unwrap_or("").trim_end_matches('\r');
    if lines.next().is_some() {
        format!("{first}...")
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_markers() {
        assert!(is_lone_heredoc("<<EOF"));
        assert!(is_lone_heredoc(" <<-'EOT' "));
        assert!(!is_lone_heredoc("python3 <<EOF"));
        assert!(!is_lone_heredoc("<<EOF > x"));
        assert_eq!(summarize_heredoc("echo a\necho b\n"), "echo a...");
        assert_eq!(summarize_heredoc("echo a\n"), "echo a");
    }
}
