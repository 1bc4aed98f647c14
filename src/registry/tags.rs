//! Tag listing, complete on every registry the spec allows.
//!
//! The first page asks for `n=1000`. A `Link: <…>; rel="next"` URL is followed as given
//! (relative to the registry or absolute). A registry may honour `n` without sending `Link`
//! (go-containerregistry's registry does, and the spec allows it): a full page without `Link`
//! is continued with `last=<the page's last tag>`. A registry that ignores `last` answers the
//! same page again, which adds nothing new and ends the listing; so does a repeated `Link`.
//! A repository that does not exist (404) has no tags. More than
//! [`ClientOptions::max_tags`](crate::registry::ClientOptions) tags is an error, never a
//! partial list: cleanup must not decide on part of a repository.

use crate::registry::client::{Client, read_capped};
use crate::registry::error::{RegistryError, Result};
use crate::registry::transport::{Target, status_error};
use crate::spec::reference::Repository;
use reqwest::Method;
use reqwest::header::LINK;
use std::collections::HashSet;

/// Page size requested from the registry.
pub(crate) const PAGE_SIZE: usize = 1000;
/// Largest tag-list page read.
const MAX_PAGE_BYTES: u64 = 32 * 1024 * 1024;

#[derive(serde::Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Client {
    /// Every tag of `repo`, in the registry's order; empty when the repository does not exist.
    pub async fn list_tags(&self, repo: &Repository) -> Result<Vec<String>> {
        let max = self.options().max_tags;
        let first = format!("/v2/{}/tags/list?n={PAGE_SIZE}", repo.path);
        let mut req = self.repo_req("list tags", repo, Method::GET, first, "pull");
        let mut tags = Vec::new();
        let mut known: HashSet<String> = HashSet::new();
        let mut links = HashSet::new();
        loop {
            let resp = self.send(&req).await?;
            if resp.status().as_u16() == 404 && tags.is_empty() {
                let err = status_error(&req.ctx, resp, None).await;
                return if err.has_code("NAME_UNKNOWN") || !has_codes(&err) { Ok(Vec::new()) } else { Err(err) };
            }
            if !resp.status().is_success() {
                return Err(status_error(&req.ctx, resp, None).await);
            }
            let next = resp.headers().get_all(LINK).iter().filter_map(|v| v.to_str().ok()).find_map(next_link);
            let body = read_capped(&req.ctx, resp, MAX_PAGE_BYTES, "a tag list page").await?;
            let page: TagPage = serde_json::from_slice(&body)
                .map_err(|e| RegistryError::protocol(&req.ctx, format!("the tag list is not valid JSON: {e}")))?;
            let page = page.tags.unwrap_or_default();
            let (page_len, last) = (page.len(), page.last().cloned());
            let before = tags.len();
            tags.extend(page.into_iter().filter(|t| known.insert(t.clone())));
            if tags.len() > max {
                return Err(RegistryError::TooManyTags { ctx: req.ctx.into(), limit: max });
            }
            if let Some(progress) = &self.options().list_progress {
                progress.0(repo, tags.len());
            }
            let grew = tags.len() > before;
            match (next, last) {
                (Some(link), _) if links.insert(link.clone()) => req.target = link_target(&link),
                (Some(_), _) => {
                    tracing::warn!(repo = %repo, "the registry's tag pagination repeats a page; stopping");
                    break;
                }
                // A full page and no Link: the registry pages by `n` alone; ask for what follows.
                (None, Some(last)) if page_len >= PAGE_SIZE && grew => {
                    req.target =
                        Target::Path(format!("/v2/{}/tags/list?n={PAGE_SIZE}&last={}", repo.path, encode_query(&last)));
                }
                (None, _) => break,
            }
        }
        Ok(tags)
    }
}

/// Percent-encodes a query value (tags are `[A-Za-z0-9_.-]`, but a registry may list others).
fn encode_query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn has_codes(err: &RegistryError) -> bool {
    matches!(err, RegistryError::Status { errors, .. } if !errors.is_empty())
}

fn link_target(link: &str) -> Target {
    match url::Url::parse(link) {
        Ok(url) => Target::Url(url),
        Err(_) => Target::Path(link.to_string()),
    }
}

/// The URL of the `rel="next"` entry of a `Link` header value, if any.
pub fn next_link(header: &str) -> Option<String> {
    split_links(header).into_iter().find_map(|entry| {
        let entry = entry.trim();
        let rest = entry.strip_prefix('<')?;
        let (url, params) = rest.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let Some((name, value)) = p.split_once('=') else { return false };
            name.trim().eq_ignore_ascii_case("rel")
                && value.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| url.trim().to_string())
    })
}

/// Splits a `Link` value on the commas between entries (not inside `<…>` or quotes).
fn split_links(header: &str) -> Vec<&str> {
    let (mut parts, mut start, mut in_url, mut in_quote) = (Vec::new(), 0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            '<' if !in_quote => in_url = true,
            '>' if !in_quote => in_url = false,
            '"' if !in_url => in_quote = !in_quote,
            ',' if !in_url && !in_quote => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_style_link() {
        let h = r#"</v2/app/tags/list?last=v9&n=1000>; rel="next""#;
        assert_eq!(next_link(h).as_deref(), Some("/v2/app/tags/list?last=v9&n=1000"));
    }

    #[test]
    fn several_links_and_forms() {
        let h = r#"<https://r.example/v2/a/tags/list?n=2&last=b,c>; rel="prev", <https://r.example/v2/a/tags/list?n=2&last=d>; rel="next""#;
        assert_eq!(next_link(h).as_deref(), Some("https://r.example/v2/a/tags/list?n=2&last=d"));
        assert_eq!(next_link("</x?a=1>;rel=next").as_deref(), Some("/x?a=1"));
        assert_eq!(next_link(r#"</x>; title="a, b"; REL="last next""#).as_deref(), Some("/x"));
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        for junk in ["", "<", ">", "<x", "rel=next", ",,,", "<a>;", "<a>; rel", "\"<a>\"; rel=next"] {
            let _ = next_link(junk);
        }
    }

    #[test]
    fn random_link_headers_never_panic() {
        let alphabet = ["<", ">", ";", ",", "\"", "rel", "=", "next", " ", "/v2/a", "é"];
        for input in crate::registry::challenge::tests::random_inputs(&alphabet, 20_000) {
            let _ = next_link(&input);
        }
    }

    #[test]
    fn link_targets() {
        assert!(matches!(link_target("/v2/a/tags/list?last=x"), Target::Path(_)));
        assert!(matches!(link_target("https://other.example/v2/a"), Target::Url(_)));
    }
}
