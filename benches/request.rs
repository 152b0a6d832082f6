//! Request-path benchmarks (issue 6): select + render for one request, select alone, the whole HTTP handler
//! without the socket, and the prefix lookups; and the load path (issue 14): compiling, reading
//! the same data as MirrorManager's protobuf cache (both passes over its directories),
//! writing a bundle to a temporary file, and loading one.
//!
//! The data is synthetic and built in code, so the benchmarks read no file outside the crate:
//! a `RawData` sized like `gen_mm_dataset.py`'s default output (400 hosts, ~4,000 directories,
//! 5,000 host netblocks, 50,000 ASN prefixes, ~10,000 geo networks) goes through
//! `mirrorlist::build::compile` exactly as a real build does. The clients are picked at start
//! so that their answers have about 10, 50 and 180 hosts, plus one inside a host netblock.
//!
//! `cargo bench --bench request` measures. `cargo test --all-targets` runs every benchmark
//! once in test mode; then the data is a tenth of the size so that stays quick. Set
//! `MIRRORLIST_BENCH_XL=1` to use a dataset with 9x the directories (the `--packages-dirs`
//! shape) and compare: the cost of one request should not depend on the size of the data.
//!
//! Nothing here asserts on time.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prost::Message;
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use mirrorlist::answer::geo_groups::with_geo_groups;
use mirrorlist::answer::request::{Mode, Params};
use mirrorlist::answer::select::{select, Criteria};
use mirrorlist::answer::{answer, Client, Settings};
use mirrorlist::build::compile;
use mirrorlist::build::compile::compile_with;
use mirrorlist::inputs::mirrormanager::{self, HostIds};
use mirrorlist::inputs::mm_cache::{
    self, IntIntMap, IntRepeatedIntMap, IntStringMap, MirrorList, MirrorListCacheType,
    StringRepeatedIntMap,
};
use mirrorlist::inputs::raw::{FileDetails, RawData, RawDirectory, RawGeo, RawHost, RawRepoArch};
use mirrorlist::server::service::handle;
use mirrorlist::server::AppState;
use mirrorlist::snapshot::model::SnapshotData;
use mirrorlist::snapshot::{bundle, Snapshot};

/// Dataset size knobs.
struct Size {
    hosts: usize,
    repos: usize,
    /// Extra directories per repo without repodata (the `Packages/<letter>` shape of XL).
    extra_per_repo: usize,
    host_netblocks: usize,
    asn_prefixes: usize,
    geo_networks: usize,
}

impl Size {
    fn pick() -> Size {
        // `cargo bench` passes `--bench`; the test harness run does not.
        let measuring = std::env::args().any(|a| a == "--bench");
        let xl = std::env::var_os("MIRRORLIST_BENCH_XL").is_some_and(|v| v != "0");
        let scale = if measuring { 1 } else { 10 };
        Size {
            hosts: 400,
            repos: 2_000 / scale,
            extra_per_repo: if xl { 16 } else { 0 },
            host_netblocks: 5_000 / scale,
            asn_prefixes: 50_000 / scale,
            geo_networks: 10_000 / scale,
        }
    }
}

/// Countries with their continent and a weight for how many hosts they get (roughly the
/// generator's: many in the US and Europe, few elsewhere).
const COUNTRIES: &[(&str, &str, u32)] = &[
    ("US", "NA", 60),
    ("CA", "NA", 8),
    ("MX", "NA", 2),
    ("DE", "EU", 30),
    ("FR", "EU", 12),
    ("GB", "EU", 10),
    ("NL", "EU", 10),
    ("SE", "EU", 6),
    ("CZ", "EU", 6),
    ("PL", "EU", 5),
    ("IT", "EU", 5),
    ("ES", "EU", 4),
    ("CH", "EU", 4),
    ("AT", "EU", 3),
    ("FI", "EU", 3),
    ("DK", "EU", 3),
    ("NO", "EU", 2),
    ("RU", "EU", 5),
    ("UA", "EU", 2),
    ("GR", "EU", 2),
    ("PT", "EU", 2),
    ("RO", "EU", 2),
    ("CN", "AS", 10),
    ("JP", "AS", 8),
    ("KR", "AS", 4),
    ("IN", "AS", 4),
    ("SG", "AS", 3),
    ("TW", "AS", 3),
    ("HK", "AS", 2),
    ("ID", "AS", 2),
    ("TH", "AS", 1),
    ("VN", "AS", 1),
    ("IL", "AS", 2),
    ("BR", "SA", 6),
    ("AR", "SA", 2),
    ("CL", "SA", 2),
    ("CO", "SA", 1),
    ("EC", "SA", 1),
    ("AU", "OC", 5),
    ("NZ", "OC", 2),
    ("ZA", "AF", 3),
    ("KE", "AF", 1),
    ("EG", "AF", 1),
    ("MA", "AF", 1),
];

