//! Shell completions and man pages, generated from the command line: bash and fish complete
//! commands, flags and flag values through the scripts wharf prints (bash by calling the
//! function the script registers, fish with its own `complete -C`), zsh parses its script, and
//! every man page renders with groff (UTF-8 input, as man-db runs it) without a warning.

use crate::support::wharf::{run, wharf};
use std::process::Command;

/// A file holding `wharf completion SHELL`.
fn script(shell: &str) -> tempfile::NamedTempFile {
    let out = run(wharf(&["completion", shell])).ok();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), out.output.stdout).unwrap();
    file
}

/// What bash's completion offers for the words of `line` (the last one being completed).
fn bash_complete(script: &std::path::Path, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         _wharf wharf '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash").args(["--norc", "-c", &program]).output().expect("bash");
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

#[test]
fn bash_completes_commands_flags_and_values() {
    let file = script("bash");
    assert_eq!(bash_complete(file.path(), "wharf bui"), ["build-and-publish", "build"]);
    assert_eq!(bash_complete(file.path(), "wharf build-"), ["build-and-publish"]);
    assert_eq!(bash_complete(file.path(), "wharf lo"), ["login", "logout"]);
    assert_eq!(bash_complete(file.path(), "wharf tags rm --dry"), ["--dry-run"]);
    assert_eq!(bash_complete(file.path(), "wharf build-and-publish --tag-se"), ["--tag-semver"]);
    assert_eq!(bash_complete(file.path(), "wharf build-and-publish --repo-mode "), ["auto", "monorepo", "multirepo"]);
    assert_eq!(bash_complete(file.path(), "wharf completion p"), ["powershell"]);
    let shells = bash_complete(file.path(), "wharf completion ");
    assert!(
        ["bash", "elvish", "fish", "powershell", "zsh"].iter().all(|s| shells.contains(&s.to_string())),
        "{shells:?}"
    );
}

#[test]
fn fish_completes_commands_and_flags_and_zsh_and_powershell_scripts_are_whole() {
    let fish = script("fish");
    let complete = |line: &str| {
        let program = format!("source '{}'; complete -C '{line}'", fish.path().display());
        let out =
            Command::new("fish").args(["--no-config", "-c", &program]).output().expect("fish (apt-get install fish)");
        assert!(out.status.success(), "fish: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(complete("wharf bui"), ["build", "build-and-publish"]);
    assert_eq!(complete("wharf build-"), ["build-and-publish"]);
    assert!(complete("wharf login --pass").contains(&"--password-stdin".to_string()));

    let zsh = script("zsh");
    let text = std::fs::read_to_string(zsh.path()).unwrap();
    assert!(text.starts_with("#compdef wharf"), "{}", &text[..80]);
    let out =
        Command::new("zsh").args(["-n", &zsh.path().to_string_lossy()]).output().expect("zsh (apt-get install zsh)");
    assert!(out.status.success(), "zsh -n: {}", String::from_utf8_lossy(&out.stderr));

    // No PowerShell on the machine: the script registers the completer and knows every command.
    let ps = std::fs::read_to_string(script("powershell").path()).unwrap();
    assert!(ps.contains("Register-ArgumentCompleter -Native -CommandName 'wharf'"));
    for command in ["build-and-publish", "push", "login", "logout", "cleanup", "completion", "man"] {
        assert!(ps.contains(&format!("'{command}'")), "powershell script lacks {command}");
    }
}

#[test]
fn a_man_page_per_command_renders_without_warnings() {
    let top = run(wharf(&["man"])).ok().stdout();
    assert!(top.starts_with(".ie \\n(.g .ds Aq") || top.contains(".TH wharf 1"), "{}", &top[..200.min(top.len())]);
    let dir = tempfile::tempdir().unwrap();
    run(wharf(&["man", "--out-dir", &dir.path().to_string_lossy()])).ok();
    let pages: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    for page in ["wharf.1", "wharf-build-and-publish.1", "wharf-login.1", "wharf-tags-rm.1", "wharf-cleanup-restore.1"]
    {
        assert!(pages.contains(&page.to_string()), "{page} missing from {pages:?}");
    }
    for page in &pages {
        let out = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(dir.path().join(page))
            .output()
            .expect("groff");
        assert!(out.status.success() && out.stderr.is_empty(), "{page}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let shown = Command::new("man")
        .env("MANWIDTH", "100")
        .arg("-l")
        .arg(dir.path().join("wharf-build-and-publish.1"))
        .output()
        .expect("man");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("--tag-semver") && text.contains("--repo"), "{text}");
}
