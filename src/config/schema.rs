//! The file format as plain serde types, from which schemars generates the JSON
//! schema committed as `schemas/wharf.schema.json` (for editors: each YAML
//! document is either the project document or an image document).
//!
//! The checker in this module reads located YAML nodes by hand so it can report
//! every problem at once; these types are the format's reference. Tests keep the
//! two in step: the key lists the checker accepts must equal the schema's
//! properties, and valid files must deserialize into these types.

// The fields are only read by schemars and by the conformance test.
#![allow(dead_code)]

use schemars::JsonSchema;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One YAML document of `wharf.yaml` (or `werf.yaml`), after template rendering:
/// the project document or an image document, separated by `---` lines. (werf's stapel
/// images are not described: wharf does not build them.)
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[schemars(title = "wharf.yaml document")]
#[allow(clippy::large_enum_variant)] // a schema type, deserialized once per document in tests
pub(crate) enum Document {
    Project(ProjectDocument),
    Image(ImageDocument),
}

/// The project document (werf's meta section); one per file.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ProjectDocument {
    /// The project name, part of every published repository and tag: 1 to 50
    /// lowercase letters, digits and `-`, neither starting nor ending with `-`.
    #[schemars(pattern(r"^(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$"), length(min = 1, max = 50))]
    project: String,
    /// The format version; only `1` exists.
    #[schemars(range(min = 1, max = 1))]
    config_version: u8,
    cleanup: Option<Cleanup>,
    /// Settings for every image.
    build: Option<Build>,
    /// werf's deploy settings; ignored by wharf (with a warning).
    deploy: Option<serde_json::Value>,
    /// werf's git worktree settings; ignored by wharf (with a warning).
    git_worktree: Option<serde_json::Value>,
}

/// Settings for every image (werf's `build`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Build {
    /// The platforms of every image that names none itself.
    platform: Option<Platforms>,
    /// The cache version of every image that sets none itself; changing it rebuilds.
    cache_version: Option<Scalar>,
    /// Merged into the `imageSpec` of every final image.
    image_spec: Option<GlobalImageSpec>,
    /// werf's staged Dockerfile builds; ignored by wharf (with a warning).
    staged: Option<bool>,
}

/// A string, number or boolean, taken as written.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Text(String),
    Number(f64),
    Flag(bool),
}

/// Changes to the image configuration.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ImageSpecDoc {
    author: Option<String>,
    /// Drop the build history.
    clear_history: Option<bool>,
    config: Option<ImageSpecConfig>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ImageSpecConfig {
    keep_essential_werf_labels: Option<bool>,
    clear_werf_labels: Option<bool>,
    clear_cmd: Option<bool>,
    clear_entrypoint: Option<bool>,
    clear_user: Option<bool>,
    clear_working_dir: Option<bool>,
    /// Label names or `/regex/`.
    remove_labels: Option<Vec<String>>,
    remove_volumes: Option<Vec<String>>,
    /// Variable names or `/regex/`.
    remove_env: Option<Vec<String>>,
    volumes: Option<Vec<String>>,
    labels: Option<BTreeMap<String, Scalar>>,
    env: Option<BTreeMap<String, Scalar>>,
    /// `PORT[/tcp|udp|sctp]`.
    #[schemars(inner(pattern(r"^[0-9]+(/(tcp|udp|sctp))?$")))]
    expose: Option<Vec<String>>,
    user: Option<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    working_dir: Option<String>,
    stop_signal: Option<String>,
    healthcheck: Option<HealthcheckDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct HealthcheckDoc {
    /// `[CMD, …]`, `[CMD-SHELL, "…"]` or `[NONE]`.
    test: Option<Vec<String>>,
    /// Seconds.
    interval: Option<u64>,
    /// Seconds.
    timeout: Option<u64>,
    /// Seconds.
    start_period: Option<u64>,
    retries: Option<u64>,
}

/// What `build.imageSpec` may change.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GlobalImageSpec {
    author: Option<String>,
    clear_history: Option<bool>,
    config: Option<GlobalImageSpecConfig>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct GlobalImageSpecConfig {
    keep_essential_werf_labels: Option<bool>,
    clear_werf_labels: Option<bool>,
    remove_labels: Option<Vec<String>>,
    labels: Option<BTreeMap<String, Scalar>>,
}

/// A build secret (needs BuildKit: refused when building, for now).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{ "required": ["env"] }, { "required": ["src"] }, { "required": ["id", "value"] }]))]
pub(crate) struct SecretEntry {
    /// Mounted at /run/secrets/<id>; defaults to the variable's name or the file's name.
    id: Option<String>,
    /// An environment variable.
    env: Option<String>,
    /// A file (`~` is the home directory).
    src: Option<String>,
    /// The value itself (needs `id`).
    value: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Paths {
    One(String),
    Many(Vec<String>),
}

/// Registry cleanup, in werf's syntax.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Cleanup {
    /// Git-history policies; an image no policy keeps is deleted. Without them
    /// werf's default policies apply.
    keep_policies: Option<Vec<KeepPolicy>>,
    /// Never delete images built within this many hours (default 2).
    keep_images_built_within_last_n_hours: Option<u32>,
    disable_kubernetes_based_policy: Option<bool>,
    disable_git_history_based_policy: Option<bool>,
    disable_built_within_last_n_hours_policy: Option<bool>,
}

/// Keeps images of matching git references.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct KeepPolicy {
    references: References,
    /// How many images to keep for each matching reference (default: all).
    images_per_reference: Option<Limit>,
}

