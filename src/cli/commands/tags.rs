//! `wharf tags ls` and `wharf tags rm`, through the registry's driver (or a static root's).
//!
//! `tags rm` decides, then does: the [`RemovalPlan`] (which driver removes which tag, and how)
//! is computed without network access and printed as is by `--dry-run`; otherwise each entry
//! is carried out in order, a failure is reported and the rest still run, and the exit code
//! says whether everything went.

use clap::{Args, Subcommand};
use std::sync::Arc;

use super::super::Output;
use super::super::args::{LockArgs, SiteArgs};
use super::super::connect::{Connector, Site, site, static_repository};
use super::super::output::{
    self, Collection, ListedTag, Removal, RemovalPlan, RemovalPlanOutput, RemovalResult, Removals, TagList,
};
use crate::drivers::{self, Digests, Driver, DriverError, DriverInfo, UntagOutcome};
use crate::error::Error;
use crate::registry::{Reference, Repository};
use crate::store::Backend as Store;

#[derive(Subcommand, Debug)]
pub enum TagsCommand {
    /// List every tag of REPO with its digest.
    Ls(Box<TagsLsArgs>),
    /// Remove single tags (REPO:TAG…); other tags on the same image stay.
    Rm(Box<TagsRmArgs>),
}

#[derive(Args, Debug, Clone)]
pub struct TagsLsArgs {
    pub repo: String,
    #[command(flatten)]
    pub site: SiteArgs,
    /// Also show the digest each tag points at (one manifest read per tag on registries whose
    /// listing has no digests; without it, one request per page of 1,000 names).
    #[arg(long, short = 'l', help_heading = "Output")]
    pub digests: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TagsRmArgs {
    /// Tags to remove, as REPO:TAG.
    #[arg(required = true, value_name = "REPO:TAG")]
    pub references: Vec<String>,
    /// Print what would be removed, and how, without removing anything.
    #[arg(long, help_heading = "Cleanup")]
    pub dry_run: bool,
    #[command(flatten)]
    pub site: SiteArgs,
    #[command(flatten)]
    pub locks: LockArgs,
}

pub async fn run(command: &TagsCommand, out: Output) -> Result<(), Error> {
    match command {
        TagsCommand::Ls(args) => ls(args, out).await,
        TagsCommand::Rm(args) => rm(args, out).await,
    }
}

/// `wharf tags ls REPO`: names (one request per page where listings carry no digests), or with
/// `--digests` each tag's digest. Tags whose manifest cannot be read are named on stderr.
async fn ls(args: &TagsLsArgs, out: Output) -> Result<(), Error> {
    let Site { repo, driver, .. } = site(&args.repo, &args.site, None).await?;
    let listing = driver.list(&repo, if args.digests { Digests::All } else { Digests::None }).await?;
    for b in &listing.broken {
        eprintln!("warning: {repo}:{}: {}", b.tag, b.problem);
    }
    let tags: Vec<ListedTag> = if args.digests {
        listing.tags.into_iter().map(|t| ListedTag { digest: Some(t.digest), tag: t.tag }).collect()
    } else {
        listing.names().into_iter().map(|tag| ListedTag { digest: None, tag }).collect()
    };
    match out {
        Output::Json => output::print(&TagList { driver: driver.info().name, repository: repo.to_string(), tags }),
        Output::Text => {
            let width = tags.iter().map(|t| t.tag.len()).max().unwrap_or(0);
            for t in &tags {
                match &t.digest {
                    Some(d) => println!("{:width$}  {d}", t.tag),
                    None => println!("{}", t.tag),
                }
            }
        }
    }
    Ok(())
}

/// A repository and the driver chosen for it.
type RepoDriver = (Repository, &'static DriverInfo);

/// Parses `REPO:TAG` arguments and picks each repository's driver (no network).
fn plan_removals(references: &[String], implementation: Option<&str>) -> Result<(RemovalPlan, Vec<RepoDriver>), Error> {
    let mut plan = Planned::default();
    for input in references {
        let r: Reference = input.parse().map_err(|e: crate::registry::ReferenceError| Error::Usage(e.to_string()))?;
        let tag = match (&r.tag, &r.digest) {
            (Some(t), None) => t.clone(),
            _ => return Err(Error::Usage(format!("{input:?}: expected REPO:TAG (a tag, no digest)"))),
        };
        let info = drivers::select(implementation, &r.repo)?;
        plan.add(format!("{}:{tag}", r.repo), r.repo, tag, info);
    }
    Ok(plan.done())
}

/// Parses `REPO:TAG` arguments inside a static root (no network).
fn plan_static_removals(references: &[String]) -> Result<(RemovalPlan, Vec<RepoDriver>), Error> {
    let mut plan = Planned::default();
    for input in references {
        let (path, tag) = crate::push::parse_static_dest(input).map_err(Error::Usage)?;
        let tag = tag.ok_or_else(|| {
            Error::Usage(format!("{input:?}: expected REPO:TAG (a path inside the static root and a tag)"))
        })?;
        let repo = static_repository(&path)?;
        plan.add(format!("{path}:{tag}"), repo, tag, &drivers::STATIC_INFO);
    }
    Ok(plan.done())
}

/// A removal plan being made: the removals, and each repository once with its driver.
#[derive(Default)]
struct Planned {
    removals: Vec<Removal>,
    repos: Vec<RepoDriver>,
}

impl Planned {
    fn add(&mut self, reference: String, repo: Repository, tag: String, info: &'static DriverInfo) {
        if !self.repos.iter().any(|(r, _)| *r == repo) {
            self.repos.push((repo.clone(), info));
        }
        self.removals.push(Removal {
            driver: info.name,
            reference,
            repository: repo.to_string(),
            tag,
            untag: info.capabilities.untag,
        });
    }

    fn done(self) -> (RemovalPlan, Vec<RepoDriver>) {
        (RemovalPlan { removals: self.removals }, self.repos)
    }
}

/// `wharf tags rm REPO:TAG… [--dry-run]`.
async fn rm(args: &TagsRmArgs, out: Output) -> Result<(), Error> {
    let statics = args.site.statics.driver().await?;
    let (plan, repos) = match statics {
        Some(_) => plan_static_removals(&args.references)?,
        None => plan_removals(&args.references, args.site.driver.implementation.as_deref())?,
    };
    if args.dry_run {
        match out {
            Output::Json => output::print(&RemovalPlanOutput { dry_run: true, plan: &plan }),
            Output::Text => {
                for r in &plan.removals {
                    println!("would remove {} ({} driver: {})", r.reference, r.driver, r.untag.describe());
                }
            }
        }
        return Ok(());
    }
    // Each repository's driver, and the store removed tags are read back through.
    let mut sites: Vec<Site> = Vec::new();
    // On a static root the garbage collection follows: no push may be reusing a blob then.
    let mut _locks = Vec::new();
    if let Some(found) = statics {
        let locks = args.locks.locks().await?;
        let (driver, store): (Arc<dyn Driver>, Arc<dyn Store>) =
            (Arc::new(found.clone()), Arc::new(found.root().clone()));
        for (repo, _) in repos {
            _locks.push(locks.exclusive(&crate::lock::repository(&repo)).await?);
            sites.push(Site { repo, driver: driver.clone(), store: store.clone() });
        }
    } else {
        let registries: Vec<&str> = repos.iter().map(|(r, _)| r.registry.as_str()).collect();
        let connector = Connector::new(&args.site.registry, &args.site.driver, &registries)?;
        for (repo, info) in &repos {
            let (driver, client) = connector.connect(repo, Some(info.name)).await?;
            sites.push(Site { repo: repo.clone(), driver, store: Arc::new(client) });
        }
    }
    let mut results = Vec::new();
    for removal in &plan.removals {
        let Some(site) = sites.iter().find(|s| s.repo.to_string() == removal.repository) else {
            continue;
        };
        let result = remove_confirmed(site, removal).await;
        match (&result, out) {
            (Ok(o), Output::Text) => {
                println!("removed {} (was {}, {})", removal.reference, o.digest, o.method.describe())
            }
            (Err(e), _) => eprintln!("error: {e}"),
            (Ok(_), Output::Json) => {}
        }
        results.push((removal, site.repo.clone(), result));
    }
    let (garbage, gc_failed) = collect_garbage(&sites, &results, out).await;
    if out == Output::Json {
        let results = results
            .iter()
            .map(|(r, _, res)| match res {
                Ok(o) => RemovalResult {
                    digest: Some(o.digest.clone()),
                    driver: r.driver,
                    error: None,
                    method: Some(o.method),
                    reference: r.reference.clone(),
                    removed: true,
                },
                Err(e) => RemovalResult {
                    digest: None,
                    driver: r.driver,
                    error: Some(e.to_string()),
                    method: None,
                    reference: r.reference.clone(),
                    removed: false,
                },
            })
            .collect();
        output::print(&Removals { garbage, results });
    }
    let failed = results.iter().filter(|(_, _, r)| r.is_err()).count();
    if let Some(e) = gc_failed.filter(|_| failed == 0) {
        return Err(Error::from(e));
    }
    match failed {
        0 => Ok(()),
        1 if results.len() == 1 => match results.pop().map(|(_, _, r)| r) {
            Some(Err(e)) => Err(Error::from(e)),
            _ => Ok(()),
        },
        _ => Err(Error::Partial { failed, total: results.len() }),
    }
}

/// Collects garbage in every repository a tag was removed from, where the driver collects
/// (static roots); a failure is reported and returned after the others ran.
async fn collect_garbage(
    sites: &[Site],
    results: &[(&Removal, Repository, Result<UntagOutcome, DriverError>)],
    out: Output,
) -> (Vec<Collection>, Option<DriverError>) {
    let (mut garbage, mut failed) = (Vec::new(), None);
    for site in sites {
        if !results.iter().any(|(_, repo, res)| *repo == site.repo && res.is_ok()) {
            continue;
        }
        let repository = site.repo.to_string();
        match site.driver.collect_garbage(&site.repo).await {
            Ok(Some(c)) => {
                if out == Output::Text {
                    println!(
                        "garbage collected in {repository}: {} manifest(s) and {} blob(s), {} bytes",
                        c.manifests, c.blobs, c.bytes
                    );
                }
                garbage.push(Collection { collected: Some(c), error: None, repository });
            }
            Ok(None) => {}
            Err(e) => {
                eprintln!("error: garbage collection in {repository}: {e}");
                garbage.push(Collection { collected: None, error: Some(e.to_string()), repository });
                failed = Some(e);
            }
        }
    }
    (garbage, failed)
}

/// Untags through the driver, then reads the tag back (see
/// [`confirm_removed`](crate::cleanup::execute::confirm_removed)).
async fn remove_confirmed(site: &Site, removal: &Removal) -> Result<UntagOutcome, DriverError> {
    let (driver, repo) = (site.driver.as_ref(), &site.repo);
    let outcome = driver.untag(repo, &removal.tag).await?;
    crate::cleanup::execute::confirm_removed(driver, site.store.as_ref(), repo, &removal.tag, &outcome.digest)
        .await
        .map_err(|detail| DriverError::UntagNotVerified {
            driver: driver.info().name,
            target: removal.reference.clone(),
            detail,
        })?;
    Ok(outcome)
}
