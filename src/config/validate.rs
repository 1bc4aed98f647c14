//! Checks across image documents, then the final [`Image`] list.
//!
//! Names must be unique (a nameless image only alone; stapel images count), dependencies
//! must name defined images and form no cycle, each build argument must be set once per
//! image, an image's platforms must all be available from its dependencies, build
//! secrets and `contextAddFiles` must be allowed by `werf-giterminism.yaml` when the
//! project has one, and paths must resolve inside the project directory.

use super::cycles::{self, Edge};
use super::decode;
use super::error::{ErrorKind, Report};
use super::giterminism::Giterminism;
use super::image::{DepDoc, ImageDoc, Names};
use super::image_spec::ImageSpec;
use super::model::{BuildSecret, BuildSettings, Dependency, Image, Import, SecretSource, StapelImage};
use super::paths::{self, ProjectDir};
use super::source::{At, Pos};
use std::collections::{HashMap, HashSet};

/// Cycles reported at most; one usually explains the others.
const MAX_CYCLES: usize = 10;

/// What the project settings add to every image.
pub(crate) struct Context<'c> {
    pub dir: &'c ProjectDir,
    pub build: &'c BuildSettings,
    pub giterminism: &'c Giterminism,
}

/// The Dockerfile images (in file order) and the stapel images of the project, after
/// all checks (errors reported).
pub(crate) fn images(rep: &mut Report<'_>, docs: &[ImageDoc], cx: &Context<'_>) -> (Vec<Image>, Vec<StapelImage>) {
    let defined = check_names(rep, docs);
    check_dependencies(rep, docs, &defined);
    check_cycles(rep, docs, &defined);
    check_platforms(rep, docs, cx.build);
    for doc in docs.iter().filter(|d| !d.stapel) {
        check_build_args(rep, doc);
        check_secrets(rep, doc, cx.giterminism);
    }
    let images = docs.iter().filter(|d| !d.stapel).flat_map(|doc| assemble(rep, doc, cx)).collect();
    let stapel = docs
        .iter()
        .filter(|d| d.stapel)
        .flat_map(|doc| {
            let location = rep.location(doc.pos);
            let names: Vec<Option<String>> = match &doc.names {
                Names::Nameless(_) => vec![None],
                Names::Named(n) => n.iter().map(|n| Some(n.value.clone())).collect(),
            };
            names.into_iter().map(move |name| StapelImage { name, location: location.clone() })
        })
        .collect();
    (images, stapel)
}

/// Every platform of an image must be a platform of each image it depends on (werf's
/// rule); an image without platforms has `build.platform`, or the engine's default.
fn check_platforms(rep: &mut Report<'_>, docs: &[ImageDoc], build: &BuildSettings) {
    let platforms_of = |doc: &ImageDoc| -> Vec<String> {
        if doc.platforms.is_empty() {
            build.platforms.clone()
        } else {
            doc.platforms.iter().map(|p| p.value.clone()).collect()
        }
    };
    let by_name: HashMap<&str, &ImageDoc> = docs
        .iter()
        .flat_map(|d| match &d.names {
            Names::Named(n) => n.iter().map(|n| (n.value.as_str(), d)).collect::<Vec<_>>(),
            Names::Nameless(_) => Vec::new(),
        })
        .collect();
    for doc in docs {
        let mine = platforms_of(doc);
        for dep in &doc.deps {
            let Some(other) = by_name.get(dep.image.value.as_str()) else { continue };
            let theirs = platforms_of(other);
            if theirs.is_empty() || mine.is_empty() {
                continue;
            }
            if let Some(missing) = mine.iter().find(|p| !theirs.contains(p)) {
                rep.error(
                    ErrorKind::InvalidValue,
                    dep.image.pos,
                    format!(
                        "this image is built for platform {missing}, which dependency `{}` is not built for",
                        dep.image.value
                    ),
                )
                .label("missing platform")
                .hint(format!(
                    "add {missing} to the `platform` of `{}` (it has {}), or remove it from this image's",
                    dep.image.value,
                    theirs.join(", ")
                ));
            }
        }
    }
}

/// Build secrets must be allowed by `werf-giterminism.yaml` (when the project has one).
fn check_secrets(rep: &mut Report<'_>, doc: &ImageDoc, giterminism: &Giterminism) {
    for secret in &doc.secrets {
        let (kind, what) = match &secret.value.source {
            SecretSource::Env(name) => ("env", name.as_str()),
            SecretSource::File(path) => ("src", path.as_str()),
            SecretSource::Value(_) => ("value", secret.value.id.as_str()),
        };
        if let Err(message) = giterminism.check_secret(kind, what) {
            rep.error(ErrorKind::InvalidValue, secret.pos, message)
                .label("not allowed")
                .hint("werf-giterminism.yaml lists what a build may read from outside the project");
        }
    }
}

