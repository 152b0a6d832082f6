//! Properties of mirror selection over the library API, on generated data: random hosts
//! (country, bandwidth, allowed countries, URLs, public or private, carrying the directory or
//! not), host netblocks nested around the client or not, an ASN, a client country, and random
//! queries (`country=`, `netblock=`, `protocol=`, minimum). Each case is compiled with
//! `mirrorlist::build::compile` into a real `Snapshot` and asked through
//! `mirrorlist::answer::select::select` and `mirrorlist::answer::answer`.
//!
//! Checked for every case: every host listed carries the requested directory; no host is listed
//! twice; netblock hosts come first, most specific prefix first, and every netblock host that
//! carries the directory is there; a host with allowed countries never reaches a client outside
//! them except through its own netblock or ASN (decision 8); the text mirrorlist lists the
//! selected hosts in order, one URL each, the preferred of https > http > ftp (decision 6).
//! And statistical tests: first places, whole orders and pairwise orders follow the weights.

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::time::SystemTime;

use ipnet::{IpNet, Ipv4Net};
use proptest::prelude::*;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use mirrorlist::answer::request::{Mode, Params};
use mirrorlist::answer::select::{select, Criteria, Group};
use mirrorlist::answer::{answer, Client, Settings};
use mirrorlist::build::compile;
use mirrorlist::inputs::raw::{RawData, RawDirectory, RawGeo, RawHost};
use mirrorlist::snapshot::Snapshot;

const COUNTRIES: [&str; 6] = ["DE", "SE", "US", "CN", "JP", "BR"];
const CONTINENTS: [&str; 6] = ["EU", "EU", "NA", "AS", "AS", "SA"];
const SCHEMES: [&str; 4] = ["https", "http", "ftp", "rsync"];
const WANTED: &str = "pub/wanted/dir";
const OTHER: &str = "pub/other/dir";
const CLIENT_ASN: u32 = 64_500;

#[derive(Debug, Clone)]
struct GenHost {
    country: usize,
    bandwidth: Option<i64>,
    allowed: Vec<usize>,
    public: bool,
    carries: bool,
    /// Indices into `SCHEMES`, in stored order.
    schemes: Vec<usize>,
    asn_client: bool,
}

#[derive(Debug, Clone)]
struct GenNet {
    len: u8,
    contains_client: bool,
    /// Which bit inside the prefix to flip when the net must not contain the client.
    flip: u8,
    hosts: Vec<usize>,
}

#[derive(Debug, Clone)]
struct World {
    hosts: Vec<GenHost>,
    nets: Vec<GenNet>,
    client: u32,
    client_country: Option<usize>,
    client_in_asn: bool,
}

#[derive(Debug, Clone)]
struct Query {
    country: Option<String>,
    netblock_matching: bool,
    protocols: Option<Vec<&'static str>>,
    minimum: usize,
    seed: u64,
}

fn host_strategy() -> impl Strategy<Value = GenHost> {
    (
        0..COUNTRIES.len(),
        prop_oneof![
            8 => (1i64..=10_000).prop_map(Some),
            1 => Just(None),
            1 => (-5i64..=0).prop_map(Some),
        ],
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(0..COUNTRIES.len(), 1..=2),
        ],
        any::<bool>(),
        prop::bool::weighted(0.8),
        prop::sample::subsequence((0..SCHEMES.len()).collect::<Vec<_>>(), 1..=SCHEMES.len())
            .prop_shuffle(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(country, bandwidth, allowed, public, carries, schemes, asn_client)| GenHost {
                country,
                bandwidth,
                allowed,
                public,
                carries,
                schemes,
                asn_client,
            },
        )
}

fn world_strategy() -> impl Strategy<Value = World> {
    prop::collection::vec(host_strategy(), 1..=12).prop_flat_map(|hosts| {
        let n = hosts.len();
        let net = (
            1u8..=32,
            prop::bool::weighted(0.7),
            any::<u8>(),
            prop::collection::vec(0..n, 1..=3),
        )
            .prop_map(|(len, contains_client, flip, hosts)| GenNet {
                len,
                contains_client,
                flip,
                hosts,
            });
        (
            Just(hosts),
            prop::collection::vec(net, 0..=5),
            any::<u32>(),
            prop::option::weighted(0.8, 0..COUNTRIES.len()),
            any::<bool>(),
        )
            .prop_map(
                |(hosts, nets, client, client_country, client_in_asn)| World {
                    hosts,
                    nets,
                    client,
                    client_country,
                    client_in_asn,
                },
            )
    })
}

