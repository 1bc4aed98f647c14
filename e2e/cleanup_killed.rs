//! `wharf cleanup` SIGKILLed at several points, through the fault proxy: with a request held
//! (never answered) or a slow registry (every delete stalled, so the one in flight lands after
//! the kill). After each kill:
//!
//! - every tag that is gone, or was left on a throwaway manifest by an interrupted untag, is
//!   in the journal (written before each deletion);
//! - a rerun without faults converges to the plan made before any run (the same final tags,
//!   with the same digests);
//! - `wharf cleanup restore JOURNAL` brings back every deleted tag with its digest.
//!
//! Restore returns the registry to where it started, so the kill points run one after the
//! other over one published history.

use crate::cleanup::{commit, git, history, project, publish};
use crate::support::proxy::{Fault, Proxy, Rule};
use crate::support::registry::Registry;
use crate::support::wharf::{run, wharf};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `repo:tag` → manifest digest, read straight from the registry (not through the proxy).
type Tags = BTreeMap<String, String>;

/// Every tag of every repository with its digest, and the tags that point at one of
/// wharf's throwaway manifests (left by an untag that was interrupted).
fn snapshot(reg: &Registry) -> (Tags, Vec<String>) {
    let client = wharf::registry::Client::new(wharf::registry::ClientOptions::default()).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut tags, mut throwaways) = (Tags::new(), Vec::new());
    for repo in reg.catalog() {
        let r = wharf::registry::Repository::new(&reg.host(), &repo).unwrap();
        for tag in reg.tags(&repo) {
            let (bytes, _, digest) =
                rt.block_on(client.get_manifest(&r, &tag)).unwrap_or_else(|e| panic!("{repo}:{tag}: {e}"));
            if String::from_utf8_lossy(&bytes).contains("dev.wharf.untag") {
                throwaways.push(format!("{repo}:{tag}"));
            }
            tags.insert(format!("{repo}:{tag}"), digest.to_string());
        }
    }
    (tags, throwaways)
}

/// The journal's lines as `repo:tag` → digest (repository without the registry host).
fn journaled(journal: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let repo = v["repository"].as_str().unwrap_or_default();
            let path = repo.split_once('/').map(|(_, p)| p).unwrap_or(repo);
            (
                format!("{path}:{}", v["tag"].as_str().unwrap_or_default()),
                v["digest"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

struct KillPoint {
    name: &'static str,
    rules: Vec<Rule>,
    /// Kill once the journal has this many lines (and, with a held request, once it is held).
    journal_lines: usize,
    held: bool,
    /// Restore straight after the kill too, before the rerun.
    restore_first: bool,
}

fn cleanup_args<'a>(dir: &'a str, repo: &'a str, journal: &'a str) -> Vec<&'a str> {
    vec!["cleanup", "--dir", dir, "--repo", repo, "--fresh-window", "0", "--journal", journal, "--output", "json"]
}

/// Starts a cleanup and SIGKILLs it at `point`; panics if it ends first.
fn kill_cleanup_at(proxy: &Proxy, point: &KillPoint, args: &[&str], journal: &Path) {
    proxy.set_rules(point.rules.clone());
    let held_before = proxy.faults().len();
    let mut child = wharf(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn wharf cleanup");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let lines = std::fs::read_to_string(journal).map(|t| t.lines().count()).unwrap_or(0);
        let held = proxy.faults().iter().skip(held_before).any(|f| f.status.is_none());
        if lines >= point.journal_lines && (held || !point.held) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).ok();
            panic!("{}: cleanup ended ({status}) before the kill point ({lines} journal lines):\n{err}", point.name);
        }
        assert!(Instant::now() < deadline, "{}: kill point not reached", point.name);
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    proxy.clear_rules();
}

