//! werf's names for wharf's flags: the other spellings werf gives a flag wharf honours, and
//! the `WERF_*` variables that set it.
//!
//! One table ([`NAMES`]) says it for every command werf has too ([`WERF_COMMANDS`]: `push`,
//! `tags`, `serve` are wharf's own and read no `WERF_*`); [`apply`] walks the command tree
//! once before parsing and gives each matching flag its aliases and variable. A flag's value
//! comes from, in order: the command line, wharf's own variable (`WHARF_REPO`, `DOCKER_CONFIG`,
//! `GITHUB_TOKEN`…), werf's variables in werf's order, the default. Boolean variables take
//! werf's truthy values (`1`, `true`, `yes`, `on`…). werf's list variables
//! (`WERF_ADD_CUSTOM_TAG_1`, `WERF_SECONDARY_REPO_…`) are read by [`list`], in name order,
//! before the flags' own values, as werf reads them.
//!
//! Variables of werf flags wharf accepts but ignores (see `ignored`) are not read: a CI
//! environment full of `WERF_LOG_*` settings (what `werf ci-env` exports) must not make every
//! command print notices.

use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, Command};

/// werf's spellings of one wharf flag.
#[derive(Debug)]
pub struct WerfName {
    /// The wharf flag (its long name).
    pub flag: &'static str,
    /// werf's other long names of it.
    pub aliases: &'static [&'static str],
    /// werf's variables, in werf's order of precedence.
    pub vars: &'static [&'static str],
}

