//! Broken inputs, end to end: every way MirrorManager's four files can be wrong (a cache that
//! is truncated or not protobuf, netblocks and CSV files with blank, single-field, garbage or
//! non-UTF-8 lines, a GeoIP file that is missing or not an mmdb), run through `build` and
//! through `serve` on the production flags (`-c -g --cccsv --geoip`). Each case asserts what
//! README.md's table says: an error naming the file (and the line), or the line skipped with a
//! counted warning; and `serve` does the same as `build`.
//!
//! Then the bundle is shown to be replaced atomically (a build that fails, for bad input or a
//! failed write, leaves the previous bundle byte for byte and no temporary file), and a
//! serving process that is sent SIGHUP after a broken file arrives keeps serving its old
//! snapshot (same `x-mirrorlist-generation`, same answer).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use prost::Message;

use mirrorlist::inputs::mm_cache;

use crate::support::{
    data_copy, mm_small, replace_atomically, send_signal, try_wait_for, without_mirrorlist_env,
    Server, BIN, LIMIT,
};

const CACHE: &str = "mirrorlist_cache.proto";
const NETBLOCKS: &str = "global_netblocks.txt";
const CSV: &str = "country_continent.csv";
const GEOIP: &str = "GeoIP2-Country-Test.mmdb";
const REQUEST: &str = "/mirrorlist?repo=fedora-41&arch=x86_64";

/// A copy of mm-small's four files in a temporary directory, to break one at a time.
struct Inputs {
    dir: tempfile::TempDir,
}

