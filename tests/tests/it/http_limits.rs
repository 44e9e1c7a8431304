//! The daemon's HTTP server against anonymous callers (README, "Security
//! model", "An anonymous caller"): connections are capped and the ones
//! that send nothing are closed by the header-read timeout, webhook bodies
//! are never held, `/healthz` and signed webhooks keep answering through
//! all of it; a name that is no tenant's answers as a tenant does; and a
//! flood of bad webhooks writes a few warnings and a count.
//!
//! The limits are the daemon's own constants
//! (`runtime/src/daemon/server/limits.rs`); every bound asserted here is
//! one of them or a generous margin written beside it.

use cairn::daemon::server::limits::{
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MAX_WEBHOOK_BYTES, WARNING_BURST, WARNING_WINDOW,
};
use cairn_tests::Workspace;
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, HOOK_SECRET, metric_sum, metric_sums_by, wait_until};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// The descriptor limit of the daemon under attack: a common default, and
/// the one under which 1,100 half-sent requests shut the daemon's HTTP
/// server out before the connection cap.
const DAEMON_OPEN_FILES: u64 = 1024;

/// Half-sent requests held open at once: twice the connection cap.
const HALF_OPEN: usize = 1_000;

/// Unsigned or badly signed webhook bodies sent at once, and their size:
/// held whole before the signature check, they grew the daemon by 962 MiB.
const LARGE_BODIES: usize = 40;
const LARGE_BODY_BYTES: usize = 24 << 20;

/// How much the daemon's resident memory may grow while all of the above
/// is held. Every connection's buffer full is 8 MiB
/// (`MAX_UNAUTHENTICATED_BYTES`); the rest is the connections' tasks and
/// hyper's state. Measured here: 10.6–10.7 MiB. (Held whole, the bodies alone
/// would be 960 MiB.)
const MEMORY_GROWTH_BOUND: u64 = 64 << 20;

/// How long a `/healthz` probe may take while the daemon is under attack:
/// a generous bound on a loaded two-core machine (probes take milliseconds);
/// a starved server answers after the header-read timeout, or never.
const HEALTH_BOUND: Duration = Duration::from_secs(3);

/// Descriptors the daemon may open beyond its connections during the
/// attack (a probe's connection while another closes, the log, a fetch).
const DESCRIPTOR_SLACK: usize = 16;

/// The partial request head every held connection sends: it never ends.
const PARTIAL_HEAD: &[u8] =
    b"POST /hooks/default HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Hub-Signature-256: sha256=";