const fn name(flag: &'static str, aliases: &'static [&'static str], vars: &'static [&'static str]) -> WerfName {
    WerfName { flag, aliases, vars }
}

/// Every wharf flag werf has too, under its name or another.
pub const NAMES: &[WerfName] = &[
    name("dir", &[], &["WERF_DIR"]),
    name("config", &[], &["WERF_CONFIG"]),
    name("config-templates-dir", &[], &["WERF_CONFIG_TEMPLATES_DIR"]),
    name("env", &[], &["WERF_ENV"]),
    name("loose-giterminism", &[], &["WERF_LOOSE_GITERMINISM"]),
    name("repo", &[], &["WERF_REPO", "WERF_IMAGES_REPO"]),
    name("repo-mode", &[], &["WERF_IMAGES_REPO_MODE"]),
    name("final-repo", &[], &["WERF_FINAL_REPO"]),
    name("stages-storage", &[], &["WERF_STAGES_STORAGE"]),
    name(
        "implementation",
        &["repo-container-registry", "repo-implementation", "images-repo-implementation"],
        &["WERF_REPO_CONTAINER_REGISTRY", "WERF_REPO_IMPLEMENTATION", "WERF_IMAGES_REPO_IMPLEMENTATION"],
    ),
    name("github-token", &["repo-github-token"], &["WERF_REPO_GITHUB_TOKEN"]),
    name("quay-token", &["repo-quay-token"], &["WERF_REPO_QUAY_TOKEN"]),
    name("docker-config", &[], &["WERF_DOCKER_CONFIG"]),
    name("insecure-registry", &[], &["WERF_INSECURE_REGISTRY"]),
    name("skip-tls-verify-registry", &[], &["WERF_SKIP_TLS_VERIFY_REGISTRY"]),
    name("tag-git-branch", &[], &["WERF_TAG_GIT_BRANCH"]),
    name("tag-git-tag", &[], &["WERF_TAG_GIT_TAG"]),
    name("tag-git-commit", &[], &["WERF_TAG_GIT_COMMIT"]),
    name("tag-by-signature", &["tag-by-stages-signature"], &["WERF_TAG_BY_STAGES_SIGNATURE"]),
    name("platform", &[], &["WERF_PLATFORM", "DOCKER_DEFAULT_PLATFORM"]),
    name("parallel", &[], &["WERF_PARALLEL"]),
    name("parallel-tasks-limit", &[], &["WERF_PARALLEL_TASKS_LIMIT"]),
    name("final-images-only", &[], &["WERF_FINAL_IMAGES_ONLY"]),
    name("save-build-report", &[], &["WERF_SAVE_BUILD_REPORT"]),
    name("build-report-path", &[], &["WERF_BUILD_REPORT_PATH"]),
    name("log-verbose", &[], &["WERF_LOG_VERBOSE"]),
    name("log-debug", &[], &["WERF_LOG_DEBUG", "WERF_DEBUG"]),
    name("dry-run", &[], &["WERF_DRY_RUN"]),
    name("keep-stages-built-within-last-n-hours", &[], &["WERF_KEEP_STAGES_BUILT_WITHIN_LAST_N_HOURS"]),
    name("as-file", &[], &["WERF_AS_FILE"]),
    name("as-env-file", &[], &["WERF_AS_ENV_FILE"]),
    name("output-file-path", &[], &["WERF_OUTPUT_FILE_PATH"]),
    name("shell", &[], &["WERF_SHELL"]),
    name("login-to-registry", &[], &["WERF_LOGIN_TO_REGISTRY"]),
    name("use-docker-auth-config", &[], &["WERF_USE_DOCKER_AUTH_CONFIG"]),
];

/// werf's list variables: the flag and the prefix of its variables.
pub const LISTS: &[(&str, &str)] = &[
    ("add-custom-tag", "WERF_ADD_CUSTOM_TAG_"),
    ("tag-custom", "WERF_TAG_CUSTOM_"),
    ("secondary-repo", "WERF_SECONDARY_REPO_"),
    ("cache-repo", "WERF_CACHE_REPO_"),
];

/// Reads one variable (the process environment at the edge; a map in tests).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The commands werf has too: only they read werf's variables (`WERF_DRY_RUN` must not turn
/// `wharf push` into a dry run).
pub const WERF_COMMANDS: &[&str] = &["build", "build-and-publish", "cleanup", "ci-env", "config"];

/// The top-level command `cli` with werf's aliases and variables on every flag [`NAMES`]
/// lists, in [`WERF_COMMANDS`] and their subcommands, and on global flags; the variable is
/// chosen by what `env` holds.
pub fn apply(cli: Command, env: Env<'_>) -> Command {
    let mut cli = with_names(cli, env);
    for name in WERF_COMMANDS {
        if cli.find_subcommand(name).is_some() {
            cli = cli.mut_subcommand(*name, |sub| apply_tree(sub, env));
        }
    }
    cli
}

/// `cmd` and every subcommand below it with werf's names.
fn apply_tree(cmd: Command, env: Env<'_>) -> Command {
    let mut cmd = with_names(cmd, env);
    let subcommands: Vec<String> = cmd.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in subcommands {
        cmd = cmd.mut_subcommand(name, |sub| apply_tree(sub, env));
    }
    cmd
}

/// `cmd`'s own flags with werf's names.
fn with_names(mut cmd: Command, env: Env<'_>) -> Command {
    let found: Vec<(clap::Id, &'static WerfName)> = cmd
        .get_arguments()
        .filter_map(|a| NAMES.iter().find(|n| a.get_long() == Some(n.flag)).map(|n| (a.get_id().clone(), n)))
        .collect();
    for (id, werf) in found {
        cmd = cmd.mut_arg(id, |arg| with_werf_names(arg, werf, env));
    }
    cmd
}

fn with_werf_names(mut arg: Arg, werf: &WerfName, env: Env<'_>) -> Arg {
    let set = |var: &str| env(var).is_some_and(|v| !v.is_empty());
    if !werf.aliases.is_empty() {
        arg = arg.visible_aliases(werf.aliases.iter().copied());
    }
    let own = arg.get_env().and_then(|v| v.to_str()).map(str::to_string);
    if !own.as_deref().is_some_and(set) {
        // wharf's own variable is unset: werf's first set one, else (for a flag without a
        // variable of its own) werf's first name, so that help shows it.
        let var = werf.vars.iter().find(|v| set(v)).or(werf.vars.first().filter(|_| own.is_none()));
        if let Some(var) = var {
            arg = arg.env(*var);
        }
    }
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        arg = arg.value_parser(BoolishValueParser::new());
    }
    arg
}

/// The values of werf's list variables for `flag` (`WERF_ADD_CUSTOM_TAG_*`…), in the order
/// of the variables' names; none when `flag` has no list.
pub fn list(flag: &str, vars: &[(String, String)]) -> Vec<String> {
    let Some((_, prefix)) = LISTS.iter().find(|(f, _)| *f == flag) else { return Vec::new() };
    let mut found: Vec<&(String, String)> =
        vars.iter().filter(|(k, v)| k.starts_with(prefix) && !v.is_empty()).collect();
    found.sort();
    found.into_iter().map(|(_, v)| v.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::collections::HashMap;

    #[derive(Parser, Debug)]
    struct Wrap {
        #[arg(long, env = "WHARF_REPO")]
        repo: Option<String>,
        #[arg(long)]
        save_build_report: bool,
        #[arg(long)]
        tag_by_signature: bool,
        #[arg(long)]
        dir: Option<String>,
    }

    fn parse(args: &[&str], vars: &[(&str, &str)]) -> Wrap {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let env = |k: &str| map.get(k).cloned();
        let cmd = apply(<Wrap as clap::CommandFactory>::command(), &env);
        // clap reads the variables itself: the test sets only names nobody else uses.
        let matches = cmd.try_get_matches_from(std::iter::once("wharf").chain(args.iter().copied())).unwrap();
        <Wrap as clap::FromArgMatches>::from_arg_matches(&matches).unwrap()
    }

    #[test]
    fn werf_aliases_reach_the_wharf_flag() {
        let w = parse(&["--tag-by-stages-signature"], &[]);
        assert!(w.tag_by_signature);
    }

    #[test]
    fn the_variable_is_chosen_by_what_is_set_and_wharfs_own_wins() {
        let help = |vars: &[(&str, &str)]| {
            let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let env = |k: &str| map.get(k).cloned();
            apply(<Wrap as clap::CommandFactory>::command(), &env).render_long_help().to_string()
        };
        assert!(help(&[]).contains("[env: WHARF_REPO=]") || help(&[]).contains("[env: WHARF_REPO]"), "{}", help(&[]));
        assert!(
            help(&[("WERF_IMAGES_REPO", "x")]).contains("WERF_IMAGES_REPO"),
            "werf's variable when wharf's is unset"
        );
        assert!(help(&[("WERF_IMAGES_REPO", "x"), ("WHARF_REPO", "y")]).contains("WHARF_REPO"));
        assert!(help(&[]).contains("WERF_SAVE_BUILD_REPORT"), "a flag without a variable shows werf's");
    }

    #[test]
    fn lists_come_in_name_order() {
        let vars = vec![
            ("WERF_ADD_CUSTOM_TAG_2".to_string(), "%image%-b".to_string()),
            ("WERF_ADD_CUSTOM_TAG_1".to_string(), "%image%-a".to_string()),
            ("WERF_ADD_CUSTOM_TAG_3".to_string(), String::new()),
            ("WERF_CACHE_REPO_X".to_string(), "r".to_string()),
        ];
        assert_eq!(list("add-custom-tag", &vars), vec!["%image%-a", "%image%-b"]);
        assert!(list("platform", &vars).is_empty());
    }
}
