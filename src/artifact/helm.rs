//! Helm charts, pushed the way `helm push` does: the chart archive (`NAME-VERSION.tgz`, holding
//! `NAME/Chart.yaml`) as the one layer `application/vnd.cncf.helm.chart.content.v1.tar+gzip`,
//! the chart's metadata as JSON in a config of type `application/vnd.cncf.helm.config.v1+json`,
//! and the manifest annotated from `Chart.yaml` (title, version, description, url, source,
//! authors). Helm reads only these media types; `helm pull` and `helm install oci://…` find
//! the chart by them.

use bytes::Bytes;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::ArtifactError;

pub const CONFIG_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Largest `Chart.yaml` read.
const MAX_CHART_YAML: u64 = 1 << 20;

/// A chart's metadata, as `Chart.yaml` holds it.
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: String,
    pub version: String,
    /// Every key of `Chart.yaml`, as JSON.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The chart in `path` when it is a Helm chart archive (a gzipped tar whose first entry's
/// directory holds `Chart.yaml` with `apiVersion`, `name` and `version`); `None` otherwise.
pub fn detect(path: &Path) -> Result<Option<Chart>, ArtifactError> {
    let Ok(file) = std::fs::File::open(path) else { return Ok(None) };
    let mut magic = [0u8; 2];
    if std::io::Read::read_exact(&mut &file, &mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Ok(None);
    }
    let file = std::fs::File::open(path).map_err(ArtifactError::io(path))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let Ok(entries) = archive.entries() else { return Ok(None) };
    for entry in entries {
        let Ok(entry) = entry else { return Ok(None) };
        let Ok(name) = entry.path().map(|p| p.to_path_buf()) else { return Ok(None) };
        let parts: Vec<_> = name.components().collect();
        if parts.len() != 2 || parts[1].as_os_str() != "Chart.yaml" {
            continue;
        }
        let mut text = String::new();
        if entry.take(MAX_CHART_YAML).read_to_string(&mut text).is_err() {
            return Ok(None);
        }
        return Ok(parse_chart_yaml(&text));
    }
    Ok(None)
}

fn parse_chart_yaml(text: &str) -> Option<Chart> {
    let value: serde_json::Value = serde_saphyr::from_str(text).ok()?;
    let metadata = value.as_object()?.clone();
    let field = |k: &str| {
        metadata.get(k).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_number().map(|n| n.to_string())))
    };
    field("apiVersion")?;
    Some(Chart { name: field("name")?, version: field("version")?, metadata })
}

impl Chart {
    /// The config blob: the chart's metadata as JSON (keys sorted, so the digest is stable).
    pub fn config_json(&self) -> Bytes {
        let sorted: BTreeMap<&String, &serde_json::Value> = self.metadata.iter().collect();
        Bytes::from(serde_json::to_vec(&sorted).unwrap_or_default())
    }

    /// The manifest annotations `helm push` derives from `Chart.yaml`.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let text =
            |k: &str| self.metadata.get(k).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(str::to_string);
        out.insert("org.opencontainers.image.title".into(), self.name.clone());
        out.insert("org.opencontainers.image.version".into(), self.version.clone());
        if let Some(d) = text("description") {
            out.insert("org.opencontainers.image.description".into(), d);
        }
        if let Some(h) = text("home") {
            out.insert("org.opencontainers.image.url".into(), h);
        }
        if let Some(s) =
            self.metadata.get("sources").and_then(|s| s.as_array()).and_then(|a| a.first()).and_then(|s| s.as_str())
        {
            out.insert("org.opencontainers.image.source".into(), s.to_string());
        }
        let authors: Vec<String> = self
            .metadata
            .get("maintainers")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let name = m.get("name")?.as_str()?;
                Some(match m.get("email").and_then(|e| e.as_str()) {
                    Some(e) => format!("{name} ({e})"),
                    None => name.to_string(),
                })
            })
            .collect();
        if !authors.is_empty() {
            out.insert("org.opencontainers.image.authors".into(), authors.join(", "));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_yaml_needs_api_version_name_and_version() {
        let c = parse_chart_yaml("apiVersion: v2\nname: app\nversion: 1.2.3\ndescription: An app\nmaintainers:\n- name: Ann\n  email: ann@example.com\n").unwrap();
        assert_eq!((c.name.as_str(), c.version.as_str()), ("app", "1.2.3"));
        let a = c.annotations();
        assert_eq!(a["org.opencontainers.image.title"], "app");
        assert_eq!(a["org.opencontainers.image.authors"], "Ann (ann@example.com)");
        assert!(parse_chart_yaml("name: app\nversion: 1\n").is_none(), "no apiVersion: not a chart");
        let json: serde_json::Value = serde_json::from_slice(&c.config_json()).unwrap();
        assert_eq!(json["version"], "1.2.3");
    }
}
