//! The README's test command is what CI runs, and it installs what the tests run: every
//! program a test starts by name is either part of a minimal Debian system or installed by
//! `scripts/test` when missing (issue 15: `cargo test` alone failed on a fresh machine).

use std::path::Path;

fn read(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Programs every Debian system has (coreutils, mount). Signals are sent with kill(2)
/// (`support::send_signal`), not by running a program.
const BASE_SYSTEM: [&str; 3] = ["mkfifo", "mount", "umount"];

#[test]
fn the_readme_test_command_is_what_ci_runs_and_it_installs_what_tests_need() {
    let readme = read("README.md");
    let quick_start = readme
        .split("## Quick start")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has a Quick start section");
    assert!(
        quick_start
            .lines()
            .any(|l| l.trim_start().starts_with("scripts/test")),
        "the quick start's test command is scripts/test:\n{quick_start}"
    );
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == "scripts/test"),
        ".ci/run runs exactly the README's test command"
    );

    let script = read("scripts/test");
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut programs = Vec::new();
    let mut stack = vec![tests_dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split("Command::new(\"").skip(1) {
                    if let Some((name, _)) = piece.split_once('"') {
                        programs.push(name.to_string());
                    }
                }
            }
        }
    }
    assert!(
        programs.iter().any(|p| p == "aria2c"),
        "the scan found the tests' programs"
    );
    for program in programs {
        if BASE_SYSTEM.contains(&program.as_str()) {
            continue;
        }
        assert!(
            script.contains(&format!("[{program}]=")),
            "tests run `{program}`, which scripts/test does not install when missing"
        );
    }
}