/// Defined names (first definitions, in file order), reporting duplicates and
/// misused nameless images.
fn check_names<'d>(rep: &mut Report<'_>, docs: &'d [ImageDoc]) -> Vec<&'d At<String>> {
    let mut defined: Vec<&At<String>> = Vec::new();
    let mut first_pos: HashMap<&str, Pos> = HashMap::new();
    let mut nameless: Vec<Pos> = Vec::new();
    for doc in docs {
        match &doc.names {
            Names::Nameless(pos) => nameless.push(*pos),
            Names::Named(names) => {
                for name in names {
                    match first_pos.get(name.value.as_str()) {
                        Some(&first) => duplicate_image(rep, name, first),
                        None => {
                            first_pos.insert(&name.value, name.pos);
                            defined.push(name);
                        }
                    }
                }
            }
        }
    }
    if let Some((first, rest)) = nameless.split_first() {
        for pos in rest {
            rep.error(ErrorKind::MultipleNameless, *pos, "more than one nameless image")
                .label("second nameless image")
                .note(*first, "first nameless image")
                .hint("only a project with a single image may leave it nameless (`image: ~`); give each image a name");
        }
        if let Some(named) = defined.first() {
            rep.error(ErrorKind::NamelessWithNamed, *first, "a nameless image (`image: ~`) next to named images")
                .label("nameless image")
                .note(named.pos, "a named image")
                .hint("name it (`image: NAME`): when a project has several images, each needs a name to be published and depended on");
        }
    }
    defined
}

fn duplicate_image(rep: &mut Report<'_>, name: &At<String>, first: Pos) {
    rep.error(ErrorKind::DuplicateImage, name.pos, format!("image `{}` is defined twice", name.value))
        .label("defined again here")
        .note(first, "first defined here")
        .hint("image names must be unique: rename or remove one of them");
}

fn check_dependencies(rep: &mut Report<'_>, docs: &[ImageDoc], defined: &[&At<String>]) {
    let names: Vec<&str> = defined.iter().map(|d| d.value.as_str()).collect();
    let known: HashSet<&str> = names.iter().copied().collect();
    for dep in docs.iter().flat_map(|d| &d.deps) {
        if known.contains(dep.image.value.as_str()) {
            continue;
        }
        let hint = match decode::suggest(&dep.image.value, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None if names.is_empty() => "no named images are defined in this file".to_string(),
            None => format!("the images defined here are {}", decode::list(&names)),
        };
        rep.error(
            ErrorKind::UnknownDependency,
            dep.image.pos,
            format!("dependency on unknown image `{}`", dep.image.value),
        )
        .label("not defined in this file")
        .hint(hint);
    }
}

fn check_cycles(rep: &mut Report<'_>, docs: &[ImageDoc], defined: &[&At<String>]) {
    let index: HashMap<&str, usize> = defined.iter().enumerate().map(|(i, d)| (d.value.as_str(), i)).collect();
    let mut edges = Vec::new();
    for doc in docs {
        let Names::Named(names) = &doc.names else {
            continue;
        };
        for name in names {
            let Some(&from) = index.get(name.value.as_str()) else {
                continue;
            };
            for dep in &doc.deps {
                if let Some(&to) = index.get(dep.image.value.as_str()) {
                    edges.push(Edge { from, to, pos: dep.image.pos });
                }
            }
        }
    }
    for cycle in cycles::find_cycles(defined.len(), &edges, MAX_CYCLES) {
        report_cycle(rep, defined, &edges, &cycle);
    }
}

fn report_cycle(rep: &mut Report<'_>, defined: &[&At<String>], edges: &[Edge], cycle: &[usize]) {
    let name = |i: usize| defined.get(i).map_or("?", |d| d.value.as_str());
    let Some((&closing, others)) = cycle.split_last() else {
        return;
    };
    let mut path: Vec<&str> = cycle.iter().map(|&e| name(edges[e].from)).collect();
    path.push(name(edges[closing].to));
    let mut error = rep
        .error(ErrorKind::DependencyCycle, edges[closing].pos, format!("dependency cycle: {}", path.join(" → ")))
        .label(format!("`{}` depends on `{}`, closing the cycle", name(edges[closing].from), name(edges[closing].to)))
        .hint("an image cannot depend on itself, directly or through others: remove one of these dependencies");
    for &e in others {
        error = error.note(edges[e].pos, format!("`{}` depends on `{}`", name(edges[e].from), name(edges[e].to)));
    }
}

