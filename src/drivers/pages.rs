//! Paginated listings of the native APIs, followed the same way by every driver.
//!
//! A [`Pages`] hands out the next page to read (a URL, or a cursor: a page token or number)
//! until the API says there is no more, and holds the rules each listing must keep:
//! - a 404 on the first page means there is nothing to list; on a later page it is an error
//!   (the listing is incomplete, so nothing is decided on it);
//! - a next-page URL (`Link: rel="next"`, a `next` field) resolves against the API's base and
//!   must stay on its origin, so the token is never sent elsewhere;
//! - a page already read is never read again (a pagination loop is an error).
//!
//! Listings come back sorted ([`super::TagListing::sorted`]).

use super::Result;
use super::api::Api;
use reqwest::Response;
use reqwest::header::LINK;
use std::collections::HashSet;

/// The pages of one listing.
pub(crate) struct Pages<'a> {
    api: &'a Api,
    op: &'static str,
    target: &'a str,
    base: &'a url::Url,
    /// What is listed, for errors ("the tags").
    what: &'a str,
    next: Option<String>,
    number: usize,
    seen: HashSet<String>,
}

impl<'a> Pages<'a> {
    /// A listing whose first page is `first`: its URL, or its cursor (empty when the first
    /// page is asked for without one).
    pub fn new(
        api: &'a Api,
        op: &'static str,
        target: &'a str,
        base: &'a url::Url,
        what: &'a str,
        first: String,
    ) -> Self {
        let seen = HashSet::from([first.clone()]);
        Pages { api, op, target, base, what, next: Some(first), number: 0, seen }
    }

    /// The next page to read, `None` after the last.
    pub fn next_page(&mut self) -> Option<String> {
        let next = self.next.take()?;
        self.number += 1;
        Some(next)
    }

    /// The number of the page last handed out (1 for the first).
    pub fn number(&self) -> usize {
        self.number
    }

    /// The page last handed out answered 404: `Ok` on the first page (nothing to list; the
    /// caller ends the listing empty), an error on any later one.
    pub fn not_found(&self) -> Result<()> {
        if self.number <= 1 {
            return Ok(());
        }
        Err(self.api.protocol(
            self.op,
            self.target,
            format!(
                "page {} of {} answered 404 after earlier pages were read; the listing is incomplete, so nothing is decided on it\n  hint: run the command again",
                self.number, self.what
            ),
        ))
    }

    /// Continues at the URL `next` (`None` or empty: that was the last page); refused when
    /// it leaves the API's origin or comes back to a page already read.
    pub fn follow(&mut self, next: Option<String>) -> Result<()> {
        let Some(next) = next.filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        // A relative link (ACR sends `</acr/v1/…>`) resolves against the API's base.
        let next = self.base.join(&next).map(String::from).unwrap_or(next);
        if !super::api::same_origin(self.base, &next) {
            return Err(self.api.protocol(self.op, self.target, format!("pagination points at another host: {next}")));
        }
        self.visit(next)
    }

    /// Continues with the cursor `next` (a page token or number; `None` or empty: that was
    /// the last page); refused when it comes back to a page already read.
    pub fn follow_cursor(&mut self, next: Option<String>) -> Result<()> {
        match next.filter(|n| !n.is_empty()) {
            Some(next) => self.visit(next),
            None => Ok(()),
        }
    }

    fn visit(&mut self, next: String) -> Result<()> {
        if !self.seen.insert(next.clone()) {
            return Err(self.api.protocol(self.op, self.target, format!("pagination loops back to {next}")));
        }
        self.next = Some(next);
        Ok(())
    }
}

/// The `Link: rel="next"` target of a response, if any.
pub(crate) fn link(resp: &Response) -> Option<String> {
    resp.headers().get_all(LINK).iter().filter_map(|v| v.to_str().ok()).find_map(crate::registry::next_link)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api::new(&super::super::DRIVERS[0], &crate::registry::ClientOptions::default()).unwrap()
    }

    #[test]
    fn links_stay_on_the_origin_and_never_loop() {
        let (api, base) = (api(), url::Url::parse("https://api.example.com/v2/").unwrap());
        let mut pages =
            Pages::new(&api, "list tags", "r", &base, "the tags", "https://api.example.com/v2/a?page=1".into());
        assert_eq!(pages.next_page().as_deref(), Some("https://api.example.com/v2/a?page=1"));
        pages.not_found().unwrap();
        pages.follow(Some("/v2/a?page=2".into())).unwrap();
        assert_eq!(pages.next_page().as_deref(), Some("https://api.example.com/v2/a?page=2"));
        assert_eq!(pages.number(), 2);
        assert!(pages.not_found().unwrap_err().to_string().contains("page 2 of the tags answered 404"));
        assert!(
            pages
                .follow(Some("https://api.example.com/v2/a?page=1".into()))
                .unwrap_err()
                .to_string()
                .contains("loops back")
        );
        assert!(
            pages
                .follow(Some("https://elsewhere.example.com/v2/a?page=3".into()))
                .unwrap_err()
                .to_string()
                .contains("another host")
        );
        pages.follow(None).unwrap();
        assert_eq!(pages.next_page(), None);
    }

    #[test]
    fn cursors_never_loop() {
        let (api, base) = (api(), url::Url::parse("https://api.example.com").unwrap());
        let mut pages = Pages::new(&api, "list tags", "r", &base, "the tags", String::new());
        assert_eq!(pages.next_page().as_deref(), Some(""));
        pages.follow_cursor(Some("t1".into())).unwrap();
        assert_eq!(pages.next_page().as_deref(), Some("t1"));
        assert!(pages.follow_cursor(Some("t1".into())).unwrap_err().to_string().contains("loops back to t1"));
        pages.follow_cursor(Some(String::new())).unwrap();
        assert_eq!(pages.next_page(), None);
    }
}
