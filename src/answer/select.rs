//! Mirror selection (docs/protocol.md section 6.2, with decisions 5 and 8; decision 6 lives in
//! `render::urls`): which hosts a client gets for a directory, in which order, and the header
//! phrases that say why.
//!
//! A pure function of the snapshot, the request and the random source: no I/O, no clock, no
//! HTTP. Cost is bounded by the hosts of the directory, never by the size of the data.

use std::net::IpAddr;

use rand::Rng;

use crate::answer::geo_groups::{with_geo_groups, GeoGroups};
use crate::answer::shuffle::{shuffle_runs, uniform_shuffle, weighted_order, ShuffleScratch};
use crate::snapshot::model::{ArchivedDirectory, ArchivedHostUrls, HostIdx};
use crate::snapshot::{ArchivedIdx, Snapshot};
use rkyv::rend::u32_le;

/// Where a host in the answer came from, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    Netblock,
    Asn,
    Country,
    Geoip,
    Continent,
    Global,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Netblock,
        Group::Asn,
        Group::Country,
        Group::Geoip,
        Group::Continent,
        Group::Global,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Netblock => "netblock",
            Group::Asn => "asn",
            Group::Country => "country",
            Group::Geoip => "geoip",
            Group::Continent => "continent",
            Group::Global => "global",
        }
    }
}

/// What selection needs from the request.
pub struct Criteria<'a> {
    /// The client address, if known.
    pub client: Option<IpAddr>,
    /// The `country` parameter, raw.
    pub country: Option<&'a str>,
    /// Whether netblock and ASN matching apply (`netblock` absent or `1`).
    pub netblock_matching: bool,
    /// The `protocol` schemes, sorted and de-duplicated, if given.
    pub protocols: Option<&'a [&'a str]>,
    /// Local hosts below this count add the global list.
    pub minimum: usize,
    /// What the request and the server's health data say of each host beyond the country
    /// restriction (health, `exclude_country`, `family`); `None`: keep every host.
    pub screen: Option<&'a dyn Fn(HostIdx) -> Place>,
}

/// Where [`Criteria::screen`] puts a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Where selection puts it.
    Keep,
    /// After every kept host (order kept among these).
    Last,
    /// Out of every group, before the minimum is counted.
    Drop,
    /// Out, unless the answer would then be empty: then every such host is listed as if no
    /// screen had dropped it (fail open).
    DropUnlessEmpty,
}

/// One host of the answer.
#[derive(Clone, Copy)]
pub struct Chosen<'s> {
    pub host: HostIdx,
    pub group: Group,
    pub entry: &'s ArchivedHostUrls,
    /// Where `entry` is in the directory's `by_host`.
    pub at: usize,
}

impl<'s> Chosen<'s> {
    /// The host's URLs in `dir`, the directory it was chosen from. Read when rendering needs
    /// them, not when choosing: answers from kept pieces never touch the host's entry.
    #[inline]
    pub fn urls(&self, dir: &'s ArchivedDirectory) -> &'s [u32_le] {
        dir.urls_of(self.entry)
    }

    /// Every host of `dir`, in `by_host` order, as the global group (for tests of rendering).
    #[cfg(test)]
    pub fn every_host(dir: &'s ArchivedDirectory) -> Vec<Chosen<'s>> {
        dir.by_host
            .iter()
            .enumerate()
            .map(|(at, entry)| Chosen {
                host: entry.host.to_native(),
                group: Group::Global,
                entry,
                at,
            })
            .collect()
    }
}

/// The ordered answer.
pub struct Selection<'s> {
    /// Phrases to append to the header, each ending with a space.
    pub phrases: String,
    pub hosts: Vec<Chosen<'s>>,
    /// The client's country as resolved (netblock override, then GeoIP).
    pub client_country: Option<String>,
    /// The first group that contributed, as MirrorManager's `found_via`.
    pub found_via: Option<Group>,
    /// The screen would have emptied the answer, so its soft drops were undone.
    pub failed_open: bool,
}

/// Selects hosts for `dir`.
///
/// The steps follow docs/protocol.md section 6.2: netblocks and ASN (1-2), the client's country (3),
/// requested countries (4), GeoIP country and continent (5-6), the global list when too few
/// local hosts can serve (7-8), then the ordering (9). Each group's list starts empty and is
/// filled at most once, so a request allocates what it did before the steps were split.
pub fn select<'s, R: Rng + ?Sized>(
    snapshot: &'s Snapshot,
    dir: &'s ArchivedDirectory,
    criteria: &Criteria<'_>,
    rng: &mut R,
) -> Selection<'s> {
    let mut scratch = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let (mut selection, soft_dropped) =
        select_screened(snapshot, dir, criteria, true, rng, &mut scratch);
    if selection.hosts.is_empty() && soft_dropped {
        (selection, _) = select_screened(snapshot, dir, criteria, false, rng, &mut scratch);
        selection.failed_open = true;
    }
    SCRATCH.with(|s| *s.borrow_mut() = scratch);
    selection
}