const PREFIXES: &[&str] = &["mirror", "ftp", "dl", "download", "mirrors", "repo", "pkg"];
const PATHS: &[&str] = &[
    "",
    "/pub",
    "/linux",
    "/mirror",
    "/pub/linux",
    "/fedora-mirror",
];

fn hash(rng: &mut SmallRng, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.random::<u8>()))
        .collect()
}

fn v4_net(rng: &mut SmallRng, min_len: u8, max_len: u8) -> IpNet {
    // 1.0.0.0 - 199.255.255.255: 240.0.0.0/4 stays free for clients nobody knows.
    let addr = rng.random_range(0x0100_0000u32..0xC800_0000);
    let len = rng.random_range(min_len..=max_len);
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap().trunc())
}

fn v6_net(rng: &mut SmallRng, min_len: u8, max_len: u8) -> IpNet {
    // Under 2a00::/12, like the generator.
    let addr = (0x2a00u128 << 112) | (rng.random::<u128>() >> 12);
    let len = rng.random_range(min_len..=max_len);
    IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).unwrap().trunc())
}

/// A MirrorManager-shaped `RawData`, deterministic for a given size.
fn synthetic(size: &Size) -> RawData {
    let mut rng = SmallRng::seed_from_u64(20240607);
    let mut raw = RawData {
        generated_at: 1_767_225_600,
        ..RawData::default()
    };
    for (c, k, _) in COUNTRIES {
        raw.country_continent.insert(c.to_string(), k.to_string());
    }

    // Hosts: external ids with gaps, countries by weight (every country at least once).
    let weighted: Vec<&str> = COUNTRIES
        .iter()
        .flat_map(|(c, _, w)| std::iter::repeat_n(*c, *w as usize))
        .collect();
    let mut host_ids = Vec::with_capacity(size.hosts);
    let mut private = Vec::new();
    let mut next_id = 7i64;
    let mut next_url = 1000i64;
    // Per host and category (0: fedora, 1: epel), the URL ids.
    let mut host_urls: Vec<[Vec<i64>; 2]> = Vec::with_capacity(size.hosts);
    for i in 0..size.hosts {
        let country = if i < COUNTRIES.len() {
            COUNTRIES[i].0
        } else {
            weighted.choose(&mut rng).unwrap()
        };
        let name = format!(
            "{}{}.host{i}.example.{}",
            PREFIXES.choose(&mut rng).unwrap(),
            if rng.random_bool(0.3) { "2" } else { "" },
            country.to_ascii_lowercase()
        );
        let bandwidth = *[10, 50, 100, 100, 200, 500, 1000, 1000, 2000, 5000, 10000]
            .choose(&mut rng)
            .unwrap();
        let allowed_countries = if i % 50 == 7 {
            vec![country.to_string()]
        } else {
            Vec::new()
        };
        raw.hosts.insert(
            next_id,
            RawHost {
                name: String::new(),
                country: country.to_string(),
                bandwidth: Some(bandwidth),
                allowed_countries,
                families: 0,
            },
        );
        if i % 25 == 3 {
            private.push(i);
        }
        let prefix = PATHS.choose(&mut rng).unwrap();
        let mut cats: [Vec<i64>; 2] = [Vec::new(), Vec::new()];
        for (cat, urls) in cats.iter_mut().enumerate() {
            if cat == 1 && rng.random_bool(0.4) {
                continue;
            }
            let top = ["fedora/linux", "epel"][cat];
            let https = rng.random_bool(0.85);
            let http = !https || rng.random_bool(0.9);
            for (scheme, present) in [
                ("https", https),
                ("http", http),
                ("ftp", rng.random_bool(0.05)),
                ("rsync", rng.random_bool(0.6)),
            ] {
                if present {
                    raw.base_urls
                        .insert(next_url, format!("{scheme}://{name}{prefix}/{top}"));
                    urls.push(next_url);
                    next_url += 1 + (next_url % 3);
                }
            }
        }
        host_urls.push(cats);
        host_ids.push(next_id);
        next_id += [1, 1, 1, 2, 3, 5, 8][i % 7];
    }

    // Directories: per repo an `os` directory and its `repodata`, each carried by a share of
    // the hosts that varies from repo to repo (a few big, most small), like the generator's.
    for r in 0..size.repos {
        let cat = usize::from(r % 3 == 2);
        let top = ["pub/fedora/linux", "pub/epel"][cat];
        let share = if r % 7 == 0 {
            rng.random_range(0.35..0.9)
        } else {
            rng.random_range(0.01..0.2)
        };
        let carriers: Vec<usize> = (0..size.hosts)
            .filter(|&h| !host_urls[h][cat].is_empty() && rng.random_bool(share))
            .collect();
        let arch = ["x86_64", "aarch64", "ppc64le", "s390x"][r % 4];
        let base = format!("{top}/repo{r}/{arch}/os");
        let mut names = vec![base.clone(), format!("{base}/repodata")];
        names.extend((0..size.extra_per_repo).map(|k| format!("{base}/Packages/{k}")));
        for name in &names {
            let mut dir = RawDirectory {
                name: name.clone(),
                subpath: name[top.len() + 1..].to_string(),
                ..RawDirectory::default()
            };
            let mut by_country: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
            for &h in &carriers {
                let id = host_ids[h];
                dir.by_host.push((id, host_urls[h][cat].clone()));
                if private.contains(&h) {
                    continue;
                }
                dir.global.push(id);
                let country = raw.hosts[&id].country.as_str();
                by_country.entry(country).or_default().push(id);
            }
            dir.by_country = by_country
                .into_iter()
                .map(|(c, l)| (c.to_string(), l))
                .collect();
            raw.directories.push(dir);
        }
        let versions = 1 + r % 4;
        let details = (0..versions)
            .map(|v| FileDetails {
                timestamp: 1_767_000_000 - v as u64 * 86_400,
                size: rng.random_range(2_900..9_000),
                md5: hash(&mut rng, 16),
                sha1: hash(&mut rng, 20),
                sha256: hash(&mut rng, 32),
                sha512: hash(&mut rng, 64),
            })
            .collect();
        raw.file_details.insert(
            format!("{base}/repodata"),
            BTreeMap::from([("repomd.xml".to_string(), details)]),
        );
        raw.repo_arch.push(RawRepoArch {
            repo: format!("repo{r}"),
            arch: arch.to_string(),
            directory: base,
        });
    }

    // Host netblocks: a third IPv6, one host each (a few two).
    for i in 0..size.host_netblocks {
        let net = if i % 3 == 0 {
            v6_net(&mut rng, 32, 56)
        } else {
            v4_net(&mut rng, 16, 24)
        };
        let mut hosts = vec![*host_ids.choose(&mut rng).unwrap()];
        if i % 10 == 0 {
            hosts.push(*host_ids.choose(&mut rng).unwrap());
        }
        raw.host_netblocks.push((net, hosts));
    }

    // ASNs: ~8,000 in the global table, 200 of them with hosts.
    let asns: Vec<u32> = (0..8_000).map(|i| 1_000 + i * 7).collect();
    for (i, h) in host_ids.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        let asn = asns[(i * 13) % asns.len()];
        raw.asn_hosts.push((asn, vec![*h]));
    }
    for i in 0..size.asn_prefixes {
        let net = if i % 4 == 0 {
            v6_net(&mut rng, 29, 48)
        } else {
            v4_net(&mut rng, 12, 24)
        };
        raw.global_asn.push((net, *asns.choose(&mut rng).unwrap()));
    }

    // Geo: /16 networks from 1.0.0.0 up and /32s under 2a00::/12, each with a country.
    let mut geo = Vec::with_capacity(size.geo_networks);
    for i in 0..size.geo_networks {
        let country = weighted.choose(&mut rng).unwrap().to_string();
        let net = if i % 5 == 0 {
            let a = (0x2a00u128 << 112) | ((i as u128) << 96);
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), 32).unwrap())
        } else {
            let a = 0x0100_0000u32 + ((i as u32) << 16);
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), 16).unwrap())
        };
        geo.push((net, country));
    }
    raw.geo = RawGeo::Networks(geo);
    raw.netblock_countries
        .push(("198.51.100.0/24".parse().unwrap(), "DE".to_string()));
    raw
}

