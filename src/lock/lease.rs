//! Locks as Kubernetes `Lease` objects (coordination.k8s.io/v1), for runners on many
//! machines: `wharf-<hash>` in the chosen namespace.
//!
//! Acquire: create the Lease with us as holder, or take over one that has no holder or whose
//! `renewTime + leaseDurationSeconds` has passed (a holder that died), writing with the
//! `resourceVersion` read, so of two runners racing only one wins (the other gets 409 and
//! looks again). While held, a background task renews it every third of its duration;
//! releasing clears the holder. A killed holder's lease expires on its own.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::time::{Duration, Instant};

use super::{Guard, Kind, LockError};

pub struct LeaseLocks {
    api: Api<Lease>,
    identity: String,
    duration: Duration,
    timeout: Duration,
}

/// A held lease: renewed until dropped, then released.
#[derive(Debug)]
pub struct LeaseGuard {
    renewer: tokio::task::JoinHandle<()>,
    release: Option<(Api<Lease>, String, String)>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer.abort();
        if let Some((api, name, identity)) = self.release.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move { release(&api, &name, &identity).await });
        }
    }
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

fn lease_error(name: &str, e: impl std::fmt::Display) -> LockError {
    LockError::Lease { name: name.to_string(), message: e.to_string() }
}

fn status(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl LeaseLocks {
    /// Leases in `namespace` of the cluster `client` talks to, held as `identity`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        identity: String,
        duration: Duration,
        timeout: Duration,
    ) -> LeaseLocks {
        LeaseLocks { api: Api::namespaced(client, namespace), identity, duration, timeout }
    }

    /// Whether `lease` is held by someone other than us right now.
    fn held_by_other(&self, lease: &Lease) -> Option<String> {
        let spec = lease.spec.as_ref()?;
        let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty())?;
        if holder == self.identity {
            return None;
        }
        let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref())?.0;
        let ttl = i64::from(spec.lease_duration_seconds.unwrap_or(0));
        let expires = renewed.as_second() + ttl;
        (expires > k8s_openapi::jiff::Timestamp::now().as_second()).then(|| holder.to_string())
    }

    fn spec(&self, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(self.duration.as_secs().max(1) as i32),
            acquire_time: Some(now()),
            renew_time: Some(now()),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    pub(super) async fn acquire(&self, what: &str, kind: Kind) -> Result<Guard, LockError> {
        let name = format!("wharf-{}", super::key(what));
        let start = Instant::now();
        let mut wait = Duration::from_millis(100);
        loop {
            let current = self.api.get_opt(&name).await.map_err(|e| lease_error(&name, e))?;
            let holder = current.as_ref().and_then(|l| self.held_by_other(l));
            match (&holder, kind) {
                (None, Kind::Shared) => return Ok(Guard::Nothing),
                (None, Kind::Exclusive) => {
                    if self.try_take(&name, current).await? {
                        return Ok(Guard::Lease(Box::new(self.guard(name))));
                    }
                }
                (Some(_), _) => {}
            }
            if start.elapsed() >= self.timeout {
                return Err(LockError::Timeout {
                    what: what.to_string(),
                    held_by: format!("lease {name} held by {}", holder.unwrap_or_else(|| "another runner".into())),
                    waited: start.elapsed(),
                });
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(2));
        }
    }

    /// Creates or takes over the lease; `false` when another runner won the race.
    async fn try_take(&self, name: &str, current: Option<Lease>) -> Result<bool, LockError> {
        let pp = PostParams::default();
        let result = match current {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
                    spec: Some(self.spec(0)),
                };
                self.api.create(&pp, &lease).await
            }
            Some(mut lease) => {
                let transitions = lease.spec.as_ref().and_then(|s| s.lease_transitions).unwrap_or(0) + 1;
                lease.spec = Some(self.spec(transitions));
                self.api.replace(name, &pp, &lease).await
            }
        };
        match result {
            Ok(_) => Ok(true),
            Err(e) if status(&e) == Some(409) => Ok(false),
            Err(e) => Err(lease_error(name, e)),
        }
    }

    fn guard(&self, name: String) -> LeaseGuard {
        let (api, identity, every) = (self.api.clone(), self.identity.clone(), self.duration / 3);
        let renew_name = name.clone();
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = renew(&api, &renew_name, &identity).await {
                    tracing::warn!(lease = renew_name, "cannot renew the lock lease: {e}");
                }
            }
        });
        LeaseGuard { renewer, release: Some((self.api.clone(), name, self.identity.clone())) }
    }
}

async fn renew(api: &Api<Lease>, name: &str, identity: &str) -> Result<(), kube::Error> {
    let mut lease = api.get(name).await?;
    if let Some(spec) = lease.spec.as_mut().filter(|s| s.holder_identity.as_deref() == Some(identity)) {
        spec.renew_time = Some(now());
        api.replace(name, &PostParams::default(), &lease).await?;
    }
    Ok(())
}

async fn release(api: &Api<Lease>, name: &str, identity: &str) {
    if let Ok(mut lease) = api.get(name).await
        && let Some(spec) = lease.spec.as_mut().filter(|s| s.holder_identity.as_deref() == Some(identity))
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        let _ = api.replace(name, &PostParams::default(), &lease).await;
    }
}
