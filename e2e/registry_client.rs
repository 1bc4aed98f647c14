//! The distribution client against a real distribution 2.8 registry: blobs (monolithic and
//! chunked, from memory and from disk), mounts, manifests by tag and digest in OCI and Docker
//! media types, tag listing, digest deletes and htpasswd basic auth.

use crate::support::registry::{Registry, RegistryConfig};
use bytes::Bytes;
use futures::StreamExt as _;
use wharf::registry::{Client, ClientOptions, Credential, CredentialStore, PushStatus, RegistryError, Repository};
use wharf::spec::digest::Digest;
use wharf::spec::manifest::{
    self, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST,
};

fn client(opts: ClientOptions) -> Client {
    Client::new(opts).expect("client")
}

fn open_client() -> Client {
    client(ClientOptions { max_retries: 1, ..Default::default() })
}

fn repo(reg: &Registry, path: &str) -> Repository {
    Repository::new(&reg.host(), path).expect("repository")
}

fn random_bytes(n: usize) -> Bytes {
    Bytes::from((0..n).map(|_| rand::random::<u8>()).collect::<Vec<u8>>())
}

/// Pushes a config and one layer, then returns an image manifest referring to them.
async fn push_image(c: &Client, r: &Repository, manifest_type: &str) -> Bytes {
    let (config_type, layer_type) = if manifest_type == DOCKER_MANIFEST {
        (DOCKER_CONFIG, DOCKER_LAYER_GZIP)
    } else {
        (OCI_CONFIG, OCI_LAYER_GZIP)
    };
    let config = Bytes::from(format!(r#"{{"architecture":"amd64","os":"linux","nonce":"{}"}}"#, rand::random::<u64>()));
    let layer = random_bytes(2048);
    let (cd, ld) = (Digest::of(&config), Digest::of(&layer));
    c.push_blob_bytes(r, &cd, config.clone()).await.expect("push config");
    c.push_blob_bytes(r, &ld, layer.clone()).await.expect("push layer");
    Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{{"mediaType":"{config_type}","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"{layer_type}","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    ))
}

#[tokio::test]
async fn small_blob_push_is_skipped_the_second_time_and_reads_back_verified() {
    let reg = Registry::start();
    let (c, r) = (open_client(), repo(&reg, "blobs/small"));
    let data = random_bytes(1000);
    let d = Digest::of(&data);
    assert_eq!(c.blob_exists(&r, &d).await.unwrap(), None);
    assert_eq!(c.push_blob_bytes(&r, &d, data.clone()).await.unwrap(), PushStatus::Uploaded);
    assert_eq!(c.push_blob_bytes(&r, &d, data.clone()).await.unwrap(), PushStatus::Exists);
    assert_eq!(c.blob_exists(&r, &d).await.unwrap(), Some(1000));
    assert_eq!(c.get_blob_bytes(&r, &d, 1 << 20).await.unwrap(), data);
    let too_small = c.get_blob_bytes(&r, &d, 10).await.unwrap_err();
    assert!(matches!(too_small, RegistryError::TooLarge { .. }), "{too_small}");
    // An empty blob is a blob too.
    let empty = Digest::of(b"");
    assert_eq!(c.push_blob_bytes(&r, &empty, Bytes::new()).await.unwrap(), PushStatus::Uploaded);
    assert_eq!(c.get_blob_bytes(&r, &empty, 10).await.unwrap().len(), 0);
}

#[tokio::test]
async fn wrong_digest_is_refused_by_the_registry() {
    let reg = Registry::start();
    let (c, r) = (open_client(), repo(&reg, "blobs/wrong"));
    let claimed = Digest::of(b"something else");
    let err = c.push_blob_bytes(&r, &claimed, Bytes::from_static(b"data")).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err}");
    assert!(err.has_code("DIGEST_INVALID"), "{err}");
    assert_eq!(c.blob_exists(&r, &claimed).await.unwrap(), None);
}

#[tokio::test]
async fn chunked_uploads_from_file_and_memory() {
    let reg = Registry::start();
    let c =
        client(ClientOptions { monolithic_limit: 10_000, chunk_size: 16 * 1024, max_retries: 1, ..Default::default() });
    let r = repo(&reg, "blobs/chunked");
    // 100 KiB + 7 bytes: seven chunks, the last one short.
    let data = random_bytes(100 * 1024 + 7);
    let d = Digest::of(&data);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layer.bin");
    std::fs::write(&path, &data).unwrap();
    let status = c.push_blob_file(&r, &d, data.len() as u64, &path).await.unwrap();
    assert_eq!(status, PushStatus::Uploaded);
    assert_eq!(reg.count_requests("\"PATCH /v2/blobs/chunked/blobs/uploads/"), 7, "{}", reg.log());
    let mut stream = c.get_blob(&r, &d).await.unwrap();
    assert_eq!(stream.size, Some(data.len() as u64));
    let mut back = Vec::new();
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(Bytes::from(back), data);

    let mem = random_bytes(40_000);
    let md = Digest::of(&mem);
    assert_eq!(c.push_blob_bytes(&r, &md, mem.clone()).await.unwrap(), PushStatus::Uploaded);
    assert_eq!(c.get_blob_bytes(&r, &md, 1 << 20).await.unwrap(), mem);

    // A monolithic upload from a file (below the limit) streams as well.
    let small = random_bytes(5000);
    let small_path = dir.path().join("small.bin");
    std::fs::write(&small_path, &small).unwrap();
    let sd = Digest::of(&small);
    assert_eq!(c.push_blob_file(&r, &sd, 5000, &small_path).await.unwrap(), PushStatus::Uploaded);
    assert_eq!(c.blob_exists(&r, &sd).await.unwrap(), Some(5000));
    // A size that does not match the file is caught before any upload.
    let err = c.push_blob_file(&r, &Digest::of(b"x"), 4999, &small_path).await.unwrap_err();
    assert!(matches!(err, RegistryError::Io { .. }), "{err}");
}

#[tokio::test]
async fn mount_across_repositories() {
    let reg = Registry::start();
    let c = open_client();
    let (src, dst) = (repo(&reg, "team/source"), repo(&reg, "team/target"));
    let data = random_bytes(3000);
    let d = Digest::of(&data);
    c.push_blob_bytes(&src, &d, data).await.unwrap();
    assert!(c.mount_blob(&dst, &src, &d).await.unwrap());
    assert_eq!(c.blob_exists(&dst, &d).await.unwrap(), Some(3000));
    // Not in the source: the registry opens an upload instead, which is cancelled.
    let missing = Digest::of(b"never pushed");
    assert!(!c.mount_blob(&dst, &src, &missing).await.unwrap());
    assert_eq!(c.blob_exists(&dst, &missing).await.unwrap(), None);
    // Another registry: nothing to mount from.
    let elsewhere = Repository::new("other.example.com", "team/source").unwrap();
    assert!(!c.mount_blob(&dst, &elsewhere, &d).await.unwrap());
}

#[tokio::test]
async fn manifests_by_tag_and_digest_in_oci_and_docker_types() {
    let reg = Registry::start();
    let c = open_client();
    let r = repo(&reg, "images/app");
    for media_type in [OCI_MANIFEST, DOCKER_MANIFEST] {
        let body = push_image(&c, &r, media_type).await;
        let tag = if media_type == OCI_MANIFEST { "oci" } else { "docker" };
        let digest = c.put_manifest(&r, tag, media_type, body.clone()).await.unwrap();
        assert_eq!(digest, Digest::of(&body));
        let (bytes, mt, d) = c.get_manifest(&r, tag).await.unwrap();
        assert_eq!((bytes.clone(), mt.as_str(), &d), (body.clone(), media_type, &digest));
        let (_, _, by_digest) = c.get_manifest(&r, digest.as_str()).await.unwrap();
        assert_eq!(by_digest, digest);
        let desc = c.head_manifest(&r, tag).await.unwrap().unwrap();
        assert_eq!(
            (desc.media_type.as_str(), desc.digest.clone(), desc.size),
            (media_type, digest.clone(), body.len() as u64)
        );
        let content = manifest::parse_manifest(&bytes, &mt).unwrap();
        assert_eq!(content.references().len(), 2);
        for child in content.references() {
            assert!(c.blob_exists(&r, &child.digest).await.unwrap().is_some());
        }
    }
    // An index over both, pushed by digest.
    let children: Vec<_> =
        ["oci", "docker"].iter().map(|t| async { c.head_manifest(&r, t).await.unwrap().unwrap() }).collect();
    let children = futures::future::join_all(children).await;
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children});
    let index = Bytes::from(serde_json::to_vec(&index).unwrap());
    let index_digest = Digest::of(&index);
    let pushed = c.put_manifest(&r, index_digest.as_str(), OCI_INDEX, index.clone()).await.unwrap();
    assert_eq!(pushed, index_digest);
    let (_, mt, _) = c.get_manifest(&r, index_digest.as_str()).await.unwrap();
    assert_eq!(mt, OCI_INDEX);
    // Missing manifests.
    assert_eq!(c.head_manifest(&r, "nope").await.unwrap(), None);
    let err = c.get_manifest(&r, "nope").await.unwrap_err();
    assert!(err.is_not_found() && err.has_code("MANIFEST_UNKNOWN"), "{err}");
    assert!(err.to_string().contains("get manifest") && err.to_string().contains("images/app"), "{err}");
    // A manifest that names a blob the repository lacks is refused.
    let orphan = Bytes::from(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}","digest":"{}","size":1}},"layers":[]}}"#,
        Digest::of(b"absent")
    ));
    let err = c.put_manifest(&r, "orphan", OCI_MANIFEST, orphan).await.unwrap_err();
    assert!(err.has_code("MANIFEST_BLOB_UNKNOWN"), "{err}");
    // Bad references are refused before any request.
    assert!(matches!(c.get_manifest(&r, "bad tag").await.unwrap_err(), RegistryError::Reference(_)));
}

