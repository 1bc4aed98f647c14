//! `wharf build [IMAGE…]`: werf 1.2's `build` — build, and publish to `--repo` when given.
//!
//! It takes `build-and-publish`'s flags (and werf's: `--add-custom-tag`, `--platform`,
//! `--final-repo`, `--save-build-report`…), with werf 1.2's defaults: every image lives in
//! the one `--repo` (`--repo-mode monorepo`) and is always published under its
//! content-based tag (the stage digest), custom tags besides. Without `--repo` the images
//! go into the project's OCI layout, as with `build-and-publish` (the stages stay in the
//! engine, as werf keeps them).

use super::super::Output;
use super::build_and_publish::{self, BuildArgs, Flavor};
use crate::config::Project;
use crate::error::Error;

/// Runs `wharf build`.
pub async fn run(args: &BuildArgs, out: Output) -> Result<(), Error> {
    build_and_publish::run(args, out, Flavor::Build).await
}

/// The project as asked for on the command line: every image for `platforms` when given
/// (werf's `--platform` replaces the file's), and only the images `names` (or, with
/// `final_only`, the final ones among them or in the project) with what they depend on.
pub fn choose_images(
    mut project: Project,
    names: &[String],
    final_only: bool,
    platforms: &[String],
) -> Result<Project, Error> {
    if let Some(bad) = platforms.iter().find(|p| !crate::config::valid_platform(p)) {
        return Err(Error::Usage(format!(
            "--platform {bad:?}: not a platform\n  hint: a platform is OS/ARCH or OS/ARCH/VARIANT, e.g. linux/amd64, linux/arm64 or linux/arm/v7"
        )));
    }
    if !platforms.is_empty() {
        for image in &mut project.images {
            image.platforms = platforms.to_vec();
        }
    }
    // The single nameless image has no name to choose it by.
    let nameless = project.images.iter().any(|i| i.name.is_none());
    if nameless || (names.is_empty() && !final_only) {
        return Ok(project);
    }
    let finals: Vec<String> = project.images.iter().filter(|i| i.publish).filter_map(|i| i.name.clone()).collect();
    let wanted: Vec<String> = match (final_only, names.is_empty()) {
        (true, true) => finals,
        (true, false) => names.iter().filter(|n| finals.contains(n) || project.image(n).is_none()).cloned().collect(),
        (false, _) => names.to_vec(),
    };
    project.select(&wanted).map_err(|e| Error::Usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let text = "project: shop\nconfigVersion: 1\n---\nimage: base\ndockerfile: Dockerfile\nfinal: false\n---\nimage: api\ndockerfile: Dockerfile\ndependencies:\n- image: base\n---\nimage: tool\ndockerfile: Dockerfile\nfinal: false\n";
        let project = crate::config::parse_str(&dir.path().join("werf.yaml"), dir.path(), text).unwrap();
        (dir, project)
    }

    fn names(p: &Project) -> Vec<&str> {
        p.images.iter().filter_map(|i| i.name.as_deref()).collect()
    }

    #[test]
    fn images_named_come_with_their_dependencies() {
        let (_d, p) = project();
        assert_eq!(names(&choose_images(p.clone(), &["api".into()], false, &[]).unwrap()), ["base", "api"]);
        assert_eq!(
            names(&choose_images(p.clone(), &[], true, &[]).unwrap()),
            ["base", "api"],
            "final images only: tool goes"
        );
        assert_eq!(names(&choose_images(p.clone(), &[], false, &[]).unwrap()), ["base", "api", "tool"]);
        let err = choose_images(p, &["ap".into()], false, &[]).unwrap_err().to_string();
        assert!(err.contains("no image `ap`") && err.contains("did you mean `api`?"), "{err}");
    }

    #[test]
    fn platform_replaces_every_images_and_is_checked() {
        let (_d, p) = project();
        let chosen = choose_images(p.clone(), &[], false, &["linux/amd64".into()]).unwrap();
        assert!(chosen.images.iter().all(|i| i.platforms == ["linux/amd64"]));
        let err = choose_images(p, &[], false, &["amd64".into()]).unwrap_err().to_string();
        assert!(err.contains("--platform \"amd64\"") && err.contains("linux/amd64"), "{err}");
    }
}
