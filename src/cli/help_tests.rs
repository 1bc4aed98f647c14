//! The help of every command is grouped the same way: every flag sits under one of the known
//! headings, the headings come in one order everywhere, and a flag several commands share has
//! the same short form, value name, variable and heading in each (same name, same meaning).

use super::Cli;
use clap::{Command, CommandFactory};

/// Every heading, in the order a command's help shows them: what the command works on first,
/// then what it does, then how it reaches registries, then locks and output.
const HEADINGS: &[&str] = &[
    "Project",
    "Artifacts",
    "Tags",
    "Annotations",
    "Build",
    "Push",
    "Pull",
    "Policies",
    "Cleanup",
    "Serve",
    "Registry & credentials",
    "Locks",
    "Output",
];

/// Flags that sit with their command's own action flags (`push --dry-run` under Push,
/// `cleanup --dry-run` under Cleanup, `pull --force` under Pull), so their heading differs
/// by command; and selections (`--platform`, `--artifact-type`) that sit with what they
/// select in each command.
const ACTION_FLAGS: &[&str] = &["dry-run", "force", "platform", "artifact-type"];

/// Flags one command gives its own meaning, as the tool users know it from does: `push
/// --config FILE[:MEDIATYPE]` is oras's artifact config, not the project file; `static push
/// -t NAME:VERSION` and `static gc --keep N` are alba's.
const OWN_MEANING: &[(&str, &str)] = &[("push", "config"), ("static push", "tag"), ("static gc", "keep")];

/// Every command and subcommand with its path (`tags rm`).
fn all_commands() -> Vec<(String, Command)> {
    fn walk(cmd: &Command, path: &str, out: &mut Vec<(String, Command)>) {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let p = format!("{path} {}", sub.get_name()).trim().to_string();
            out.push((p.clone(), sub.clone()));
            walk(sub, &p, out);
        }
    }
    let mut root = Cli::command();
    root.build();
    let mut out = vec![("wharf".to_string(), root.clone())];
    walk(&root, "", &mut out);
    out
}

/// The flags a person reads in the help: named, not hidden, not `--help`/`--version`.
fn flags(cmd: &Command) -> impl Iterator<Item = &clap::Arg> {
    cmd.get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
}

#[test]
fn every_flag_sits_under_a_known_heading_and_headings_come_in_one_order() {
    let mut problems = Vec::new();
    for (path, cmd) in all_commands() {
        let mut order: Vec<usize> = Vec::new();
        for arg in flags(&cmd) {
            let name = arg.get_long().unwrap_or(arg.get_id().as_str());
            match arg.get_help_heading().and_then(|h| HEADINGS.iter().position(|k| *k == h)) {
                Some(k) if !order.contains(&k) => order.push(k),
                Some(_) => {}
                None => problems
                    .push(format!("{path}: --{name} is under {:?}, not a known heading", arg.get_help_heading())),
            }
        }
        if !order.is_sorted() {
            let shown: Vec<&str> = order.iter().map(|&k| HEADINGS[k]).collect();
            problems.push(format!("{path}: headings in the order {shown:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_flag_means_the_same_in_every_command() {
    type Seen = (Option<char>, Vec<String>, Option<String>, Option<String>, String);
    let mut seen: std::collections::HashMap<String, Seen> = Default::default();
    let mut problems = Vec::new();
    for (path, cmd) in all_commands() {
        for arg in flags(&cmd) {
            let Some(long) = arg.get_long() else { continue };
            if OWN_MEANING.contains(&(path.as_str(), long)) {
                continue;
            }
            let heading =
                (!ACTION_FLAGS.contains(&long)).then(|| arg.get_help_heading().unwrap_or_default().to_string());
            let values = arg.get_value_names().unwrap_or_default().iter().map(|v| v.to_string()).collect();
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let this: Seen = (arg.get_short(), values, env, heading, path.clone());
            match seen.get(long) {
                Some(first) if first.0 != this.0 || first.1 != this.1 || first.2 != this.2 || first.3 != this.3 => {
                    problems.push(format!(
                        "--{long}: {:?} in `{}`, {:?} in `{path}`",
                        (first.0, &first.1, &first.2, &first.3),
                        first.4,
                        (this.0, &this.1, &this.2, &this.3)
                    ))
                }
                Some(_) => {}
                None => {
                    seen.insert(long.to_string(), this);
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