/// The vectors one selection works in, kept by each thread for its next one: an answer of
/// 200 hosts otherwise allocates and frees six of a few kilobytes each (malloc and free were
/// about a tenth of `select/hosts180`'s profile).
#[derive(Default)]
struct Scratch {
    groups: Groups,
    shuffle: ShuffleScratch,
    positions: Vec<u32>,
    /// The words of [`Seen`].
    seen: Vec<u64>,
    /// The directory `positions` holds a table for (its address and its snapshot's
    /// instance number, the key kept pieces have: decision 24), if it holds one: the table
    /// depends on the directory alone, so the next answer for it reads the table instead of
    /// building it.
    positions_for: Option<(usize, u64)>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// [`select`] with the screen's soft drops applied or not; also says whether any host was
/// dropped softly.
fn select_screened<'s, R: Rng + ?Sized>(
    snapshot: &'s Snapshot,
    dir: &'s ArchivedDirectory,
    criteria: &Criteria<'_>,
    drop_soft: bool,
    rng: &mut R,
    scratch: &mut Scratch,
) -> (Selection<'s>, bool) {
    let requested = requested_countries(criteria.country);
    let groups = &mut scratch.groups;
    groups.clear();

    // 1-2: netblocks and ASN, only without `country=`.
    if let (true, true, Some(ip)) = (
        requested.is_empty(),
        criteria.netblock_matching,
        criteria.client,
    ) {
        groups.add_network(snapshot, dir, ip);
    }

    // 3: the client's country.
    let client_country = criteria.client.and_then(|ip| snapshot.country_of(ip));
    let allowed = |h: &HostIdx| host_allowed(snapshot, *h, client_country.as_deref());

    // 4: requested countries.
    let only_country =
        !requested.is_empty() && groups.add_requested(snapshot, dir, &requested, &allowed);

    // 5-6: GeoIP country and its continent.
    if !only_country {
        if let Some(cc) = client_country.as_deref() {
            groups.add_geoip(snapshot, dir, cc, &allowed);
        }
    }

    // What the screen leaves out goes before the minimum is counted, so the answer still
    // fills from the next groups.
    let mut soft_dropped = false;
    let mut kept = |h: &HostIdx| match criteria.screen.map_or(Place::Keep, |screen| screen(*h)) {
        Place::Keep | Place::Last => true,
        Place::Drop => false,
        Place::DropUnlessEmpty => {
            soft_dropped = true;
            !drop_soft
        }
    };
    if criteria.screen.is_some() {
        groups.retain_local(&mut kept);
    }

    // Hosts' entries from here on: the local hosts' below, then every host of the answer.
    let table_for = (std::ptr::from_ref(dir) as usize, snapshot.instance());
    let table = std::mem::take(&mut scratch.positions);
    let mut positions = Positions::new(dir, table, scratch.positions_for == Some(table_for));
    positions.expect(groups.local_len());

    // 7-8: count the local hosts that can serve; below the minimum, add the world.
    if !only_country {
        groups.add_global_if_few(
            snapshot,
            dir,
            criteria,
            (&positions, &mut scratch.seen),
            &allowed,
        );
        if criteria.screen.is_some() {
            groups.global.retain(&mut kept);
        }
    }

    // 9: order each group, then keep each host's first (best) place; the screen's `Last`
    // hosts after all others.
    let mut hosts = groups.order(
        snapshot,
        dir,
        requested.len() > 1,
        &mut positions,
        rng,
        (&mut scratch.shuffle, &mut scratch.seen),
    );
    scratch.positions = positions.into_table();
    scratch.positions_for = (!scratch.positions.is_empty()).then_some(table_for);
    if let Some(screen) = criteria.screen {
        move_last(&mut hosts, |c| screen(c.host) == Place::Last);
    }
    let selection = Selection {
        phrases: std::mem::take(&mut groups.phrases),
        hosts,
        client_country,
        found_via: groups.found_via,
        failed_open: false,
    };
    (selection, soft_dropped)
}

/// Moves the hosts `last` picks after all the others, each part in its order. Allocates only
/// when there is one to move.
fn move_last<T: Copy>(hosts: &mut Vec<T>, last: impl Fn(&T) -> bool) {
    if !hosts.iter().any(&last) {
        return;
    }
    let moved: Vec<T> = hosts.iter().copied().filter(&last).collect();
    hosts.retain(|h| !last(h));
    hosts.extend(moved);
}