/// A `cairn.toml` with tenant `default` (webhooks signed with
/// [`HOOK_SECRET`]) and `more` tenant tables.
fn configure(ws: &Workspace, more: &str) {
    ws.repo.write("README.md", "no resources yet\n");
    ws.repo.commit("empty", AUTHOR);
    let default = ws.tenant_block(
        "default",
        &ConfigOptions {
            tenant_settings:
                "interval = \"1h\"\ndrift_interval = \"1h\"\nwebhook_secret = { env = \"CAIRN_TEST_HOOK\" }"
                    .into(),
            ..ConfigOptions::default()
        },
    );
    let text = format!("{}\n{default}{more}", config_header());
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

/// Raises this process's own descriptor limit (the daemon keeps the limit
/// it was started with): the test holds more connections than the daemon
/// may.
fn raise_own_open_files(wanted: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            assert!(
                limit.rlim_max >= wanted,
                "this test needs {wanted} open files; the hard limit is {}",
                limit.rlim_max
            );
            limit.rlim_cur = wanted;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

/// How a test request's body is framed.
#[derive(Debug, Clone, Copy)]
enum Framing {
    /// With a `Content-Length` of its size.
    Declared,
    /// `Transfer-Encoding: chunked`, no declared size.
    Chunked,
    /// A `Content-Length` of its size, and no byte of it sent.
    DeclaredOnly,
}

/// A POST of `size` bytes of `x` to `path`, with `signature` as its
/// `X-Hub-Signature-256`, on a fresh connection: the answer's status and
/// body. The body is written from another thread while the answer is
/// read, and writing stops once it has come (a refused body is not read
/// to its end).
fn post(
    port: u16,
    path: &str,
    signature: Option<&str>,
    size: usize,
    framing: Framing,
) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(60))))
        .map_err(|e| e.to_string())?;
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    if let Some(signature) = signature {
        head.push_str(&format!("X-Hub-Signature-256: {signature}\r\n"));
    }
    match framing {
        Framing::Declared | Framing::DeclaredOnly => {
            head.push_str(&format!("Content-Length: {size}\r\n\r\n"));
        }
        Framing::Chunked => head.push_str("Transfer-Encoding: chunked\r\n\r\n"),
    }
    let answered = Arc::new(AtomicBool::new(false));
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let stop = answered.clone();
    let writing = std::thread::spawn(move || {
        const PIECE: usize = 64 << 10;
        let piece = [b'x'; PIECE];
        writer.write_all(head.as_bytes())?;
        let mut left = match framing {
            Framing::DeclaredOnly => 0,
            _ => size,
        };
        while left > 0 && !stop.load(Ordering::Relaxed) {
            let n = left.min(PIECE);
            if matches!(framing, Framing::Chunked) {
                writer.write_all(format!("{n:x}\r\n").as_bytes())?;
                writer.write_all(&piece[..n])?;
                writer.write_all(b"\r\n")?;
            } else {
                writer.write_all(&piece[..n])?;
            }
            left -= n;
        }
        if matches!(framing, Framing::Chunked) && left == 0 {
            writer.write_all(b"0\r\n\r\n")?;
        }
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_error = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break None,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) => break Some(error),
        }
    };
    answered.store(true, Ordering::Relaxed);
    // The writer ends on its own: the answer stopped it, or the server
    // closed the connection under it.
    let _ = writing.join();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("no answer ({read_error:?}): {text:?}"))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.to_string()))
}

/// `X-Hub-Signature-256` of `size` bytes of `x` signed with `secret`.
fn signature(secret: &str, size: usize) -> String {
    let body = vec![b'x'; size];
    format!(
        "sha256={}",
        cairn_tests::hmac_sha256_hex(secret.as_bytes(), &body)
    )
}

