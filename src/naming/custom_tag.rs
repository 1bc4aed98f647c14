//! werf's `--add-custom-tag`: a tag template rendered per image, published as written.
//!
//! werf 1.2 keeps every image in the one `--repo`, so a custom tag names its image itself:
//! `%image%-v1` publishes `REPO:backend-v1` and `REPO:frontend-v1`. The shortcuts are werf's:
//! `%image%`, `%image_slug%` (the name as a slug: `.`/`_` become `-`), `%image_safe_slug%` (the
//! name as a valid tag) and `%image_content_based_tag%` (the content-based tag: wharf's stage
//! digest). The rendered tag goes into the image's repository without wharf's monorepo
//! `IMAGE-` prefix (in monorepo mode, `REPO:<rendered>`; in multirepo, `REPO/IMAGE:<rendered>`),
//! and must be a valid tag: werf refuses, not slugs, a bad one. Two images rendering the
//! same tag into one repository is werf's error ("use the image name in the tag").

use super::{MAX_TAG, Strategy, Tag};

/// One `--add-custom-tag` value, checked: the shortcuts it uses are known and closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomTag {
    template: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Image,
    ImageSlug,
    ImageSafeSlug,
    ContentBasedTag,
}

impl CustomTag {
    /// Parses a template; an unknown or unclosed `%…%` is an error naming it.
    pub fn parse(template: &str) -> Result<CustomTag, String> {
        let bad = |detail: String| format!("--add-custom-tag {template:?}: {detail}");
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = rest.find('%') {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 1..];
            let end = after.find('%').ok_or_else(|| bad("a `%` opens a shortcut that is never closed (write %image%, %image_slug%, %image_safe_slug% or %image_content_based_tag%)".into()))?;
            parts.push(match after[..end].trim() {
                "image" => Part::Image,
                "image_slug" => Part::ImageSlug,
                "image_safe_slug" => Part::ImageSafeSlug,
                "image_content_based_tag" => Part::ContentBasedTag,
                other => return Err(bad(format!("unknown shortcut %{other}% (werf's are %image%, %image_slug%, %image_safe_slug% and %image_content_based_tag%)"))),
            });
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(CustomTag { template: template.to_string(), parts })
    }

    /// Whether the template names its image (then several images never share its tag).
    pub fn names_image(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Image | Part::ImageSlug | Part::ImageSafeSlug))
    }

    /// The tag of `image` (`None`: the nameless image, an empty name as in werf) whose stage
    /// digest is `content`; an invalid tag is an error, as in werf.
    pub fn render(&self, image: Option<&str>, content: &str) -> Result<Tag, String> {
        let name = image.unwrap_or("");
        let value: String = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Image => name.to_string(),
                Part::ImageSlug => slugify(name),
                Part::ImageSafeSlug => safe_slug(name),
                Part::ContentBasedTag => content.to_string(),
            })
            .collect();
        if !valid_tag(&value) {
            return Err(format!(
                "--add-custom-tag {:?} gives {value:?} for image {}, which is not a valid tag\n  hint: a tag is at most {MAX_TAG} letters, digits, `_`, `.` and `-`, and does not start with `.` or `-`",
                self.template,
                image.unwrap_or("~")
            ));
        }
        Ok(Tag { original: value.clone(), value, strategy: Strategy::AddCustomTag })
    }

    /// The template as given.
    pub fn template(&self) -> &str {
        &self.template
    }
}

/// The error werf gives when a template without the image name would tag several images alike.
pub fn shared_tag_error(template: &str) -> String {
    format!(
        "--add-custom-tag {template:?} gives every image the same tag\n  hint: use the image name in the tag when the project has more than one image, e.g. %image%-{template}"
    )
}

/// A tag as the distribution spec allows it: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let mut chars = t.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && t.len() <= MAX_TAG
}

/// werf's slug of an image name: lower case, `.`, `_`, `/` and spaces become `-`, no
/// leading, trailing or doubled `-`.
fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = match c {
            'A'..='Z' => c.to_ascii_lowercase(),
            'a'..='z' | '0'..='9' => c,
            '-' | '_' | '.' | '/' | ' ' => '-',
            _ => continue,
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('-').to_string()
}

/// The name when it is a valid tag already (wharf's image names always are), else its slug.
fn safe_slug(name: &str) -> String {
    if valid_tag(name) { name.to_string() } else { super::slug(name, MAX_TAG) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(template: &str, image: Option<&str>) -> Result<String, String> {
        CustomTag::parse(template)?.render(image, "0123abcd").map(|t| t.value)
    }

    #[test]
    fn werf_shortcuts_render_per_image() {
        assert_eq!(value("%image%-v1", Some("backend")).unwrap(), "backend-v1");
        assert_eq!(value("v1-%image_slug%", Some("api.v2_x")).unwrap(), "v1-api-v2-x");
        assert_eq!(value("%image_safe_slug%", Some("api.v2_x")).unwrap(), "api.v2_x");
        assert_eq!(value("%image%-%image_content_based_tag%", Some("a")).unwrap(), "a-0123abcd");
        assert_eq!(value("latest", Some("a")).unwrap(), "latest");
        let t = CustomTag::parse("%image%-v1").unwrap().render(Some("a"), "d").unwrap();
        assert_eq!((t.strategy, t.verbatim(), t.original.as_str()), (Strategy::AddCustomTag, true, "a-v1"));
    }

    #[test]
    fn bad_templates_and_tags_are_refused_with_the_reason() {
        assert!(value("%image-v1", Some("a")).unwrap_err().contains("never closed"));
        assert!(value("%branch%", Some("a")).unwrap_err().contains("unknown shortcut %branch%"));
        assert!(value("%image%/v1", Some("a")).unwrap_err().contains("not a valid tag"));
        assert!(
            value("%image%-v1", None).unwrap_err().contains("\"-v1\""),
            "the nameless image has an empty name, as in werf"
        );
        assert!(value(&"x".repeat(129), Some("a")).is_err());
    }

    #[test]
    fn a_template_names_its_image_or_not() {
        assert!(CustomTag::parse("%image_slug%-x").unwrap().names_image());
        assert!(!CustomTag::parse("v1-%image_content_based_tag%").unwrap().names_image());
    }
}