/// The git references a policy applies to: `branch` or `tag`, not both.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{ "required": ["branch"] }, { "required": ["tag"] }]))]
pub(crate) struct References {
    /// A branch name, or `/REGEX/` (anchored as `^REGEX$`, Go/RE2 syntax).
    branch: Option<String>,
    /// A tag name, or `/REGEX/` (anchored as `^REGEX$`, Go/RE2 syntax).
    tag: Option<String>,
    /// Only the latest / most recently active references.
    limit: Option<Limit>,
}

/// `last` and `in`, combined by `operator`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Limit {
    /// At most this many; `-1` means no limit.
    #[schemars(range(min = -1))]
    last: Option<i64>,
    /// Within this period: a Go duration such as `168h` or `1h30m` (no `d` unit).
    #[serde(rename = "in")]
    #[schemars(pattern(r"^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"))]
    within: Option<String>,
    /// How `last` and `in` combine (default `And`).
    operator: Option<Operator>,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) enum Operator {
    And,
    Or,
}

/// An image built from a Dockerfile.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ImageDocument {
    /// The image name, a list of names sharing this definition, or `~` (null)
    /// for a project's single nameless image. Names are lowercase letters and
    /// digits separated by single `.`, `_` or `-`, at most 64 characters, since
    /// they become part of repository paths and tags.
    image: ImageNames,
    /// The Dockerfile, relative to `context` (default `Dockerfile`).
    dockerfile: Option<String>,
    /// The build context directory, relative to the project directory (default `.`).
    context: Option<String>,
    /// The Dockerfile stage to build.
    target: Option<String>,
    /// Build arguments; numbers and booleans are passed as written (a null is passed
    /// as `<nil>`, as werf does).
    args: Option<BTreeMap<String, Option<ArgValue>>>,
    /// Images this one needs, and the build arguments that receive their identity.
    dependencies: Option<Vec<DependencyEntry>>,
    /// Target platform(s), e.g. `linux/amd64` or `[linux/amd64, linux/arm64]`.
    platform: Option<Platforms>,
    /// `false`: built (and usable as a dependency) but not published.
    #[serde(rename = "final")]
    final_: Option<bool>,
    /// werf's `staged`; ignored by wharf (with a warning).
    staged: Option<bool>,
    /// Changing it changes the stage digest (a rebuild); default `build.cacheVersion`.
    cache_version: Option<Scalar>,
    /// Build secrets for `RUN --mount=type=secret` (need BuildKit: refused when building).
    secrets: Option<Vec<SecretEntry>>,
    /// SSH agent or keys for `RUN --mount=type=ssh`: `default` or `ID=PATH[,PATH]`
    /// (needs BuildKit: refused when building).
    ssh: Option<String>,
    /// The network of `RUN` steps: `default`, `none`, `host` or a network's name.
    network: Option<String>,
    /// Files (relative to `context`) that belong to the context even when
    /// `.dockerignore` leaves them out.
    context_add_files: Option<Paths>,
    /// werf's older spelling of `contextAddFiles`.
    context_add_file: Option<Paths>,
    /// Changes to the image configuration (labels, env, entrypoint, …).
    image_spec: Option<ImageSpecDoc>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum ImageNames {
    Nameless(()),
    One(#[schemars(pattern(r"^[a-z0-9]+([._-][a-z0-9]+)*$"), length(max = 64))] String),
    Many(#[schemars(inner(pattern(r"^[a-z0-9]+([._-][a-z0-9]+)*$"), length(max = 64)), length(min = 1))] Vec<String>),
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum ArgValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum Platforms {
    One(#[schemars(pattern(r"^[a-z0-9_.]+/[a-z0-9_.]+(/[a-z0-9_.]+)?$"))] String),
    Many(#[schemars(inner(pattern(r"^[a-z0-9_.]+/[a-z0-9_.]+(/[a-z0-9_.]+)?$")))] Vec<String>),
}

/// A dependency on another image of the project: `image` (or werf's newer `from`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{ "required": ["image"] }, { "required": ["from"] }]))]
pub(crate) struct DependencyEntry {
    image: Option<String>,
    from: Option<String>,
    imports: Option<Vec<ImportEntry>>,
    /// Stapel images only (werf refuses it for Dockerfile images).
    before: Option<String>,
    /// Stapel images only (werf refuses it for Dockerfile images).
    after: Option<String>,
}

/// Passes a fact about the dependency as a build argument.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ImportEntry {
    #[serde(rename = "type")]
    kind: ImportType,
    /// The Dockerfile `ARG` that receives the value.
    target_build_arg: String,
}

#[derive(Deserialize, JsonSchema)]
#[allow(clippy::enum_variant_names)] // werf's names
pub(crate) enum ImportType {
    ImageName,
    #[serde(rename = "ImageID")]
    ImageId,
    ImageRepo,
    ImageTag,
    ImageDigest,
}

/// The JSON schema of one document, pretty-printed, ending with a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Document);
    let mut text = serde_json::to_string_pretty(&schema).expect("a JSON schema always serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::super::{build_options, cleanup, dependency, image, image_spec, meta};
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    #[test]
    fn committed_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/wharf.schema.json");
        let fresh = schema_json();
        if std::env::var_os("WHARF_UPDATE_SCHEMA").is_some() {
            std::fs::create_dir_all(path.parent().expect("schemas/ has a parent")).expect("create schemas/");
            std::fs::write(&path, &fresh).expect("write the schema");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default().replace("\r\n", "\n");
        assert!(
            committed == fresh,
            "schemas/wharf.schema.json is out of date with src/config/schema.rs.\n\
             Regenerate it with `WHARF_UPDATE_SCHEMA=1 cargo test --lib config::schema` and commit the result."
        );
    }

    fn properties(def: &str) -> BTreeSet<String> {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).expect("schema is JSON");
        let props = &schema["$defs"][def]["properties"];
        props.as_object().unwrap_or_else(|| panic!("no properties for {def}")).keys().cloned().collect()
    }

    fn keys(lists: &[&[&str]]) -> BTreeSet<String> {
        lists.iter().flat_map(|l| l.iter()).map(|k| k.to_string()).collect()
    }

    #[test]
    fn checker_and_schema_accept_the_same_keys() {
        assert_eq!(properties("ProjectDocument"), keys(&[meta::META_KEYS, meta::WERF_META_KEYS]));
        assert_eq!(properties("ImageDocument"), keys(&[image::IMAGE_KEYS, image::WERF_IGNORED_IMAGE_KEYS]));
        assert_eq!(properties("Cleanup"), keys(&[cleanup::CLEANUP_KEYS]));
        assert_eq!(properties("KeepPolicy"), keys(&[cleanup::POLICY_KEYS]));
        assert_eq!(properties("References"), keys(&[cleanup::REFERENCES_KEYS]));
        assert_eq!(properties("Limit"), keys(&[cleanup::LIMIT_KEYS]));
        assert_eq!(properties("DependencyEntry"), keys(&[dependency::DEPENDENCY_KEYS]));
        assert_eq!(properties("ImportEntry"), keys(&[dependency::IMPORT_KEYS]));
        assert_eq!(properties("Build"), keys(&[meta::BUILD_KEYS]));
        assert_eq!(properties("ImageSpecDoc"), keys(&[image_spec::SPEC_KEYS]));
        assert_eq!(properties("ImageSpecConfig"), keys(&[image_spec::CONFIG_KEYS]));
        assert_eq!(properties("GlobalImageSpecConfig"), keys(&[image_spec::GLOBAL_CONFIG_KEYS]));
        assert_eq!(properties("HealthcheckDoc"), keys(&[image_spec::HEALTHCHECK_KEYS]));
        assert_eq!(properties("SecretEntry"), keys(&[build_options::SECRET_KEYS]));
    }

    #[test]
    fn valid_files_deserialize_into_the_schema_types() {
        for text in super::super::tests::VALID_FILES {
            let docs: Result<Vec<Document>, _> = serde_saphyr::from_multiple(text);
            assert!(docs.is_ok(), "{text}\n{:?}", docs.err());
        }
    }
}
