//! werf's build report (`--save-build-report`): what a deploy step reads to find the images
//! a build published (`werf converge --use-build-report`, or a script reading
//! `Images.<name>.DockerImageName`).
//!
//! The shape is werf 2's `ImagesReport`, field for field: `Runtime`, `Images` (by werf image
//! name; the nameless image is `""`) and `ImagesByPlatform` (empty, as in werf unless
//! `WERF_ENABLE_REPORT_BY_PLATFORM=1`); per image `WerfImageName`, `ConfigType`, `DockerRepo`,
//! `DockerTag`, `DockerImageID`, `DockerImageDigest`, `DockerImageName`, `TargetPlatform`,
//! `Rebuilt`, `Final`, `Size`, `BuildTime`, `Commit` and `Stages`. JSON is written as werf
//! writes it (tab-indented, keys sorted, a final newline); a path ending in `.env` gets werf's
//! env-file form instead (`WERF_<IMAGE>_DOCKER_IMAGE_NAME=…`).
//!
//! What the fields hold in wharf: `DockerImageName` is where the image was published under
//! its content-based tag (the stage digest), else its first published reference, else (an
//! image not published: `final: false`) its stage in the stages storage or the local
//! engine; `DockerImageID` is the config digest; `Size` the layers' compressed size. wharf
//! does not time builds per image: `BuildTime` is `"0.00"` and `CreatedAt` 0.

use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;

use crate::config::Project;
use crate::naming::Strategy;
use crate::report::{ImageReport, Report};

/// werf's default report path (relative to the current directory, as in werf).
pub const DEFAULT_PATH: &str = ".werf-build-report.json";

/// werf's build report.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct BuildReport {
    pub runtime: Runtime,
    pub images: BTreeMap<String, ImageRecord>,
    pub images_by_platform: BTreeMap<String, BTreeMap<String, ImageRecord>>,
}

/// Where the build ran.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct Runtime {
    /// `docker`: wharf builds through the Docker engine.
    pub backend: String,
    pub in_container: bool,
}

/// One image of [`BuildReport`].
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ImageRecord {
    pub werf_image_name: String,
    /// `dockerfile` (wharf builds Dockerfile images only).
    pub config_type: String,
    pub docker_repo: String,
    pub docker_tag: String,
    #[serde(rename = "DockerImageID")]
    pub docker_image_id: String,
    pub docker_image_digest: String,
    /// `DockerRepo:DockerTag`: what a deploy step pulls.
    pub docker_image_name: String,
    pub target_platform: String,
    pub rebuilt: bool,
    #[serde(rename = "Final")]
    pub is_final: bool,
    pub size: i64,
    pub build_time: String,
    pub commit: String,
    pub stages: Vec<StageRecord>,
}

/// The stage of an [`ImageRecord`] (a Dockerfile image has one, `dockerfile`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct StageRecord {
    pub name: String,
    pub docker_image_name: String,
    pub docker_tag: String,
    #[serde(rename = "DockerImageID")]
    pub docker_image_id: String,
    pub docker_image_digest: String,
    pub created_at: i64,
    pub size: i64,
    pub source_type: String,
    pub base_image_pulled: bool,
    pub rebuilt: bool,
    pub build_time: String,
    pub commit: String,
}

/// What the report is made from besides the run's own report.
pub struct Inputs<'a> {
    pub project: &'a Project,
    /// Where the stage with a digest is kept (`REPO:TAG`, or the local engine's name).
    pub stage_name: &'a dyn Fn(&str) -> String,
    pub commit: Option<&'a str>,
    pub runtime: Runtime,
}

impl BuildReport {
    /// The report of `run`.
    pub fn new(run: &Report, inputs: Inputs<'_>) -> BuildReport {
        let images = run.images.iter().map(|i| (i.name.clone().unwrap_or_default(), record(i, &inputs))).collect();
        BuildReport { runtime: inputs.runtime, images, images_by_platform: BTreeMap::new() }
    }

    /// werf's JSON: tab-indented, with a final newline.
    pub fn to_json(&self) -> String {
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"\t"));
        // Serializing these plain types cannot fail.
        self.serialize(&mut ser).unwrap_or_default();
        let mut text = String::from_utf8(out).unwrap_or_default();
        text.push('\n');
        text
    }

    /// werf's env-file form: per image `WERF_<IMAGE>_DOCKER_IMAGE_NAME=…` and its siblings.
    pub fn to_env_file(&self) -> String {
        let mut out = String::new();
        for (name, r) in &self.images {
            let prefix = env_prefix(name);
            for (key, value) in [
                ("DOCKER_IMAGE_NAME", r.docker_image_name.clone()),
                ("DOCKER_IMAGE_ID", r.docker_image_id.clone()),
                ("DOCKER_IMAGE_DIGEST", r.docker_image_digest.clone()),
                ("DOCKER_REPO", r.docker_repo.clone()),
                ("DOCKER_TAG", r.docker_tag.clone()),
                ("WERF_IMAGE_NAME", r.werf_image_name.clone()),
                ("FINAL", r.is_final.to_string()),
            ] {
                out.push_str(&format!("{prefix}{key}={value}\n"));
            }
        }
        out
    }
}

/// `WERF_` for the nameless image, else `WERF_<NAME>_` with `/`, `-`, `.` as `_` (werf's).
fn env_prefix(name: &str) -> String {
    match name {
        "" => "WERF_".into(),
        _ => format!("WERF_{}_", name.to_uppercase().replace(['/', '-', '.'], "_")),
    }
}

/// `REPO:TAG` split at the tag's colon (a registry port's colon is followed by a path).
fn split_reference(reference: &str) -> (String, String) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo.to_string(), tag.to_string()),
        _ => (reference.to_string(), String::new()),
    }
}