fn compiled(size: &Size) -> SnapshotData {
    compile(synthetic(size), "native", 1_767_225_600)
        .expect("the synthetic data compiles")
        .data
}

/// One benchmarked request: its query string and client.
struct Case {
    label: String,
    repo: String,
    arch: String,
    ip: IpAddr,
}

impl Case {
    fn query(&self) -> String {
        format!("repo={}&arch={}&ip={}", self.repo, self.arch, self.ip)
    }
}

/// How many hosts `answer` lists for a repo and client.
fn hosts_for(snapshot: &Snapshot, repo: &str, arch: &str, ip: IpAddr) -> usize {
    let query = format!("repo={repo}&arch={arch}");
    let params = Params::parse(&query);
    let mut rng = SmallRng::seed_from_u64(1);
    answer(
        snapshot,
        Mode::Mirrorlist,
        &params,
        Client::Addr(ip),
        &Settings::default(),
        &mut rng,
        SystemTime::UNIX_EPOCH,
    )
    .trace
    .len()
}

/// An address inside the geo network of `country` (the first one listed).
fn client_in(snapshot: &Snapshot, country: &str) -> Option<IpAddr> {
    (0..snapshot.data().hosts.len() as u32 * 40)
        .map(|i| IpAddr::V4(Ipv4Addr::from(0x0100_0000u32 + (i << 16) + 77)))
        .find(|ip| {
            snapshot.country_of(*ip).as_deref() == Some(country)
                && snapshot
                    .asn_of(*ip)
                    .is_none_or(|a| snapshot.asn_hosts(a).is_empty())
                && {
                    let mut nets = Vec::new();
                    snapshot.netblocks_of(*ip, &mut nets);
                    nets.is_empty()
                }
        })
}