fn query_strategy() -> impl Strategy<Value = Query> {
    let country_word = prop_oneof![
        (0..COUNTRIES.len()).prop_map(|i| COUNTRIES[i].to_string()),
        (0..COUNTRIES.len()).prop_map(|i| COUNTRIES[i].to_ascii_lowercase()),
        Just("global".to_string()),
        Just("XX".to_string()),
        Just(String::new()),
    ];
    (
        prop_oneof![
            2 => Just(None),
            1 => prop::collection::vec(country_word, 1..=3).prop_map(|w| Some(w.join(","))),
        ],
        prop::bool::weighted(0.8),
        prop_oneof![
            3 => Just(None),
            1 => prop::sample::subsequence(SCHEMES.to_vec(), 1..=2).prop_map(Some),
        ],
        0usize..=6,
        any::<u64>(),
    )
        .prop_map(
            |(country, netblock_matching, protocols, minimum, seed)| Query {
                country,
                netblock_matching,
                protocols: protocols.map(|mut p| {
                    p.sort_unstable();
                    p
                }),
                minimum,
                seed,
            },
        )
}

fn external_id(i: usize) -> i64 {
    i as i64 + 1
}

fn url_id(host: usize, scheme_slot: usize) -> i64 {
    (host as i64 + 1) * 10 + scheme_slot as i64
}

fn host_name(i: usize) -> String {
    format!("h{}.example.org", i + 1)
}

impl GenNet {
    fn net(&self, client: u32) -> Ipv4Net {
        let addr = if self.contains_client {
            client
        } else {
            // Flip one bit inside the prefix: the network no longer contains the client.
            let bit = u32::from(self.flip % self.len);
            client ^ (1 << (31 - bit))
        };
        Ipv4Net::new(Ipv4Addr::from(addr), self.len)
            .expect("1..=32")
            .trunc()
    }
}