/// The `country` parameter's codes, sorted and de-duplicated, empty ones dropped.
fn requested_countries(country: Option<&str>) -> Vec<&str> {
    let mut list: Vec<&str> = country
        .map(|c| c.split(',').filter(|c| !c.is_empty()).collect())
        .unwrap_or_default();
    list.sort_unstable();
    list.dedup();
    list
}

/// What each group contributes, in archive order until [`Groups::order`], with the header
/// phrases and the first group that contributed.
#[derive(Default)]
struct Groups {
    /// With the netblock's prefix length: longer (more specific) netblocks come first.
    netblock: Vec<(u8, HostIdx)>,
    asn: Vec<HostIdx>,
    country: Vec<HostIdx>,
    geoip: Vec<HostIdx>,
    continent: Vec<HostIdx>,
    global: Vec<HostIdx>,
    phrases: String,
    found_via: Option<Group>,
    /// `geoip` and `continent` hold no host twice, between them (see [`GeoGroups::distinct`]).
    geo_distinct: bool,
}

impl Groups {
    /// Empties every group, keeping the vectors.
    fn clear(&mut self) {
        self.netblock.clear();
        self.asn.clear();
        self.country.clear();
        self.geoip.clear();
        self.continent.clear();
        self.global.clear();
        self.phrases.clear();
        self.found_via = None;
        self.geo_distinct = false;
    }

    /// Records `g` as MirrorManager's `found_via` unless an earlier group already is.
    fn set_via(&mut self, g: Group) {
        if self.found_via.is_none() {
            self.found_via = Some(g);
        }
    }

    /// Steps 1-2: the hosts of the netblocks holding `ip` and of `ip`'s ASN, those that carry
    /// the directory.
    fn add_network(&mut self, snapshot: &Snapshot, dir: &ArchivedDirectory, ip: IpAddr) {
        let carried = |h: &HostIdx| find_entry(dir, *h).is_some();
        let mut nets = Vec::new();
        snapshot.netblocks_of(ip, &mut nets);
        for (len, hosts) in nets {
            self.netblock
                .extend(natives(hosts).filter(carried).map(|h| (len, h)));
        }
        if !self.netblock.is_empty() {
            self.phrases.push_str("Using preferred netblock ");
            self.set_via(Group::Netblock);
        }
        if let Some(asn) = snapshot.asn_of(ip) {
            let hosts = snapshot.asn_hosts(asn);
            if !hosts.is_empty() {
                self.phrases.push_str(&format!("Using ASN {asn} "));
                self.set_via(Group::Asn);
                self.asn.extend(natives(hosts).filter(carried));
            }
        }
    }

    /// Step 4: the hosts of the requested countries (`global` names the global list); when
    /// none of them has hosts, those of the continents they name. True when either found
    /// hosts: the answer is then only these.
    fn add_requested(
        &mut self,
        snapshot: &Snapshot,
        dir: &ArchivedDirectory,
        requested: &[&str],
        allowed: &impl Fn(&HostIdx) -> bool,
    ) -> bool {
        for c in requested {
            let upper = c.to_ascii_uppercase();
            if upper == "GLOBAL" {
                self.country.extend(natives(&dir.global));
                self.phrases.push_str("country = global ");
            }
            if let Some(hosts) = country_list(dir, &upper) {
                self.country.extend(natives(hosts));
                push_country_phrase(&mut self.phrases, c);
            }
        }
        if self.country.is_empty() {
            for c in requested {
                let upper = c.to_ascii_uppercase();
                add_continent(
                    snapshot,
                    dir,
                    &upper,
                    &mut self.continent,
                    &mut self.phrases,
                );
            }
        }
        let only_country = !self.country.is_empty() || !self.continent.is_empty();
        if only_country {
            self.set_via(Group::Country);
        }
        self.country.retain(allowed);
        self.continent.retain(allowed);
        only_country
    }

    /// Steps 5-6: the hosts of the client's GeoIP country `cc` and of its continent, as this
    /// thread kept them for the directory and the country, or found now.
    fn add_geoip(
        &mut self,
        snapshot: &Snapshot,
        dir: &ArchivedDirectory,
        cc: &str,
        allowed: &impl Fn(&HostIdx) -> bool,
    ) {
        let address = std::ptr::from_ref(dir) as usize;
        let fill = |found: &mut GeoGroups| geoip_groups(snapshot, dir, cc, allowed, found);
        with_geo_groups(snapshot.instance(), address, cc, fill, |found| {
            self.geoip.extend_from_slice(&found.country);
            self.continent.extend_from_slice(&found.continent);
            self.phrases.push_str(&found.phrases);
            self.geo_distinct = found.distinct;
            if found.country_listed {
                self.set_via(Group::Geoip);
            }
            if found.continent_found {
                self.set_via(Group::Continent);
            }
        });
    }

