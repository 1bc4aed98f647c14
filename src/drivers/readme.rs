//! The README support matrix, generated from [`DRIVERS`](super::DRIVERS).
//!
//! README.md holds the table between `<!-- drivers:start -->` and `<!-- drivers:end -->`; a
//! test regenerates it and fails on any difference. To update README after changing the table:
//! `cargo test --lib drivers::readme -- --ignored regenerate`.

use super::{DRIVERS, Nesting};

pub const START: &str = "<!-- drivers:start -->";
pub const END: &str = "<!-- drivers:end -->";

/// The markdown table (without the markers).
pub fn support_matrix() -> String {
    let mut out = String::from(
        "| `--implementation` | registry | detected hosts | untag | nested names | repositories | the credential needs | flags (variables) |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for d in DRIVERS {
        let c = &d.capabilities;
        let untag = c.untag.describe();
        let nesting = match c.nesting {
            Nesting::Any => "yes",
            Nesting::AccountRepository => "no (`account/repo`)",
        };
        let created = match (c.create_before_push, c.create_repository) {
            (true, true) => "must exist before push; created with `--create-repositories`",
            (false, true) => "can be created",
            (true, false) => "must exist before push",
            (false, false) => "created on push",
        };
        let repos = if c.delete_repository {
            format!("{created}; deleted as a whole by `cleanup --purge`")
        } else {
            created.to_string()
        };
        let flags: Vec<String> = d
            .settings
            .iter()
            .map(|s| match s.env {
                Some(var) => format!("`--{}` (`{var}`)", s.name),
                None => format!("`--{}`", s.name),
            })
            .collect();
        let flags = if flags.is_empty() { "—".to_string() } else { flags.join(", ") };
        out.push_str(&format!(
            "| `{}` | [{}]({}) | {} | {untag} | {nesting} | {repos} | {} | {flags} |\n",
            d.name,
            d.title,
            d.docs,
            d.hosts,
            d.needs.replace('|', "\\|")
        ));
    }
    out
}

/// `readme` with the section between the markers replaced; `None` when a marker is missing.
pub fn replace_section(readme: &str, section: &str) -> Option<String> {
    let start = readme.find(START)? + START.len();
    let end = start + readme[start..].find(END)?;
    Some(format!("{}\n{}{}", &readme[..start], section, &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readme_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")
    }

    #[test]
    fn readme_matrix_is_up_to_date() {
        let readme = std::fs::read_to_string(readme_path()).expect("README.md");
        let expected = replace_section(&readme, &support_matrix()).expect("README.md has the drivers markers");
        assert!(
            readme == expected,
            "README's driver matrix is stale; run `cargo test --lib drivers::readme -- --ignored regenerate`.\nExpected:\n{}",
            support_matrix()
        );
    }

    #[test]
    #[ignore = "writes README.md"]
    fn regenerate() {
        let readme = std::fs::read_to_string(readme_path()).expect("README.md");
        let updated = replace_section(&readme, &support_matrix()).expect("README.md has the drivers markers");
        std::fs::write(readme_path(), updated).expect("write README.md");
    }

    #[test]
    fn every_driver_has_a_row() {
        let m = support_matrix();
        for d in DRIVERS {
            assert!(m.contains(&format!("| `{}` |", d.name)), "{}", d.name);
        }
        assert_eq!(
            replace_section("a\n<!-- drivers:start -->\nold\n<!-- drivers:end -->\nb", "new\n").unwrap(),
            "a\n<!-- drivers:start -->\nnew\n<!-- drivers:end -->\nb"
        );
        assert_eq!(replace_section("no markers", "x"), None);
    }
}
