//! Opt-in live tests against real registries, run only when their variables are set (see
//! README, "Live tests"). For driver NAME (upper case, `-` as `_`):
//!
//! - `WHARF_LIVE_<NAME>_REPO=REPO`: `wharf tags ls REPO` must succeed and list digests;
//! - `WHARF_LIVE_<NAME>_RM=TAG` as well: `wharf tags rm REPO:TAG` must remove just that tag,
//!   every other tag keeping its digest. Use a tag made for it.
//!
//! Credentials come from the usual places (docker config, `GITHUB_TOKEN`, `GITLAB_TOKEN`,
//! `QUAY_TOKEN`, `AZURE_ACCESS_TOKEN`, `GOOGLE_OAUTH_ACCESS_TOKEN`, the AWS chain), which this
//! test passes through unchanged.

use std::collections::BTreeMap;
use std::process::Command;

fn tags(repo: &str, implementation: &str) -> BTreeMap<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["tags", "ls", repo, "--digests", "--implementation", implementation, "--output", "json"])
        .output()
        .expect("run wharf");
    assert!(out.status.success(), "{implementation}: tags ls {repo}: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    v["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| (t["tag"].as_str().unwrap().to_string(), t["digest"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn live_registries_when_configured() {
    let mut ran = Vec::new();
    for info in wharf::drivers::DRIVERS {
        let key = info.name.to_ascii_uppercase().replace('-', "_");
        let Ok(repo) = std::env::var(format!("WHARF_LIVE_{key}_REPO")) else { continue };
        let before = tags(&repo, info.name);
        assert!(before.values().all(|d| d.starts_with("sha256:")), "{}: {before:?}", info.name);
        if let Ok(tag) = std::env::var(format!("WHARF_LIVE_{key}_RM")) {
            assert!(before.contains_key(&tag), "{}: {repo} has no tag {tag}", info.name);
            let out = Command::new(env!("CARGO_BIN_EXE_wharf"))
                .args(["tags", "rm", &format!("{repo}:{tag}"), "--implementation", info.name])
                .output()
                .expect("run wharf");
            assert!(out.status.success(), "{}: {}", info.name, String::from_utf8_lossy(&out.stderr));
            let mut expected = before.clone();
            expected.remove(&tag);
            let after = tags(&repo, info.name);
            // Registries may add tags meanwhile; none of the others may move or vanish.
            for (t, d) in &expected {
                assert_eq!(after.get(t), Some(d), "{}: sibling {t} changed", info.name);
            }
            assert!(!after.contains_key(&tag), "{}: {tag} is still there", info.name);
        }
        ran.push(info.name);
    }
    eprintln!("live registry tests ran for: {ran:?}");
}