#[test]
fn cleanup_killed_at_any_point_converges_on_rerun_and_restore_brings_everything_back() {
    let reg = Registry::start();
    let proxy = Proxy::start(&reg.host());
    let project = project();
    let repo = format!("{}/flant", proxy.host());
    history(project.path(), &repo);
    // A second deleted branch, each commit published with two more tags: more to delete.
    git(project.path(), &["checkout", "-q", "-b", "feature2"]);
    for i in 1..=2 {
        commit(project.path(), "backend/server.sh", &format!("#!/bin/sh\necho feature2 {i}\n"));
        publish(project.path(), &repo, &["--tag-custom", &format!("f2-{i}-a"), "--tag-custom", &format!("f2-{i}-b")]);
    }
    git(project.path(), &["checkout", "-q", "main"]);
    git(project.path(), &["branch", "-q", "-D", "feature2"]);
    let dir = project.path().to_string_lossy().into_owned();

    // The plan, made once before anything is deleted.
    let plan_file = project.path().join("plan.json");
    run(wharf(&[
        "cleanup",
        "--dir",
        &dir,
        "--repo",
        &repo,
        "--fresh-window",
        "0",
        "--dry-run",
        "--plan-out",
        plan_file.to_str().unwrap(),
    ]))
    .ok();
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    let (initial, leftovers) = snapshot(&reg);
    assert!(leftovers.is_empty());
    let mut expected = initial.clone();
    for e in plan["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "delete") {
        let repo = e["repository"].as_str().unwrap();
        let path = repo.split_once('/').map(|(_, p)| p).unwrap();
        expected.remove(&format!("{path}:{}", e["tag"].as_str().unwrap())).expect("a planned tag exists");
    }
    let deletions = initial.len() - expected.len();
    assert!(deletions >= 10, "a plan with enough deletions to kill in the middle: {plan:#}");

    eprintln!("the plan deletes {deletions} tags");
    // Before its first untag, each run probes once what the registry's tag delete does, on two
    // scratch tags: 2 manifest PUTs (the scratch tags), then 2 DELETEs (a scratch tag, refused
    // by distribution, and the scratch manifest) right after the first repository's
    // permission probe (a DELETE). The request counts below step over them.
    const PROBE: usize = 2;
    let points = [
        KillPoint {
            name: "the first throwaway PUT held",
            rules: vec![Rule::new("PUT", "/manifests/", Fault::Blackhole).nth(1 + PROBE)],
            journal_lines: 1,
            held: true,
            restore_first: false,
        },
        KillPoint {
            name: "the 2nd manifest DELETE held",
            rules: vec![Rule::new("DELETE", "/manifests/", Fault::Blackhole).nth(2 + PROBE)],
            journal_lines: 1,
            held: true,
            restore_first: false,
        },
        KillPoint {
            name: "the 4th manifest DELETE held",
            rules: vec![Rule::new("DELETE", "/manifests/", Fault::Blackhole).nth(4 + PROBE)],
            journal_lines: 2,
            held: true,
            restore_first: true,
        },
        KillPoint {
            name: "the 5th throwaway PUT held",
            rules: vec![Rule::new("PUT", "/manifests/", Fault::Blackhole).nth(5 + PROBE)],
            journal_lines: 5,
            held: true,
            restore_first: false,
        },
        // Each untag writes one throwaway: the last PUT is the last deletion (a record).
        KillPoint {
            name: "the last throwaway PUT held",
            rules: vec![Rule::new("PUT", "/manifests/", Fault::Blackhole).nth(deletions + PROBE)],
            journal_lines: deletions,
            held: true,
            restore_first: false,
        },
        KillPoint {
            name: "a slow registry, after 3 journal lines",
            rules: vec![Rule::new("DELETE", "/manifests/", Fault::Stall(Duration::from_millis(700)))],
            journal_lines: 3,
            held: false,
            restore_first: false,
        },
    ];
    let mut saw_throwaway = false;
    for (n, point) in points.iter().enumerate() {
        let journal = project.path().join(format!("journal-{n}.jsonl"));
        let args = cleanup_args(&dir, &repo, journal.to_str().unwrap());
        kill_cleanup_at(&proxy, point, &args, &journal);
        // A stalled request still in the proxy reaches the registry after the kill.
        std::thread::sleep(Duration::from_millis(900));

        let (after_kill, throwaways) = snapshot(&reg);
        saw_throwaway |= !throwaways.is_empty();
        let journal_lines = journaled(&journal);
        let gone = initial.keys().filter(|t| !after_kill.contains_key(*t)).count();
        eprintln!(
            "{}: killed with {} journal line(s), {gone} tag(s) gone, on throwaways: {throwaways:?}",
            point.name,
            journal_lines.len()
        );
        for (tag, digest) in &initial {
            if after_kill.get(tag) != Some(digest) {
                assert!(
                    journal_lines.contains(&(tag.clone(), digest.clone())),
                    "{}: {tag} changed but is not in the journal",
                    point.name
                );
            }
        }
        assert!(
            after_kill.len() < initial.len() || !throwaways.is_empty() || point.name.contains("PUT"),
            "{}: killed before anything happened?",
            point.name
        );

        let restore = |when: &str| {
            let out = run(wharf(&["cleanup", "restore", journal.to_str().unwrap(), "--output", "json"]));
            assert!(out.output.status.success(), "{}: restore {when} failed:\n{}", point.name, out.stderr());
            assert_eq!(
                snapshot(&reg).0,
                initial,
                "{}: restore {when} brings back every deleted tag with its digest:\n{}",
                point.name,
                out.stdout()
            );
        };
        if point.restore_first {
            // Straight after the kill, a tag may still sit on a throwaway: restore replaces it.
            restore("after the kill");
        }

        let rerun = run(wharf(&args));
        assert!(
            rerun.output.status.success(),
            "{}: the rerun failed:\n{}\n{}",
            point.name,
            rerun.stdout(),
            rerun.stderr()
        );
        let (converged, throwaways) = snapshot(&reg);
        assert!(throwaways.is_empty(), "{}: tags left on throwaway manifests: {throwaways:?}", point.name);
        assert_eq!(converged, expected, "{}: the rerun ends where an uninterrupted run does", point.name);

        restore("after the rerun");
    }
    assert!(saw_throwaway, "some kill point interrupted an untag between its two steps");
}
