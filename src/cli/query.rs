//! `mirrorlist query`: the answer the server would give one client, and why each host is in it.

use std::time::SystemTime;

use anyhow::Context;

use super::args::QueryArgs;
use crate::answer::request::{Mode, Params};
use crate::answer::resolve::Refusal;
use crate::answer::{answer_with, Client, ClientSource, Extras, Settings};
use crate::health::{Applied, Health};

pub fn run(args: &QueryArgs) -> anyhow::Result<()> {
    let source = args.input.source()?;
    let (snapshot, _warnings) = source.load()?;
    let (path, query) = args.request.split_once('?').unwrap_or((&args.request, ""));
    let explain = path.ends_with("/explain");
    let Some(mode) = Mode::from_path(path).or(explain.then_some(Mode::Mirrorlist)) else {
        anyhow::bail!("{path}: the path must end with /mirrorlist, /metalink or /explain");
    };
    let params = Params::parse(query);
    let settings = Settings {
        minimum: args.minimum,
        ..Settings::default()
    };
    let health = match &args.health {
        Some(path) => Some(Health::load(path).context("--health")?),
        None => None,
    };
    let applied = match &health {
        Some(h) => match Applied::new(h, &snapshot, crate::clock::unix_now()) {
            Ok(applied) => Some(applied),
            Err(why) => {
                println!("# health data not applied: {why}");
                None
            }
        },
        None => None,
    };
    if args.json || explain {
        // The server's `/explain` (decision 17): `mode=` picks the endpoint explained, unless
        // the path names it.
        let mode = match (explain, params.mode.as_deref()) {
            (false, _) | (true, None | Some("mirrorlist")) => mode,
            (true, Some("metalink")) => Mode::Metalink,
            (true, Some(_)) => anyhow::bail!("{}", Refusal::BadParam("mode").message()),
        };
        let extras = Extras {
            explain: Some(ClientSource::Peer),
            health: applied.as_ref(),
            ..Extras::ALL
        };
        let reply = answer_with(
            &snapshot,
            mode,
            &params,
            Client::Addr(args.ip),
            &settings,
            &mut rand::rng(),
            SystemTime::now(),
            extras,
        );
        if reply.status != 200 || reply.content_type != Some(crate::answer::JSON) {
            println!("status: {}\n", reply.status);
        }
        print!("{}", String::from_utf8_lossy(&reply.body));
        return Ok(());
    }
    let reply = answer_with(
        &snapshot,
        mode,
        &params,
        Client::Addr(args.ip),
        &settings,
        &mut rand::rng(),
        SystemTime::now(),
        Extras {
            health: applied.as_ref(),
            ..Extras::ALL
        },
    );
    println!("status: {}", reply.status);
    if let Some(location) = &reply.location {
        println!("location: {location}");
    }
    println!();
    print!("{}", String::from_utf8_lossy(&reply.body));
    if !reply.body.ends_with(b"\n") && !reply.body.is_empty() {
        println!();
    }
    if let Some(country) = snapshot.country_of(args.ip) {
        println!("\n# client {} is in {country}", args.ip);
    } else {
        println!("\n# client {}: country unknown", args.ip);
    }
    if let Some(asn) = snapshot.asn_of(args.ip) {
        println!("# client ASN {asn}");
    }
    println!("# why each host:");
    for (i, (host, group)) in reply.trace.iter().enumerate() {
        let h = snapshot.host(*host);
        let name = h.map_or("", |h| h.name.as_str());
        let country = h.map_or("", |h| h.country.as_str());
        let id = h.map_or(0, |h| h.external_id.to_native());
        let weight = h.map_or(0, |h| h.weight.to_native());
        let health = health.as_ref().and_then(|hf| {
            let entry = hf.hosts.get(&crate::health::host_key(name, id))?;
            Some(format!(" ({}: {})", entry.state, entry.reason))
        });
        println!(
            "#  {:>3}. host {id} {name} [{country}] weight {weight}: {}{}",
            i + 1,
            group.as_str(),
            health.unwrap_or_default()
        );
    }
    if reply.failed_open {
        println!("# health would have left no host, so every host is listed (fail open)");
    }
    Ok(())
}