/// Each build argument is set once: by `args` or by one import.
fn check_build_args(rep: &mut Report<'_>, doc: &ImageDoc) {
    let from_args: HashMap<&str, Pos> = doc.args.iter().map(|(k, _)| (k.value.as_str(), k.pos)).collect();
    let mut from_imports: HashMap<&str, Pos> = HashMap::new();
    for import in doc.deps.iter().flat_map(|d| &d.imports) {
        let arg = import.value.1.as_str();
        if let Some(&first) = from_imports.get(arg) {
            rep.error(
                ErrorKind::DuplicateBuildArg,
                import.pos,
                format!("build argument `{arg}` is set by two imports"),
            )
            .label("set again here")
            .note(first, "first set here")
            .hint("each `targetBuildArg` must be unique within an image: rename one and its `ARG`");
        } else if let Some(&arg_pos) = from_args.get(arg) {
            rep.error(
                ErrorKind::DuplicateBuildArg,
                import.pos,
                format!("build argument `{arg}` is set both in `args` and by an import"),
            )
            .label("set by this import")
            .note(arg_pos, "also set in `args`")
            .hint("werf refuses this too: remove it from `args` or import it under another name");
            from_imports.insert(arg, import.pos);
        } else {
            from_imports.insert(arg, import.pos);
        }
    }
}

/// The images one document defines (one per name), if its paths resolve.
fn assemble(rep: &mut Report<'_>, doc: &ImageDoc, cx: &Context<'_>) -> Vec<Image> {
    let dir = cx.dir;
    let (names, anchor): (Vec<Option<String>>, Pos) = match &doc.names {
        Names::Nameless(pos) => (vec![None], *pos),
        Names::Named(names) => {
            (names.iter().map(|n| Some(n.value.clone())).collect(), names.first().map_or(doc.pos, |n| n.pos))
        }
    };
    let Some((context, dockerfile)) = paths::resolve(rep, dir, doc, anchor) else {
        return Vec::new();
    };
    let context_add_files = context_add_files(rep, doc, cx, &context);
    let dependencies: Vec<Dependency> = doc.deps.iter().map(dependency).collect();
    let platforms: Vec<String> = if doc.platforms.is_empty() {
        cx.build.platforms.clone()
    } else {
        doc.platforms.iter().map(|p| p.value.clone()).collect()
    };
    let image_spec = match (&cx.build.image_spec, doc.publish) {
        (Some(global), true) => Some(ImageSpec::merged(global, doc.image_spec.as_ref())),
        _ => doc.image_spec.clone(),
    };
    let secrets: Vec<BuildSecret> = doc.secrets.iter().map(|s| s.value.clone()).collect();
    names
        .into_iter()
        .map(|name| Image {
            name,
            context: context.clone(),
            dockerfile: dockerfile.clone(),
            target: doc.target.clone(),
            args: doc.args.iter().map(|(k, v)| (k.value.clone(), v.clone())).collect(),
            dependencies: dependencies.clone(),
            platforms: platforms.clone(),
            publish: doc.publish,
            cache_version: doc.cache_version.clone().or_else(|| cx.build.cache_version.clone()),
            secrets: secrets.clone(),
            ssh: doc.ssh.clone(),
            network: doc.network.clone(),
            context_add_files: context_add_files.clone(),
            image_spec: image_spec.clone(),
        })
        .collect()
}

/// `contextAddFiles` that exist in the context and that giterminism allows.
fn context_add_files(rep: &mut Report<'_>, doc: &ImageDoc, cx: &Context<'_>, context: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in &doc.context_add_files {
        let rel = file.value.trim_end_matches('/');
        if !context.join(rel).exists() {
            rep.error(ErrorKind::MissingContext, file.pos, format!("contextAddFile `{}` was not found", file.value))
                .label("not in the context")
                .hint(format!("the path is relative to the context ({})", context.display()));
            continue;
        }
        let from_project = context.strip_prefix(&cx.dir.abs).unwrap_or(context).join(rel);
        if let Err(message) = cx.giterminism.check_context_add_file(&from_project.to_string_lossy()) {
            rep.error(ErrorKind::InvalidValue, file.pos, message)
                .label("not allowed")
                .hint("werf-giterminism.yaml lists what a build may read besides committed files");
            continue;
        }
        out.push(rel.to_string());
    }
    out
}

fn dependency(dep: &DepDoc) -> Dependency {
    Dependency {
        image: dep.image.value.clone(),
        imports: dep.imports.iter().map(|i| Import { kind: i.value.0, build_arg: i.value.1.clone() }).collect(),
    }
}
