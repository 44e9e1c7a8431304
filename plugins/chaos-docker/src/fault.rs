//! Putting a run's fault into its targets, and taking it out again. Both
//! are idempotent: a restore of a container already restored succeeds, so
//! a restore interrupted by a crash is simply done again.

use crate::engine::Engine;
use crate::record::Run;
use crate::spec::{Experiment, Fault};
use cairn_sdk::Error;

/// What marks the busy loops of `stress` in the container's process list,
/// so that the restore ends them and nothing else.
const STRESS_MARK: &str = "cairn_chaos_stress";

/// Puts the run's fault into every target, stopping at the first that
/// fails; the caller restores the run then (a restore of what was never
/// hit is harmless).
pub fn inflict(engine: &Engine, spec: &Experiment, run: &Run) -> Result<(), Error> {
    for target in &run.targets {
        let result = match run.fault {
            Fault::Pause => engine.pause(&target.id),
            Fault::Stop => engine.stop(&target.id),
            Fault::Kill => engine.kill(&target.id, spec.signal.as_deref().unwrap_or("SIGKILL")),
            Fault::Restart => engine.restart(&target.id),
            Fault::Stress => {
                let seconds = spec.duration_ms.div_ceil(1_000).to_string();
                let loops = spec.workers.unwrap_or(1);
                // Each loop ends on its own after the duration, should the
                // restore never come.
                let script = format!(
                    "for i in $(seq {loops}); do timeout -s KILL {seconds} sh -c '{STRESS_MARK}=1; while :; do :; done' & done; wait"
                );
                engine.exec(&target.id, &["sh", "-c", &script])
            }
            Fault::Disconnect => {
                engine.disconnect(&target.id, run.network.as_deref().unwrap_or_default())
            }
        };
        if let Err(error) = result {
            return Err(error.context(format!("{} {}", run.fault.as_str(), target.name)));
        }
    }
    Ok(())
}

/// Takes the run's fault out of every target, trying them all; the first
/// failure is reported.
pub fn restore(engine: &Engine, run: &Run) -> Result<(), Error> {
    let mut first_error = None;
    for target in &run.targets {
        let result = match run.fault {
            Fault::Pause => engine.unpause(&target.id),
            Fault::Stop | Fault::Kill => engine.start(&target.id),
            Fault::Restart => Ok(()),
            Fault::Stress => engine
                .exec(&target.id, &["pkill", "-KILL", "-f", STRESS_MARK])
                .or_else(|error| match error.message.contains("not running") {
                    // A stopped container has no loops left.
                    true => Ok(()),
                    false => Err(error),
                }),
            Fault::Disconnect => {
                engine.connect(&target.id, run.network.as_deref().unwrap_or_default())
            }
        };
        if let Err(error) = result {
            first_error.get_or_insert(error.context(format!("restore {}", target.name)));
        }
    }
    first_error.map_or(Ok(()), Err)
}
