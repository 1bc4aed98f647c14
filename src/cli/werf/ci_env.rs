//! What `wharf ci-env github|gitlab` prints: werf's `ci-env` script, from the CI system's
//! variables. Pure: the variables come in through a lookup, the text goes out.
//!
//! The script has werf's sections and lines (werf 2's `ci-env`): `DOCKER CONFIG` (the session
//! docker config directory the command made), `REPO` (`WERF_REPO`: GitLab's
//! `CI_REGISTRY_IMAGE`, or `ghcr.io/<owner>/<repo>/<project>` on GitHub), `TAGGING` (werf
//! 1.1's `--tagging-strategy tag-or-branch|stages-signature` only), `DEPLOY` (`WERF_ENV` and
//! werf's annotations, for a werf deploy step after `wharf build`), `CLEANUP` and `OTHER`.
//! A variable already set is kept (a `# skip` line), as werf does, except the docker config
//! and annotations, which werf overrides too. A value that is a secret is never written:
//! `WERF_REPO_GITHUB_TOKEN` refers to `$GITHUB_TOKEN` instead of copying it.

use crate::secret::Secret;

/// The CI system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    Github,
    Gitlab,
}

/// The script's language (werf's `--shell`), or werf's env-file form (`--as-env-file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Unix,
    CmdExe,
    PowerShell,
    EnvFile,
}

/// werf 1.1's `--tagging-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Tagging {
    TagOrBranch,
    StagesSignature,
}

/// Reads one variable of the CI environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The registry login a CI system hands its jobs (werf logs in with it).
#[derive(Debug, Clone)]
pub struct Login {
    pub registry: String,
    pub username: String,
    pub password: Secret,
}

/// The login of this CI job: GitLab's job token for `CI_REGISTRY_IMAGE`'s registry, GitHub's
/// `GITHUB_ACTOR` + `GITHUB_TOKEN` for ghcr.io (or `docker.pkg.github.com` when `WERF_REPO`
/// is there).
pub fn login(ci: Ci, env: Env<'_>) -> Option<Login> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    match ci {
        Ci::Gitlab => {
            let image = var("CI_REGISTRY_IMAGE")?;
            let registry = image.split('/').next().unwrap_or_default().to_string();
            Some(Login { registry, username: "gitlab-ci-token".into(), password: Secret::new(var("CI_JOB_TOKEN")?) })
        }
        Ci::Github => {
            let legacy = "docker.pkg.github.com";
            let registry = if var("WERF_REPO").is_some_and(|r| r.starts_with(legacy)) { legacy } else { GHCR };
            Some(Login {
                registry: registry.into(),
                username: var("GITHUB_ACTOR")?,
                password: Secret::new(var("GITHUB_TOKEN")?),
            })
        }
    }
}

const GHCR: &str = "ghcr.io";

/// A value to export: text, or another variable of the job's environment.
enum Value {
    Text(String),
    Var(&'static str),
}

struct Script<'a> {
    form: Form,
    env: Env<'a>,
    out: String,
}

impl Script<'_> {
    fn comment(&self, text: &str) -> String {
        let sign = if self.form == Form::CmdExe { "::" } else { "#" };
        format!("{sign} {text}")
    }

    fn header(&mut self, title: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let line = self.comment(title);
        self.line(&line);
    }

    fn line(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    fn assignment(&self, key: &str, value: &Value) -> String {
        match (self.form, value) {
            (Form::EnvFile, Value::Text(v)) => format!("{key}={v}"),
            (Form::EnvFile, Value::Var(v)) => {
                self.comment(&format!("{key} is not written: set it from ${v} (an env file cannot refer to it)"))
            }
            (Form::Unix, Value::Text(v)) => format!("export {key}=\"{}\"", shell_escape(v)),
            (Form::Unix, Value::Var(v)) => format!("export {key}=\"${{{v}}}\""),
            (Form::PowerShell, Value::Text(v)) => {
                format!("$Env:{key} = \"{}\"", v.replace('`', "``").replace('"', "`\"").replace('$', "`$"))
            }
            (Form::PowerShell, Value::Var(v)) => format!("$Env:{key} = \"$Env:{v}\""),
            (Form::CmdExe, Value::Text(v)) => format!("set {key}={v}"),
            (Form::CmdExe, Value::Var(v)) => format!("set {key}=%{v}%"),
        }
    }

    /// werf's `writeEnv`: a variable already set stays unless `overwrite`; an empty value
    /// is written commented out.
    fn export(&mut self, key: &str, value: Value, overwrite: bool) {
        let line = self.assignment(key, &value);
        if let Some(existing) = (self.env)(key).filter(|v| !v.is_empty() && !overwrite) {
            let shown = if matches!(value, Value::Var(_)) { "set".to_string() } else { existing };
            let skip = self.comment(&format!("skip {line} ({shown})"));
            return self.line(&skip);
        }
        match value {
            Value::Text(v) if v.is_empty() => {
                let commented = self.comment(&line);
                self.line(&commented)
            }
            _ => self.line(&line),
        }
    }
}