impl Inputs {
    fn new() -> Inputs {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in [CACHE, NETBLOCKS, CSV, GEOIP] {
            std::fs::copy(mm_small(name), dir.path().join(name)).expect("copy mm-small");
        }
        Inputs { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        // Written beside and renamed, as a generator would, so a server never reads half.
        replace_atomically(&self.path(name), bytes);
    }

    fn restore(&self, name: &str) {
        self.write(name, &std::fs::read(mm_small(name)).unwrap());
    }

    /// `build` flags for these files.
    fn build_args(&self) -> Vec<String> {
        let p = |n: &str| self.path(n).display().to_string();
        vec![
            "--mm-cache".into(),
            p(CACHE),
            "--global-netblocks".into(),
            p(NETBLOCKS),
            "--cccsv".into(),
            p(CSV),
            "--geoip".into(),
            p(GEOIP),
        ]
    }

    /// `serve` flags for these files: MirrorManager's own.
    fn serve_args(&self) -> Vec<String> {
        let p = |n: &str| self.path(n).display().to_string();
        vec![
            "-c".into(),
            p(CACHE),
            "-g".into(),
            p(NETBLOCKS),
            "--cccsv".into(),
            p(CSV),
            "--geoip".into(),
            p(GEOIP),
        ]
    }
}

/// What a finished command did.
struct Ran {
    status: ExitStatus,
    stderr: String,
}

/// Runs `cmd` to its end, killing it after a generous limit (a `serve` that unexpectedly
/// starts would otherwise run forever).
fn run_bounded(mut cmd: Command) -> Ran {
    let child = without_mirrorlist_env(&mut cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mirrorlist");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(LIMIT) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            // `pid` is our child, still running (it has not been waited for).
            send_signal(pid, libc::SIGKILL);
            panic!("mirrorlist did not exit within {LIMIT:?}");
        }
    };
    Ran {
        status: output.status,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn build(inputs: &Inputs, out: &Path) -> Ran {
    let mut cmd = Command::new(BIN);
    cmd.arg("build")
        .arg("-o")
        .arg(out)
        .args(inputs.build_args());
    run_bounded(cmd)
}

/// `serve` on the production flags, expected to refuse to start.
fn serve_refused(inputs: &Inputs) -> Ran {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .args(inputs.serve_args())
        .args(["--port", "0", "--admin-listen", "none"]);
    run_bounded(cmd)
}

/// What README.md's table promises for a case.
#[derive(Debug)]
enum Expect {
    /// The build fails; the message names `file` and contains `what` (and `at`, a line).
    Error {
        file: &'static str,
        what: &'static str,
        at: Option<&'static str>,
    },
    /// The build succeeds, skipping `count` lines or keys, each warning naming `file` (for
    /// the line-based files; a cache warning names the key instead), and containing each of
    /// `lines`.
    Skipped {
        file: &'static str,
        count: usize,
        lines: &'static [&'static str],
    },
}

/// One broken input: which file, and its new bytes made from the good ones.
struct Case {
    name: &'static str,
    file: &'static str,
    /// `None`: the file is deleted.
    bytes: Option<Vec<u8>>,
    expect: Expect,
}

fn good(name: &str) -> Vec<u8> {
    std::fs::read(mm_small(name)).unwrap()
}

/// mm-small's cache with its last `n` directories cut off, re-encoded: byte for byte a prefix
/// of the original (field 16 is written last), that is, a truncation that falls exactly
/// between two directory entries.
fn cache_cut_between_directories(n: usize) -> Vec<u8> {
    let bytes = good(CACHE);
    let mut list = mm_cache::decode(Path::new(CACHE), bytes.clone()).unwrap();
    let keep = list.mirror_list_cache.len().saturating_sub(n);
    list.mirror_list_cache.truncate(keep);
    let cut = list.encode_to_vec();
    assert!(bytes.starts_with(&cut), "not a prefix of the original");
    cut
}

fn cases() -> Vec<Case> {
    let cache = good(CACHE);
    let netblocks = String::from_utf8(good(NETBLOCKS)).unwrap();
    let csv = String::from_utf8(good(CSV)).unwrap();
    let mmdb = good(GEOIP);
    let cache_error = |what| Expect::Error {
        file: CACHE,
        what,
        at: None,
    };
    vec![
        Case {
            name: "cache truncated mid-field",
            file: CACHE,
            bytes: Some(cache[..cache.len() / 2].to_vec()),
            expect: cache_error("not a valid MirrorManager cache"),
        },
        Case {
            name: "cache missing its last byte",
            file: CACHE,
            bytes: Some(cache[..cache.len() - 1].to_vec()),
            expect: cache_error("not a valid MirrorManager cache"),
        },
        Case {
            name: "cache empty",
            file: CACHE,
            bytes: Some(Vec::new()),
            expect: cache_error("not a valid MirrorManager cache"),
        },
        Case {
            name: "cache cut before its directory list",
            file: CACHE,
            bytes: Some(cache_cut_between_directories(usize::MAX)),
            expect: cache_error("MirrorListCache is empty"),
        },
        Case {
            name: "cache cut between two directories",
            file: CACHE,
            bytes: Some(cache_cut_between_directories(3)),
            // Protobuf has no framing: this is a valid cache with three directories fewer.
            // The repo/arch pair and the file details that named them are skipped with
            // warnings naming their keys.
            expect: Expect::Skipped {
                file: CACHE,
                count: 2,
                lines: &[
                    "repo/arch \"updates-testing-f41+x86_64\": directory",
                    "file details for directory",
                ],
            },
        },
        Case {
            name: "cache of text",
            file: CACHE,
            bytes: Some(b"this is not a protobuf file\n".to_vec()),
            expect: cache_error("not a valid MirrorManager cache"),
        },
        Case {
            name: "cache of random bytes",
            file: CACHE,
            bytes: Some(
                (0..4096u32)
                    .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                    .collect(),
            ),
            expect: cache_error("not a valid MirrorManager cache"),
        },
        Case {
            name: "cache missing",
            file: CACHE,
            bytes: None,
            expect: cache_error("cannot read"),
        },
        Case {
            name: "netblocks with blank, single-field and garbage lines",
            file: NETBLOCKS,
            bytes: Some(
                format!(
                    "\n   \n# a comment\n{netblocks}just-one-field\n10.0.0.0/8\n@@@ ###\n\
                     89.160.20.112/124 131313\n1.2.3.0/24 notanumber\n0.0.0.0/0 1\n\n"
                )
                .into_bytes(),
            ),
            // Blank lines and comments are not problems; the six others are.
            expect: Expect::Skipped {
                file: NETBLOCKS,
                count: 6,
                lines: &[
                    "line 20: expected `PREFIX/LEN ASN`",
                    "line 21: expected `PREFIX/LEN ASN`",
                    "line 22: invalid prefix \"@@@\"",
                    "line 23: invalid prefix \"89.160.20.112/124\"",
                    "line 24: invalid ASN \"notanumber\"",
                    "line 25: invalid prefix \"0.0.0.0/0\"",
                ],
            },
        },
        Case {
            name: "netblocks with no usable line",
            file: NETBLOCKS,
            bytes: Some(b"\nhello\nworld 12\n".to_vec()),
            expect: Expect::Error {
                file: NETBLOCKS,
                what: "no usable `PREFIX/LEN ASN` line",
                at: None,
            },
        },
        Case {
            name: "netblocks with a byte that is not UTF-8",
            file: NETBLOCKS,
            bytes: Some([netblocks.as_bytes(), b"10.1.0.0/16 64\xff\n"].concat()),
            expect: Expect::Error {
                file: NETBLOCKS,
                what: "not UTF-8 text",
                at: Some("line 17"),
            },
        },
        Case {
            name: "netblocks missing",
            file: NETBLOCKS,
            bytes: None,
            expect: Expect::Error {
                file: NETBLOCKS,
                what: "cannot read",
                at: None,
            },
        },
        Case {
            name: "CSV with malformed lines",
            file: CSV,
            bytes: Some(
                format!("{csv}no-comma-here\nDE,EUROPE\nGermany,EU\n,\nSE,EU,extra\n\n")
                    .into_bytes(),
            ),
            expect: Expect::Skipped {
                file: CSV,
                count: 5,
                lines: &[
                    "line 254: expected `COUNTRY,CONTINENT`",
                    "line 255: invalid continent \"EUROPE\"",
                    "line 256: invalid country \"Germany\"",
                    "line 257: invalid country \"\"",
                    "line 258: invalid continent \"EU,extra\"",
                ],
            },
        },
        Case {
            name: "CSV with no usable line",
            file: CSV,
            bytes: Some(b"\"iso 3166 country\",\"continent code\"\n".to_vec()),
            expect: Expect::Error {
                file: CSV,
                what: "no usable `COUNTRY,CONTINENT` line",
                at: None,
            },
        },
        Case {
            name: "CSV that is not UTF-8",
            file: CSV,
            bytes: Some(b"\"iso 3166 country\",\"continent code\"\nDE,EU\nSE,\xff\xfe\n".to_vec()),
            expect: Expect::Error {
                file: CSV,
                what: "not UTF-8 text",
                at: Some("line 3"),
            },
        },
        Case {
            name: "GeoIP missing",
            file: GEOIP,
            bytes: None,
            expect: Expect::Error {
                file: GEOIP,
                what: "cannot read",
                at: None,
            },
        },
        Case {
            name: "GeoIP that is a CSV",
            file: GEOIP,
            bytes: Some(csv.clone().into_bytes()),
            expect: Expect::Error {
                file: GEOIP,
                what: "not a MaxMind DB",
                at: None,
            },
        },
        Case {
            name: "GeoIP truncated",
            file: GEOIP,
            bytes: Some(mmdb[..mmdb.len() / 2].to_vec()),
            expect: Expect::Error {
                file: GEOIP,
                what: "not a MaxMind DB",
                at: None,
            },
        },
    ]
}

fn apply(inputs: &Inputs, case: &Case) {
    match &case.bytes {
        Some(bytes) => inputs.write(case.file, bytes),
        None => std::fs::remove_file(inputs.path(case.file)).unwrap(),
    }
}

/// Names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn check_error_message(case: &Case, inputs: &Inputs, stderr: &str, who: &str) {
    let Expect::Error { file, what, at } = &case.expect else {
        unreachable!()
    };
    let path = inputs.path(file).display().to_string();
    let line = stderr
        .lines()
        .find(|l| l.contains(&path) && l.contains(what))
        .unwrap_or_else(|| {
            panic!(
                "{}: {who}: no error naming {path} and {what:?}:\n{stderr}",
                case.name
            )
        });
    if let Some(at) = at {
        assert!(
            line.contains(at),
            "{}: {who}: {line:?} does not say {at:?}",
            case.name
        );
    }
}

