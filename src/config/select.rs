//! Choosing images of a project: werf's `build IMAGE…` builds the images named and
//! what they depend on. Stapel images cannot be chosen (wharf does not build them).

use super::decode;
use super::model::{Image, Project};

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no image `{name}` in {file}\n  hint: {hint}")]
    Unknown { name: String, file: String, hint: String },
    #[error(
        "image `{name}` is a stapel image ({location}), which wharf does not build\n  hint: convert it to a Dockerfile image (`from:` becomes `FROM`, `git:` becomes `COPY`, `shell:` steps become `RUN`), or leave it out"
    )]
    Stapel { name: String, location: String },
}

impl Project {
    /// The project with only the images named and those they depend on (in file order).
    pub fn select(&self, names: &[String]) -> Result<Project, SelectError> {
        let mut wanted: Vec<bool> = vec![false; self.images.len()];
        let mut stack: Vec<usize> = Vec::new();
        for name in names {
            match self.images.iter().position(|i| i.name.as_deref() == Some(name.as_str())) {
                Some(i) => stack.push(i),
                None => return Err(self.unknown(name)),
            }
        }
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut wanted[i], true) {
                continue;
            }
            for dep in &self.images[i].dependencies {
                if let Some(j) = self.images.iter().position(|x| x.name.as_deref() == Some(dep.image.as_str())) {
                    stack.push(j);
                }
            }
        }
        let mut out = self.clone();
        out.images = self.images.iter().zip(wanted).filter(|(_, w)| *w).map(|(i, _)| i.clone()).collect();
        Ok(out)
    }

    /// The stapel image `image` depends on directly, if any.
    pub fn stapel_dependency<'p>(&'p self, image: &'p Image) -> Option<&'p str> {
        image
            .dependencies
            .iter()
            .map(|d| d.image.as_str())
            .find(|d| self.stapel.iter().any(|s| s.name.as_deref() == Some(*d)))
    }

    fn unknown(&self, name: &str) -> SelectError {
        if let Some(s) = self.stapel.iter().find(|s| s.name.as_deref() == Some(name)) {
            return SelectError::Stapel { name: name.to_string(), location: s.location.clone() };
        }
        let names: Vec<&str> = self.images.iter().filter_map(|i| i.name.as_deref()).collect();
        let hint = match decode::suggest(name, &names) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("the images are {}", decode::list(&names)),
        };
        SelectError::Unknown { name: name.to_string(), file: self.config_path.display().to_string(), hint }
    }
}
