//! The Lease backend against a faithful fake of the Kubernetes Lease API: objects with a
//! `resourceVersion`, 404 `NotFound`, 409 `AlreadyExists` on a second create and 409
//! `Conflict` on a write with a stale version, as the API server answers.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate, matchers::any};

use super::lease::LeaseLocks;
use super::{Guard, LockError, Locks};

const BASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ci/leases";

#[derive(Default)]
struct Store {
    leases: HashMap<String, Value>,
    version: u64,
}

struct LeaseApi(Arc<Mutex<Store>>);

fn status(code: u16, reason: &str) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason, "message": reason}))
}

impl Respond for LeaseApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut s = self.0.lock().unwrap();
        let path = req.url.path();
        let body = || serde_json::from_slice::<Value>(&req.body).expect("a JSON body");
        match (req.method.as_str(), path.strip_prefix(BASE)) {
            ("GET", Some(name)) if name.starts_with('/') => match s.leases.get(&name[1..]) {
                Some(l) => ResponseTemplate::new(200).set_body_json(l),
                None => status(404, "NotFound"),
            },
            ("POST", Some("")) => {
                let mut l = body();
                assert_eq!(
                    (l["apiVersion"].as_str(), l["kind"].as_str()),
                    (Some("coordination.k8s.io/v1"), Some("Lease"))
                );
                let name = l["metadata"]["name"].as_str().expect("a name").to_string();
                if s.leases.contains_key(&name) {
                    return status(409, "AlreadyExists");
                }
                s.version += 1;
                l["metadata"]["resourceVersion"] = json!(s.version.to_string());
                s.leases.insert(name, l.clone());
                ResponseTemplate::new(201).set_body_json(l)
            }
            ("PUT", Some(name)) if name.starts_with('/') => {
                let mut l = body();
                let Some(current) = s.leases.get(&name[1..]) else { return status(404, "NotFound") };
                if l["metadata"]["resourceVersion"] != current["metadata"]["resourceVersion"] {
                    return status(409, "Conflict");
                }
                s.version += 1;
                l["metadata"]["resourceVersion"] = json!(s.version.to_string());
                s.leases.insert(name[1..].to_string(), l.clone());
                ResponseTemplate::new(200).set_body_json(l)
            }
            _ => ResponseTemplate::new(400).set_body_string(format!("unexpected {} {path}", req.method)),
        }
    }
}

async fn fake() -> (MockServer, Arc<Mutex<Store>>) {
    let server = MockServer::start().await;
    let store = Arc::new(Mutex::new(Store::default()));
    Mock::given(any()).respond_with(LeaseApi(store.clone())).mount(&server).await;
    (server, store)
}

fn locks(server: &MockServer, identity: &str, timeout_ms: u64) -> Locks {
    let config = kube::Config::new(server.uri().parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    Locks::kubernetes(LeaseLocks::new(
        client,
        "ci",
        identity.into(),
        Duration::from_secs(15),
        Duration::from_millis(timeout_ms),
    ))
}

/// Who holds the lease of lock `what`.
fn holder(store: &Arc<Mutex<Store>>, what: &str) -> Option<String> {
    let s = store.lock().unwrap();
    s.leases
        .get(&format!("wharf-{}", super::key(what)))
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

#[tokio::test]
async fn a_held_lease_excludes_others_until_released() {
    let (server, store) = fake().await;
    let (a, b) = (locks(&server, "runner-a", 2_000), locks(&server, "runner-b", 300));
    let guard = a.exclusive("repository r").await.unwrap();
    assert!(matches!(guard, Guard::Lease(_)));
    assert_eq!(holder(&store, "repository r").as_deref(), Some("runner-a"));
    let err = b.exclusive("repository r").await.unwrap_err();
    assert!(matches!(&err, LockError::Timeout { held_by, .. } if held_by.contains("runner-a")), "{err}");
    assert!(b.shared("repository r").await.is_err(), "a shared lock waits while an exclusive one is held");
    assert!(b.exclusive("repository other").await.is_ok(), "one lease per name");

    drop(guard);
    let b_waits = locks(&server, "runner-b", 3_000);
    let _b = b_waits.exclusive("repository r").await.unwrap();
    assert_eq!(holder(&store, "repository r").as_deref(), Some("runner-b"));
}

#[tokio::test]
async fn a_dead_holders_lease_is_taken_over_after_it_expires() {
    let (server, store) = fake().await;
    let name = format!("wharf-{}", super::key("stage s"));
    let hour_ago =
        (k8s_openapi::jiff::Timestamp::now() - k8s_openapi::jiff::SignedDuration::from_secs(3600)).to_string();
    store.lock().unwrap().leases.insert(
        name.clone(),
        json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "resourceVersion": "7"},
               "spec": {"holderIdentity": "dead-runner", "leaseDurationSeconds": 30, "renewTime": hour_ago, "leaseTransitions": 2}}),
    );
    let _g = locks(&server, "runner-b", 1_000).exclusive("stage s").await.unwrap();
    let s = store.lock().unwrap();
    assert_eq!(s.leases[&name]["spec"]["holderIdentity"], "runner-b");
    assert_eq!(s.leases[&name]["spec"]["leaseTransitions"], 3);
}

#[tokio::test]
async fn of_two_runners_racing_for_a_new_lease_exactly_one_wins() {
    let (server, _store) = fake().await;
    let (a, b) = (locks(&server, "runner-a", 500), locks(&server, "runner-b", 500));
    let (ra, rb) = tokio::join!(a.exclusive("stage x"), b.exclusive("stage x"));
    assert_eq!([ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(), 1);
}
