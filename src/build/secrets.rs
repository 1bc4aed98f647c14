//! Build secrets and ssh forwarding: what `--secret` and `--ssh` say, and the values a build
//! is handed.
//!
//! `--secret id=NAME,env=VAR` or `id=NAME,src=FILE` (docker's and buildx's spelling; `source`
//! and `type=env|file` are accepted too) names where a value comes from; the command line
//! resolves it (reads the variable or the file) and hands the library a [`BuildSecrets`]:
//! ids and values, the values printing as `***`. BuildKit asks the build's session for a
//! secret by id when a `RUN --mount=type=secret,id=NAME` runs; the value never goes into the
//! image, the logs, the report or the stage digest (the ids do, see [`BuildSecrets::ids`]).
//!
//! `--ssh default` forwards the agent at `SSH_AUTH_SOCK`; `--ssh ID=SOCKET` another agent
//! socket, for `RUN --mount=type=ssh[,id=ID]`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// BuildKit refuses secrets larger than this (500 KiB); wharf refuses them up front.
pub const MAX_SECRET_SIZE: usize = 500 * 1024;

/// Where one secret's value comes from, as the user wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSpec {
    pub id: String,
    pub source: SecretSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable (read by the command line).
    Env(String),
    /// A file (read by the command line).
    File(PathBuf),
    /// The value itself (werf's `secrets: [{id, value}]` in the project file).
    Value(SecretValue),
}

impl std::str::FromStr for SecretSpec {
    type Err = String;

    /// `id=NAME,env=VAR`, `id=NAME,src=FILE`; `type=env|file` with `src`/`source` too. A bare
    /// `env=VAR` has the id `VAR`, a bare `src=FILE` the file's name (buildx does the same).
    fn from_str(s: &str) -> Result<SecretSpec, String> {
        let bad = |why: &str| {
            format!("--secret {s:?}: {why}\n  hint: --secret id=NAME,env=VARIABLE or --secret id=NAME,src=FILE")
        };
        let (mut id, mut kind, mut src, mut env) = (None, None, None, None);
        for field in s.split(',') {
            let (k, v) = field.split_once('=').ok_or_else(|| bad(&format!("{field:?} is not KEY=VALUE")))?;
            let v = v.trim().to_string();
            match k.trim() {
                "id" => id = Some(v),
                "type" => kind = Some(v),
                "src" | "source" => src = Some(v),
                "env" => env = Some(v),
                other => return Err(bad(&format!("unknown key {other:?}"))),
            }
        }
        let source = match (kind.as_deref(), src, env) {
            (None | Some("env"), None, Some(var)) | (Some("env"), Some(var), None) => SecretSource::Env(var),
            (None | Some("file"), Some(path), None) => SecretSource::File(PathBuf::from(path)),
            (_, Some(_), Some(_)) => return Err(bad("give either env= or src=, not both")),
            (Some(t), _, _) if t != "env" && t != "file" => {
                return Err(bad(&format!("type {t:?}: expected env or file")));
            }
            _ => return Err(bad("no value source (env= or src=)")),
        };
        let id = match id {
            Some(id) => id,
            None => match &source {
                SecretSource::Env(var) => var.clone(),
                SecretSource::File(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                SecretSource::Value(_) => String::new(),
            },
        };
        check_id(&id).map_err(|e| bad(&e))?;
        Ok(SecretSpec { id, source })
    }
}

/// One `--ssh ID[=SOCKET]`: an ssh-agent socket the build may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    pub id: String,
    /// `None`: the agent at `SSH_AUTH_SOCK` (resolved by the command line).
    pub socket: Option<PathBuf>,
}

