//! Steady-state probes: one HTTP GET each, through the tenant's network
//! grants, healthy when the status, the body and the latency are as the
//! spec says. A check tries a probe up to its tolerance plus one times in a
//! row before it counts as failed.

use crate::spec::Probe;
use cairn_sdk::http::{Client, Method};
use std::time::{Duration, Instant};

/// The pause between two tries of a failing probe: long enough for a
/// dropped connection to be a thing of the past, short enough for a check
/// to end well within a plugin call.
const RETRY_PAUSE: Duration = Duration::from_millis(crate::spec::RETRY_PAUSE_MS);

/// Body bytes shown in an answer: enough to recognise an error page.
const SHOWN_BODY: usize = 80;

/// A probe that failed, with what it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The probe's name.
    pub probe: String,
    /// What it got: `503 after 12ms: "unavailable"`, `no answer within
    /// 500ms`, `connection refused`.
    pub answer: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "probe `{}`: {}", self.probe, self.answer)
    }
}

/// Checks every probe; the first that fails beyond its tolerance.
pub fn check(probes: &[Probe]) -> Result<(), Failure> {
    probes.iter().try_for_each(check_one)
}

fn check_one(probe: &Probe) -> Result<(), Failure> {
    let mut last = String::new();
    for attempt in 0..=probe.tolerance {
        if attempt > 0 {
            std::thread::sleep(RETRY_PAUSE);
        }
        match try_once(probe) {
            Ok(()) => return Ok(()),
            Err(answer) => last = answer,
        }
    }
    Err(Failure {
        probe: probe.name.clone(),
        answer: match probe.tolerance {
            0 => last,
            n => format!("{last} ({} tries in a row)", n + 1),
        },
    })
}

/// One request: `Err` says what was wrong with the answer.
fn try_once(probe: &Probe) -> Result<(), String> {
    let limit = Duration::from_millis(probe.latency_ms);
    let client = Client::new(&probe.url).with_timeout(limit);
    let started = Instant::now();
    let response = client.send(Method::GET, "", None).map_err(|error| {
        let message = error.message.to_ascii_lowercase();
        if message.contains("timeout") || message.contains("timed out") {
            format!("no answer within {}ms", probe.latency_ms)
        } else {
            error.message
        }
    })?;
    let took = started.elapsed();
    let body = response.text();
    let shown: String = body.chars().take(SHOWN_BODY).collect();
    let answer = format!(
        "{} after {}ms: {shown:?}",
        response.status,
        took.as_millis()
    );
    if response.status != probe.status {
        return Err(format!("{answer}, not {}", probe.status));
    }
    if let Some(wanted) = &probe.body
        && !body.contains(wanted.as_str())
    {
        return Err(format!("{answer}, without {wanted:?}"));
    }
    if took > limit {
        return Err(format!("{answer}, slower than {}ms", probe.latency_ms));
    }
    Ok(())
}