/// 1,000 half-sent requests (twice the connection cap) and 40 unsigned or
/// badly signed 24 MiB webhook bodies at once, against one daemon limited
/// to 1,024 descriptors: `/healthz` and a signed push keep answering, the
/// daemon holds no more than its cap of connections and grows by a few
/// MiB, and every half-sent request is closed — the newest `MAX_CONNECTIONS`
/// by the header-read timeout, the others sooner, to make room.
#[test]
fn anonymous_callers_cannot_starve_or_bloat_the_daemon() {
    let ws = Workspace::new();
    configure(&ws, "");
    let daemon = Daemon::start_with_open_files(&ws.config_path(), DAEMON_OPEN_FILES);
    raise_own_open_files(4096);
    wait_until(Duration::from_secs(30), "the first poll", || {
        daemon.tenant("default")["commit"]["id"].is_string()
    });
    let port = daemon.port;
    let resident_before = daemon.resident_memory();
    let descriptors_before = daemon.open_descriptors();
    daemon.reset_peak_memory();

    // The half-sent requests.
    let mut held: Vec<(TcpStream, Instant)> = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        // A connection closed before its head was written (it gave way
        // already) is found closed below, like the others.
        let _ = stream.write_all(PARTIAL_HEAD);
        held.push((stream, Instant::now()));
    }
    let last_opened = Instant::now();

    // The large bodies, all at once: to the tenant and to names that are
    // no tenant's; unsigned (refused before the body is read) or badly
    // signed (read into the HMAC until it passes the cap), with a declared
    // length (refused before reading) or streamed.
    let senders: Vec<_> = (0..LARGE_BODIES)
        .map(|i| {
            let path = if (i / 4) % 2 == 0 {
                "/hooks/default".to_string()
            } else {
                format!("/hooks/nobody-{i}")
            };
            let (signed, framing, expected) = match i % 4 {
                0 | 1 => (true, Framing::Chunked, 413),
                2 => (false, Framing::Chunked, 401),
                _ => (true, Framing::Declared, 413),
            };
            std::thread::spawn(move || {
                let signature = signed.then(|| "sha256=".to_string() + &"0".repeat(64));
                let answer = post(port, &path, signature.as_deref(), LARGE_BODY_BYTES, framing);
                (path, framing, expected, answer)
            })
        })
        .collect();

    // While all of it is held: health probes, each on a fresh connection,
    // a signed push, and the daemon's own count of its connections.
    let mut probes = Vec::new();
    let mut most_open = 0.0f64;
    let mut most_descriptors = 0;
    for round in 0..20 {
        let started = Instant::now();
        let answer = daemon.get("/healthz");
        let took = started.elapsed();
        assert!(
            matches!(answer, Ok((200, _))),
            "/healthz did not answer under attack (probe {round}, after {took:?}): {answer:?}"
        );
        probes.push(took);
        if round == 10 {
            assert_eq!(
                daemon.push("default", HOOK_SECRET, "{}"),
                202,
                "a signed push was shut out"
            );
        }
        let metrics = daemon.metrics();
        most_open = most_open.max(metric_sum(&metrics, "cairn_http_connections_open"));
        most_descriptors = most_descriptors.max(daemon.open_descriptors());
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut answers = Vec::new();
    for sender in senders {
        answers.push(sender.join().expect("a sender thread"));
    }
    let peak = daemon.peak_memory();
    let growth = peak.saturating_sub(resident_before);
    let slowest = probes.iter().max().copied().unwrap_or_default();
    let mut sorted = probes.clone();
    sorted.sort();
    eprintln!(
        "under {HALF_OPEN} half-sent requests and {LARGE_BODIES} bodies of {} MiB: /healthz median {:?}, slowest {slowest:?}; \
         resident memory {} MiB before, peak {} MiB (+{:.1} MiB); at most {most_open} connections and {most_descriptors} descriptors open ({descriptors_before} before)",
        LARGE_BODY_BYTES >> 20,
        sorted[sorted.len() / 2],
        resident_before >> 20,
        peak >> 20,
        growth as f64 / f64::from(1 << 20),
    );
    assert!(
        slowest < HEALTH_BOUND,
        "/healthz took {slowest:?} under attack; every probe: {probes:?}"
    );
    assert!(
        most_open <= MAX_CONNECTIONS as f64,
        "the daemon held {most_open} connections, over its cap of {MAX_CONNECTIONS}"
    );
    assert!(
        most_descriptors <= descriptors_before + MAX_CONNECTIONS + DESCRIPTOR_SLACK,
        "the daemon had {most_descriptors} descriptors open ({descriptors_before} before the attack, cap {MAX_CONNECTIONS})"
    );
    assert!(
        growth < MEMORY_GROWTH_BOUND,
        "the daemon grew by {} MiB under attack (bound {} MiB)",
        growth >> 20,
        MEMORY_GROWTH_BOUND >> 20
    );

    for (path, framing, expected, answer) in &answers {
        match answer {
            Ok((status, _)) => assert_eq!(
                status, expected,
                "{path} with a {framing:?} body answered {answer:?}"
            ),
            Err(error) => panic!("{path} with a {framing:?} body got no answer: {error}"),
        }
    }

    // Every half-sent request is closed by the server: read gives EOF (or
    // a reset). Those still open at the header-read timeout were all open
    // at once, so there are at most MAX_CONNECTIONS of them.
    for (stream, _) in &held {
        stream.set_nonblocking(true).expect("non-blocking");
    }
    let deadline = last_opened + HEADER_READ_TIMEOUT + Duration::from_secs(30);
    let mut closed_after: Vec<Option<Duration>> = vec![None; held.len()];
    loop {
        for (index, (stream, opened)) in held.iter_mut().enumerate() {
            if closed_after[index].is_some() {
                continue;
            }
            let mut buffer = [0u8; 1024];
            match stream.read(&mut buffer) {
                Ok(0) => closed_after[index] = Some(opened.elapsed()),
                // An answer to the half-sent head (a 408, say) before the
                // close.
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => closed_after[index] = Some(opened.elapsed()),
            }
        }
        let open = closed_after
            .iter()
            .filter(|closed| closed.is_none())
            .count();
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} of {HALF_OPEN} half-sent requests are still open {:?} after the last was opened (header-read timeout {HEADER_READ_TIMEOUT:?})",
            last_opened.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed_after: Vec<Duration> = closed_after.into_iter().flatten().collect();
    let timed_out = closed_after
        .iter()
        .filter(|after| **after >= HEADER_READ_TIMEOUT)
        .count();
    let latest = closed_after.iter().max().copied().unwrap_or_default();
    eprintln!(
        "{} half-sent requests gave way to newer connections, {timed_out} were closed by the header-read timeout; the last after {latest:?}",
        HALF_OPEN - timed_out
    );
    assert!(
        timed_out <= MAX_CONNECTIONS,
        "{timed_out} half-sent requests were held open for the whole header-read timeout: more than the cap of {MAX_CONNECTIONS}"
    );
    assert!(
        timed_out > 0,
        "no half-sent request was left for the header-read timeout to close"
    );
    let closed = metric_sums_by(
        &daemon.metrics(),
        "cairn_http_connections_closed_total",
        "reason",
    );
    assert!(
        closed.get("header-timeout").copied().unwrap_or(0.0) >= timed_out as f64,
        "the header-read timeouts are not counted: {closed:?}"
    );
    assert!(
        closed.get("gave-way").copied().unwrap_or(0.0) >= (HALF_OPEN - MAX_CONNECTIONS) as f64,
        "the connections that gave way are not counted: {closed:?}"
    );
    assert!(matches!(daemon.get("/healthz"), Ok((200, _))));
}

