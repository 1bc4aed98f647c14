//! The `ecr` driver against moto's server: repositories (checked, created), listing, untag by
//! `BatchDeleteImage` while sibling tags stay, the registry login from GetAuthorizationToken,
//! and the CLI with the SDK pointed at moto through `AWS_ENDPOINT_URL`.

use super::Listings as _;
use super::conformance::{self, Fixture};
use super::wharf;
use crate::support::moto::Moto;
use crate::support::wharf::run;
use aws_sdk_ecr::config::{BehaviorVersion, Credentials, Region};
use wharf::drivers::{Driver, EcrDriver, UntagMethod};
use wharf::registry::{Credential, Repository};
use wharf::spec::digest::Digest;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn sdk(moto: &Moto) -> aws_sdk_ecr::Client {
    sdk_at(&moto.url(), "us-east-1")
}

/// An SDK client for the ECR API at `url` (moto, or a wiremock fake of the JSON protocol).
fn sdk_at(url: &str, region: &str) -> aws_sdk_ecr::Client {
    let conf = aws_sdk_ecr::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(url)
        .build();
    aws_sdk_ecr::Client::from_conf(conf)
}

struct EcrFixture {
    _moto: Moto,
    sdk: aws_sdk_ecr::Client,
    repo: Repository,
    driver: EcrDriver,
}

impl EcrFixture {
    async fn start(path: &str) -> EcrFixture {
        let moto = Moto::start();
        let sdk = sdk(&moto);
        let repo = Repository::new(HOST, path).unwrap();
        let driver = EcrDriver::from_sdk(sdk.clone(), &repo, true);
        driver.ensure_repository(&repo).await.unwrap();
        EcrFixture { _moto: moto, sdk, repo, driver }
    }
}

/// An image manifest with one random layer (moto derives the digest from the layers).
fn manifest() -> String {
    let layer = Digest::of(&rand::random::<[u8; 16]>());
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": Digest::of(b"{}").as_str()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 16, "digest": layer.as_str()}],
    })
    .to_string()
}

#[async_trait::async_trait]
impl Fixture for EcrFixture {
    fn driver(&self) -> &dyn Driver {
        &self.driver
    }
    fn repo(&self) -> &Repository {
        &self.repo
    }
    async fn seed(&self, tags: &[&str]) -> Digest {
        let m = manifest();
        let mut digest = None;
        for t in tags {
            let out = self
                .sdk
                .put_image()
                .repository_name(&self.repo.path)
                .image_manifest(&m)
                .image_tag(*t)
                .send()
                .await
                .unwrap();
            digest = out.image().and_then(|i| i.image_id()).and_then(|i| i.image_digest()).map(|d| d.parse().unwrap());
        }
        digest.unwrap()
    }
    async fn truth(&self, tag: &str) -> Option<Digest> {
        let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag).build();
        let out = self.sdk.describe_images().repository_name(&self.repo.path).image_ids(id).send().await.ok()?;
        out.image_details().first()?.image_digest()?.parse().ok()
    }
    fn weak(&self) -> Option<&dyn Driver> {
        None // moto does not enforce IAM policies by default
    }
    fn rate_limit(&self, _: usize, _: &str) -> bool {
        false // the SDK retries throttling itself
    }
}

#[tokio::test]
async fn conformance() {
    conformance::run(&EcrFixture::start("team/app").await).await;
}

