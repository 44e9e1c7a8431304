//! The server's zones that hold a set of names, found by asking for the
//! few zones that could hold them rather than listing every zone.
//!
//! A record belongs to the longest zone on the server whose name is a
//! suffix of the record's. Listing every zone (`GET /zones`) answers that
//! for any set of names, but its cost grows with the server: on PowerDNS
//! 4.7 with SQLite, 10.7 ms and 237 KB for 1,000 zones, against 0.7–0.9 ms
//! for one zone asked by name (`?zone=NAME`) and 4.5 ms and a few bytes
//! for a search of the zones at and below a name (`search-data`, which
//! scans the zones but answers only the matches). A fleet of tenants on
//! one server, each listing every zone several times per run, made the
//! server's work grow with the square of the tenants. So each parent of
//! the names is searched at and below (which answers for the names
//! themselves and any zone between), and when it is no zone, its own
//! parents are asked for by name, longest first until one is or one is a
//! zone the call is about; only names below many parents are found by
//! listing. The count of requests matters as much as their size: PowerDNS
//! opens its database anew for each one.

use crate::api::{Api, ZoneSummary};
use crate::references::holds;
use cairn_sdk::Error;
use std::collections::{BTreeSet, HashMap};

/// The most requests a lookup by name may take, searches and names asked
/// for together; past it, one listing is asked instead. Six such requests
/// cost PowerDNS about what one listing of 1,000 zones does (see the
/// module's figures); a tenant's zone with its records needs one search,
/// and records of an undeclared zone one search and its parents.
const MAX_LOOKUPS: usize = 6;

/// The most zones one search may answer: more is treated as truncated, and
/// the zones are listed instead (PowerDNS cuts a search at its `max`).
const MAX_SEARCH_RESULTS: usize = 1_000;

/// Zones of the server, complete for the names they were found for: every
/// zone that holds one of them and is longer than any other that does is
/// here (a listing holds every zone).
pub struct KnownZones {
    zones: Vec<ZoneSummary>,
    /// The zone names they were found for: a name below one of them
    /// belongs to it or to a zone below it, even while it does not exist.
    declared: BTreeSet<String>,
}

impl KnownZones {
    /// The zones that hold `names` and the zones named `zone_names`, each
    /// absolute and lower case. Names outside what a host name may hold
    /// (escapes a server may print) make it list every zone.
    pub fn find(
        api: &Api,
        names: &BTreeSet<String>,
        zone_names: &BTreeSet<String>,
    ) -> Result<Self, Error> {
        let mut zones = match Lookups::plan(names, zone_names) {
            Some(lookups) => lookups.run(api)?,
            None => api.zones()?,
        };
        for zone in &mut zones {
            zone.name.make_ascii_lowercase();
        }
        Ok(Self {
            zones,
            declared: zone_names.clone(),
        })
    }

    /// The zone that holds `name` (lower case): the longest whose name is
    /// a suffix. None when that zone is shorter than a declared zone that
    /// holds `name` (one not created yet, or whose creation failed): the
    /// record is for the declared zone, not for a parent of it.
    pub fn holding(&self, name: &str) -> Option<&ZoneSummary> {
        let zone = self
            .zones
            .iter()
            .filter(|zone| holds(&zone.name, name))
            .max_by_key(|zone| zone.name.len())?;
        let declared_below = self
            .declared
            .iter()
            .any(|declared| holds(declared, name) && declared.len() > zone.name.len());
        (!declared_below).then_some(zone)
    }

    /// The zone named `name`.
    pub fn named(&self, name: &str) -> Option<&ZoneSummary> {
        self.zones
            .iter()
            .find(|zone| zone.name.eq_ignore_ascii_case(name))
    }

    /// The longest of the declared zone names that holds `name`.
    pub fn declared_holding(&self, name: &str) -> Option<&str> {
        self.declared
            .iter()
            .filter(|declared| holds(declared, name))
            .max_by_key(|declared| declared.len())
            .map(String::as_str)
    }

    /// Records a zone created since they were found.
    pub fn insert(&mut self, mut zone: ZoneSummary) {
        zone.name.make_ascii_lowercase();
        self.zones
            .retain(|known| !known.name.eq_ignore_ascii_case(&zone.name));
        self.zones.push(zone);
    }
}