impl World {
    fn client_ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self.client))
    }

    fn raw(&self) -> RawData {
        let mut raw = RawData {
            generated_at: 1_700_000_000,
            ..RawData::default()
        };
        for (i, h) in self.hosts.iter().enumerate() {
            raw.hosts.insert(
                external_id(i),
                RawHost {
                    name: host_name(i),
                    country: COUNTRIES[h.country].to_string(),
                    bandwidth: h.bandwidth,
                    allowed_countries: h.allowed.iter().map(|c| COUNTRIES[*c].into()).collect(),
                    families: 0,
                },
            );
            for (slot, scheme) in h.schemes.iter().enumerate() {
                raw.base_urls.insert(
                    url_id(i, slot),
                    format!("{}://{}/pub", SCHEMES[*scheme], host_name(i)),
                );
            }
        }
        let directory = |name: &str, carries: &dyn Fn(&GenHost) -> bool| {
            let carriers: Vec<usize> = (0..self.hosts.len())
                .filter(|i| carries(&self.hosts[*i]))
                .collect();
            let public: Vec<usize> = carriers
                .iter()
                .copied()
                .filter(|i| self.hosts[*i].public)
                .collect();
            let mut by_country: BTreeMap<String, Vec<i64>> = BTreeMap::new();
            for i in &public {
                by_country
                    .entry(COUNTRIES[self.hosts[*i].country].to_string())
                    .or_default()
                    .push(external_id(*i));
            }
            RawDirectory {
                name: name.to_string(),
                subpath: name.trim_start_matches("pub/").to_string(),
                global: public.iter().map(|i| external_id(*i)).collect(),
                by_country: by_country.into_iter().collect(),
                by_host: carriers
                    .iter()
                    .map(|i| {
                        let urls = (0..self.hosts[*i].schemes.len())
                            .map(|slot| url_id(*i, slot))
                            .collect();
                        (external_id(*i), urls)
                    })
                    .collect(),
            }
        };
        raw.directories = vec![
            directory(WANTED, &|h| h.carries),
            directory(OTHER, &|_| true),
        ];
        raw.host_netblocks = self
            .nets
            .iter()
            .map(|n| {
                (
                    IpNet::V4(n.net(self.client)),
                    n.hosts.iter().map(|i| external_id(*i)).collect(),
                )
            })
            .collect();
        let asn_hosts: Vec<i64> = (0..self.hosts.len())
            .filter(|i| self.hosts[*i].asn_client)
            .map(external_id)
            .collect();
        if !asn_hosts.is_empty() {
            raw.asn_hosts = vec![(CLIENT_ASN, asn_hosts)];
        }
        let asn_net = if self.client_in_asn {
            self.client
        } else {
            self.client ^ 0x8000_0000
        };
        raw.global_asn = vec![(
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(asn_net), 16).unwrap().trunc()),
            CLIENT_ASN,
        )];
        raw.country_continent = COUNTRIES
            .iter()
            .zip(CONTINENTS)
            .map(|(c, k)| (c.to_string(), k.to_string()))
            .collect();
        raw.geo = RawGeo::Networks(match self.client_country {
            Some(c) => vec![(
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(self.client), 32).unwrap()),
                COUNTRIES[c].to_string(),
            )],
            None => Vec::new(),
        });
        raw
    }

    fn snapshot(&self) -> Snapshot {
        let compiled = compile(self.raw(), "test", 0).expect("compile");
        Snapshot::from_data(&compiled.data).expect("snapshot")
    }

    /// The longest generated netblock that contains the client and lists host `i`.
    fn best_netblock(&self, i: usize) -> Option<u8> {
        self.nets
            .iter()
            .filter(|n| n.contains_client && n.hosts.contains(&i))
            .map(|n| n.len)
            .max()
    }
}

/// Our generated host index of a snapshot host.
fn gen_index(snapshot: &Snapshot, idx: u32) -> usize {
    let host = snapshot.host(idx).expect("host index in range");
    (host.external_id.to_native() - 1) as usize
}

