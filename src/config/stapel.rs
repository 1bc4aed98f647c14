//! werf's stapel images (`from:`, `fromImage:`, `git:`, `shell:`, `ansible:`, …) and
//! artifacts (`artifact:`), in a file that mixes them with Dockerfile images.
//!
//! wharf builds Dockerfile images only. A stapel document is still read: its name counts
//! (duplicates, dependencies on it), its `dependencies` follow werf's rules, and the
//! images it names (`fromImage`, `fromArtifact`, `import`, `dependencies`) must exist.
//! Each is reported as not built, with how to convert it. Its other directives are
//! werf's business and are not checked here.

use super::decode::{self, Fields};
use super::error::Report;
use super::image::{self, DepDoc, ImageDoc, Names};
use super::node::{Kind, Node};
use super::source::At;

const CONVERT: &str = "convert it to a Dockerfile image to build it with wharf: `from:` becomes `FROM`, `fromImage: X` becomes `FROM` with an ARG imported from X, `git:` becomes `COPY`, `shell:`/`ansible:` steps become `RUN`, `docker:` settings become `ENV`/`EXPOSE`/`CMD`…";

/// Reads a stapel image or artifact document.
pub(crate) fn decode(rep: &mut Report<'_>, doc: &Node, fields: &Fields<'_>) -> ImageDoc {
    // Not built, so not held to wharf's image-name rules (repository paths, tags).
    let names = match (fields.get("image"), fields.value("artifact")) {
        (None, Some(artifact)) => {
            Names::Named(decode::non_empty_string(rep, artifact, "`artifact`").into_iter().collect())
        }
        (Some(Node { kind: Kind::Str(_), .. }), _) => Names::Named(
            fields.value("image").and_then(|n| decode::non_empty_string(rep, n, "an image name")).into_iter().collect(),
        ),
        _ => image::image_names(rep, doc, fields),
    };
    let label = match &names {
        Names::Named(n) if !n.is_empty() => n.iter().map(|n| format!("`{}`", n.value)).collect::<Vec<_>>().join(", "),
        _ => "~".to_string(),
    };
    rep.warn(
        doc.head(),
        format!("stapel image {label} is not built by wharf (wharf builds Dockerfile images); {CONVERT}"),
    );
    let mut deps = fields.value("dependencies").map(|d| image::dependencies(rep, d, true)).unwrap_or_default();
    for key in ["fromImage", "fromArtifact"] {
        if let Some(name) = fields.value(key).and_then(|n| decode::non_empty_string(rep, n, &format!("`{key}`"))) {
            deps.push(DepDoc { image: name, imports: Vec::new() });
        }
    }
    if let Some(Node { kind: Kind::Seq(items), .. }) = fields.value("import") {
        for item in items {
            if let Some(name) = import_source(rep, item) {
                deps.push(DepDoc { image: name, imports: Vec::new() });
            }
        }
    }
    ImageDoc {
        pos: doc.head(),
        names,
        stapel: true,
        dockerfile: None,
        context: None,
        target: None,
        args: Vec::new(),
        deps,
        platforms: fields.value("platform").map(|p| image::platforms(rep, p)).unwrap_or_default(),
        publish: image::final_flag(rep, fields),
        cache_version: None,
        secrets: Vec::new(),
        ssh: None,
        network: None,
        context_add_files: Vec::new(),
        image_spec: None,
    }
}

/// The image (or artifact) of this file an `import:` entry copies from (`from:` may be
/// an external image, so it is not checked).
fn import_source(rep: &mut Report<'_>, node: &Node) -> Option<At<String>> {
    let Kind::Map(entries) = &node.kind else { return None };
    let key = ["image", "artifact"].into_iter().find(|k| entries.iter().any(|(n, _)| n.as_str() == Some(k)))?;
    let value = entries.iter().find(|(n, _)| n.as_str() == Some(key)).map(|(_, v)| v)?;
    decode::non_empty_string(rep, value, &format!("`import[].{key}`"))
}