    /// Keeps only the local groups' hosts `keep` admits.
    fn retain_local(&mut self, keep: &mut impl FnMut(&HostIdx) -> bool) {
        self.netblock.retain(|(_, h)| keep(h));
        self.asn.retain(|h| keep(h));
        self.country.retain(|h| keep(h));
        self.geoip.retain(|h| keep(h));
        self.continent.retain(|h| keep(h));
    }

    /// How many hosts the local groups (all but global) hold, repeats included.
    fn local_len(&self) -> usize {
        self.netblock.len()
            + self.asn.len()
            + self.country.len()
            + self.geoip.len()
            + self.continent.len()
    }

    /// Steps 7-8: counts the distinct local hosts that serve one of the requested protocols;
    /// below the minimum, adds the global list. With no local host at all, global is what
    /// the answer was found via.
    fn add_global_if_few(
        &mut self,
        snapshot: &Snapshot,
        dir: &ArchivedDirectory,
        criteria: &Criteria<'_>,
        (positions, seen_words): (&Positions<'_>, &mut Vec<u64>),
        allowed: &impl Fn(&HostIdx) -> bool,
    ) {
        // Only whether the count reaches the minimum matters (and whether it is 0), so the
        // count stops there: an EU answer has a couple of hundred local hosts and the minimum
        // is a handful (sorting them all to count them was a tenth of such an answer).
        let mut seen = Seen::new(dir, seen_words);
        let local = (self.netblock.iter().map(|(_, h)| h))
            .chain(&self.asn)
            .chain(&self.country)
            .chain(&self.geoip)
            .chain(&self.continent);
        let mut found = 0;
        for &h in local {
            if found >= criteria.minimum {
                break;
            }
            if seen.first(h)
                && positions.get(h).is_some_and(|at| {
                    serves(snapshot, dir.urls_of(&dir.by_host[at]), criteria.protocols)
                })
            {
                found += 1;
            }
        }
        if found < criteria.minimum {
            self.global.reserve(dir.global.len());
            self.global.extend(natives(&dir.global).filter(allowed));
            self.phrases.push_str("country = global ");
            if found == 0 {
                self.found_via = Some(Group::Global);
            } else {
                self.set_via(Group::Global);
            }
        }
    }

    /// Step 9: netblocks most specific first (equal lengths shuffled), ASN hosts shuffled, the
    /// other groups shuffled by weight; then each host once, at its best place, with its
    /// entry. Hosts the directory does not carry are left out.
    fn order<'s, R: Rng + ?Sized>(
        &mut self,
        snapshot: &Snapshot,
        dir: &'s ArchivedDirectory,
        several_countries: bool,
        positions: &mut Positions<'s>,
        rng: &mut R,
        (scratch, seen_words): (&mut ShuffleScratch, &mut Vec<u64>),
    ) -> Vec<Chosen<'s>> {
        self.netblock
            .sort_by_key(|(len, _)| std::cmp::Reverse(*len));
        shuffle_runs(&mut self.netblock, rng);
        uniform_shuffle(&mut self.asn, rng);
        // Only `country=` can list a host twice in one group (`country=global,de`): every other
        // group is one archived list, or lists of distinct countries. De-duplicating before the
        // shuffle keeps such a host's odds those of one entry; `place` below keeps any other
        // repeat, from a bundle built elsewhere, out of the answer.
        if several_countries {
            dedup_keep_first(dir, &mut self.country, seen_words);
        }
        let total = self.local_len() + self.global.len();
        positions.expect(total);
        // A host can be offered twice only from two groups, or from kept GeoIP groups that
        // repeat one. A European answer is its GeoIP and continent groups alone: 180 hosts
        // that would each be looked up in `seen` for nothing.
        let repeats = !(self.netblock.is_empty()
            && self.asn.is_empty()
            && self.country.is_empty()
            && self.global.is_empty()
            && self.geo_distinct);
        let mut seen = repeats.then(|| Seen::new(dir, seen_words));
        let mut hosts = Vec::with_capacity(total.min(dir.by_host.len()));
        let mut place = |host: HostIdx, group: Group| {
            if seen.as_mut().is_none_or(|seen| seen.first(host)) {
                if let Some(at) = positions.get(host) {
                    hosts.push(Chosen {
                        host,
                        group,
                        entry: &dir.by_host[at],
                        at,
                    });
                }
            }
        };
        for &(_, host) in &self.netblock {
            place(host, Group::Netblock);
        }
        for &host in &self.asn {
            place(host, Group::Asn);
        }
        for (list, group) in [
            (&self.country, Group::Country),
            (&self.geoip, Group::Geoip),
            (&self.continent, Group::Continent),
            (&self.global, Group::Global),
        ] {
            for &at in weighted_order(snapshot, list, rng, scratch) {
                place(list[at as usize], group);
            }
        }
        hosts
    }
}

