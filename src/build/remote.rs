//! [`Engine`] on a BuildKit daemon (`--buildkit-host`): a shared buildkitd, a Kubernetes
//! deployment, a build farm. wharf keeps planning, naming, publishing and cleanup; the
//! daemon only builds. Each result comes back through the build's session as an OCI image
//! layout (BuildKit's `oci` exporter) and goes into wharf's stage cache, from where it is
//! published like any stage: no engine, no `docker save`.
//!
//! A daemon has no image store: base images come from registries, and an image built from a
//! dependency reads the dependency's stage from the stages' registry (`--stages-storage`).

use std::path::Path;
use std::sync::Arc;

use super::buildkit::session::ExportSink;
use super::buildkit::{BuildKit, Exporter};
use super::engine::{BuildRequest, Built, Engine, EngineError, LocalImage, LogSink};
use crate::oci::layout::OciLayout;
use crate::spec::Digest;

pub struct RemoteBuildKit {
    buildkit: BuildKit,
}

impl RemoteBuildKit {
    pub fn new(daemon: super::buildkit::transport::Daemon) -> RemoteBuildKit {
        RemoteBuildKit { buildkit: BuildKit { daemon, exporter: Exporter::Oci } }
    }

    fn no_store(&self, operation: &'static str, subject: &str) -> EngineError {
        EngineError::Api {
            operation,
            subject: subject.to_string(),
            message: format!("{} is a BuildKit daemon, which keeps no images", self.buildkit.daemon.address()),
        }
    }
}

#[async_trait::async_trait]
impl Engine for RemoteBuildKit {
    async fn inspect(&self, _reference: &str) -> Result<Option<LocalImage>, EngineError> {
        Ok(None)
    }

    async fn build(&self, req: &BuildRequest, log: LogSink<'_>) -> Result<Built, EngineError> {
        let io = |e: std::io::Error| EngineError::Api {
            operation: "build",
            subject: req.image.clone(),
            message: format!("export: {e}"),
        };
        let out = tempfile::NamedTempFile::new().map_err(io)?.into_temp_path();
        let path = out.to_path_buf();
        let sink: ExportSink = Arc::new(move || {
            let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Box::new(tokio::fs::File::from_std(file)) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>)
        });
        self.buildkit
            .solve(req, None, Some(sink), log)
            .await
            .map_err(|e| with_exporter_hint(e, self.buildkit.daemon.address()))?;
        Ok(Built::OciTar(out))
    }

    fn has_image_store(&self) -> bool {
        false
    }

    async fn save_stream(
        &self,
        reference: &str,
        _chunks: tokio::sync::mpsc::Sender<bytes::Bytes>,
    ) -> Result<(), EngineError> {
        Err(self.no_store("save", reference))
    }

    async fn load(&self, archive: &Path) -> Result<(), EngineError> {
        Err(self.no_store("load", &archive.display().to_string()))
    }
}

/// A daemon without the OCI exporter is a Docker Engine's embedded BuildKit: say so.
fn with_exporter_hint(e: EngineError, address: &super::buildkit::transport::Address) -> EngineError {
    match e {
        EngineError::Build { step, message } if message.contains("exporter \"oci\"") => EngineError::Build {
            step,
            message: format!(
                "{message}\n  hint: {address} has no OCI exporter, as a Docker Engine's embedded BuildKit has none; \
                 build through that engine with --docker-host instead of --buildkit-host"
            ),
        },
        other => other,
    }
}

/// Puts the image of an OCI layout tar (BuildKit's `oci` exporter: `oci-layout`,
/// `index.json`, `blobs/sha256/…`) into `layout` under `reference`; every blob is checked
/// against its digest as it is copied. Blocking.
pub fn import_oci_tar(tar: &Path, layout: &OciLayout, reference: &str) -> Result<Digest, String> {
    let file = std::fs::File::open(tar).map_err(|e| format!("{}: {e}", tar.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, file));
    let mut index: Option<Vec<u8>> = None;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.to_string_lossy().trim_start_matches("./").to_string();
        if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let digest: Digest = format!("sha256:{hex}").parse().map_err(|e| format!("{path}: {e}"))?;
            layout.put_blob_reader(&digest, &mut entry).map_err(|e| e.to_string())?;
        } else if path == "index.json" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut entry, crate::oci::MAX_MANIFEST_SIZE), &mut bytes)
                .map_err(|e| e.to_string())?;
            index = Some(bytes);
        }
    }
    let index = index.ok_or("the export has no index.json")?;
    #[derive(serde::Deserialize)]
    struct Index {
        manifests: Vec<crate::spec::manifest::Descriptor>,
    }
    let index: Index = serde_json::from_slice(&index).map_err(|e| format!("index.json: {e}"))?;
    let first = index.manifests.into_iter().next().ok_or("the export's index.json names no image")?;
    let bytes = layout.read_blob(&first.digest).map_err(|e| e.to_string())?;
    layout.put_manifest(reference, &first.media_type, &bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, data).unwrap();
    }

    #[test]
    fn an_oci_export_lands_in_the_layout_checked() {
        let config = br#"{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[]}}"#,
            Digest::of(config),
            config.len()
        );
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}]}}"#,
            Digest::of(manifest.as_bytes()),
            manifest.len()
        );
        let mut b = tar::Builder::new(Vec::new());
        append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
        append(&mut b, &format!("blobs/sha256/{}", Digest::of(config).hex()), config);
        append(&mut b, &format!("blobs/sha256/{}", Digest::of(manifest.as_bytes()).hex()), manifest.as_bytes());
        append(&mut b, "index.json", index.as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("export.tar");
        std::fs::write(&tar_path, b.into_inner().unwrap()).unwrap();
        let layout = OciLayout::open(&dir.path().join("layout")).unwrap();
        let digest = import_oci_tar(&tar_path, &layout, "stage:abc").unwrap();
        assert_eq!(digest, Digest::of(manifest.as_bytes()));
        assert_eq!(layout.resolve("stage:abc").unwrap().unwrap().digest, digest);
        assert!(layout.has_blob(&Digest::of(config)));

        // A blob that is not what its name says is refused.
        let mut bad = tar::Builder::new(Vec::new());
        append(&mut bad, &format!("blobs/sha256/{}", Digest::of(b"other").hex()), b"tampered");
        std::fs::write(&tar_path, bad.into_inner().unwrap()).unwrap();
        assert!(import_oci_tar(&tar_path, &layout, "stage:bad").is_err());
    }
}