fn check_selection(world: &World, query: &Query) -> Result<(), TestCaseError> {
    let snapshot = world.snapshot();
    let dir = snapshot.directory(WANTED).expect("the wanted directory");
    let protocols: Option<Vec<&str>> = query.protocols.clone();
    let criteria = Criteria {
        client: Some(world.client_ip()),
        country: query.country.as_deref(),
        netblock_matching: query.netblock_matching,
        protocols: protocols.as_deref(),
        minimum: query.minimum,
        screen: None,
    };
    let mut rng = SmallRng::seed_from_u64(query.seed);
    let selection = select(&snapshot, dir, &criteria, &mut rng);
    let listed: Vec<(usize, Group)> = selection
        .hosts
        .iter()
        .map(|c| (gen_index(&snapshot, c.host), c.group))
        .collect();

    // No host twice.
    let mut seen = HashSet::new();
    for (i, _) in &listed {
        prop_assert!(seen.insert(*i), "host {} listed twice: {listed:?}", i + 1);
    }

    // Every host listed carries the directory.
    for (i, group) in &listed {
        prop_assert!(
            world.hosts[*i].carries,
            "host {} ({group:?}) does not carry {WANTED}: {listed:?}",
            i + 1
        );
    }

    // Netblock hosts first, most specific first; all of them when matching applies.
    let requested = query
        .country
        .as_deref()
        .is_some_and(|c| c.split(',').any(|w| !w.is_empty()));
    let matching = !requested && query.netblock_matching;
    let k = listed
        .iter()
        .take_while(|(_, g)| *g == Group::Netblock)
        .count();
    prop_assert!(
        listed[k..].iter().all(|(_, g)| *g != Group::Netblock),
        "netblock hosts are not all first: {listed:?}"
    );
    let lens: Vec<u8> = listed[..k]
        .iter()
        .map(|(i, _)| {
            world
                .best_netblock(*i)
                .expect("a netblock host is in a client netblock")
        })
        .collect();
    prop_assert!(
        lens.windows(2).all(|w| w[0] >= w[1]),
        "netblock hosts not most specific first: {listed:?}, prefix lengths {lens:?}"
    );
    let expected_netblock: HashSet<usize> = if matching {
        (0..world.hosts.len())
            .filter(|i| world.hosts[*i].carries && world.best_netblock(*i).is_some())
            .collect()
    } else {
        HashSet::new()
    };
    let got_netblock: HashSet<usize> = listed[..k].iter().map(|(i, _)| *i).collect();
    prop_assert_eq!(
        &got_netblock,
        &expected_netblock,
        "netblock hosts: {:?}",
        listed
    );
    if !matching {
        prop_assert!(
            listed.iter().all(|(_, g)| *g != Group::Asn),
            "ASN hosts without netblock/ASN matching: {listed:?}"
        );
    }

    // Allowed countries (decision 8): only netblock and ASN matches may ignore them.
    let client_country = world.client_country.map(|c| COUNTRIES[c]);
    for (i, group) in &listed {
        let host = &world.hosts[*i];
        if host.allowed.is_empty() || matches!(group, Group::Netblock | Group::Asn) {
            continue;
        }
        let ok = world
            .client_country
            .is_some_and(|c| host.allowed.contains(&c));
        prop_assert!(
            ok,
            "host {} allows {:?} but reached a client in {client_country:?} through {group:?}",
            i + 1,
            host.allowed
                .iter()
                .map(|c| COUNTRIES[*c])
                .collect::<Vec<_>>()
        );
    }

    // The client's continent (steps 5-6, decision 5): the continent group holds hosts of the
    // other countries of the client's continent only, and every such public host that carries
    // the directory and admits the client is listed, in that group or an earlier one.
    if let (false, Some(c)) = (requested, world.client_country) {
        let on_continent = |i: usize| {
            let host = &world.hosts[i];
            host.country != c
                && CONTINENTS[host.country] == CONTINENTS[c]
                && host.public
                && host.carries
                && (host.allowed.is_empty() || host.allowed.contains(&c))
        };
        for (i, group) in &listed {
            prop_assert!(
                *group != Group::Continent || on_continent(*i),
                "host {} (in {}) is in the continent group of a client in {}: {listed:?}",
                i + 1,
                COUNTRIES[world.hosts[*i].country],
                COUNTRIES[c]
            );
        }
        for i in (0..world.hosts.len()).filter(|&i| on_continent(i)) {
            prop_assert!(
                seen.contains(&i),
                "host {} (in {}) is missing for a client in {}: {listed:?}",
                i + 1,
                COUNTRIES[world.hosts[i].country],
                COUNTRIES[c]
            );
        }
    }

    // The rendered mirrorlist (default protocols) lists the same hosts in the same order,
    // one URL each, the host's preferred scheme among https > http > ftp (decision 6).
    let mut query_string = String::from("path=");
    query_string.push_str(WANTED);
    if let Some(c) = &query.country {
        query_string.push_str("&country=");
        query_string.push_str(c);
    }
    if !query.netblock_matching {
        query_string.push_str("&netblock=0");
    }
    let params = Params::parse(&query_string);
    let settings = Settings {
        minimum: query.minimum,
        ..Settings::default()
    };
    let mut rng = SmallRng::seed_from_u64(query.seed);
    let reply = answer(
        &snapshot,
        Mode::Mirrorlist,
        &params,
        Client::Addr(world.client_ip()),
        &settings,
        &mut rng,
        SystemTime::now(),
    );
    prop_assert_eq!(reply.status, 200);
    let body = String::from_utf8(reply.body).expect("text");
    let lines: Vec<&str> = body.lines().skip(1).collect();
    let traced: Vec<usize> = reply
        .trace
        .iter()
        .map(|(h, _)| gen_index(&snapshot, *h))
        .collect();
    let mut expected_lines = Vec::new();
    for i in &traced {
        let schemes: Vec<&str> = world.hosts[*i]
            .schemes
            .iter()
            .map(|s| SCHEMES[*s])
            .collect();
        if let Some(best) = ["https", "http", "ftp"]
            .into_iter()
            .find(|s| schemes.contains(s))
        {
            expected_lines.push(format!("{best}://{}/pub/wanted/dir/", host_name(*i)));
        }
    }
    prop_assert_eq!(lines, expected_lines, "mirrorlist body:\n{}", body);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn selection_properties(world in world_strategy(), query in query_strategy()) {
        check_selection(&world, &query)?;
    }
}