/// Steps 5-6 for the client's GeoIP country `cc`, into `found` (emptied): what
/// [`Groups::add_geoip`] keeps per thread.
fn geoip_groups(
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    cc: &str,
    allowed: &impl Fn(&HostIdx) -> bool,
    found: &mut GeoGroups,
) {
    let upper = cc.to_ascii_uppercase();
    if let Some(hosts) = country_list(dir, &upper) {
        found.country.extend(natives(hosts).filter(allowed));
        push_country_phrase(&mut found.phrases, &upper);
        found.country_listed = true;
    }
    add_continent(
        snapshot,
        dir,
        &upper,
        &mut found.continent,
        &mut found.phrases,
    );
    found.continent_found = !found.continent.is_empty();
    found.continent.retain(allowed);
    let mut words = Vec::new();
    let mut seen = Seen::new(dir, &mut words);
    found.distinct = found
        .country
        .iter()
        .chain(&found.continent)
        .all(|&h| seen.first(h));
}

fn natives(list: &[ArchivedIdx]) -> impl Iterator<Item = HostIdx> + '_ {
    list.iter().map(|h| h.to_native())
}

/// The directory's entry for a host, if the host carries it.
pub fn find_entry(dir: &ArchivedDirectory, host: HostIdx) -> Option<&ArchivedHostUrls> {
    position(dir, host).and_then(|i| dir.by_host.get(i))
}

/// Where a host is in the directory's `by_host`, if the host carries it.
fn position(dir: &ArchivedDirectory, host: HostIdx) -> Option<usize> {
    dir.by_host
        .binary_search_by(|e| e.host.to_native().cmp(&host))
        .ok()
}

/// [`position`] for many hosts of one directory: with enough lookups to pay for it, a table
/// by host index filled in one pass over `by_host` (as long as the directory's highest host
/// is not too far above its host count), otherwise binary searches.
struct Positions<'d> {
    dir: &'d ArchivedDirectory,
    /// `table[host]` is the host's position plus one, or 0 when it does not carry the
    /// directory; empty when not worth building.
    table: Vec<u32>,
}

impl<'d> Positions<'d> {
    /// Fewer lookups than this are cheaper as binary searches than a table.
    const MIN_LOOKUPS: usize = 24;

    /// Positions in `dir`, building any table in `table`: emptied first, unless it is
    /// `dir`'s table already (`built`).
    fn new(dir: &'d ArchivedDirectory, mut table: Vec<u32>, built: bool) -> Self {
        if !built {
            table.clear();
        }
        Positions { dir, table }
    }

    /// The table's vector, for the next selection.
    fn into_table(self) -> Vec<u32> {
        self.table
    }

    /// Says how many lookups come next: builds the table if that many pay for it.
    fn expect(&mut self, lookups: usize) {
        let carried = self.dir.by_host.len();
        let span = self
            .dir
            .by_host
            .last()
            .map_or(0, |e| e.host.to_native() as usize + 1);
        if !self.table.is_empty()
            || lookups < Self::MIN_LOOKUPS
            || span > carried.saturating_mul(16)
        {
            return;
        }
        self.table.resize(span, 0);
        for (at, e) in self.dir.by_host.iter().enumerate() {
            self.table[e.host.to_native() as usize] = at as u32 + 1;
        }
    }

    #[inline]
    fn get(&self, host: HostIdx) -> Option<usize> {
        if self.table.is_empty() {
            return position(self.dir, host);
        }
        match self.table.get(host as usize) {
            Some(&at) if at > 0 => Some(at as usize - 1),
            _ => None,
        }
    }
}

fn country_list<'d>(dir: &'d ArchivedDirectory, country: &str) -> Option<&'d [ArchivedIdx]> {
    dir.by_country
        .binary_search_by(|e| code_cmp(e.country.as_str(), country))
        .ok()
        .and_then(|i| dir.by_country.get(i))
        .map(|e| dir.hosts_of(e))
}

/// Every other country of `country`'s continent that the directory has, in code order
/// (decision 5): the directory's countries are sorted by code, and each one's continent is a
/// number to compare (walking the continent's members against them instead was a seventh of
/// a European answer).
fn add_continent(
    snapshot: &Snapshot,
    dir: &ArchivedDirectory,
    country: &str,
    out: &mut Vec<HostIdx>,
    phrases: &mut String,
) {
    let Some(continent) = snapshot.continent_key(country) else {
        return;
    };
    let countries = dir.by_country.as_slice();
    out.reserve(dir.global.len());
    phrases.reserve(countries.len() * "country = XX ".len());
    for c in countries {
        let code = c.country.as_str();
        if snapshot.continent_key(code) == Some(continent) && code_cmp(code, country).is_ne() {
            out.extend(natives(dir.hosts_of(c)));
            push_country_phrase(phrases, code);
        }
    }
}