/// `"…"`-safe text for a POSIX shell.
fn shell_escape(v: &str) -> String {
    v.chars().fold(String::new(), |mut s, c| {
        if matches!(c, '"' | '\\' | '$' | '`') {
            s.push('\\');
        }
        s.push(c);
        s
    })
}

/// The script for `ci`: `docker_config` is the session directory, `project` the project
/// name (GitHub's repository path needs it; `None` without a project file).
pub fn script(
    ci: Ci,
    env: Env<'_>,
    project: Option<&str>,
    docker_config: &str,
    form: Form,
    tagging: Option<Tagging>,
) -> Result<String, String> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let mut s = Script { form, env, out: String::new() };
    s.header("DOCKER CONFIG");
    s.export("DOCKER_CONFIG", Value::Text(docker_config.into()), true);
    s.export("WERF_DOCKER_CONFIG", Value::Text(docker_config.into()), true);

    s.header("REPO");
    match ci {
        Ci::Gitlab => {
            let image = var("CI_REGISTRY_IMAGE");
            let repo = image.clone().filter(|_| var("WERF_REPO").is_none()).unwrap_or_default();
            s.export("WERF_REPO", Value::Text(repo), false);
            let registry = var("CI_REGISTRY").unwrap_or_default();
            if image.is_some() && var("WERF_REPO").is_none_or(|r| r.starts_with(&registry)) {
                s.export("WERF_REPO_CONTAINER_REGISTRY", Value::Text("gitlab".into()), false);
            }
        }
        Ci::Github => {
            let package = var("GITHUB_REPOSITORY").map(|r| r.to_lowercase());
            let repo = package.zip(project).map(|(p, project)| format!("{GHCR}/{p}/{project}")).unwrap_or_default();
            s.export("WERF_REPO", Value::Text(repo), false);
        }
    }

    if let Some(strategy) = tagging {
        s.header("TAGGING");
        match strategy {
            Tagging::StagesSignature => s.export("WERF_TAG_BY_STAGES_SIGNATURE", Value::Text("true".into()), false),
            Tagging::TagOrBranch => {
                let (tag, branch) = tag_or_branch(ci, &var);
                if tag.is_none() && branch.is_none() {
                    return Err(format!(
                        "--tagging-strategy tag-or-branch: the CI environment names no git tag or branch ({})",
                        match ci {
                            Ci::Gitlab => "CI_COMMIT_TAG, CI_COMMIT_REF_NAME",
                            Ci::Github => "GITHUB_REF_TYPE, GITHUB_REF_NAME",
                        }
                    ));
                }
                if let Some(t) = tag {
                    s.export("WERF_TAG_GIT_TAG", Value::Text(crate::naming::slug(&t, crate::naming::MAX_TAG)), false);
                }
                if let Some(b) = branch {
                    s.export(
                        "WERF_TAG_GIT_BRANCH",
                        Value::Text(crate::naming::slug(&b, crate::naming::MAX_TAG)),
                        false,
                    );
                }
            }
        }
    }

    s.header("DEPLOY");
    if ci == Ci::Gitlab {
        s.export("WERF_ENV", Value::Text(var("CI_ENVIRONMENT_SLUG").unwrap_or_default()), false);
    }
    let annotation = |key: &str, value: Option<String>| value.map(|v| format!("{key}={v}")).unwrap_or_default();
    let channel = annotation("werf.io/release-channel", var("TRDL_USE_WERF_GROUP_CHANNEL"));
    s.export("WERF_ADD_ANNOTATION_WERF_RELEASE_CHANNEL", Value::Text(channel), true);
    match ci {
        Ci::Gitlab => {
            s.export(
                "WERF_ADD_ANNOTATION_PROJECT_GIT",
                Value::Text(annotation("project.werf.io/git", var("CI_PROJECT_URL"))),
                true,
            );
            s.export(
                "WERF_ADD_ANNOTATION_CI_COMMIT",
                Value::Text(annotation("ci.werf.io/commit", var("CI_COMMIT_SHA"))),
                true,
            );
            s.export(
                "WERF_ADD_ANNOTATION_CI_GIT_TAG",
                Value::Text(annotation("ci.werf.io/tag", var("CI_COMMIT_TAG"))),
                true,
            );
            let pipeline = annotation("gitlab.ci.werf.io/pipeline-url", var("CI_PIPELINE_URL"));
            s.export("WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL", Value::Text(pipeline), true);
            s.export(
                "WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL",
                Value::Text(annotation("gitlab.ci.werf.io/job-url", var("CI_JOB_URL"))),
                true,
            );
        }
        Ci::Github => {
            let repository = var("GITHUB_REPOSITORY");
            let project_git =
                annotation("project.werf.io/git", repository.as_ref().map(|r| format!("https://github.com/{r}")));
            s.export("WERF_ADD_ANNOTATION_PROJECT_GIT", Value::Text(project_git), true);
            s.export(
                "WERF_ADD_ANNOTATION_CI_COMMIT",
                Value::Text(annotation("ci.werf.io/commit", var("GITHUB_SHA"))),
                true,
            );
            let tag = var("GITHUB_REF_NAME").filter(|_| var("GITHUB_REF_TYPE").as_deref() == Some("tag"));
            s.export("WERF_ADD_ANNOTATION_CI_GIT_TAG", Value::Text(annotation("ci.werf.io/tag", tag)), true);
            let run =
                repository.zip(var("GITHUB_RUN_ID")).map(|(r, id)| format!("https://github.com/{r}/actions/runs/{id}"));
            s.export(
                "WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL",
                Value::Text(annotation("github.ci.werf.io/workflow-run-url", run)),
                true,
            );
            s.header("CLEANUP");
            match var("GITHUB_TOKEN") {
                Some(_) => s.export("WERF_REPO_GITHUB_TOKEN", Value::Var("GITHUB_TOKEN"), false),
                None => s.export("WERF_REPO_GITHUB_TOKEN", Value::Text(String::new()), false),
            }
        }
    }

    s.header("OTHER");
    s.export("WERF_LOG_COLOR_MODE", Value::Text("on".into()), false);
    s.export("WERF_LOG_PROJECT_DIR", Value::Text("1".into()), false);
    s.export("WERF_ENABLE_PROCESS_EXTERMINATOR", Value::Text("1".into()), false);
    s.export("WERF_LOG_TERMINAL_WIDTH", Value::Text("130".into()), false);
    Ok(s.out)
}