/// Picks the clients: ~10, ~50 and ~180 hosts from a GeoIP country and its continent, ~180
/// from the global list (an address no table knows), and a client inside a host netblock.
fn cases(snapshot: &Snapshot) -> Vec<Case> {
    let data = snapshot.data();
    let repos: Vec<(String, String)> = data
        .repo_arch
        .iter()
        .filter_map(|e| {
            let (r, a) = e.key.as_str().split_once('+')?;
            Some((r.to_string(), a.to_string()))
        })
        .collect();
    let closest = |ip: IpAddr, target: usize| {
        repos
            .iter()
            .map(|(r, a)| (hosts_for(snapshot, r, a, ip).abs_diff(target), r, a))
            .min_by_key(|(d, _, _)| *d)
            .map(|(_, r, a)| (r.clone(), a.clone()))
            .expect("repos")
    };
    let mut out = Vec::new();
    let nobody = IpAddr::V4(Ipv4Addr::new(240, 1, 2, 3));
    // `eu180` is issue 14's request: a large answer for a European client, its country
    // and its continent (a GeoIP lookup and a walk of the continent's countries).
    for (country, target, label) in [
        ("JP", 10, "hosts10"),
        ("DE", 50, "hosts50"),
        ("DE", 180, "eu180"),
    ] {
        let ip = client_in(snapshot, country).expect("a client in the country");
        let (repo, arch) = closest(ip, target);
        out.push(Case {
            label: label.to_string(),
            repo,
            arch,
            ip,
        });
    }
    let (repo, arch) = closest(nobody, 180);
    let big = Case {
        label: "hosts180".to_string(),
        repo,
        arch,
        ip: nobody,
    };
    // A netblock client for the big repo: an address inside a netblock whose host carries it.
    let dir = data.repo_arch[data
        .repo_arch
        .binary_search_by(|e| e.key.as_str().cmp(&format!("{}+{}", big.repo, big.arch)))
        .unwrap()]
    .directory
    .to_native();
    let dir = snapshot.directory_at(dir).unwrap();
    let netblock_ip = data
        .host_netblocks
        .iter()
        .filter(|e| !e.net.v6)
        .find(|e| {
            e.hosts.iter().any(|h| {
                let h = h.to_native();
                dir.by_host.iter().any(|x| x.host.to_native() == h)
            })
        })
        .map(|e| IpAddr::V4(Ipv4Addr::from(e.net.bits.to_native() as u32 + 1)))
        .expect("a netblock with a carrying host");
    out.push(big);
    let last = out.last().unwrap();
    out.push(Case {
        label: "netblock".to_string(),
        repo: last.repo.clone(),
        arch: last.arch.clone(),
        ip: netblock_ip,
    });
    for case in &out {
        eprintln!(
            "case {}: {} hosts for {}",
            case.label,
            hosts_for(snapshot, &case.repo, &case.arch, case.ip),
            case.query()
        );
    }
    out
}

