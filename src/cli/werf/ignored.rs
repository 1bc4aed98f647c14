//! werf flags wharf accepts and ignores: a CI job's werf command line runs unchanged, and
//! each such flag given prints one notice saying why it changes nothing (never a failure).
//!
//! The flags are hidden from `--help` (README names the main ones; the lists below are all of
//! them) and take werf's forms: a boolean as `--dev` or `--dev=false`, a value as
//! `--kube-context CTX` (repeatable). Their werf variables are not read (see `names`). A notice names the flag only, never its value
//! (some carry credentials: `--repo-docker-hub-password`).

use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use std::marker::PhantomData;

/// One ignored werf flag.
#[derive(Debug)]
pub struct Ignored {
    pub name: &'static str,
    /// Takes a value (else a boolean).
    pub value: bool,
    /// Why wharf does without it.
    pub why: &'static str,
}

const fn flag(name: &'static str, why: &'static str) -> Ignored {
    Ignored { name, value: false, why }
}

const fn valued(name: &'static str, why: &'static str) -> Ignored {
    Ignored { name, value: true, why }
}

const WORKING_TREE: &str = "wharf always reads the working tree, committed or not";
const LOGS: &str = "wharf's output has no such setting (-v, --log-verbose, --output json)";
const HOST_CLEANUP: &str = "wharf does no host cleanup";
const KUBE: &str = "wharf does not read Kubernetes (only --lock-backend kubernetes uses a cluster)";
const CREDENTIALS: &str = "credentials come from docker login, --username with --password-stdin, or the driver's flags";

/// Flags of every werf command wharf has.
const COMMON: &[Ignored] = &[
    flag("dev", WORKING_TREE),
    valued("dev-ignore", WORKING_TREE),
    valued("dev-branch", WORKING_TREE),
    valued("git-work-tree", "wharf finds the git work tree from --dir"),
    valued("giterminism-config", "wharf reads werf-giterminism.yaml from the project directory"),
    valued("config-render-path", "`wharf config render` prints the rendered project file"),
    valued("tmp-dir", "wharf uses the system's temporary directory"),
    valued("home-dir", "wharf keeps its files in --cache-dir ($XDG_CACHE_HOME/wharf)"),
    valued("ssh-key", "wharf clones no git repositories (an image's `ssh` key forwards an agent)"),
    valued("project-name", "the project name comes from the project file"),
    valued("synchronization", "wharf's locks are chosen with --lock-backend local|kubernetes"),
    flag("debug-templates", "template errors always show their file, line and column"),
    flag("allow-includes-update", "werf-includes.yaml is not supported"),
    flag("log-quiet", LOGS),
    flag("log-pretty", LOGS),
    flag("log-time", LOGS),
    flag("log-project-dir", LOGS),
    valued("log-color-mode", LOGS),
    valued("log-time-format", LOGS),
    valued("log-terminal-width", LOGS),
    flag("disable-auto-host-cleanup", HOST_CLEANUP),
    valued("allowed-backend-storage-volume-usage", HOST_CLEANUP),
    valued("allowed-backend-storage-volume-usage-margin", HOST_CLEANUP),
    valued("allowed-local-cache-volume-usage", HOST_CLEANUP),
    valued("allowed-local-cache-volume-usage-margin", HOST_CLEANUP),
    valued("backend-storage-path", HOST_CLEANUP),
    valued("kube-context", KUBE),
    valued("kube-config", KUBE),
    valued("kube-config-base64", KUBE),
    flag("insecure-helm-dependencies", "deploy-only (Helm)"),
    valued("container-registry-mirror", "the engine's own registry mirrors apply"),
    flag("git-unshallow", "cleanup reads the history as cloned (a shallow clone is refused, with the fix)"),
    flag("allow-git-shallow-clone", "cleanup needs the full history and says so"),
    flag("git-history-synchronization", "wharf does not fetch from the git remote"),
];

/// werf flags of `build` and werf 1.1's `build-and-publish`.
const BUILD: &[Ignored] = &[
    flag("follow", "wharf builds once; run it again for a new commit"),
    flag("introspect-error", "wharf does not open a shell in a failed build"),
    flag("introspect-before-error", "wharf does not open a shell in a failed build"),
    valued("introspect-stage", "wharf does not open a shell in a build"),
    flag("virtual-merge", "wharf builds the working tree as it is"),
    valued("virtual-merge-from-commit", "wharf builds the working tree as it is"),
    valued("virtual-merge-into-commit", "wharf builds the working tree as it is"),
    valued("backend-network", "an image's `network` key sets the network of its RUN steps"),
    flag("require-built-images", "wharf builds what is missing"),
    flag("check-built-images", "wharf builds what is missing"),
    flag("skip-image-spec-stage", "wharf has no imageSpec stage"),
    valued("use-custom-tag", "deploy-only: wharf publishes --add-custom-tag tags, it does not deploy"),
    valued("stages-storage-repo-implementation", "one driver serves a run: --implementation (--repo-implementation)"),
    valued("repo-docker-hub-username", CREDENTIALS),
    valued("repo-docker-hub-password", CREDENTIALS),
    valued("repo-docker-hub-token", CREDENTIALS),
    valued("repo-harbor-username", CREDENTIALS),
    valued("repo-harbor-password", CREDENTIALS),
    valued("final-repo-container-registry", "one driver serves a run: --implementation (--repo-implementation)"),
    valued("final-repo-docker-hub-username", CREDENTIALS),
    valued("final-repo-docker-hub-password", CREDENTIALS),
    valued("final-repo-docker-hub-token", CREDENTIALS),
    valued("final-repo-github-token", CREDENTIALS),
    valued("final-repo-harbor-username", CREDENTIALS),
    valued("final-repo-harbor-password", CREDENTIALS),
    valued("final-repo-quay-token", CREDENTIALS),
    valued("publish-report-path", "werf 1.1's report: wharf writes werf's build report with --save-build-report"),
    valued("publish-report-format", "werf 1.1's report: wharf writes werf's build report with --save-build-report"),
];