#[tokio::test]
async fn untag_reports_how_and_repositories_must_exist() {
    let f = EcrFixture::start("team/api").await;
    let shared = f.seed(&["v1", "latest"]).await;
    let out = f.driver.untag(&f.repo, "v1").await.unwrap();
    assert_eq!((out.method, &out.digest), (UntagMethod::NativeTag, &shared));
    let out = f.driver.untag(&f.repo, "latest").await.unwrap();
    assert_eq!(out.method, UntagMethod::LastTagVersion, "ECR deletes an image with its last tag");

    let missing = Repository::new(HOST, "team/missing").unwrap();
    let strict = EcrDriver::from_sdk(f.sdk.clone(), &missing, false);
    let err = strict.ensure_repository(&missing).await.unwrap_err();
    assert!(err.to_string().contains("--create-repositories"), "{err}");
    assert!(strict.list_tags(&missing).await.unwrap().is_empty());
    let creating = EcrDriver::from_sdk(f.sdk.clone(), &missing, true);
    creating.ensure_repository(&missing).await.unwrap();
    creating.ensure_repository(&missing).await.unwrap();
    strict.ensure_repository(&missing).await.unwrap();
}

#[tokio::test]
async fn registry_login_comes_from_get_authorization_token() {
    let f = EcrFixture::start("team/login").await;
    match f.driver.registry_credential().await.unwrap() {
        Some(Credential::Basic { username, password }) => {
            assert_eq!(username, "AWS");
            assert!(!password.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn cli_points_the_sdk_at_moto_through_aws_endpoint_url() {
    let f = EcrFixture::start("cli/app").await;
    let digest = f.seed(&["a", "b"]).await;
    let name = format!("{HOST}/cli/app");
    let with_env = |args: &[&str]| {
        let mut cmd = wharf(args);
        cmd.env("AWS_ENDPOINT_URL", f._moto.url())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    };
    let listed = run(with_env(&["tags", "ls", &name, "--output", "json"])).ok().json();
    assert_eq!(listed["driver"], "ecr");
    assert_eq!(listed["tags"].as_array().unwrap().len(), 2);
    run(with_env(&["tags", "rm", &format!("{name}:a")])).ok();
    assert_eq!(f.truth("a").await, None);
    assert_eq!(f.truth("b").await, Some(digest));
}

/// ECR answers BatchDeleteImage with HTTP 200 and the problems in `failures[]` (moto cannot be
/// made to do that here, so a wiremock fake of the JSON protocol does).
#[tokio::test]
async fn batch_delete_failures_are_reported_with_their_code() {
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let target = |op: &str| format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let d = Digest::of(b"x");
    let reply = |body: serde_json::Value| {
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/x-amz-json-1.1")
    };
    Mock::given(method("POST"))
        .and(header("x-amz-target", target("DescribeImages").as_str()))
        .respond_with(reply(serde_json::json!({"imageDetails": [{"imageDigest": d.as_str(), "imageTags": ["v1", "v2"], "repositoryName": "team/app"}]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(header("x-amz-target", target("BatchDeleteImage").as_str()))
        .respond_with(reply(serde_json::json!({"imageIds": [], "failures": [{"imageId": {"imageTag": "v1"}, "failureCode": "ImageReferencedByManifestList", "failureReason": "Requested image referenced by manifest list: [sha256:abc]"}]})))
        .expect(1)
        .mount(&server)
        .await;
    let repo = Repository::new(HOST, "team/app").unwrap();
    let driver = EcrDriver::from_sdk(sdk_at(&server.uri(), "us-east-1"), &repo, false);
    let err = driver.untag(&repo, "v1").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, wharf::drivers::DriverError::Refused { code: Some(c), .. } if c == "ImageReferencedByManifestList"),
        "{text}"
    );
    assert!(text.starts_with("ecr driver: delete tag") && text.contains("referenced by manifest list"), "{text}");
}

/// A dual-stack registry host (`<id>.dkr-ecr.<region>.on.aws`) is ECR: its account goes to the
/// API as `registryId`, as for the IPv4 host.
#[tokio::test]
async fn dual_stack_hosts_pass_their_account_as_registry_id() {
    use wiremock::matchers::{body_partial_json, header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let reply = serde_json::json!({"imageIds": [{"imageDigest": Digest::of(b"x").as_str(), "imageTag": "v1"}]});
    Mock::given(method("POST"))
        .and(header("x-amz-target", "AmazonEC2ContainerRegistry_V20150921.ListImages"))
        .and(body_partial_json(serde_json::json!({"registryId": "210987654321", "repositoryName": "team/app"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(reply.to_string(), "application/x-amz-json-1.1"))
        .expect(1)
        .mount(&server)
        .await;
    let repo = Repository::new("210987654321.dkr-ecr.eu-west-1.on.aws", "team/app").unwrap();
    assert_eq!(wharf::drivers::detect(&repo.registry).name, "ecr");
    let driver = EcrDriver::from_sdk(sdk_at(&server.uri(), "eu-west-1"), &repo, false);
    assert_eq!(driver.list_tags(&repo).await.unwrap().len(), 1);
}

/// ECR Public is another service (ecr-public) that moto does not serve: `--implementation ecr`
/// refuses it, saying what to use instead.
#[test]
fn ecr_public_is_refused_by_the_ecr_driver() {
    let repo: Repository = "public.ecr.aws/alias/app".parse().unwrap();
    let opts = wharf::drivers::DriverOptions::new(wharf::registry::Client::new(Default::default()).unwrap());
    let err = wharf::drivers::build(wharf::drivers::by_name("ecr").unwrap(), &opts, &repo)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("ECR Public") && err.contains("ecr-public"), "{err}");
    assert!(
        wharf::drivers::by_name("ecr").unwrap().needs.contains("ecr:DescribeRepositories"),
        "the push check needs it"
    );
}

/// `tags ls` and `tags rm` build their driver and client the way every command does: with
/// ECR's own registry login (`GetAuthorizationToken`,
/// <https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_GetAuthorizationToken.html>),
/// obtained once per registry however many tags are removed. A fake of the JSON protocol
/// counts the calls.
#[tokio::test(flavor = "multi_thread")]
async fn tags_ls_and_rm_get_the_ecr_login_once_like_every_command() {
    use base64::Engine as _;
    use wiremock::matchers::{header, method};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let target = |op: &str| format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let reply = |body: serde_json::Value| {
        ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/x-amz-json-1.1")
    };
    let d = Digest::of(b"x");
    let token = base64::engine::general_purpose::STANDARD.encode("AWS:ecr-password");
    let mock = |op: &str, body: serde_json::Value| {
        Mock::given(method("POST")).and(header("x-amz-target", target(op).as_str())).respond_with(reply(body))
    };
    let login = serde_json::json!({"authorizationData": [{"authorizationToken": token, "proxyEndpoint": format!("https://{HOST}"), "expiresAt": 4_102_444_800u64}]});
    mock("GetAuthorizationToken", login).expect(2).mount(&server).await;
    let ids: Vec<serde_json::Value> =
        ["v1", "v2", "v3"].iter().map(|t| serde_json::json!({"imageDigest": d.as_str(), "imageTag": t})).collect();
    mock("ListImages", serde_json::json!({"imageIds": ids})).expect(1).mount(&server).await;
    let details = serde_json::json!({"imageDetails": [{"imageDigest": d.as_str(), "imageTags": ["v1", "v2", "v3"], "repositoryName": "team/app"}]});
    mock("DescribeImages", details).expect(2..).mount(&server).await;
    mock("BatchDeleteImage", serde_json::json!({"imageIds": [], "failures": []})).expect(2).mount(&server).await;
    let with_env = |args: &[&str]| {
        let mut cmd = wharf(args);
        cmd.env("AWS_ENDPOINT_URL", server.uri())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    };
    let name = format!("{HOST}/team/app");
    let listed = run(with_env(&["tags", "ls", &name, "--output", "json"])).ok().json();
    assert_eq!(listed["tags"].as_array().unwrap().len(), 3);
    // Two tags of one repository: one login. (The fake keeps answering that the tag is
    // there, so the read-back fails: the requests, not the outcome, are what is checked.)
    let _ = run(with_env(&["tags", "rm", &format!("{name}:v1"), &format!("{name}:v2")]));
    server.verify().await;
}