fn request_benches(c: &mut Criterion) {
    let size = Size::pick();
    let data = compiled(&size);
    let snapshot = Snapshot::from_data(&data).expect("the synthetic bundle loads");
    let cases = cases(&snapshot);
    let settings = Settings::default();

    for mode in [Mode::Mirrorlist, Mode::Metalink] {
        let mut group = c.benchmark_group(format!("answer/{}", mode.as_str()));
        for case in &cases {
            let query = case.query();
            let params = Params::parse(&query);
            let mut rng = SmallRng::seed_from_u64(7);
            let now = SystemTime::now();
            let bytes = answer(
                &snapshot,
                mode,
                &params,
                Client::Addr(case.ip),
                &settings,
                &mut rng,
                now,
            )
            .body
            .len();
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_function(BenchmarkId::from_parameter(&case.label), |b| {
                b.iter(|| {
                    let reply = answer(
                        &snapshot,
                        mode,
                        black_box(&params),
                        Client::Addr(case.ip),
                        &settings,
                        &mut rng,
                        now,
                    );
                    black_box(reply.body.len())
                })
            });
        }
        group.finish();
    }

    // Selection alone (which hosts, in which order), so that render's share is the difference.
    let mut group = c.benchmark_group("select");
    let directory_and_criteria = |case: &Case| {
        let dir = snapshot
            .repo_arch(&case.repo, &case.arch)
            .and_then(|e| snapshot.directory_at(e.directory.to_native()))
            .expect("the case's directory");
        let criteria = Criteria {
            client: Some(case.ip),
            country: None,
            netblock_matching: true,
            protocols: None,
            minimum: settings.minimum,
            screen: None,
        };
        (dir, criteria)
    };
    for case in &cases {
        let (dir, criteria) = directory_and_criteria(case);
        let mut rng = SmallRng::seed_from_u64(7);
        group.bench_function(BenchmarkId::from_parameter(&case.label), |b| {
            b.iter(|| {
                black_box(
                    select(&snapshot, dir, black_box(&criteria), &mut rng)
                        .hosts
                        .len(),
                )
            })
        });
    }
    // `eu180` again with the thread's kept groups let go before each selection (decision 26):
    // the continent walk every time, as the first answer for a directory and country gets it.
    if let Some(case) = cases.iter().find(|c| c.label == "eu180") {
        let (dir, criteria) = directory_and_criteria(case);
        let mut rng = SmallRng::seed_from_u64(7);
        group.bench_function("eu180_unkept", |b| {
            b.iter(|| {
                // No snapshot has this instance: the table is emptied.
                with_geo_groups(u64::MAX, 0, "", |_| (), |_| ());
                black_box(
                    select(&snapshot, dir, black_box(&criteria), &mut rng)
                        .hosts
                        .len(),
                )
            })
        });
    }
    group.finish();

    // The whole handler: routing, query parsing, client address, answer, headers.
    let state = AppState::new(settings);
    state
        .store
        .install(Snapshot::from_data(&data).unwrap().numbered(1));
    let peer = SocketAddr::from(([127, 0, 0, 1], 40_000));
    let mut group = c.benchmark_group("handle");
    for case in &cases {
        for mode in [Mode::Mirrorlist, Mode::Metalink] {
            let req = hyper::Request::builder()
                .uri(format!("/{}?{}", mode.as_str(), case.query()))
                .header("host", "127.0.0.1")
                .body(())
                .unwrap();
            group.bench_function(format!("{}/{}", mode.as_str(), case.label), |b| {
                b.iter(|| black_box(handle(&state, peer, black_box(&req))))
            });
        }
    }
    group.finish();
}