/// The requests that find the zones of a set of names.
#[derive(Debug, PartialEq)]
struct Lookups {
    /// Names at and below which every zone is searched for, none below
    /// another.
    searches: Vec<String>,
    /// Names asked for one by name, each list longest first and stopping
    /// at the first zone: the parents of a searched name, asked only when
    /// that name is no zone (a shorter one cannot hold what a longer one
    /// does), and zone names no search covers.
    chains: Vec<Chain>,
}

/// Names to ask for by name, longest first, until one is a zone.
#[derive(Debug, PartialEq)]
struct Chain {
    /// Asked only if the search at this name found no zone there.
    unless_zone: Option<String>,
    /// The names, longest first.
    names: Vec<String>,
}

impl Lookups {
    /// The lookups for `names` and `zone_names`, or `None` when listing
    /// every zone is the cheaper (or the only safe) way.
    fn plan(names: &BTreeSet<String>, zone_names: &BTreeSet<String>) -> Option<Self> {
        if !names.iter().chain(zone_names).all(|name| askable(name)) {
            return None;
        }
        let mut parents = BTreeSet::new();
        for name in names {
            // A single label's parent is the root, whose children are
            // better listed than searched.
            let (_, parent) = name.split_once('.')?;
            if parent.is_empty() {
                return None;
            }
            parents.insert(parent);
        }
        // A parent below another is covered by the other's search.
        let searches: Vec<String> = parents
            .iter()
            .filter(|parent| {
                !parents
                    .iter()
                    .any(|other| other != *parent && holds(other, parent))
            })
            .map(|parent| parent.to_string())
            .collect();
        let mut chains: Vec<Chain> = searches
            .iter()
            .map(|searched| Chain {
                unless_zone: Some(searched.clone()),
                names: parents_up_to_a_zone_named(searched, zone_names),
            })
            .filter(|chain| !chain.names.is_empty())
            .collect();
        chains.extend(
            zone_names
                .iter()
                .filter(|zone| !searches.iter().any(|searched| holds(searched, zone)))
                .map(|zone| Chain {
                    unless_zone: None,
                    names: vec![zone.clone()],
                }),
        );
        let asked: BTreeSet<&String> = chains.iter().flat_map(|chain| &chain.names).collect();
        (searches.len() + asked.len() <= MAX_LOOKUPS).then_some(Self { searches, chains })
    }

    fn run(self, api: &Api) -> Result<Vec<ZoneSummary>, Error> {
        let mut zones: Vec<ZoneSummary> = Vec::new();
        for searched in &self.searches {
            let Some(found) = api.zones_at_and_below(searched, MAX_SEARCH_RESULTS)? else {
                return api.zones();
            };
            // The pattern matches more than the zones at and below the
            // name (`*f7.example` matches `xf7.example.`): only those stay.
            zones.extend(found.into_iter().filter(|zone| {
                let name = zone.name.to_ascii_lowercase();
                holds(searched, &name)
            }));
        }
        let mut asked: HashMap<String, Option<ZoneSummary>> = HashMap::new();
        for chain in &self.chains {
            if let Some(searched) = &chain.unless_zone
                && zones
                    .iter()
                    .any(|zone| zone.name.eq_ignore_ascii_case(searched))
            {
                continue;
            }
            for name in &chain.names {
                let zone = match asked.get(name) {
                    Some(zone) => zone.clone(),
                    None => {
                        let zone = api.zone_named(name)?;
                        asked.insert(name.clone(), zone.clone());
                        zone
                    }
                };
                if zone.is_some() {
                    break;
                }
            }
        }
        zones.extend(asked.into_values().flatten());
        Ok(zones)
    }
}

/// Whether `name` may be asked for by name: absolute, and only of what a
/// host name holds (so that it needs no escaping in a URL's query, and a
/// search's wildcards `*` and `?` can only widen what it matches).
pub(crate) fn askable(name: &str) -> bool {
    name.len() > 1
        && name.ends_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_*.".contains(&b))
}