#[test]
fn build_and_serve_agree_on_every_broken_input() {
    // A good bundle where every build writes: a failed build must leave it as it was.
    let inputs = Inputs::new();
    let out_dir = tempfile::tempdir().unwrap();
    let bundle = out_dir.path().join("mirrors.bundle");
    let first = build(&inputs, &bundle);
    assert!(
        first.status.success(),
        "the good inputs do not build:\n{}",
        first.stderr
    );
    let good_bundle = std::fs::read(&bundle).unwrap();

    for case in cases() {
        let inputs = Inputs::new();
        apply(&inputs, &case);
        let built = build(&inputs, &bundle);
        match &case.expect {
            Expect::Error { .. } => {
                assert!(
                    !built.status.success(),
                    "{}: build succeeded:\n{}",
                    case.name,
                    built.stderr
                );
                check_error_message(&case, &inputs, &built.stderr, "build");
                assert_eq!(
                    std::fs::read(&bundle).unwrap(),
                    good_bundle,
                    "{}: the failed build changed the bundle",
                    case.name
                );
                assert_eq!(
                    listing(out_dir.path()),
                    ["mirrors.bundle"],
                    "{}: leftovers",
                    case.name
                );

                let served = serve_refused(&inputs);
                assert!(
                    !served.status.success(),
                    "{}: serve started:\n{}",
                    case.name,
                    served.stderr
                );
                check_error_message(&case, &inputs, &served.stderr, "serve");
            }
            Expect::Skipped { file, count, lines } => {
                assert!(
                    built.status.success(),
                    "{}: build failed:\n{}",
                    case.name,
                    built.stderr
                );
                let path = inputs.path(file).display().to_string();
                let warnings: Vec<&str> = built
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("warning: "))
                    .collect();
                assert_eq!(
                    warnings.len(),
                    *count,
                    "{}: warnings:\n{}",
                    case.name,
                    built.stderr
                );
                assert!(
                    built
                        .stderr
                        .contains(&format!("{count} input lines or keys skipped")),
                    "{}: no count:\n{}",
                    case.name,
                    built.stderr
                );
                for w in warnings.iter().filter(|_| *file != CACHE) {
                    assert!(
                        w.contains(&path),
                        "{}: {w:?} does not name {path}",
                        case.name
                    );
                }
                for want in *lines {
                    assert!(
                        warnings.iter().any(|w| w.contains(want)),
                        "{}: no warning with {want:?}:\n{}",
                        case.name,
                        built.stderr
                    );
                }
                // The bundle was replaced by the new build; put the good one back.
                std::fs::write(&bundle, &good_bundle).unwrap();

                // `serve` on the same files starts, says how many it skipped, and answers.
                let server = Server::start(&inputs.serve_args());
                let r = server.get(REQUEST);
                assert_eq!(r.status, 200, "{}: {}", case.name, r.text());
                let log = strip_ansi(&server.stderr());
                assert!(
                    log.contains("input lines skipped") && log.contains(&format!("count={count}")),
                    "{}: serve did not report {count} skipped:\n{log}",
                    case.name
                );
            }
        }
    }
}