#[tokio::test]
async fn many_tags_are_listed_and_an_unknown_repository_has_none() {
    let reg = Registry::start();
    let c = open_client();
    let r = repo(&reg, "tags/many");
    let body = push_image(&c, &r, OCI_MANIFEST).await;
    let mut expected: Vec<String> = (0..60).map(|i| format!("v{i}")).collect();
    let puts = expected.iter().map(|t| c.put_manifest(&r, t, OCI_MANIFEST, body.clone()));
    for result in futures::future::join_all(puts).await {
        result.unwrap();
    }
    let mut tags = c.list_tags(&r).await.unwrap();
    tags.sort();
    expected.sort();
    assert_eq!(tags, expected);
    assert_eq!(c.list_tags(&repo(&reg, "tags/absent")).await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn digest_delete_removes_the_manifest_and_its_tags() {
    let reg = Registry::start();
    let c = open_client();
    let r = repo(&reg, "del/app");
    let body = push_image(&c, &r, OCI_MANIFEST).await;
    let d = c.put_manifest(&r, "one", OCI_MANIFEST, body.clone()).await.unwrap();
    c.put_manifest(&r, "two", OCI_MANIFEST, body).await.unwrap();
    c.delete_manifest(&r, &d).await.unwrap();
    assert_eq!(c.head_manifest(&r, d.as_str()).await.unwrap(), None);
    assert_eq!(c.head_manifest(&r, "one").await.unwrap(), None);
    assert_eq!(c.head_manifest(&r, "two").await.unwrap(), None);
    let err = c.delete_manifest(&r, &d).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn refused_delete_says_how_to_enable_it() {
    let reg = Registry::start_with(RegistryConfig { delete_enabled: false, ..Default::default() });
    let c = open_client();
    let r = repo(&reg, "nodel/app");
    let body = push_image(&c, &r, OCI_MANIFEST).await;
    let d = c.put_manifest(&r, "t", OCI_MANIFEST, body).await.unwrap();
    let err = c.delete_manifest(&r, &d).await.unwrap_err();
    assert_eq!(err.status(), Some(405), "{err}");
    let text = err.to_string();
    assert!(text.contains("delete manifest") && text.contains("storage.delete.enabled: true"), "{text}");
}

#[tokio::test]
async fn basic_auth_right_wrong_and_missing_credentials() {
    let password = "c0rrect-h0rse";
    let reg = Registry::with_basic_auth("alice", password);
    let host = reg.host();
    let r = repo(&reg, "private/app");
    let with = |pw: &str| {
        let creds = CredentialStore::new().with_explicit(&host, Credential::basic("alice", pw));
        client(ClientOptions { credentials: creds, max_retries: 0, ..Default::default() })
    };
    let good = with(password);
    good.ping(&host).await.unwrap();
    let data = random_bytes(100);
    let d = Digest::of(&data);
    assert_eq!(good.push_blob_bytes(&r, &d, data).await.unwrap(), PushStatus::Uploaded);
    let body = push_image(&good, &r, OCI_MANIFEST).await;
    good.put_manifest(&r, "v1", OCI_MANIFEST, body).await.unwrap();
    assert_eq!(good.list_tags(&r).await.unwrap(), ["v1"]);
    // The client learnt the challenge once and did not ping `/v2/` before each request.
    // Scheme probe, then ping: anonymous (401, challenge learnt) and with Basic.
    assert_eq!(reg.count_requests("\"GET /v2/ HTTP/1.1\""), 3, "{}", reg.log());

    let wrong_pw = "wr0ng-pa55word";
    let err = with(wrong_pw).list_tags(&r).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert_eq!(err.status(), Some(401), "{text}");
    assert!(!text.contains(wrong_pw) && !text.contains(password), "{text}");
    assert!(text.contains("user alice") && text.contains("rejected"), "{text}");

    let err = open_client().blob_exists(&r, &d).await.unwrap_err();
    assert!(err.is_auth(), "{err}");
    assert!(err.to_string().contains(&format!("wharf login {host}")), "{err}");
}

#[tokio::test]
async fn docker_config_credentials_are_used() {
    let reg = Registry::with_basic_auth("bob", "s3cret");
    let dir = tempfile::tempdir().unwrap();
    // base64("bob:s3cret")
    let config = format!(r#"{{"auths":{{"http://{}":{{"auth":"Ym9iOnMzY3JldA=="}}}}}}"#, reg.host());
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    let creds = CredentialStore::new().with_docker_config_dir(dir.path()).unwrap();
    let c = client(ClientOptions { credentials: creds, ..Default::default() });
    assert_eq!(c.list_tags(&repo(&reg, "nothing/here")).await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn connection_refused_is_retryable_and_names_the_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("127.0.0.1:{port}");
    let c = client(ClientOptions { max_retries: 0, ..Default::default() });
    let err = c.list_tags(&Repository::new(&host, "a").unwrap()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains(&host), "{err}");
}
