//! Handlers of `wharf registry detect`, `wharf tags ls` and `wharf tags rm`.
//!
//! `tags rm` decides, then does: the [`RemovalPlan`] (which driver removes which tag, and how)
//! is computed without network access and printed as is by `--dry-run`; otherwise each entry
//! is carried out in order, a failure is reported and the rest still run, and the exit code
//! says whether everything went.

use crate::cli::{DetectArgs, Output, TagsLsArgs, TagsRmArgs};
use crate::drivers::{self, Capabilities, Driver, DriverError, DriverInfo, StaticDriver, UntagOutcome, UntagSemantics};
use crate::error::Error;
use crate::naming::Layout;
use crate::registry::{Reference, Repository};
use std::collections::BTreeMap;

/// What `wharf registry detect` prints.
#[derive(Debug, serde::Serialize)]
pub struct Detection {
    pub repository: String,
    pub driver: &'static str,
    pub title: &'static str,
    pub capabilities: Capabilities,
    pub repo_mode: Layout,
    pub docs: &'static str,
    pub needs: &'static str,
}

/// `wharf registry detect REPO`: no network.
pub fn detect(args: &DetectArgs) -> Result<Detection, Error> {
    let repo = parse_repo(&args.repo)?;
    let info = drivers::select(args.implementation.as_deref(), &repo).map_err(Error::from)?;
    let repo_mode = drivers::resolve_layout(args.repo_mode, &repo, info).map_err(Error::Usage)?;
    Ok(Detection {
        repository: repo.to_string(),
        driver: info.name,
        title: info.title,
        capabilities: info.capabilities,
        repo_mode,
        docs: info.docs,
        needs: info.needs,
    })
}

pub fn print_detection(d: &Detection, output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(d).unwrap_or_default()),
        Output::Text => {
            println!("{}", d.driver);
            println!("  registry:   {}", d.title);
            println!("  repo mode:  {} (for {})", d.repo_mode, d.repository);
            println!("  credential: {}", d.needs);
        }
    }
}

fn parse_repo(input: &str) -> Result<Repository, Error> {
    drivers::parse_repository(input).map_err(|e| Error::Usage(e.to_string()))
}

fn static_repo(input: &str) -> Result<Repository, Error> {
    StaticDriver::repository(input).map_err(|e| Error::Usage(format!("repository in --static-root: {e}")))
}

/// A repository as the user named it: a static root's by its path.
fn shown(repo: &Repository) -> String {
    if repo.registry == drivers::STATIC_REGISTRY { repo.path.clone() } else { repo.to_string() }
}

/// `wharf tags ls REPO`.
pub async fn tags_ls(args: &TagsLsArgs, output: Output) -> Result<(), Error> {
    let (repo, driver): (Repository, Box<dyn Driver>) = match args.statics.driver().await? {
        Some(found) => (static_repo(&args.repo)?, Box::new(found.as_ref().clone())),
        None => {
            let repo = parse_repo(&args.repo)?;
            let info = drivers::select(args.driver.implementation.as_deref(), &repo).map_err(Error::from)?;
            let client = args.registry.client(&[repo.registry.as_str()])?;
            let driver = drivers::build(info, &args.driver.options(client)?, &repo).map_err(Error::from)?;
            (repo, driver)
        }
    };
    if !args.digests {
        let names = driver.list_tag_names(&repo).await.map_err(Error::from)?;
        match output {
            Output::Json => {
                let tags: Vec<serde_json::Value> = names.iter().map(|t| serde_json::json!({"tag": t})).collect();
                let v = serde_json::json!({"repository": shown(&repo), "driver": driver.info().name, "tags": tags});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            Output::Text => names.iter().for_each(|t| println!("{t}")),
        }
        return Ok(());
    }
    let tags = driver.list_tags(&repo).await.map_err(Error::from)?;
    match output {
        Output::Json => {
            let v = serde_json::json!({"repository": shown(&repo), "driver": driver.info().name, "tags": tags});
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Output::Text => {
            let width = tags.iter().map(|t| t.tag.len()).max().unwrap_or(0);
            for t in &tags {
                println!("{:width$}  {}", t.tag, t.digest);
            }
        }
    }
    Ok(())
}

/// One tag to remove and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Removal {
    pub reference: String,
    pub repository: String,
    #[serde(skip)]
    pub repo: Repository,
    pub tag: String,
    pub driver: &'static str,
    pub untag: UntagSemantics,
}

/// Every removal `tags rm` will do, in order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RemovalPlan {
    pub removals: Vec<Removal>,
}