/// Lets a `build` child write at most `bytes` to any file: beyond, `write` fails with EFBIG
/// (SIGXFSZ ignored), as it would on a full disk.
fn limit_file_size(cmd: &mut Command, bytes: u64) {
    // SAFETY: setrlimit and signal are async-signal-safe; nothing else runs before exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_failed_write_never_leaves_a_partial_bundle() {
    let inputs = Inputs::new();
    let out_dir = tempfile::tempdir().unwrap();
    let bundle = out_dir.path().join("mirrors.bundle");
    assert!(build(&inputs, &bundle).status.success());
    let good_bundle = std::fs::read(&bundle).unwrap();

    // The disk "fills up" 8 KiB into the new bundle (RLIMIT_FSIZE: works unprivileged; the
    // tests run as root, so a read-only directory would not stop them).
    let mut cmd = Command::new(BIN);
    cmd.arg("build")
        .arg("-o")
        .arg(&bundle)
        .args(inputs.build_args());
    limit_file_size(&mut cmd, 8 * 1024);
    let ran = run_bounded(cmd);
    assert!(
        !ran.status.success(),
        "the build did not notice the failed write:\n{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains(&bundle.display().to_string()) && ran.stderr.contains("cannot write"),
        "{}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read(&bundle).unwrap(),
        good_bundle,
        "partial bundle in place"
    );
    assert_eq!(
        listing(out_dir.path()),
        ["mirrors.bundle"],
        "temporary file left behind"
    );

    // A target whose parent is a file: refused, naming the path.
    let file = out_dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let ran = build(&inputs, &file.join("mirrors.bundle"));
    assert!(!ran.status.success());
    assert!(
        ran.stderr.contains(&file.display().to_string()),
        "{}",
        ran.stderr
    );

    // A really full filesystem, where this machine lets us mount one (root with the
    // capability; skipped elsewhere): a 64 KiB tmpfs holding the good bundle has no room
    // for a second copy.
    match SmallTmpfs::mount(64 * 1024) {
        None => eprintln!("cannot mount a tmpfs here: the full-filesystem case is skipped"),
        Some(fs) => {
            let target = fs.path().join("mirrors.bundle");
            std::fs::write(&target, &good_bundle).unwrap();
            let ran = build(&inputs, &target);
            assert!(
                !ran.status.success(),
                "the build fit in a full tmpfs?\n{}",
                ran.stderr
            );
            assert!(ran.stderr.contains("cannot write"), "{}", ran.stderr);
            assert_eq!(std::fs::read(&target).unwrap(), good_bundle);
            assert_eq!(listing(fs.path()), ["mirrors.bundle"]);
        }
    }
}

