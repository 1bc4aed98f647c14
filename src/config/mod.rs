//! TEMP stub for type-checking; replaced by the config branch.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
#[derive(Debug, Clone)]
pub struct Project { pub name: String, pub dir: PathBuf, pub config_path: PathBuf, pub images: Vec<Image>, pub warnings: Vec<String> }
#[derive(Debug, Clone)]
pub struct Image { pub name: Option<String>, pub context: PathBuf, pub dockerfile: PathBuf, pub target: Option<String>, pub args: BTreeMap<String,String>, pub dependencies: Vec<Dependency>, pub platforms: Vec<String> }
impl Image { pub fn display_name(&self) -> &str { self.name.as_deref().unwrap_or("~") } }
#[derive(Debug, Clone)]
pub struct Dependency { pub image: String, pub imports: Vec<Import> }
#[derive(Debug, Clone)]
pub struct Import { pub kind: ImportKind, pub build_arg: String }
#[derive(Debug, Clone, Copy)]
pub enum ImportKind { ImageName, ImageId, ImageRepo, ImageTag, ImageDigest }
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
#[error("config")]
pub struct ConfigError;
pub fn load(_d: &Path, _e: Option<&Path>) -> Result<Project, ConfigError> { Err(ConfigError) }
pub fn schema_json() -> String { String::new() }
