//! Transport security at the command line: a registry with a private CA is trusted only with
//! `--ca-file` (never by falling back to plain HTTP), and a password never goes over plain
//! HTTP to a non-loopback host, even one listed with `--insecure-registry`.
//!
//! The library-level guards have their own tests in `registry_fakes.rs`: Authorization is not
//! forwarded on a redirect to another host or port
//! (`authorization_is_not_forwarded_to_blob_storage_on_redirect`), and the plain-HTTP guard
//! (`credentials_never_go_over_plain_http_to_a_non_loopback_host`).

use crate::support::non_loopback_ip;
use crate::support::proxy::Proxy;
use crate::support::registry::{Registry, RegistryConfig};
use crate::support::wharf::{Run, example, run, wharf};
use std::net::IpAddr;
use std::path::Path;

const USER: &str = "tls-user";
const PASSWORD: &str = "tls-Pa55word";

/// A CA, and a server certificate it signed for `ip`: (CA PEM, server chain PEM, key PEM).
fn private_ca_for(ip: IpAddr) -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "wharf test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec![ip.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, ip.to_string());
    params.use_authority_key_identifier_extension = true;
    params.key_usages.push(KeyUsagePurpose::DigitalSignature);
    params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (ca.pem(), format!("{}{}", cert.pem(), ca.pem()), key.serialize_pem())
}

fn with_password(mut cmd: std::process::Command) -> Run {
    cmd.env("WHARF_REGISTRY_USERNAME", USER).env("WHARF_REGISTRY_PASSWORD", PASSWORD);
    run(cmd)
}

fn tls_registry(ip: IpAddr, dir: &Path) -> (Registry, String) {
    let (ca, chain, key) = private_ca_for(ip);
    let reg = Registry::start_with(RegistryConfig {
        tls: Some((chain, key)),
        ip: Some(ip),
        basic_auth: Some((USER.into(), PASSWORD.into())),
        ..Default::default()
    });
    let ca_file = dir.join(format!("ca-{}.pem", reg.host().replace([':', '.'], "-")));
    std::fs::write(&ca_file, ca).unwrap();
    (reg, ca_file.to_string_lossy().into_owned())
}

#[test]
fn a_registry_with_a_private_ca_is_trusted_with_ca_file_and_refused_without() {
    let project = example("flant");
    let dir = project.path().to_string_lossy().into_owned();
    // On a non-loopback address (HTTPS only), and on loopback (where wharf would also try
    // plain HTTP: an untrusted certificate must not send it there).
    for ip in [non_loopback_ip(), Some(IpAddr::from([127, 0, 0, 1]))].into_iter().flatten() {
        let (reg, ca_file) = tls_registry(ip, project.path());
        let repo = format!("{}/flant", reg.host());
        let backend = format!("{repo}/backend");

        let refused = with_password(wharf(&["tags", "ls", &backend]));
        assert_eq!(refused.code(), 5, "{ip}: {}", refused.stderr());
        let err = refused.stderr();
        assert!(
            err.contains("TLS certificate not trusted") && err.contains("--ca-file"),
            "{ip}: says why and what to do:\n{err}"
        );
        assert!(!reg.log().contains("\"GET /v2/"), "{ip}: no HTTP request reached the registry:\n{}", reg.log());

        with_password(wharf(&[
            "build-and-publish",
            "--dir",
            &dir,
            "--repo",
            &repo,
            "--tag-custom",
            "v1",
            "--ca-file",
            &ca_file,
        ]))
        .ok();
        let listed = with_password(wharf(&["tags", "ls", &backend, "--ca-file", &ca_file, "--output", "json"])).ok();
        assert!(listed.stdout().contains("\"v1\""), "{ip}: {}", listed.stdout());
    }
    let not_pem = project.path().join("Dockerfile");
    let bad = run(wharf(&["tags", "ls", "127.0.0.1:1/app", "--ca-file", not_pem.to_str().unwrap()]));
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(bad.stderr().contains("--ca-file") && bad.stderr().contains("no certificate"), "{}", bad.stderr());
}

#[test]
fn a_password_never_goes_over_plain_http_to_a_non_loopback_host() {
    let Some(ip) = non_loopback_ip() else {
        eprintln!("skipped: this machine has no non-loopback address");
        return;
    };
    let reg = Registry::with_basic_auth(USER, PASSWORD);
    // The registry, reachable over plain HTTP on a non-loopback address.
    let proxy = Proxy::start_on(ip, &reg.host());
    let repo = format!("{}/flant", proxy.host());
    let project = example("flant");
    let dir = project.path().to_string_lossy().into_owned();
    for args in [
        vec!["tags", "ls", "--insecure-registry", &proxy.host(), &repo],
        vec![
            "build-and-publish",
            "--dir",
            &dir,
            "--repo",
            &repo,
            "--insecure-registry",
            &proxy.host(),
            "--tag-custom",
            "v1",
        ],
    ] {
        let out = with_password(wharf(&args));
        assert_eq!(out.code(), 5, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains("refusing to send credentials"), "{args:?}: {}", out.stderr());
    }
    let seen = proxy.seen();
    assert!(!seen.is_empty(), "wharf did reach the host over plain HTTP");
    assert!(seen.iter().all(|s| !s.authorization), "no request carried credentials: {seen:#?}");
}

#[test]
fn skip_tls_verify_registry_reaches_a_registry_whose_certificate_is_not_trusted_and_says_so() {
    let project = example("flant");
    let dir = project.path().to_string_lossy().into_owned();
    let (reg, _ca_file) = tls_registry(IpAddr::from([127, 0, 0, 1]), project.path());
    let repo = format!("{}/flant", reg.host());
    let refused = with_password(wharf(&["build", "--dir", &dir, "--repo", &repo]));
    assert_eq!(refused.code(), 5, "verified by default: {}", refused.stderr());
    // werf's flag, as a CI job gives it: the registry named, and no other host, goes unverified.
    let out = with_password(wharf(&[
        "build",
        "--dir",
        &dir,
        "--repo",
        &repo,
        "--skip-tls-verify-registry",
        "--add-custom-tag",
        "%image%-v1",
    ]))
    .ok();
    let warning =
        format!("warning: --skip-tls-verify-registry: the TLS certificates of {} are not verified", reg.host());
    assert!(out.stderr().contains(&warning), "{}", out.stderr());
    // werf's variable does the same for werf's commands.
    let mut again = wharf(&["build", "--dir", &dir, "--repo", &repo, "--add-custom-tag", "%image%-v2"]);
    again.env("WERF_SKIP_TLS_VERIFY_REGISTRY", "true");
    with_password(again).ok();
    let listed = with_password(wharf(&["tags", "ls", &repo, "--skip-tls-verify-registry", "--output", "json"])).ok();
    assert!(
        listed.stdout().contains("\"backend-v1\"") && listed.stdout().contains("\"backend-v2\""),
        "{}",
        listed.stdout()
    );
    assert!(reg.log().contains("\"PUT /v2/flant/manifests/backend-v1"), "published over HTTPS to the registry itself");
}