/// A world of public hosts carrying the directory, with these bandwidths, and a client with
/// no known country and no netblock: its answer is the global list alone, weighted.
fn global_only(bandwidths: &[i64]) -> World {
    World {
        hosts: bandwidths
            .iter()
            .map(|b| GenHost {
                country: 0,
                bandwidth: Some(*b),
                allowed: Vec::new(),
                public: true,
                carries: true,
                schemes: vec![0],
                asn_client: false,
            })
            .collect(),
        nets: Vec::new(),
        client: u32::from(Ipv4Addr::new(192, 0, 2, 1)),
        client_country: None,
        client_in_asn: false,
    }
}

/// `draws` answers of `world`'s global list with a fixed seed, each as the generated hosts'
/// indices in answer order.
fn global_orders(world: &World, draws: usize, seed: u64) -> Vec<Vec<usize>> {
    let snapshot = world.snapshot();
    let dir = snapshot.directory(WANTED).unwrap();
    let criteria = Criteria {
        client: Some(world.client_ip()),
        country: None,
        netblock_matching: true,
        protocols: None,
        minimum: 5,
        screen: None,
    };
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..draws)
        .map(|_| {
            let selection = select(&snapshot, dir, &criteria, &mut rng);
            assert_eq!(selection.hosts.len(), world.hosts.len());
            assert!(selection.hosts.iter().all(|c| c.group == Group::Global));
            selection
                .hosts
                .iter()
                .map(|c| gen_index(&snapshot, c.host))
                .collect()
        })
        .collect()
}

/// Asserts that `got` of `n` trials is within 5 standard deviations of binomial(n, p).
fn assert_binomial(got: usize, n: usize, p: f64, what: &str) {
    let (n, mean) = (n as f64, n as f64 * p);
    let sd = (n * p * (1.0 - p)).sqrt();
    assert!(
        (got as f64 - mean).abs() <= 5.0 * sd,
        "{what}: {got} times in {n}, expected {mean:.1} +- {:.1} (5 sd)",
        5.0 * sd
    );
}

/// Weighted shuffle: over 20,000 draws with a fixed seed, each host's count of first places
/// is within 5 standard deviations of its expectation. The count of first places of host i is
/// binomial(n, p_i) with p_i = w_i / sum(w), standard deviation sqrt(n p_i (1 - p_i)); a
/// correct shuffle leaves a 5-sigma band with probability below 1e-6 per host (normal
/// approximation), while a shuffle that ignores weights (p = 1/6) or favours stored order is
/// off by hundreds of sigmas. The seed is fixed, so the result does not change between runs.
#[test]
fn first_place_follows_weight() {
    // Bandwidths as in mm-small, plus a zero that decision 4 clamps to weight 1.
    let bandwidths: [i64; 7] = [10_000, 5_000, 1_000, 500, 100, 50, 0];
    let weights: Vec<f64> = bandwidths.iter().map(|b| (*b).max(1) as f64).collect();
    let draws = 20_000usize;
    let orders = global_orders(&global_only(&bandwidths), draws, 0x5eed_2026);
    let total: f64 = weights.iter().sum();
    for (i, w) in weights.iter().enumerate() {
        let first = orders.iter().filter(|o| o[0] == i).count();
        assert_binomial(
            first,
            draws,
            w / total,
            &format!("host {i} (weight {w}) first"),
        );
    }
}

/// The probability of a whole order under sampling without replacement by weight: each place
/// goes to host i with w_i / (the sum of the weights not yet placed).
fn order_probability(order: &[usize], weights: &[f64]) -> f64 {
    let mut left: f64 = weights.iter().sum();
    let mut p = 1.0;
    for &i in order {
        p *= weights[i] / left;
        left -= weights[i];
    }
    p
}