/// werf flags of `cleanup`.
const CLEANUP: &[Ignored] = &[
    flag(
        "without-kube",
        "wharf never reads Kubernetes: images a cluster runs are kept only by keep policies and --keep",
    ),
    flag("scan-context-namespace-only", KUBE),
    valued("secondary-repo", "cleanup leaves other stage repositories alone"),
    valued("cache-repo", "cleanup leaves other stage repositories alone"),
    flag("parallel", "cleanup sets its own concurrency"),
    valued("parallel-tasks-limit", "cleanup sets its own concurrency"),
    valued("platform", "cleanup works on every platform"),
    flag("save-cleanup-report", "`--output json` prints the cleanup report"),
    valued("cleanup-report-path", "`--output json` prints the cleanup report"),
    valued("repo-docker-hub-username", CREDENTIALS),
    valued("repo-docker-hub-password", CREDENTIALS),
    valued("repo-docker-hub-token", CREDENTIALS),
    valued("repo-harbor-username", CREDENTIALS),
    valued("repo-harbor-password", CREDENTIALS),
    valued("git-tag-strategy-limit", "keep policies come from the project file (cleanup.keepPolicies)"),
    valued("git-tag-strategy-expiry-days", "keep policies come from the project file (cleanup.keepPolicies)"),
    valued("git-commit-strategy-limit", "keep policies come from the project file (cleanup.keepPolicies)"),
    valued("git-commit-strategy-expiry-days", "keep policies come from the project file (cleanup.keepPolicies)"),
];

/// werf flags of `ci-env`.
const CI_ENV: &[Ignored] = &[valued("platform", "the platform is given to `wharf build`, not to ci-env")];

/// Which command's ignored flags a group holds.
pub trait Set {
    const FLAGS: &'static [&'static [Ignored]];
}

#[derive(Debug, Clone, Copy)]
pub struct Build;
impl Set for Build {
    const FLAGS: &'static [&'static [Ignored]] = &[COMMON, BUILD];
}

#[derive(Debug, Clone, Copy)]
pub struct Cleanup;
impl Set for Cleanup {
    const FLAGS: &'static [&'static [Ignored]] = &[COMMON, CLEANUP];
}

#[derive(Debug, Clone, Copy)]
pub struct CiEnv;
impl Set for CiEnv {
    const FLAGS: &'static [&'static [Ignored]] = &[COMMON, CI_ENV];
}

/// The ignored werf flags of one command, and those given.
#[derive(Debug, Clone)]
pub struct WerfIgnored<S> {
    pub given: Vec<&'static Ignored>,
    set: PhantomData<fn() -> S>,
}

impl<S: Set> WerfIgnored<S> {
    fn all() -> impl Iterator<Item = &'static Ignored> {
        S::FLAGS.iter().flat_map(|f| f.iter())
    }

    /// One line on standard error per ignored flag given.
    pub fn notify(&self) {
        for i in &self.given {
            eprintln!("notice: --{} is werf's and ignored: {}", i.name, i.why);
        }
    }
}

fn arg(i: &'static Ignored) -> Arg {
    let arg = Arg::new(i.name).long(i.name).hide(true).help(i.why);
    match i.value {
        true => arg.action(ArgAction::Append).value_name("VALUE"),
        // werf's booleans: `--dev`, `--dev=true`, `--dev=false`.
        false => arg
            .action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_name("BOOL"),
    }
}

impl<S: Set> FromArgMatches for WerfIgnored<S> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let given = Self::all()
            .filter(|i| {
                m.try_contains_id(i.name).unwrap_or(false)
                    && m.value_source(i.name) == Some(clap::parser::ValueSource::CommandLine)
            })
            .collect();
        Ok(WerfIgnored { given, set: PhantomData })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<S: Set> clap::Args for WerfIgnored<S> {
    fn augment_args(cmd: Command) -> Command {
        cmd.args(Self::all().map(arg))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Wrap {
        #[command(flatten)]
        ignored: WerfIgnored<Build>,
        images: Vec<String>,
    }

    #[test]
    fn werf_forms_are_accepted_and_named() {
        let w = Wrap::try_parse_from([
            "wharf",
            "--dev",
            "--follow=false",
            "--kube-context",
            "prod",
            "--ssh-key",
            "a",
            "--ssh-key",
            "b",
            "backend",
        ])
        .unwrap();
        let names: Vec<&str> = w.ignored.given.iter().map(|i| i.name).collect();
        assert_eq!(names, ["dev", "ssh-key", "kube-context", "follow"]);
        assert_eq!(w.images, ["backend"], "a boolean never takes the next word");
    }

    #[test]
    fn no_flag_is_listed_twice_for_a_command() {
        for set in [Build::FLAGS, Cleanup::FLAGS, CiEnv::FLAGS] {
            let names: Vec<&str> = set.iter().flat_map(|f| f.iter()).map(|i| i.name).collect();
            let mut sorted = names.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{names:?}");
        }
    }
}