/// The parents of `name` that may hold it, longest first: up to the
/// first of `zone_names` (the zones the call is about, which the commit
/// declares or the apply makes), or to the root. Past a zone the commit
/// declares, a shorter zone holds none of its names — not even while the
/// declared one does not exist yet, since its records are to be written
/// into it.
fn parents_up_to_a_zone_named(name: &str, zone_names: &BTreeSet<String>) -> Vec<String> {
    if zone_names.contains(name) {
        return Vec::new();
    }
    let mut chain = Vec::new();
    for parent in parents_of(name) {
        let last = zone_names.contains(&parent);
        chain.push(parent);
        if last {
            break;
        }
    }
    chain
}

/// The parents of `name`, longest first, the root last.
fn parents_of(name: &str) -> Vec<String> {
    let mut chain = Vec::new();
    let mut rest = name;
    while let Some((_, parent)) = rest.split_once('.') {
        chain.push(if parent.is_empty() { "." } else { parent }.to_string());
        rest = parent;
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn list(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    fn parents_chain(searched: &str, names: &[&str]) -> Chain {
        Chain {
            unless_zone: Some(searched.into()),
            names: list(names),
        }
    }

    #[test]
    fn a_name_has_each_parent_up_to_the_root() {
        assert_eq!(parents_of("f7.example."), list(&["example.", "."]));
        assert_eq!(parents_of("org."), list(&["."]));
    }

    #[test]
    fn a_zone_of_many_records_takes_one_search() {
        let names: BTreeSet<String> = (1..=50).map(|n| format!("r{n}.f7.example.")).collect();
        let lookups = Lookups::plan(&names, &set(&["f7.example."])).expect("asked by name");
        assert_eq!(
            lookups,
            Lookups {
                searches: list(&["f7.example."]),
                chains: vec![],
            }
        );
        let undeclared = Lookups::plan(&names, &set(&[])).expect("asked by name");
        assert_eq!(
            undeclared.chains,
            vec![parents_chain("f7.example.", &["example.", "."])]
        );
    }

    #[test]
    fn parents_are_asked_down_to_a_declared_zone_only() {
        let lookups = Lookups::plan(&set(&["www.a.b.example."]), &set(&["example."])).unwrap();
        assert_eq!(
            lookups.chains,
            vec![
                parents_chain("a.b.example.", &["b.example.", "example."]),
                Chain {
                    unless_zone: None,
                    names: list(&["example."]),
                },
            ]
        );
    }

    #[test]
    fn a_parent_below_another_is_covered_by_the_others_search() {
        let lookups = Lookups::plan(
            &set(&[
                "www.example.org.",
                "a.sub.example.org.",
                "b.deep.sub.example.org.",
            ]),
            &set(&["example.org.", "elsewhere.test."]),
        )
        .unwrap();
        assert_eq!(lookups.searches, list(&["example.org."]));
        assert_eq!(
            lookups.chains,
            vec![Chain {
                unless_zone: None,
                names: list(&["elsewhere.test."]),
            }]
        );
    }

    #[test]
    fn names_under_many_parents_list_every_zone_instead() {
        let names: BTreeSet<String> = (0..5).map(|n| format!("www.s{n}.example.")).collect();
        assert_eq!(Lookups::plan(&names, &set(&[])), None);
    }

    #[test]
    fn names_a_url_would_have_to_escape_list_every_zone_instead() {
        assert_eq!(
            Lookups::plan(&set(&["my\\032printer.example."]), &set(&[])),
            None
        );
        assert_eq!(Lookups::plan(&set(&["org."]), &set(&[])), None);
    }

    #[test]
    fn the_longest_zone_that_is_a_suffix_holds_a_name() {
        let zone = |name: &str| ZoneSummary {
            id: name.into(),
            name: name.into(),
            account: None,
        };
        let known = KnownZones {
            zones: vec![zone("example."), zone("f7.example."), zone(".")],
            declared: set(&["new.f7.example."]),
        };
        assert_eq!(
            known.holding("r1.f7.example.").map(|z| z.name.as_str()),
            Some("f7.example.")
        );
        assert_eq!(
            known.holding("f70.example.").map(|z| z.name.as_str()),
            Some("example.")
        );
        assert_eq!(known.holding("a.test.").map(|z| z.name.as_str()), Some("."));
        assert!(
            known.holding("www.new.f7.example.").is_none(),
            "a record of a declared zone goes into no parent of it"
        );
    }
}