/// Every place follows the weights, not only the first: over 60,000 answers of five hosts
/// (three of one weight, which the shuffle draws as one class), each of the 120 orders comes
/// as often as its probability says, within 5 standard deviations. A shuffle that got the
/// first place right but the rest wrong (a uniform tail, or stored order within a weight) is
/// off by far more in the orders it favours.
#[test]
fn whole_order_follows_weight() {
    let bandwidths: [i64; 5] = [1_000, 1_000, 1_000, 300, 50];
    let weights: Vec<f64> = bandwidths.iter().map(|b| *b as f64).collect();
    let draws = 60_000usize;
    let orders = global_orders(&global_only(&bandwidths), draws, 0x07de_2026);
    let mut counts: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
    for o in orders {
        *counts.entry(o).or_default() += 1;
    }
    let mut all = vec![0, 1, 2, 3, 4];
    let mut seen = 0;
    permutations(&mut all, 0, &mut |order| {
        seen += 1;
        let got = counts.get(order).copied().unwrap_or(0);
        let p = order_probability(order, &weights);
        assert_binomial(got, draws, p, &format!("order {order:?}"));
    });
    assert_eq!(seen, 120);
    assert_eq!(counts.values().sum::<usize>(), draws);
}

/// Places beyond the first follow the weights with many distinct ones too: 80 hosts of 80
/// weights; over 4,000 answers, first places by weight (pooled in quarters, so each count is
/// large) and, for pairs of hosts, how often the first comes before the second:
/// w_i / (w_i + w_j).
#[test]
fn pairwise_order_follows_weight() {
    let bandwidths: Vec<i64> = (1..=80).map(|i| i * 37).collect();
    let weights: Vec<f64> = bandwidths.iter().map(|b| *b as f64).collect();
    let draws = 4_000usize;
    let orders = global_orders(&global_only(&bandwidths), draws, 0x0a77_17a1);
    let total: f64 = weights.iter().sum();
    for quarter in weights.chunks(20).enumerate() {
        let (q, ws) = quarter;
        let hosts = q * 20..q * 20 + 20;
        let first = orders.iter().filter(|o| hosts.contains(&o[0])).count();
        let p = ws.iter().sum::<f64>() / total;
        assert_binomial(first, draws, p, &format!("hosts {hosts:?} first"));
    }
    for (i, j) in [(0, 79), (10, 20), (40, 41), (79, 60), (5, 70)] {
        let before = orders
            .iter()
            .filter(|o| o.iter().position(|&h| h == i) < o.iter().position(|&h| h == j))
            .count();
        let p = weights[i] / (weights[i] + weights[j]);
        assert_binomial(before, draws, p, &format!("host {i} before host {j}"));
    }
}

/// Calls `visit` with every order of `items[at..]` after `items[..at]`.
fn permutations(items: &mut Vec<usize>, at: usize, visit: &mut impl FnMut(&[usize])) {
    if at == items.len() {
        visit(items);
        return;
    }
    for i in at..items.len() {
        items.swap(at, i);
        permutations(items, at + 1, visit);
        items.swap(at, i);
    }
}

/// A list longer than the shuffle can number in its keys' low bits (4,096 places) is sorted
/// by the full keys instead: still every host once, and the same law. 5,000 hosts, a tenth of
/// them 50 times heavier; over 400 answers the heavy tenth's share of first places is
/// 500 * 50 / (500 * 50 + 4,500) = 0.847.
#[test]
fn long_lists_follow_weight() {
    let bandwidths: Vec<i64> = (0..5_000)
        .map(|i| if i < 500 { 5_000 } else { 100 })
        .collect();
    let draws = 400usize;
    let orders = global_orders(&global_only(&bandwidths), draws, 0x1006);
    for order in &orders {
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..5_000), "every host once");
    }
    let heavy_first = orders.iter().filter(|o| o[0] < 500).count();
    let p = 500.0 * 5_000.0 / (500.0 * 5_000.0 + 4_500.0 * 100.0);
    assert_binomial(heavy_first, draws, p, "the heavy tenth first");
}