/// A tmpfs of a given size, unmounted when dropped.
struct SmallTmpfs {
    dir: tempfile::TempDir,
}

impl SmallTmpfs {
    fn mount(bytes: usize) -> Option<SmallTmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(dir.path())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(SmallTmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

fn reloads(server: &Server, result: &str) -> u64 {
    server.metric(&format!("mirrorlist_reloads_total{{result=\"{result}\"}}"))
}

/// The log without terminal colour codes (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn sighup_and_wait(server: &Server, result: &str) {
    let before = reloads(server, result);
    send_signal(server.pid(), libc::SIGHUP);
    let reloaded = try_wait_for(LIMIT, || (reloads(server, result) != before).then_some(()));
    assert!(
        reloaded.is_some(),
        "no {result} reload within {LIMIT:?}; stderr:\n{}",
        server.stderr()
    );
}

#[test]
fn a_broken_input_arriving_by_reload_keeps_the_old_snapshot() {
    let inputs = Inputs::new();
    let server = Server::start(&inputs.serve_args());
    let before = server.get(REQUEST);
    assert_eq!(before.status, 200);
    let generation = before
        .header("x-mirrorlist-generation")
        .expect("generation header")
        .to_string();

    for case in cases() {
        if matches!(case.expect, Expect::Skipped { .. }) {
            continue;
        }
        apply(&inputs, &case);
        sighup_and_wait(&server, "failed");
        let r = server.get(REQUEST);
        assert_eq!(r.status, 200, "{}: {}", case.name, r.text());
        assert_eq!(
            r.header("x-mirrorlist-generation"),
            Some(generation.as_str()),
            "{}: the snapshot changed",
            case.name
        );
        assert_eq!(r.sorted_lines(), before.sorted_lines(), "{}", case.name);
        assert!(
            server
                .stderr()
                .contains(&inputs.path(case.file).display().to_string()),
            "{}: the log does not name the file",
            case.name
        );
        inputs.restore(case.file);
    }

    // The same files, good again: the reload goes through (new sequence, same data), which
    // shows the refusals above were refusals and not reloads that never ran.
    sighup_and_wait(&server, "ok");
    let r = server.get(REQUEST);
    assert_eq!(r.status, 200);
    let now = r.header("x-mirrorlist-generation").unwrap();
    assert_ne!(now, generation, "a good reload did not install");
    assert_eq!(r.sorted_lines(), before.sorted_lines());
}

/// A base URL that could not stand in a `Location` header (here a space) is skipped when the
/// data is compiled, with a warning naming the host and the URL; the host's other URLs are
/// served, and every redirect carries a `Location` (before: a 302 without one).
#[test]
fn a_base_url_that_cannot_be_a_location_is_skipped_with_a_warning() {
    let dir = data_copy();
    let toml = dir.path().join("mirrors.toml");
    let good = "\"https://mirrors.us-east.example.org/fedora/linux\"";
    let bad = "\"https://mirrors.us-east.example.org/fedora linux\"";
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(text.contains(good), "the sample changed; pick another URL");
    std::fs::write(&toml, text.replacen(good, bad, 1)).unwrap();

    let bundle = dir.path().join("out.bundle");
    let mut cmd = Command::new(BIN);
    cmd.arg("build")
        .arg("-o")
        .arg(&bundle)
        .arg("--source")
        .arg(dir.path());
    let ran = run_bounded(cmd);
    assert!(ran.status.success(), "{}", ran.stderr);
    let warning = ran
        .stderr
        .lines()
        .find(|l| l.contains("https://mirrors.us-east.example.org/fedora linux"))
        .unwrap_or_else(|| panic!("no warning names the URL:\n{}", ran.stderr));
    assert!(warning.contains("mirrors.us-east.example.org"), "{warning}");
    assert!(warning.contains("skipped"), "{warning}");

    let server = Server::start(&["--bundle", bundle.to_str().unwrap()]);
    let mut seen_host = 0;
    for _ in 0..200 {
        let r = server.get("/mirrorlist?repo=fedora-42&arch=x86_64&country=US&redirect=1");
        assert_eq!(r.status, 302, "{}", r.text());
        let location = r.header("location").expect("every 302 has a Location");
        assert!(!location.contains(' '), "{location}");
        seen_host += usize::from(location.contains("mirrors.us-east.example.org"));
        let list = server.get("/mirrorlist?repo=fedora-42&arch=x86_64&country=US");
        assert!(!list.text().contains("fedora linux"), "{}", list.text());
    }
    assert!(seen_host > 0, "the host's other URLs are still served");
}
