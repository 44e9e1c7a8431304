//! Where experiments' records live: one volume per record in the engine
//! itself, its labels holding the record. Labels cannot change, so a
//! record is replaced by writing the next (its sequence number one higher)
//! and only then deleting the older: at every instant at least one record
//! of a run in progress exists, and readers take the newest.

use crate::engine::{Engine, Marker};
use crate::record::Record;
use cairn_sdk::Error;
use std::collections::BTreeMap;

/// The newest record of each of this provider instance's experiments.
pub fn newest(engine: &Engine, markers: &[Marker]) -> BTreeMap<String, (u64, Record)> {
    let mut newest: BTreeMap<String, (u64, Record)> = BTreeMap::new();
    for marker in markers {
        if !marker.made_by(&engine.made_by) {
            continue;
        }
        let (Some(experiment), Some(record)) = (marker.experiment(), marker.record()) else {
            continue;
        };
        let Ok(record) = Record::from_state(&record) else {
            continue;
        };
        let sequence = marker.sequence();
        if newest
            .get(experiment)
            .is_none_or(|(known, _)| *known < sequence)
        {
            newest.insert(experiment.to_string(), (sequence, record));
        }
    }
    newest
}

/// The volume name of an experiment's record number `sequence`.
fn volume(engine: &Engine, experiment: &str, sequence: u64) -> String {
    format!("{}-chaos-{experiment}-{sequence}", engine.made_by)
}

/// This instance's record volumes of `experiment`, with their sequences.
fn of(engine: &Engine, markers: &[Marker], experiment: &str) -> Vec<(u64, String)> {
    markers
        .iter()
        .filter(|m| m.made_by(&engine.made_by) && m.experiment() == Some(experiment))
        .map(|m| (m.sequence(), m.name.clone()))
        .collect()
}

/// Writes `record` as the experiment's newest, then deletes the older.
pub fn write(engine: &Engine, record: &Record) -> Result<(), Error> {
    let experiment = &record.spec.name;
    let existing = of(engine, &engine.markers()?, experiment);
    let sequence = existing.iter().map(|(s, _)| *s).max().unwrap_or(0) + 1;
    engine.write_marker(
        &volume(engine, experiment, sequence),
        experiment,
        sequence,
        &record.to_state(),
    )?;
    for (_, name) in existing {
        engine.delete_marker(&name)?;
    }
    Ok(())
}

/// Deletes every record of `experiment`.
pub fn remove(engine: &Engine, experiment: &str) -> Result<(), Error> {
    for (_, name) in of(engine, &engine.markers()?, experiment) {
        engine.delete_marker(&name)?;
    }
    Ok(())
}