/// A repository and the driver chosen for it.
pub type RepoDriver = (Repository, &'static DriverInfo);

/// Parses `REPO:TAG` arguments and picks each repository's driver (no network).
pub fn plan_removals(references: &[String], implementation: Option<&str>) -> Result<(RemovalPlan, Vec<RepoDriver>), Error> {
    let mut removals = Vec::new();
    let mut repos: Vec<RepoDriver> = Vec::new();
    for input in references {
        let r: Reference = input.parse().map_err(|e: crate::registry::ReferenceError| Error::Usage(e.to_string()))?;
        let tag = match (&r.tag, &r.digest) {
            (Some(t), None) => t.clone(),
            _ => return Err(Error::Usage(format!("{input:?}: expected REPO:TAG (a tag, no digest)"))),
        };
        let info = drivers::select(implementation, &r.repo).map_err(Error::from)?;
        if !repos.iter().any(|(repo, _)| *repo == r.repo) {
            repos.push((r.repo.clone(), info));
        }
        removals.push(Removal {
            reference: format!("{}:{tag}", r.repo),
            repository: r.repo.to_string(),
            repo: r.repo.clone(),
            tag,
            driver: info.name,
            untag: info.capabilities.untag,
        });
    }
    Ok((RemovalPlan { removals }, repos))
}

/// Parses `REPO:TAG` arguments inside a static root (no network).
pub fn plan_static_removals(references: &[String]) -> Result<(RemovalPlan, Vec<RepoDriver>), Error> {
    let info = &drivers::STATIC_INFO;
    let mut removals = Vec::new();
    let mut repos: Vec<RepoDriver> = Vec::new();
    for input in references {
        let (path, tag) = crate::push::parse_static_dest(input).map_err(Error::Usage)?;
        let tag = tag.ok_or_else(|| Error::Usage(format!("{input:?}: expected REPO:TAG (a path inside the static root and a tag)")))?;
        let repo = static_repo(&path)?;
        if !repos.iter().any(|(r, _)| *r == repo) {
            repos.push((repo.clone(), info));
        }
        removals.push(Removal { reference: format!("{path}:{tag}"), repository: repo.to_string(), repo, tag, driver: info.name, untag: info.capabilities.untag });
    }
    Ok((RemovalPlan { removals }, repos))
}

/// `wharf tags rm REPO:TAG… [--dry-run]`.
pub async fn tags_rm(args: &TagsRmArgs, output: Output) -> Result<(), Error> {
    let statics = args.statics.driver().await?;
    let (plan, repos) = match statics {
        Some(_) => plan_static_removals(&args.references)?,
        None => plan_removals(&args.references, args.driver.implementation.as_deref())?,
    };
    if args.dry_run {
        print_plan(&plan, output);
        return Ok(());
    }
    let mut built: BTreeMap<String, Box<dyn Driver>> = BTreeMap::new();
    // On a static root the garbage collection follows: no push may be reusing a blob then.
    let mut _locks = Vec::new();
    // Where removed tags are read back.
    let store: Box<dyn crate::store::Backend> = if let Some(found) = &statics {
        let locks = args.locks.locks().await?;
        for (repo, _) in &repos {
            _locks.push(locks.exclusive(&crate::lock::repository(repo)).await?);
            built.insert(repo.to_string(), Box::new(found.as_ref().clone()));
        }
        Box::new(found.root().clone())
    } else {
        let registries: Vec<&str> = repos.iter().map(|(r, _)| r.registry.as_str()).collect();
        let client = args.registry.client(&registries)?;
        let opts = args.driver.options(client.clone())?;
        for (repo, info) in &repos {
            built.insert(repo.to_string(), drivers::build(info, &opts, repo).map_err(Error::from)?);
        }
        Box::new(client)
    };
    let mut results = Vec::new();
    for removal in &plan.removals {
        let Some(driver) = built.get(&removal.repository) else { continue };
        let result = remove_confirmed(driver.as_ref(), store.as_ref(), removal).await;
        report_removal(removal, &result, output);
        results.push((removal, result));
    }
    let mut garbage = Vec::new();
    let mut gc_failed = None;
    for (repo, _) in &repos {
        let Some(driver) = built.get(&repo.to_string()) else { continue };
        if !results.iter().any(|(r, res)| r.repo == *repo && res.is_ok()) {
            continue;
        }
        match driver.collect_garbage(repo).await {
            Ok(Some(c)) => {
                if output == Output::Text {
                    println!("garbage collected in {}: {} manifest(s) and {} blob(s), {} bytes", shown(repo), c.manifests, c.blobs, c.bytes);
                }
                garbage.push(serde_json::json!({"repository": shown(repo), "collected": c}));
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: garbage collection in {}: {e}", shown(repo));
                garbage.push(serde_json::json!({"repository": shown(repo), "error": e.to_string()}));
                gc_failed = Some(e);
            }
        }
    }
    if output == Output::Json {
        let items: Vec<serde_json::Value> = results
            .iter()
            .map(|(r, res)| match res {
                Ok(o) => serde_json::json!({"reference": r.reference, "driver": r.driver, "removed": true, "digest": o.digest, "method": o.method}),
                Err(e) => serde_json::json!({"reference": r.reference, "driver": r.driver, "removed": false, "error": e.to_string()}),
            })
            .collect();
        let mut doc = serde_json::json!({"results": items});
        if !garbage.is_empty() {
            doc["garbage"] = serde_json::Value::Array(garbage);
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    if let Some(e) = gc_failed.filter(|_| failed == 0) {
        return Err(Error::from(e));
    }
    match failed {
        0 => Ok(()),
        1 if results.len() == 1 => match results.pop().map(|(_, r)| r) {
            Some(Err(e)) => Err(Error::from(e)),
            _ => Ok(()),
        },
        _ => Err(Error::Partial { failed, total: results.len() }),
    }
}

/// Untags through the driver, then reads the tag back (see
/// [`confirm_removed`](crate::cleanup::execute::confirm_removed)).
async fn remove_confirmed(driver: &dyn Driver, store: &dyn crate::store::Backend, removal: &Removal) -> Result<UntagOutcome, DriverError> {
    let outcome = driver.untag(&removal.repo, &removal.tag).await?;
    crate::cleanup::execute::confirm_removed(driver, store, &removal.repo, &removal.tag, &outcome.digest)
        .await
        .map_err(|detail| DriverError::UntagNotVerified { driver: driver.info().name, target: removal.reference.clone(), detail })?;
    Ok(outcome)
}

fn report_removal(removal: &Removal, result: &Result<UntagOutcome, DriverError>, output: Output) {
    match (result, output) {
        (Ok(o), Output::Text) => println!("removed {} (was {}, {})", removal.reference, o.digest, o.method.describe()),
        (Err(e), _) => eprintln!("error: {e}"),
        (Ok(_), Output::Json) => {}
    }
}


fn print_plan(plan: &RemovalPlan, output: Output) {
    match output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&serde_json::json!({"dry_run": true, "plan": plan})).unwrap_or_default()),
        Output::Text => {
            for r in &plan.removals {
                let how = r.untag.describe();
                println!("would remove {} ({} driver: {how})", r.reference, r.driver);
            }
        }
    }
}