/// An unauthenticated caller cannot tell a tenant from a name that is no
/// tenant's (nor from a tenant without webhooks): every refusal answers the
/// same status and body, after the same work. And a flood of bad webhooks
/// writes at most `WARNING_BURST` warnings of a kind per `WARNING_WINDOW`,
/// with the rest counted: the lines written plus the counts add up to
/// every refusal.
#[test]
fn webhooks_answer_alike_for_every_name_and_a_flood_is_summarised() {
    let ws = Workspace::new();
    let hookless = ws.tenant_block(
        "hookless",
        &ConfigOptions {
            tenant_settings: "interval = \"1h\"\ndrift_interval = \"1h\"".into(),
            ..ConfigOptions::default()
        },
    );
    configure(&ws, &hookless);
    let daemon = Daemon::start(&ws.config_path());
    let started = Instant::now();
    let port = daemon.port;
    let long_name = "n".repeat(300);
    let names = ["default", "hookless", "nobody", long_name.as_str()];
    let cap = usize::try_from(MAX_WEBHOOK_BYTES).expect("the cap fits in memory");
    let wrong = signature("not the secret", 2);
    let over = signature(HOOK_SECRET, cap + 1);
    let cases: [(&str, Option<&str>, usize, Framing); 5] = [
        ("unsigned", None, 2, Framing::Declared),
        (
            "signed with another secret",
            Some(&wrong),
            2,
            Framing::Declared,
        ),
        (
            "a malformed signature",
            Some("sha256=zz"),
            2,
            Framing::Declared,
        ),
        (
            "a declared length over the cap",
            Some(&over),
            cap + 1,
            Framing::DeclaredOnly,
        ),
        (
            "a streamed body over the cap",
            Some(&over),
            cap + 1,
            Framing::Chunked,
        ),
    ];
    for (case, signature, size, framing) in cases {
        let answers: Vec<(u16, String)> = names
            .iter()
            .map(|name| {
                post(port, &format!("/hooks/{name}"), signature, size, framing)
                    .unwrap_or_else(|error| panic!("{case} to {name}: {error}"))
            })
            .collect();
        assert!(
            answers.iter().all(|answer| *answer == answers[0]),
            "{case}: the answers tell the names apart: {answers:#?}"
        );
        let expected = if size > cap { 413 } else { 401 };
        assert_eq!(answers[0].0, expected, "{case}: {answers:?}");
        assert!(
            !answers[0].1.contains("default") && !answers[0].1.contains("tenant"),
            "{case}: the answer speaks of tenants: {:?}",
            answers[0].1
        );
    }
    // The same work: a 64 KiB body hashed for the tenant and for a name
    // that is no tenant's takes about as long (interleaved, medians).
    const TIMED: usize = 60;
    const TIMED_BYTES: usize = 64 << 10;
    let wrong = signature("not the secret", TIMED_BYTES);
    let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..TIMED {
        for turn in 0..2 {
            let which = (round + turn) % 2;
            let path = ["/hooks/default", "/hooks/nobody"][which];
            let started = Instant::now();
            let (status, _) = post(port, path, Some(&wrong), TIMED_BYTES, Framing::Declared)
                .expect("the webhook answers");
            times[which].push(started.elapsed());
            assert_eq!(status, 401);
        }
    }
    let median = |times: &mut Vec<Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (tenant, nobody) = (median(&mut times[0]), median(&mut times[1]));
    eprintln!(
        "a badly signed 64 KiB webhook: {tenant:?} for the tenant, {nobody:?} for no tenant (medians of {TIMED})"
    );
    let ratio = tenant.as_secs_f64().max(nobody.as_secs_f64())
        / tenant.as_secs_f64().min(nobody.as_secs_f64());
    assert!(
        ratio < 3.0,
        "the tenant's refusals take {tenant:?}, no tenant's {nobody:?}: the timing tells them apart"
    );

    // The flood.
    const FLOOD: usize = 300;
    for i in 0..FLOOD {
        let (status, _) = post(
            port,
            "/hooks/default",
            Some(&signature("x", 2)),
            2,
            Framing::Declared,
        )
        .expect("the webhook answers");
        assert_eq!(status, 401);
        let (status, _) = post(
            port,
            &format!("/hooks/flood-{i}"),
            None,
            2,
            Framing::Declared,
        )
        .expect("the webhook answers");
        assert_eq!(status, 401);
    }
    // Every refusal of each kind, counted from the daemon's start: the
    // tenant's bad signatures (three cases, the timed ones, the flood) and
    // the names that are no tenant's (five cases for two names, the timed
    // ones, the flood).
    let kinds = [
        (
            "refused a webhook with a bad or missing signature",
            "tenant=default",
            "scope=default",
            3 + TIMED + FLOOD,
        ),
        (
            "refused a webhook for a name that is no tenant's",
            "name=",
            "suppressed=",
            2 * cases.len() + TIMED + FLOOD,
        ),
    ];
    let count = |log: &str, message: &str, line_mark: &str, summary_mark: &str| {
        let mut written = 0;
        let mut held_back = 0;
        for line in log.lines().filter(|line| line.contains(message)) {
            if line.contains("more like this") && line.contains(summary_mark) {
                held_back += line
                    .split("suppressed=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|count| count.parse::<usize>().ok())
                    .expect("a count in a summary line");
            } else if line.contains(line_mark) {
                written += 1;
            }
        }
        (written, held_back)
    };
    for (message, line_mark, summary_mark, expected) in kinds {
        // The last window's count is written when it ends.
        wait_until(
            WARNING_WINDOW * 2 + Duration::from_secs(10),
            &format!("every {message:?} written or counted"),
            || {
                let (written, held_back) = count(&daemon.log(), message, line_mark, summary_mark);
                written + held_back >= expected
            },
        );
        let (written, held_back) = count(&daemon.log(), message, line_mark, summary_mark);
        let windows = started.elapsed().as_secs() / WARNING_WINDOW.as_secs() + 2;
        eprintln!(
            "{expected} × {message:?}: {written} lines written, {held_back} counted in summaries, over {:?}",
            started.elapsed()
        );
        assert_eq!(
            written + held_back,
            expected,
            "{message:?}: the lines and the counts do not add up to the refusals"
        );
        assert!(
            written as u64 <= u64::from(WARNING_BURST) * windows,
            "{message:?}: {written} lines in {windows} windows of at most {WARNING_BURST}"
        );
        assert!(held_back > 0, "{message:?}: nothing was summarised");
    }
    assert_eq!(
        metric_sums_by(&daemon.metrics(), "cairn_errors_total", "tenant")
            .get("default")
            .copied(),
        Some((3 + TIMED + FLOOD) as f64),
        "the tenant's refusals are counted"
    );
}