/// Appends `country = CODE `. A two-letter code goes in as two characters: copying a string
/// of unknown length is a call to `memcpy`, made for every country of a continent.
#[inline]
fn push_country_phrase(phrases: &mut String, code: &str) {
    phrases.push_str("country = ");
    match *code.as_bytes() {
        [a, b] if a.is_ascii() && b.is_ascii() => {
            phrases.push(char::from(a));
            phrases.push(char::from(b));
        }
        _ => phrases.push_str(code),
    }
    phrases.push(' ');
}

/// `a.cmp(b)` for country codes, two letters as one integer compare: the continent walk and
/// the country searches make dozens per answer, and `str`'s compare calls `memcmp` each time.
#[inline]
fn code_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes(), b.as_bytes()) {
        (&[a0, a1], &[b0, b1]) => u16::from_be_bytes([a0, a1]).cmp(&u16::from_be_bytes([b0, b1])),
        (a, b) => a.cmp(b),
    }
}

/// A host with allowed countries serves only clients known to be in one of them (decision 8).
#[inline(always)]
pub fn host_allowed(snapshot: &Snapshot, host: HostIdx, client_country: Option<&str>) -> bool {
    match snapshot.host_traits(host) {
        None => false,
        Some(traits) if !traits.restricted => true,
        Some(_) => restricted_host_allowed(snapshot, host, client_country),
    }
}

/// [`host_allowed`] for a host with allowed countries: only these, a few in any dataset, read
/// their archived record (out of line, so that the check every host of an answer makes stays
/// a load and a compare).
#[cold]
#[inline(never)]
fn restricted_host_allowed(
    snapshot: &Snapshot,
    host: HostIdx,
    client_country: Option<&str>,
) -> bool {
    client_country.is_some_and(|cc| {
        snapshot.host(host).is_some_and(|h| {
            h.allowed_countries
                .binary_search_by(|a| a.as_str().cmp(cc))
                .is_ok()
        })
    })
}

/// Whether a host has a URL for one of `protocols` (any URL when none are asked for).
pub fn serves(snapshot: &Snapshot, urls: &[u32_le], protocols: Option<&[&str]>) -> bool {
    match protocols {
        None => true,
        Some(list) => urls
            .iter()
            .any(|u| scheme_in(snapshot.base_url(u.to_native()), list)),
    }
}

/// Whether `url` starts with `<p>:` for some `p` in `schemes`.
pub fn scheme_in(url: &str, schemes: &[&str]) -> bool {
    schemes
        .iter()
        .any(|p| url.len() > p.len() && url.as_bytes()[p.len()] == b':' && url.starts_with(p))
}

fn dedup_keep_first(dir: &ArchivedDirectory, list: &mut Vec<HostIdx>, words: &mut Vec<u64>) {
    if list.len() < 2 {
        return;
    }
    let mut seen = Seen::new(dir, words);
    list.retain(|h| seen.first(*h));
}

/// A "seen" set over host indices, one bit per host up to the highest host the directory
/// carries (`by_host` is sorted, so that is its last entry), in words the thread keeps from
/// one answer to the next. A higher host, which the directory cannot carry and a valid bundle
/// never lists, goes in a short list instead.
struct Seen<'w> {
    words: &'w mut Vec<u64>,
    others: Vec<HostIdx>,
}

impl<'w> Seen<'w> {
    fn new(dir: &ArchivedDirectory, words: &'w mut Vec<u64>) -> Self {
        let bits = dir
            .by_host
            .last()
            .map_or(0, |e| e.host.to_native() as usize + 1);
        words.clear();
        words.resize(bits.div_ceil(64), 0);
        Seen {
            words,
            others: Vec::new(),
        }
    }