impl std::str::FromStr for SshSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<SshSpec, String> {
        let (id, socket) = match s.split_once('=') {
            Some((id, path)) if !path.is_empty() => (id, Some(PathBuf::from(path))),
            Some((id, _)) => (id, None),
            None => (s, None),
        };
        let id = if id.is_empty() { "default" } else { id };
        if socket.as_ref().is_some_and(|p| p.to_string_lossy().contains(',')) {
            return Err(format!(
                "--ssh {s:?}: one socket per id\n  hint: --ssh default or --ssh ID=/path/to/agent.sock"
            ));
        }
        check_id(id).map_err(|e| format!("--ssh {s:?}: {e}"))?;
        Ok(SshSpec { id: id.to_string(), socket })
    }
}

fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
        return Err(format!("id {id:?}: use letters, digits, `.`, `_` and `-`"));
    }
    Ok(())
}

/// A secret's bytes; `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> SecretValue {
        SecretValue(bytes)
    }

    /// The bytes, for the one place that hands them to BuildKit.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The secrets and agent sockets one build may use, values resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSecrets {
    pub secrets: BTreeMap<String, SecretValue>,
    /// ssh id → agent socket.
    pub ssh: BTreeMap<String, PathBuf>,
}

impl BuildSecrets {
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty() && self.ssh.is_empty()
    }

    /// What the stage digest counts: the ids, never the values.
    pub fn ids(&self) -> Vec<String> {
        let secrets = self.secrets.keys().map(|id| format!("secret:{id}"));
        secrets.chain(self.ssh.keys().map(|id| format!("ssh:{id}"))).collect()
    }
}

/// Why a secret or socket could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "secret {id}: environment variable {var} is not set\n  hint: export {var} before running wharf, or pass the secret with src=FILE"
    )]
    EnvUnset { id: String, var: String },
    #[error("secret {id}: cannot read {}: {message}", path.display())]
    File { id: String, path: PathBuf, message: String },
    #[error("secret {id}: {size} bytes, more than BuildKit's limit of {MAX_SECRET_SIZE}")]
    TooLarge { id: String, size: usize },
    #[error(
        "--ssh {id}: SSH_AUTH_SOCK is not set\n  hint: start an agent (`eval $(ssh-agent)`, `ssh-add KEY`) or give its socket: --ssh {id}=/path/to/agent.sock"
    )]
    NoAgent { id: String },
    #[error("--ssh {id}: {} is not a socket\n  hint: give an ssh-agent's socket (a key file must be loaded into an agent with `ssh-add`)", path.display())]
    NotSocket { id: String, path: PathBuf },
}

/// An image's secrets and agents as its project file names them (werf's `secrets:` and
/// `ssh:`), before the command line's: a flag with the same id wins.
pub fn from_project(image: &crate::config::Image) -> (Vec<SecretSpec>, Vec<SshSpec>) {
    use crate::config::SecretSource as Given;
    let secrets = image
        .secrets
        .iter()
        .map(|s| SecretSpec {
            id: s.id.clone(),
            source: match &s.source {
                Given::Env(var) => SecretSource::Env(var.clone()),
                Given::File(path) => SecretSource::File(PathBuf::from(path)),
                Given::Value(v) => SecretSource::Value(SecretValue::new(v.expose().as_bytes().to_vec())),
            },
        })
        .collect();
    // werf's `ssh:` is `default` (the agent at SSH_AUTH_SOCK) or an agent socket's path.
    let ssh = image
        .ssh
        .iter()
        .map(|s| match s.as_str() {
            "" | "default" => SshSpec { id: "default".into(), socket: None },
            path => SshSpec { id: "default".into(), socket: Some(PathBuf::from(path)) },
        })
        .collect();
    (secrets, ssh)
}