fn record(image: &ImageReport, inputs: &Inputs<'_>) -> ImageRecord {
    let config = image
        .name
        .as_deref()
        .and_then(|n| inputs.project.image(n))
        .or_else(|| inputs.project.images.iter().find(|i| i.name.is_none()));
    let is_final = config.is_none_or(|c| c.publish);
    let stage = (inputs.stage_name)(&image.stage_digest);
    let by_content =
        image.tags.iter().position(|t| t.strategy == Strategy::Signature).and_then(|k| image.references.get(k));
    let name = by_content.or(image.references.first()).cloned().unwrap_or_else(|| stage.clone());
    let (repo, tag) = split_reference(&name);
    let image_id = image.image_id.clone().unwrap_or_default();
    let size = image.size.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
    let commit = inputs.commit.unwrap_or_default().to_string();
    let build_time = "0.00".to_string();
    let stage_record = StageRecord {
        name: "dockerfile".into(),
        docker_tag: split_reference(&stage).1,
        docker_image_name: stage,
        docker_image_id: image_id.clone(),
        docker_image_digest: image.manifest_digest.clone(),
        created_at: 0,
        size,
        source_type: String::new(),
        base_image_pulled: false,
        rebuilt: image.built,
        build_time: build_time.clone(),
        commit: commit.clone(),
    };
    ImageRecord {
        werf_image_name: image.name.clone().unwrap_or_default(),
        config_type: "dockerfile".into(),
        docker_repo: repo,
        docker_tag: tag,
        docker_image_id: image_id,
        docker_image_digest: image.manifest_digest.clone(),
        docker_image_name: name,
        // One platform: it; several (an index): empty, as werf reports a manifest list.
        target_platform: config
            .and_then(|c| match c.platforms.as_slice() {
                [one] => Some(one.clone()),
                _ => None,
            })
            .unwrap_or_default(),
        rebuilt: image.built,
        is_final,
        size,
        build_time,
        commit,
        stages: vec![stage_record],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naming::Tag;

    fn project() -> Project {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let text = "project: shop\nconfigVersion: 1\n---\nimage: api\ndockerfile: Dockerfile\nplatform: linux/amd64\n---\nimage: base\ndockerfile: Dockerfile\nfinal: false\n";
        crate::config::parse_str(&dir.path().join("werf.yaml"), dir.path(), text).unwrap()
    }

    fn tag(value: &str, strategy: Strategy) -> Tag {
        Tag { value: value.into(), strategy, original: value.into() }
    }

    fn run() -> Report {
        let image = |name: &str, refs: Vec<&str>, tags: Vec<Tag>| ImageReport {
            name: Some(name.into()),
            stage_digest: "d".repeat(64),
            manifest_digest: format!("sha256:{}", "e".repeat(64)),
            built: true,
            references: refs.into_iter().map(String::from).collect(),
            tags,
            stats: Default::default(),
            image_id: Some(format!("sha256:{}", "c".repeat(64))),
            size: Some(1234),
            platforms: Vec::new(),
        };
        Report {
            project: "shop".into(),
            images: vec![
                image(
                    "api",
                    vec!["reg:5000/shop:api-v1", "reg:5000/shop:api-ddd"],
                    vec![tag("api-v1", Strategy::AddCustomTag), tag("ddd", Strategy::Signature)],
                ),
                image("base", vec![], vec![]),
            ],
        }
    }

    #[test]
    fn the_fields_a_deploy_step_reads_are_werfs() {
        let project = project();
        let stage_name = |d: &str| format!("reg:5000/shop:wharf-stage-{d}");
        let runtime = Runtime { backend: "docker".into(), in_container: false };
        let report = BuildReport::new(
            &run(),
            Inputs { project: &project, stage_name: &stage_name, commit: Some("abc"), runtime },
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let api = &json["Images"]["api"];
        assert_eq!(api["DockerImageName"], "reg:5000/shop:api-ddd", "the content-based tag");
        assert_eq!((api["DockerRepo"].as_str(), api["DockerTag"].as_str()), (Some("reg:5000/shop"), Some("api-ddd")));
        assert_eq!(api["DockerImageID"], format!("sha256:{}", "c".repeat(64)));
        assert_eq!(api["DockerImageDigest"], format!("sha256:{}", "e".repeat(64)));
        assert_eq!(
            (api["Rebuilt"].as_bool(), api["Final"].as_bool(), api["TargetPlatform"].as_str()),
            (Some(true), Some(true), Some("linux/amd64"))
        );
        let base = &json["Images"]["base"];
        assert_eq!(base["Final"], false);
        assert_eq!(
            base["DockerImageName"],
            format!("reg:5000/shop:wharf-stage-{}", "d".repeat(64)),
            "not published: its stage"
        );
        assert_eq!(json["ImagesByPlatform"], serde_json::json!({}));
        assert_eq!(json["Runtime"]["Backend"], "docker");
        assert!(report.to_json().starts_with("{\n\t\"Runtime\": {\n\t\t\"Backend\""), "werf's layout: tabs");
        let env = report.to_env_file();
        assert!(
            env.contains("WERF_API_DOCKER_IMAGE_NAME=reg:5000/shop:api-ddd\n")
                && env.contains("WERF_BASE_FINAL=false\n"),
            "{env}"
        );
    }

    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("localhost:5000/a/b:v1"), ("localhost:5000/a/b".into(), "v1".into()));
        assert_eq!(split_reference("localhost:5000/a"), ("localhost:5000/a".into(), String::new()));
        assert_eq!(env_prefix("my-app.v2"), "WERF_MY_APP_V2_");
        assert_eq!(env_prefix(""), "WERF_");
    }
}