    /// True the first time `h` is offered.
    #[inline]
    fn first(&mut self, h: HostIdx) -> bool {
        let at = h as usize;
        let Some(word) = self.words.get_mut(at / 64) else {
            if self.others.contains(&h) {
                return false;
            }
            self.others.push(h);
            return true;
        };
        let bit = 1u64 << (at % 64);
        let first = *word & bit == 0;
        *word |= bit;
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::model::{Directory, Host, SnapshotData};
    use rand::SeedableRng;

    /// `n` hosts of weight 1.
    fn equal_hosts(n: u32) -> Vec<Host> {
        (0..n)
            .map(|_| Host {
                weight: 1,
                ..Host::default()
            })
            .collect()
    }

    /// Directory `d` carried by hosts `0..n`, each with its own URL, all in the global list.
    fn directory_d(n: u32) -> Directory {
        Directory {
            name: "d".into(),
            subpath: "d".into(),
            global: (0..n).collect(),
            ..Directory::default()
        }
        .with_hosts((0..n).map(|h| (h, true, vec![h])))
    }

    /// Hosts `0..4` of weight 1 carrying directory `d`, listed under `countries` (each of
    /// `continents`' countries in Europe), and a netblock that puts 192.0.2.0/24 in DE; with
    /// the criteria of the client 192.0.2.7 there.
    fn de_client(
        countries: &[(&str, Vec<HostIdx>)],
        continents: &[&str],
    ) -> (Snapshot, Criteria<'static>) {
        use crate::snapshot::model::NetCountry;
        let net: ipnet::IpNet = "192.0.2.0/24".parse().unwrap();
        let data = SnapshotData {
            hosts: equal_hosts(4),
            base_urls: (0..4)
                .map(|h| format!("https://m{h}.example/pub"))
                .collect(),
            directories: vec![directory_d(4)
                .with_countries(countries.iter().map(|(c, hosts)| (*c, hosts.clone())))],
            netblock_countries: vec![NetCountry {
                net: net.into(),
                country: "DE".into(),
            }],
            ..SnapshotData::default()
        }
        .with_country_continents(continents.iter().map(|c| (*c, "EU")));
        let criteria = Criteria {
            client: Some("192.0.2.7".parse().unwrap()),
            country: None,
            netblock_matching: true,
            protocols: None,
            minimum: 1,
            screen: None,
        };
        (Snapshot::from_data(&data).unwrap(), criteria)
    }

    /// The table of host places a thread keeps is used again only for the directory and the
    /// snapshot instance it was built for (decision 24): a table left by another snapshot whose
    /// directory sat at the same address is rebuilt, not read. The same address is what a
    /// reload can give (a new bundle mapped where the old one was); here the thread's memo is
    /// set as such a reload would leave it, so the case does not depend on where the allocator
    /// puts the next snapshot.
    #[test]
    fn a_kept_table_of_places_is_not_read_for_another_snapshot() {
        const HOSTS: u32 = 40; // enough lookups to build a table (`Positions::MIN_LOOKUPS`)
        let data = SnapshotData {
            hosts: equal_hosts(HOSTS),
            base_urls: (0..HOSTS)
                .map(|h| format!("https://m{h}.example/pub"))
                .collect(),
            directories: vec![directory_d(HOSTS)],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d").unwrap();
        let criteria = Criteria {
            client: None,
            country: None,
            netblock_matching: true,
            protocols: None,
            minimum: 1,
            screen: None,
        };
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let address = std::ptr::from_ref(dir) as usize;
        // A table that says no host carries the directory, left for this address by `left_by`.
        let answer_after = |left_by: u64, rng: &mut rand::rngs::SmallRng| {
            SCRATCH.with(|s| {
                let mut s = s.borrow_mut();
                s.positions = vec![0; HOSTS as usize];
                s.positions_for = Some((address, left_by));
            });
            let mut hosts: Vec<HostIdx> = select(&snapshot, dir, &criteria, rng)
                .hosts
                .iter()
                .map(|c| c.host)
                .collect();
            hosts.sort_unstable();
            hosts
        };
        // Left by another instance: rebuilt, every host answered.
        let other = snapshot.instance() + 1;
        assert_eq!(
            answer_after(other, &mut rng),
            (0..HOSTS).collect::<Vec<_>>()
        );
        // Left by this very snapshot: read as it is (so the case above did reach the memo).
        assert!(answer_after(snapshot.instance(), &mut rng).is_empty());
    }

    /// The GeoIP country's and continent's hosts a thread keeps (decision 26) are read again
    /// only for the snapshot instance they were found in: groups left for the same directory
    /// address and country by another instance are found anew. Planted here as a reload would
    /// leave them, so the case does not depend on where the next snapshot is mapped.
    #[test]
    fn kept_geo_groups_are_not_read_for_another_snapshot() {
        // Hosts 0-1 in DE, 2 in AT (both Europe), 3 in the global list only.
        let (snapshot, criteria) = de_client(&[("AT", vec![2]), ("DE", vec![0, 1])], &["AT", "DE"]);
        let dir = snapshot.directory("d").unwrap();
        let address = std::ptr::from_ref(dir) as usize;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        // Groups that say DE's host is 3 and its continent has none, left by `left_by`.
        let mut answer_after = |left_by: u64| {
            let plant = |g: &mut GeoGroups| {
                g.country.push(3);
                g.country_listed = true;
            };
            // An instance no snapshot has first, so that the slot is empty and `plant` runs.
            with_geo_groups(u64::MAX, address, "DE", |_| (), |_| ());
            with_geo_groups(left_by, address, "DE", plant, |_| ());
            let selection = select(&snapshot, dir, &criteria, &mut rng);
            let mut hosts: Vec<(Group, HostIdx)> =
                selection.hosts.iter().map(|c| (c.group, c.host)).collect();
            hosts.sort_unstable();
            hosts
        };
        // Left by another instance: found anew, DE then AT.
        assert_eq!(
            answer_after(snapshot.instance() + 1),
            [(Group::Geoip, 0), (Group::Geoip, 1), (Group::Continent, 2)]
        );
        // Left by this very snapshot: read as it is (so the case above did reach them).
        assert_eq!(answer_after(snapshot.instance()), [(Group::Geoip, 3)]);
    }

    /// A host a bundle lists under two countries of the client's continent (MirrorManager's
    /// data gives a host one country, a bundle built elsewhere need not) is answered once,
    /// at its first place, though the answer is made of the kept GeoIP groups alone (which
    /// skip looking for repeats when they hold none); and when they hold none, every host is
    /// answered.
    #[test]
    fn a_host_under_two_countries_of_the_continent_is_answered_once() {
        let answers = |countries: &[(&str, Vec<HostIdx>)]| {
            let (snapshot, criteria) = de_client(countries, &["AT", "CH", "DE"]);
            let dir = snapshot.directory("d").unwrap();
            let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
            // Twice: the second answer is made from the groups the first one kept.
            (0..2)
                .map(|_| {
                    let mut hosts: Vec<(Group, HostIdx)> =
                        select(&snapshot, dir, &criteria, &mut rng)
                            .hosts
                            .iter()
                            .map(|c| (c.group, c.host))
                            .collect();
                    hosts.sort_unstable();
                    hosts
                })
                .collect::<Vec<_>>()
        };
        // Host 2 under AT and CH; host 0 under DE (the client's) and CH.
        let repeated = answers(&[("AT", vec![2]), ("CH", vec![0, 2, 3]), ("DE", vec![0, 1])]);
        let once = [
            (Group::Geoip, 0),
            (Group::Geoip, 1),
            (Group::Continent, 2),
            (Group::Continent, 3),
        ];
        assert_eq!(repeated, [once, once]);
        let distinct = answers(&[("AT", vec![2]), ("CH", vec![3]), ("DE", vec![0, 1])]);
        assert_eq!(distinct, [once, once]);
    }

    /// Steps 7-8 count the distinct local hosts that serve the asked protocols, up to the
    /// minimum: a host both in the client's netblock and in its country counts once, and one
    /// without the protocol not at all.
    #[test]
    fn the_minimum_counts_each_serving_local_host_once() {
        use crate::snapshot::model::{NetCountry, NetHosts};
        let net: ipnet::IpNet = "192.0.2.0/24".parse().unwrap();
        // Host 0: the client's netblock and country (SE), https. Host 1: SE, ftp only.
        // Hosts 2 and 3: elsewhere, in the global list only.
        let data = SnapshotData {
            hosts: equal_hosts(4),
            base_urls: ["https://m0.example/pub", "ftp://m1.example/pub"]
                .into_iter()
                .chain(["https://m2.example/pub", "https://m3.example/pub"])
                .map(String::from)
                .collect(),
            directories: vec![directory_d(4).with_countries([("SE", vec![0, 1])])],
            host_netblocks: vec![NetHosts {
                net: net.into(),
                hosts: vec![0],
            }],
            netblock_countries: vec![NetCountry {
                net: net.into(),
                country: "SE".into(),
            }],
            ..SnapshotData::default()
        };
        let snapshot = Snapshot::from_data(&data).unwrap();
        let dir = snapshot.directory("d").unwrap();
        let answer = |protocols: Option<&[&str]>| {
            let criteria = Criteria {
                client: Some("192.0.2.7".parse().unwrap()),
                country: None,
                netblock_matching: true,
                protocols,
                minimum: 2,
                screen: None,
            };
            let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
            let selection = select(&snapshot, dir, &criteria, &mut rng);
            let mut hosts: Vec<HostIdx> = selection.hosts.iter().map(|c| c.host).collect();
            hosts.sort_unstable();
            (hosts, selection.found_via)
        };
        // Any protocol: hosts 0 and 1 make the minimum, so no global list.
        assert_eq!(answer(None), (vec![0, 1], Some(Group::Netblock)));
        // https: only host 0 serves it, once however many groups list it; below the minimum,
        // the global list follows.
        assert_eq!(
            answer(Some(&["https"])),
            (vec![0, 1, 2, 3], Some(Group::Netblock))
        );
    }

    /// Country codes compare as their strings do, two-letter ones through the integer path.
    #[test]
    fn code_cmp_orders_as_str() {
        let codes = [
            "", "A", "AT", "AU", "Au", "B", "BE", "DE", "Z\0", "ZZ", "ZZZ", "É", "ÉU",
        ];
        for a in codes {
            for b in codes {
                assert_eq!(code_cmp(a, b), a.cmp(b), "{a:?} against {b:?}");
            }
        }
    }
}