/// Resolves the specs with `env` (a variable's value) and the file system. Later specs with
/// the same id win, as on docker's command line.
pub fn resolve(
    secrets: &[SecretSpec],
    ssh: &[SshSpec],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BuildSecrets, SecretError> {
    let mut out = BuildSecrets::default();
    for spec in secrets {
        let bytes = match &spec.source {
            SecretSource::Env(var) => {
                env(var).ok_or_else(|| SecretError::EnvUnset { id: spec.id.clone(), var: var.clone() })?.into_bytes()
            }
            SecretSource::File(path) => {
                let path = expand_home(path, env);
                std::fs::read(&path).map_err(|e| SecretError::File {
                    id: spec.id.clone(),
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
            SecretSource::Value(v) => v.expose().to_vec(),
        };
        if bytes.len() > MAX_SECRET_SIZE {
            return Err(SecretError::TooLarge { id: spec.id.clone(), size: bytes.len() });
        }
        out.secrets.insert(spec.id.clone(), SecretValue::new(bytes));
    }
    for spec in ssh {
        let socket = match &spec.socket {
            Some(p) => expand_home(p, env),
            None => env("SSH_AUTH_SOCK")
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| SecretError::NoAgent { id: spec.id.clone() })?,
        };
        if !is_socket(&socket) {
            return Err(SecretError::NotSocket { id: spec.id.clone(), path: socket });
        }
        out.ssh.insert(spec.id.clone(), socket);
    }
    Ok(out)
}

fn expand_home(path: &std::path::Path, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match (path.strip_prefix("~"), env("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(unix)]
fn is_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(not(unix))]
fn is_socket(path: &std::path::Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_flags_parse_like_docker() {
        let s: SecretSpec = "id=npm,env=NPM_TOKEN".parse().unwrap();
        assert_eq!(s, SecretSpec { id: "npm".into(), source: SecretSource::Env("NPM_TOKEN".into()) });
        let s: SecretSpec = "id=aws,src=/home/u/.aws/credentials".parse().unwrap();
        assert_eq!(s.source, SecretSource::File("/home/u/.aws/credentials".into()));
        assert_eq!("env=TOKEN".parse::<SecretSpec>().unwrap().id, "TOKEN");
        assert_eq!("src=/run/key.pem".parse::<SecretSpec>().unwrap().id, "key.pem");
        assert_eq!("id=t,type=env,src=VAR".parse::<SecretSpec>().unwrap().source, SecretSource::Env("VAR".into()));
        for bad in ["id=x", "id=x,env=A,src=B", "id=x,value=y", "id=a b,env=X", "novalue"] {
            let err = bad.parse::<SecretSpec>().unwrap_err();
            assert!(err.contains("hint: --secret id=NAME"), "{bad}: {err}");
        }
    }

    #[test]
    fn ssh_flags_parse_like_docker() {
        assert_eq!("default".parse::<SshSpec>().unwrap(), SshSpec { id: "default".into(), socket: None });
        assert_eq!(
            "gh=/tmp/a.sock".parse::<SshSpec>().unwrap(),
            SshSpec { id: "gh".into(), socket: Some("/tmp/a.sock".into()) }
        );
        assert!("bad id=/x".parse::<SshSpec>().is_err());
    }

    #[test]
    fn values_are_read_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"from-file").unwrap();
        let env = |k: &str| (k == "TOKEN").then(|| "s3cr3t".to_string());
        let specs = [
            "id=a,env=TOKEN".parse().unwrap(),
            SecretSpec { id: "b".into(), source: SecretSource::File(dir.path().join("f")) },
        ];
        let resolved = resolve(&specs, &[], &env).unwrap();
        assert_eq!(resolved.secrets["a"].expose(), b"s3cr3t");
        assert_eq!(resolved.secrets["b"].expose(), b"from-file");
        let shown = format!("{resolved:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("from-file"), "{shown}");
        assert_eq!(resolved.ids(), ["secret:a", "secret:b"]);

        let unset = resolve(&["id=a,env=NOPE".parse().unwrap()], &[], &env).unwrap_err();
        assert_eq!(unset, SecretError::EnvUnset { id: "a".into(), var: "NOPE".into() });
        let no_agent = resolve(&[], &["default".parse().unwrap()], &env).unwrap_err();
        assert!(matches!(no_agent, SecretError::NoAgent { .. }));
        let not_socket =
            resolve(&[], &[SshSpec { id: "x".into(), socket: Some(dir.path().join("f")) }], &env).unwrap_err();
        assert!(matches!(not_socket, SecretError::NotSocket { .. }));
    }
}