/// The git tag or branch the CI job runs for (werf 1.1's tag-or-branch: the tag wins).
fn tag_or_branch(ci: Ci, var: &dyn Fn(&str) -> Option<String>) -> (Option<String>, Option<String>) {
    match ci {
        Ci::Gitlab => match var("CI_COMMIT_TAG") {
            Some(tag) => (Some(tag), None),
            None => (None, var("CI_COMMIT_REF_NAME")),
        },
        Ci::Github => match var("GITHUB_REF_TYPE").as_deref() {
            Some("tag") => (var("GITHUB_REF_NAME"), None),
            Some("branch") => (None, var("GITHUB_HEAD_REF").or_else(|| var("GITHUB_REF_NAME"))),
            _ => (None, None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    const GITLAB: &[(&str, &str)] = &[
        ("CI_REGISTRY", "registry.gitlab.com"),
        ("CI_REGISTRY_IMAGE", "registry.gitlab.com/acme/shop"),
        ("CI_JOB_TOKEN", "glcbt-secret"),
        ("CI_ENVIRONMENT_SLUG", "production"),
        ("CI_COMMIT_SHA", "0123abc"),
        ("CI_COMMIT_REF_NAME", "feature/Login"),
        ("CI_PROJECT_URL", "https://gitlab.com/acme/shop"),
    ];

    #[test]
    fn gitlab_sets_repo_driver_env_and_docker_config_as_werf_does() {
        let e = env(GITLAB);
        let text = script(Ci::Gitlab, &e, Some("shop"), "/tmp/dc", Form::Unix, None).unwrap();
        for line in [
            "# DOCKER CONFIG\nexport DOCKER_CONFIG=\"/tmp/dc\"\nexport WERF_DOCKER_CONFIG=\"/tmp/dc\"\n",
            "\n# REPO\nexport WERF_REPO=\"registry.gitlab.com/acme/shop\"\nexport WERF_REPO_CONTAINER_REGISTRY=\"gitlab\"\n",
            "export WERF_ENV=\"production\"\n",
            "export WERF_ADD_ANNOTATION_CI_COMMIT=\"ci.werf.io/commit=0123abc\"\n",
            "# export WERF_ADD_ANNOTATION_CI_GIT_TAG=\"\"\n",
            "\n# OTHER\nexport WERF_LOG_COLOR_MODE=\"on\"\n",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        assert!(!text.contains("glcbt-secret"), "the job token is never printed");
        let login = login(Ci::Gitlab, &e).unwrap();
        assert_eq!(
            (login.registry.as_str(), login.username.as_str(), login.password.expose()),
            ("registry.gitlab.com", "gitlab-ci-token", "glcbt-secret")
        );
    }

    #[test]
    fn a_variable_already_set_is_kept_with_a_skip_line() {
        let mut vars = GITLAB.to_vec();
        vars.push(("WERF_REPO", "harbor.acme.io/shop"));
        let text = script(Ci::Gitlab, &env(&vars), None, "/tmp/dc", Form::Unix, None).unwrap();
        assert!(text.contains("# export WERF_REPO=\"\"\n") || text.contains("# skip export WERF_REPO"), "{text}");
        assert!(!text.contains("WERF_REPO_CONTAINER_REGISTRY"), "another registry: no gitlab driver:\n{text}");
    }

    #[test]
    fn github_derives_the_repo_from_the_project_and_refers_to_the_token() {
        let e = env(&[
            ("GITHUB_REPOSITORY", "Acme/Shop"),
            ("GITHUB_TOKEN", "ghs_secret"),
            ("GITHUB_ACTOR", "bot"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF_NAME", "v1.2.0"),
        ]);
        let text = script(Ci::Github, &e, Some("shop"), "/tmp/dc", Form::Unix, Some(Tagging::TagOrBranch)).unwrap();
        assert!(text.contains("export WERF_REPO=\"ghcr.io/acme/shop/shop\"\n"), "{text}");
        assert!(text.contains("export WERF_REPO_GITHUB_TOKEN=\"${GITHUB_TOKEN}\"\n"), "{text}");
        assert!(text.contains("\n# TAGGING\nexport WERF_TAG_GIT_TAG=\"v1.2.0\"\n"), "{text}");
        assert!(text.contains("ci.werf.io/tag=v1.2.0"), "{text}");
        assert!(!text.contains("ghs_secret"));
        assert_eq!(login(Ci::Github, &e).unwrap().registry, "ghcr.io");
        let envfile = script(Ci::Github, &e, Some("shop"), "/tmp/dc", Form::EnvFile, None).unwrap();
        assert!(envfile.contains("WERF_REPO=ghcr.io/acme/shop/shop\n") && !envfile.contains("export"), "{envfile}");
        assert!(!envfile.contains("ghs_secret") && !envfile.contains("\nWERF_REPO_GITHUB_TOKEN="), "{envfile}");
    }

    #[test]
    fn branches_are_slugged_and_other_shells_get_their_syntax() {
        let text =
            script(Ci::Gitlab, &env(GITLAB), None, "C:\\dc", Form::PowerShell, Some(Tagging::TagOrBranch)).unwrap();
        assert!(text.contains("$Env:WERF_TAG_GIT_BRANCH = \"feature-login\"\n"), "{text}");
        let cmd = script(Ci::Gitlab, &env(GITLAB), None, "C:\\dc", Form::CmdExe, None).unwrap();
        assert!(cmd.starts_with(":: DOCKER CONFIG\nset DOCKER_CONFIG=C:\\dc\n"), "{cmd}");
        let none = script(Ci::Gitlab, &env(&[]), None, "/d", Form::Unix, Some(Tagging::TagOrBranch));
        assert!(none.unwrap_err().contains("CI_COMMIT_TAG"));
        let quoted =
            script(Ci::Gitlab, &env(&[("CI_ENVIRONMENT_SLUG", "a\"$(x)")]), None, "/d", Form::Unix, None).unwrap();
        assert!(quoted.contains("export WERF_ENV=\"a\\\"\\$(x)\"\n"), "{quoted}");
    }
}
