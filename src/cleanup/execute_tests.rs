//! Carrying out plans against the in-memory store and a driver over it: what is deleted,
//! skipped, journaled and restored, and that a removal the registry only claims is a failure.

use std::sync::Arc;

use super::execute::{execute, restore};
use super::journal::{Journal, read};
use super::plan::{Action, Entry, PLAN_VERSION, Plan, TagKind};
use crate::drivers::{
    ApiBase, Capabilities, Digests, Driver, DriverInfo, Nesting, TagEntry, TagListing, UntagMethod, UntagOutcome,
    UntagSemantics,
};
use crate::registry::Repository;
use crate::spec::Digest;
use crate::spec::manifest::OCI_MANIFEST;
use crate::store::memory::MemoryStore;
use crate::store::{Backend, ImageStore};

const INFO: DriverInfo = DriverInfo {
    name: "memory",
    title: "in-memory test registry",
    hosts: "none",
    matches: |_| false,
    capabilities: Capabilities {
        nesting: Nesting::Any,
        create_before_push: false,
        create_repository: false,
        untag: UntagSemantics::NativeTag,
        native_list: true,
        delete_repository: false,
    },
    needs: "nothing",
    docs: "",
    settings: &[],
    api: ApiBase::None,
    login: None,
    new: |_, _| Err(crate::drivers::DriverError::Unsupported { driver: "memory", op: "be built" }),
};

/// Repositories are named `host/path` in plans; the memory space keys them by that name.
struct Space(MemoryStore);

impl Backend for Space {
    fn open(&self, repo: &Repository) -> crate::store::Result<Arc<dyn ImageStore>> {
        Ok(Arc::new(self.0.sibling(&repo.to_string())))
    }

    fn repository(&self, name: &str) -> crate::store::Result<Repository> {
        Ok(name.parse()?)
    }
}

/// Untags in the memory space; a lying one answers success and leaves the tag.
struct MemoryDriver {
    space: MemoryStore,
    lies: bool,
}

#[async_trait::async_trait]
impl Driver for MemoryDriver {
    fn info(&self) -> &'static DriverInfo {
        &INFO
    }

    async fn list(&self, repo: &Repository, _: Digests<'_>) -> crate::drivers::Result<TagListing> {
        let name = repo.to_string();
        let tags = self
            .space
            .space()
            .tags
            .iter()
            .filter(|((r, _), _)| *r == name)
            .map(|((_, t), (d, _))| TagEntry::new(t.clone(), d.clone()))
            .collect();
        Ok(TagListing::sorted(tags, Vec::new()))
    }

    async fn untag(&self, repo: &Repository, tag: &str) -> crate::drivers::Result<UntagOutcome> {
        let key = (repo.to_string(), tag.to_string());
        let digest = self.space.space().tags.get(&key).map(|(d, _)| d.clone()).expect("planned tag exists");
        if !self.lies {
            self.space.space().tags.remove(&key);
        }
        Ok(UntagOutcome { tag: tag.into(), digest, method: UntagMethod::NativeTag })
    }
}

const REPO: &str = "registry.test/app";

async fn tagged(space: &MemoryStore, tag: &str, content: &str) -> Digest {
    let bytes = bytes::Bytes::from(format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{{\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"digest\":\"{}\",\"size\":2}},\"layers\":[],\"annotations\":{{\"x\":\"{content}\"}}}}",
        Digest::of(b"{}")
    ));
    space.add_blob(b"{}");
    space.sibling(REPO).put_manifest(tag, OCI_MANIFEST, bytes.clone()).await.unwrap();
    Digest::of(&bytes)
}

fn plan(deletions: &[(&str, &Digest)]) -> Plan {
    let entries = deletions
        .iter()
        .map(|(tag, digest)| Entry {
            repository: REPO.into(),
            tag: tag.to_string(),
            digest: (*digest).clone(),
            kind: TagKind::Image,
            action: Action::Delete,
            reason: "test".into(),
        })
        .collect();
    Plan {
        version: PLAN_VERSION,
        project: "t".into(),
        driver: "memory".into(),
        static_root: None,
        policies: vec![],
        entries,
        broken: vec![],
        repository_deletions: vec![],
    }
}

#[tokio::test]
async fn deletes_what_is_planned_skips_what_moved_and_restores_from_the_journal() {
    let space = MemoryStore::new("root");
    let old = tagged(&space, "old", "1").await;
    tagged(&space, "sibling", "1").await;
    let moved_from = tagged(&space, "moved", "2").await;
    let plan = plan(&[("old", &old), ("moved", &moved_from)]);
    tagged(&space, "moved", "3").await; // another writer moves it after the plan
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("j.jsonl")).unwrap();
    let driver = MemoryDriver { space: space.clone(), lies: false };
    let out = execute(&plan, &driver, &Space(space.clone()), &journal).await;

    assert_eq!(out.deleted.iter().map(|d| d.tag.as_str()).collect::<Vec<_>>(), ["old"]);
    assert_eq!(out.skipped.len(), 1);
    assert!(out.skipped[0].reason.contains("tag moved"), "{:?}", out.skipped);
    let repo = space.sibling(REPO);
    assert_eq!(repo.resolve("old").await.unwrap(), None);
    assert_eq!(repo.resolve("sibling").await.unwrap(), Some(old.clone()), "the sibling on the same digest stays");
    let lines = read(journal.path()).unwrap();
    assert_eq!(lines.len(), 1, "only what was deleted is journaled");

    let restored = restore(&lines, &Space(space.clone())).await;
    assert_eq!(restored.restored.len(), 1, "{:?}", restored.skipped);
    assert_eq!(repo.resolve("old").await.unwrap(), Some(old));
}

#[tokio::test]
async fn a_removal_the_registry_only_claims_is_a_failure() {
    let space = MemoryStore::new("root");
    let d = tagged(&space, "stays", "1").await;
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(&dir.path().join("j.jsonl")).unwrap();
    let driver = MemoryDriver { space: space.clone(), lies: true };
    let out = execute(&plan(&[("stays", &d)]), &driver, &Space(space.clone()), &journal).await;
    assert!(out.deleted.is_empty());
    assert_eq!(out.failed.len(), 1);
    assert!(out.failed[0].reason.contains("still points at"), "{:?}", out.failed);
}