fn lookup_benches(c: &mut Criterion) {
    let size = Size::pick();
    let snapshot = Snapshot::from_data(&compiled(&size)).unwrap();
    let mut rng = SmallRng::seed_from_u64(3);
    let ips: Vec<IpAddr> = (0..1024)
        .map(|i| {
            if i % 3 == 0 {
                IpAddr::V6(Ipv6Addr::from(
                    (0x2a00u128 << 112) | (rng.random::<u128>() >> 12),
                ))
            } else {
                IpAddr::V4(Ipv4Addr::from(
                    rng.random_range(0x0100_0000u32..0xC800_0000),
                ))
            }
        })
        .collect();
    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(ips.len() as u64));
    group.bench_function("netblocks_of", |b| {
        let mut out = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for ip in &ips {
                out.clear();
                snapshot.netblocks_of(*ip, &mut out);
                n += out.len();
            }
            n
        })
    });
    group.bench_function("asn_of", |b| {
        b.iter(|| ips.iter().filter_map(|ip| snapshot.asn_of(*ip)).count())
    });
    group.bench_function("country_of", |b| {
        b.iter(|| ips.iter().filter_map(|ip| snapshot.country_of(*ip)).count())
    });
    group.bench_function("directory", |b| {
        let names: Vec<String> = snapshot
            .data()
            .directories
            .iter()
            .step_by(37)
            .map(|d| d.name.as_str().to_string())
            .collect();
        b.iter(|| {
            names
                .iter()
                .filter(|n| snapshot.directory(n).is_some())
                .count()
        })
    });
    group.finish();
}

fn load_benches(c: &mut Criterion) {
    let size = Size::pick();
    let raw = synthetic(&size);
    let data = compiled(&size);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.bundle");
    let bytes = bundle::write(&path, &data).unwrap();
    let mut group = c.benchmark_group("bundle");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("load", |b| {
        b.iter(|| black_box(Snapshot::load(&path).unwrap()))
    });
    group.bench_function("write_temporary", |b| {
        b.iter(|| black_box(bundle::write_temporary(dir.path(), &data).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("build");
    group.sample_size(10);
    group.bench_function("compile", |b| {
        b.iter_batched(
            || raw.clone(),
            |raw| black_box(compile(raw, "native", 1_767_225_600).unwrap()),
            BatchSize::LargeInput,
        )
    });
    // The same on one thread: `compile` against this is what the directory threads buy.
    group.bench_function("compile_one_thread", |b| {
        b.iter_batched(
            || raw.clone(),
            |raw| black_box(compile_with(raw, "native", 1_767_225_600, 1).unwrap()),
            BatchSize::LargeInput,
        )
    });
    // The same data as MirrorManager's cache: what a drop-in server reads.
    let cache = Bytes::from(as_mm_cache(&raw).encode_to_vec());
    let cache_path = std::path::Path::new("bench.proto");
    group.throughput(Throughput::Bytes(cache.len() as u64));
    for (name, threads) in [
        ("mm_cache_read_and_compile", None),
        ("mm_cache_read_and_compile_one_thread", Some(1)),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let list = mm_cache::decode(cache_path, cache.clone()).unwrap();
                let raw =
                    mirrormanager::from_cache_with(cache_path, &list, HostIds::Tables).unwrap();
                black_box(match threads {
                    None => compile(raw, "mirrormanager", 1_767_225_600).unwrap(),
                    Some(n) => compile_with(raw, "mirrormanager", 1_767_225_600, n).unwrap(),
                })
            })
        });
    }
    group.finish();
}

/// `raw` as MirrorManager's cache: host tables, URLs, and one MirrorListCache entry per
/// directory (the side tables the request benchmarks need are left out).
fn as_mm_cache(raw: &RawData) -> MirrorList {
    MirrorList {
        time: raw.generated_at,
        hc_url_cache: raw
            .base_urls
            .iter()
            .map(|(&key, url)| IntStringMap {
                key,
                value: url.clone(),
            })
            .collect(),
        host_country_cache: raw
            .hosts
            .iter()
            .map(|(&key, h)| IntStringMap {
                key,
                value: h.country.clone(),
            })
            .collect(),
        host_bandwidth_cache: raw
            .hosts
            .iter()
            .map(|(&key, h)| IntIntMap {
                key,
                value: h.bandwidth.unwrap_or(1),
            })
            .collect(),
        mirror_list_cache: raw
            .directories
            .iter()
            .map(|d| {
                MirrorListCacheType {
                    directory: d.name.clone(),
                    subpath: Some(d.subpath.clone()),
                    global: d.global.clone(),
                    by_country: d
                        .by_country
                        .iter()
                        .map(|(key, value)| StringRepeatedIntMap {
                            key: key.clone(),
                            value: value.clone(),
                        })
                        .collect(),
                    by_host_id: d
                        .by_host
                        .iter()
                        .map(|(key, value)| IntRepeatedIntMap {
                            key: *key,
                            value: value.clone(),
                        })
                        .collect(),
                    ..Default::default()
                }
                .to_entry()
            })
            .collect(),
        ..Default::default()
    }
}

criterion_group!(benches, request_benches, lookup_benches, load_benches);
criterion_main!(benches);
