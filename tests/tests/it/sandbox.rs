//! A plugin that loops, hoards memory, panics, hangs or reaches for a host
//! it was not granted fails only its own call, with a clear error, and the
//! host goes on serving every other call.

use cairn::contract::ErrorKind;
use cairn::host::{PluginError, PluginHost, ProviderInstance, ProviderSettings};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn instance(
    host: &PluginHost,
    plugin: &Arc<cairn::host::Plugin>,
    mode: &str,
    settings: impl FnOnce(&mut ProviderSettings),
) -> ProviderInstance {
    let mut provider = ProviderSettings {
        tenant: "tenant-a".into(),
        name: format!("hostile-{mode}"),
        config: serde_json::json!({"mode": mode, "target": "http://127.0.0.1:9"}),
        secrets: Default::default(),
        grants: Vec::new(),
        memory_bytes: 32 << 20,
        timeout: Duration::from_secs(2),
        concurrency: Default::default(),
    };
    settings(&mut provider);
    ProviderInstance::new(host, plugin.clone(), provider)
}

async fn list(instance: &ProviderInstance) -> Result<usize, PluginError> {
    instance
        .list(vec!["thing".into()], Vec::new())
        .await
        .map(|objects| objects.len())
}

async fn setup() -> (PluginHost, Arc<cairn::host::Plugin>) {
    let host = PluginHost::new(None).expect("the plugin host starts");
    let plugin = host
        .load(&cairn_tests::plugin_path("hostile_provider"), None)
        .await
        .expect("the hostile plugin loads");
    (host, plugin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_the_deadline() {
    let (host, plugin) = setup().await;
    let spinning = instance(&host, &plugin, "spin", |_| {});
    let started = Instant::now();
    let error = list(&spinning).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(
            error,
            PluginError::Timeout {
                function: "list",
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("did not finish `list` within 2s"),
        "{error}"
    );
    assert!(
        elapsed < Duration::from_secs(4),
        "stopped after {elapsed:?}"
    );
    // The host goes on.
    assert_eq!(
        list(&instance(&host, &plugin, "well", |_| {}))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_does_not_hold_up_another_call() {
    let (host, plugin) = setup().await;
    let spinning = instance(&host, &plugin, "spin", |s| {
        s.timeout = Duration::from_secs(5)
    });
    let well = instance(&host, &plugin, "well", |_| {});
    let slow = tokio::spawn(async move { list(&spinning).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    assert_eq!(list(&well).await.unwrap(), 0);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the good call waited {:?}",
        started.elapsed()
    );
    assert!(matches!(
        slow.await.unwrap(),
        Err(PluginError::Timeout { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_beyond_the_limit_stops_the_call() {
    let (host, plugin) = setup().await;
    let error = list(&instance(&host, &plugin, "hog", |_| {}))
        .await
        .unwrap_err();
    assert!(
        matches!(error, PluginError::MemoryExhausted { limit_mib: 32, .. }),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("exceeded its memory limit of 32 MiB"),
        "{error}"
    );
    assert_eq!(
        list(&instance(&host, &plugin, "well", |_| {}))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_a_trap_with_the_panic_message() {
    let (host, plugin) = setup().await;
    let error = list(&instance(&host, &plugin, "panic", |_| {}))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(
            error,
            PluginError::Trap {
                function: "list",
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("crashed in `list`"), "{message}");
    assert!(
        message.contains("the hostile provider panics on purpose"),
        "{message}"
    );
    assert_eq!(
        list(&instance(&host, &plugin, "well", |_| {}))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_waiting_on_the_host_hits_the_outer_timeout() {
    let (host, plugin) = setup().await;
    let started = Instant::now();
    let error = list(&instance(&host, &plugin, "sleep", |s| {
        s.timeout = Duration::from_secs(1)
    }))
    .await
    .unwrap_err();
    assert!(matches!(error, PluginError::Timeout { .. }), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ungranted_url_is_refused_and_the_plugin_sees_why() {
    let (host, plugin) = setup().await;
    // A listener that would record any connection that got through.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    let grants = vec![cairn::host::grants::Grant::parse("https://api.example.org").unwrap()];
    let exfiltrating = instance(&host, &plugin, "exfiltrate", |s| {
        s.config = serde_json::json!({"mode": "exfiltrate", "target": target});
        s.grants = grants;
    });
    let error = list(&exfiltrating).await.unwrap_err();
    match &error {
        PluginError::Provider { error, .. } => {
            assert_eq!(error.kind, ErrorKind::Denied);
            assert!(
                error
                    .message
                    .contains("outside this provider's network grants"),
                "{}",
                error.message
            );
            assert!(error.message.contains("/steal"), "{}", error.message);
        }
        other => panic!("expected a denied request, got {other}"),
    }
    assert!(
        listener.accept().is_err(),
        "a connection reached the listener"
    );
}

/// wasi:filesystem is linked (other languages' toolchains import it
/// unused), but nothing is behind it: a plugin that reads the root, its
/// working folder or a system file is refused, and it has no environment
/// and no arguments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_reading_files_finds_none() {
    let (host, plugin) = setup().await;
    let reader = instance(&host, &plugin, "reader", |s| {
        s.config = serde_json::json!({"mode": "read-files"});
    });
    let error = list(&reader).await.unwrap_err();
    let PluginError::Provider { error, .. } = &error else {
        panic!("expected the plugin's report, got {error}");
    };
    let message = &error.message;
    for path in ["/", ".", "/etc/passwd"] {
        assert!(
            message.contains(&format!("{path}: refused")),
            "{path} was not refused: {message}"
        );
    }
    assert!(!message.contains("READ"), "{message}");
    assert!(message.contains("environment: 0 variable(s)"), "{message}");
    assert!(message.contains("arguments: 0"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_shared_and_their_digest_is_checked() {
    let (host, plugin) = setup().await;
    let again = host
        .load(
            &cairn_tests::plugin_path("hostile_provider"),
            Some(plugin.sha256()),
        )
        .await
        .unwrap();
    assert!(
        Arc::ptr_eq(&plugin, &again),
        "the same file is compiled once"
    );
    let error = host
        .load(
            &cairn_tests::plugin_path("hostile_provider"),
            Some(&"f".repeat(64)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(error, PluginError::DigestMismatch { .. }),
        "{error}"
    );
}

/// A private CA and a server certificate for 127.0.0.1 it signed, made
/// with openssl in `dir`: (CA certificate, server certificate, server key).
fn private_ca(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let path = |suffix: &str| dir.join(format!("{name}-{suffix}"));
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl {args:?} failed");
    };
    let (ca, ca_key) = (path("ca.crt"), path("ca.key"));
    let (cert, key, csr) = (path("server.crt"), path("server.key"), path("server.csr"));
    let p = |path: &std::path::Path| path.display().to_string();
    let ext = path("ext.cnf");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        &format!("/CN={name} CA"),
        "-keyout",
        &p(&ca_key),
        "-out",
        &p(&ca),
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &p(&key),
        "-out",
        &p(&csr),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &p(&csr),
        "-CA",
        &p(&ca),
        "-CAkey",
        &p(&ca_key),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &p(&ext),
        "-out",
        &p(&cert),
    ]);
    (ca, cert, key)
}

/// `openssl s_server` answering HTTPS on a free port until dropped.
struct TlsServer(std::process::Child, u16);

impl TlsServer {
    fn start(cert: &std::path::Path, key: &std::path::Path) -> Self {
        let port = cairn_tests::ports::free_port();
        let child = std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-www", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(cert)
            .arg("-key")
            .arg(key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run openssl s_server");
        let server = Self(child, port);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_with_a_ca_bundle_trusts_that_ca_and_no_other() {
    use cairn::host::grants::Grant;
    use cairn::host::tls::TrustedCa;
    let (host, plugin) = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(dir.path(), "cluster");
    let (other, _, _) = private_ca(dir.path(), "other");
    let server = TlsServer::start(&cert, &key);
    let target = format!("https://127.0.0.1:{}", server.1);
    let reach = |grant: Grant| {
        let target = target.clone();
        instance(&host, &plugin, "exfiltrate", move |s| {
            s.config = serde_json::json!({"mode": "exfiltrate", "target": target});
            s.grants = vec![grant];
        })
    };
    let trusted = Grant::parse(&target)
        .unwrap()
        .with_ca(TrustedCa::load(&ca).unwrap())
        .unwrap();
    list(&reach(trusted))
        .await
        .expect("the cluster's own CA is trusted");
    // The public roots do not know a private CA; another CA is not this one.
    for grant in [
        Grant::parse(&target).unwrap(),
        Grant::parse(&target)
            .unwrap()
            .with_ca(TrustedCa::load(&other).unwrap())
            .unwrap(),
    ] {
        let error = list(&reach(grant)).await.unwrap_err();
        assert!(error.to_string().contains("ErrorCode::Tls"), "{error}");
    }
    // A CA bundle that is not one is refused when loaded, with its path.
    std::fs::write(dir.path().join("bad.crt"), "not a certificate").unwrap();
    let error = TrustedCa::load(&dir.path().join("bad.crt")).unwrap_err();
    assert!(error.to_string().contains("bad.crt"), "{error}");
    assert!(
        Grant::parse("http://127.0.0.1:1")
            .unwrap()
            .with_ca(TrustedCa::load(&cert).unwrap())
            .is_err()
    );
}

/// Samples `running` every few milliseconds until every one of `calls`
/// has ended; returns the highest value seen and the calls' results.
async fn highest_while<T>(
    calls: Vec<tokio::task::JoinHandle<T>>,
    running: impl Fn() -> usize,
) -> (usize, Vec<T>) {
    let mut highest = 0;
    while calls.iter().any(|call| !call.is_finished()) {
        highest = highest.max(running());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut results = Vec::new();
    for call in calls {
        results.push(call.await.unwrap());
    }
    (highest, results)
}

/// Waits until `check` holds, for at most ten seconds.
async fn wait_for(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_tenant_uses_up_only_its_own_call_slots() {
    use cairn::host::limits::MAX_CALLS_PER_TENANT;
    let (host, plugin) = setup().await;
    let timeout = Duration::from_millis(500);
    let spinning = Arc::new(instance(&host, &plugin, "spin", |s| s.timeout = timeout));
    let calm = instance(&host, &plugin, "calm", |s| s.tenant = "tenant-b".into());
    // Twice as many looping calls as the tenant has slots.
    let loops: Vec<_> = (0..2 * MAX_CALLS_PER_TENANT)
        .map(|_| {
            let spinning = spinning.clone();
            tokio::spawn(async move { list(&spinning).await })
        })
        .collect();
    // Every slot of the tenant taken: exactly that many calls run, the
    // rest wait on the tenant's own slots, not the process's.
    wait_for("the looping tenant's slots taken", || {
        host.tenant_calls_running("tenant-a") == MAX_CALLS_PER_TENANT
    })
    .await;
    assert_eq!(host.calls_running(), MAX_CALLS_PER_TENANT);
    // The other tenant's call does not wait for them.
    let calm_started = Instant::now();
    list(&calm).await.expect("the calm tenant's call succeeds");
    let calm_took = calm_started.elapsed();
    assert!(
        calm_took < timeout,
        "the calm tenant waited {calm_took:?} behind the looping one"
    );
    // Until the last looping call ends, never more than the tenant's
    // slots run at once — and all of them do.
    let (highest, results) = highest_while(loops, || host.calls_running()).await;
    assert_eq!(
        highest, MAX_CALLS_PER_TENANT,
        "the looping tenant ran {highest} calls at once"
    );
    for result in results {
        let error = result.unwrap_err();
        assert!(matches!(error, PluginError::Timeout { .. }), "{error}");
    }
}

/// Calls that wait on the host (an hour-long sleep) hold their slot until
/// the outer timeout: enough of them, from enough tenants, fill the
/// process's slots, and the next call waits rather than runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_process_limit_wait_for_a_slot() {
    use cairn::host::limits::{MAX_CALLS_PER_TENANT, MAX_CONCURRENT_CALLS};
    let (host, plugin) = setup().await;
    let limit = MAX_CONCURRENT_CALLS as usize;
    let timeout = Duration::from_secs(2);
    // One tenant more than it takes to fill the process's slots.
    let tenants = limit / MAX_CALLS_PER_TENANT + 1;
    let sleepers: Vec<Arc<ProviderInstance>> = (0..tenants)
        .map(|index| {
            Arc::new(instance(&host, &plugin, "sleep", |s| {
                s.tenant = format!("tenant-{index}");
                s.timeout = timeout;
            }))
        })
        .collect();
    let calls: Vec<_> = sleepers
        .iter()
        .flat_map(|sleeper| (0..MAX_CALLS_PER_TENANT).map(move |_| sleeper.clone()))
        .map(|sleeper| tokio::spawn(async move { list(&sleeper).await }))
        .collect();
    assert!(calls.len() > limit);
    // The process's slots taken, and the last tenant's calls holding its
    // own slots while they wait for the process's: every call is counted
    // by its tenant (a call spawned last may take a moment to get there;
    // one that never does times out this wait).
    let held_by_tenants = || -> usize {
        (0..tenants)
            .map(|index| host.tenant_calls_running(&format!("tenant-{index}")))
            .sum()
    };
    wait_for(
        "the process's slots taken and every call holding its tenant's slot",
        || host.calls_running() == limit && held_by_tenants() == calls.len(),
    )
    .await;
    let (highest, results) = highest_while(calls, || host.calls_running()).await;
    assert_eq!(highest, limit, "{highest} calls ran at once");
    for result in results {
        let error = result.unwrap_err();
        assert!(matches!(error, PluginError::Timeout { .. }), "{error}");
    }
}

/// The compiled-code cache runs only what a holder of its key wrote
/// (README, "Security model"): someone who can write the cache folder, but
/// not read the key kept beside the state, rewrites the hostile plugin's
/// entry with valid compiled code of another plugin — the dns provider's
/// — three ways: its whole entry copied under the hostile plugin's name,
/// its code with a tag recomputed as a digest of the code (all the old
/// scheme checked), and its code tagged with a key of the attacker's. Each
/// time the host must compile the hostile plugin again: the plugin loaded
/// still describes itself as the hostile provider, runs as one, and its
/// entry is written anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_code_forged_in_the_cache_is_never_run() {
    use cairn::host::CompiledCache;
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("cache");
    let key = dir.path().join("state/compiled-code.key");
    let open =
        || PluginHost::new(Some(CompiledCache::open(folder.clone(), &key).unwrap())).unwrap();
    let hostile = cairn_tests::plugin_path("hostile_provider");
    let dns = cairn_tests::plugin_path("dns_powerdns");
    let entries = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    };
    let entry_of = |wasm: &std::path::Path| {
        let digest = hex::encode(sha2::Sha256::digest(std::fs::read(wasm).unwrap()));
        entries()
            .into_iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&digest)
            })
            .expect("a compiled entry")
    };
    let first = open();
    let honest = first.load(&hostile, None).await.unwrap();
    let hostile_name = honest.info().name.clone();
    let dns_name = first.load(&dns, None).await.unwrap().info().name.clone();
    assert_ne!(hostile_name, dns_name);
    let (target, donor) = (entry_of(&hostile), std::fs::read(entry_of(&dns)).unwrap());
    // An entry is a 32-byte tag followed by the compiled code.
    let donor_code = donor[32..].to_vec();

    let forged_key_tag = {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&[0x42; 32]).unwrap();
        mac.update(&donor_code);
        mac.finalize().into_bytes().to_vec()
    };
    let forgeries: [(&str, Vec<u8>); 3] = [
        ("another plugin's whole entry", donor.clone()),
        (
            "another plugin's code under a digest of itself",
            [
                sha2::Sha256::digest(&donor_code).to_vec(),
                donor_code.clone(),
            ]
            .concat(),
        ),
        (
            "another plugin's code tagged with another key",
            [forged_key_tag, donor_code.clone()].concat(),
        ),
    ];
    for (what, forged) in forgeries {
        std::fs::write(&target, &forged).unwrap();
        let host = open();
        let started = std::time::Instant::now();
        let plugin = host.load(&hostile, None).await.expect("compiled again");
        eprintln!("after {what}: compiled again in {:?}", started.elapsed());
        assert_eq!(plugin.info().name, hostile_name, "{what} was run");
        list(&instance(&host, &plugin, "calm", |_| {}))
            .await
            .unwrap_or_else(|error| panic!("after {what}: {error}"));
        let rewritten = std::fs::read(&target).unwrap();
        assert_ne!(rewritten, forged, "{what} was left in place");
    }
    // The entry written anew verifies: a further host loads it as it is
    // (a recompiled entry would be a new file renamed into place).
    use std::os::unix::fs::MetadataExt;
    let inode = std::fs::metadata(&target).unwrap().ino();
    let host = open();
    let started = std::time::Instant::now();
    let plugin = host.load(&hostile, None).await.unwrap();
    eprintln!("loaded from its verified entry in {:?}", started.elapsed());
    assert_eq!(plugin.info().name, hostile_name);
    assert_eq!(
        std::fs::metadata(&target).unwrap().ino(),
        inode,
        "recompiled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_name_that_leads_inside_is_refused_unless_the_address_is_granted() {
    use cairn::host::grants::Grant;
    let (host, plugin) = setup().await;
    // Something listening on loopback, to be reached — or not.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    let reach = |target: String, grant: &str| {
        let grant = Grant::parse(grant).unwrap();
        instance(&host, &plugin, "exfiltrate", move |s| {
            s.config = serde_json::json!({"mode": "exfiltrate", "target": target});
            s.grants = vec![grant];
        })
    };
    // `localhost` is a name: granting it does not grant what it resolves to.
    let by_name = reach(
        format!("http://localhost:{port}"),
        &format!("http://localhost:{port}"),
    );
    let error = list(&by_name).await.unwrap_err();
    assert!(
        error.to_string().contains("DestinationIpProhibited"),
        "{error}"
    );
    // The address itself, or its network, is an explicit grant.
    for grant in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.0/8:{port}"),
    ] {
        let by_address = reach(format!("http://127.0.0.1:{port}"), &grant);
        list(&by_address)
            .await
            .expect("an address granted as such is reached");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gate_caps_headers_bodies_open_requests_and_rechecks_redirects() {
    use cairn::host::grants::Grant;
    use cairn::host::limits::{MAX_HTTP_RESPONSE_HEADERS, MAX_OPEN_REQUESTS_PER_CALL};
    let (host, plugin) = setup().await;
    let elsewhere = cairn_tests::serve::Served::start(|| {
        axum::Router::new().route("/", axum::routing::get(|| async { "secret" }))
    });
    let elsewhere_url = elsewhere.base_url.clone();
    // Requests that reached the server with a body, to show what the gate
    // refused never left the host.
    let posts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let posted = posts.clone();
    // Bytes of request bodies the server received whole.
    let sink = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sunk = sink.clone();
    let answer_with_headers = |count: usize| {
        move || async move {
            let mut headers = axum::http::HeaderMap::new();
            for index in 0..count {
                headers.insert(
                    axum::http::HeaderName::try_from(format!("x-filler-{index}")).unwrap(),
                    axum::http::HeaderValue::from_static("x"),
                );
            }
            (headers, "headers")
        }
    };
    let server = cairn_tests::serve::Served::start(move || {
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || async move {
                    (
                        axum::http::StatusCode::FOUND,
                        [(axum::http::header::LOCATION, elsewhere_url)],
                        "moved",
                    )
                })
                .post(move || async move {
                    posted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    "taken"
                }),
            )
            .route(
                "/sink",
                axum::routing::post(move |body: axum::body::Bytes| async move {
                    sunk.fetch_add(body.len(), std::sync::atomic::Ordering::SeqCst);
                    "sunk"
                }),
            )
            .route(
                "/many-headers",
                axum::routing::get(answer_with_headers(MAX_HTTP_RESPONSE_HEADERS + 50)),
            )
            .route(
                "/few/many-headers",
                axum::routing::get(answer_with_headers(MAX_HTTP_RESPONSE_HEADERS - 10)),
            )
            .layer(axum::extract::DefaultBodyLimit::disable())
    });
    // An attack on `target`, with the server granted.
    let attack_at = |mode: &str, target: String| {
        let grant = Grant::parse(&server.base_url).unwrap();
        let mode = mode.to_string();
        instance(&host, &plugin, &mode.clone(), move |s| {
            s.config = serde_json::json!({"mode": mode, "target": target});
            s.grants = vec![grant];
            s.memory_bytes = 128 << 20;
        })
    };
    let attack = |mode: &str| attack_at(mode, server.base_url.clone());

    let error = list(&attack("headers")).await.unwrap_err().to_string();
    assert!(error.contains("HttpRequestHeaderSectionSize"), "{error}");
    // The 17 MiB body declares its length: refused before connecting.
    let error = list(&attack("big-request")).await.unwrap_err().to_string();
    assert!(error.contains("HttpRequestBodySize"), "{error}");
    assert_eq!(
        posts.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the refused body reached the server"
    );
    // A body streamed without a declared length is cut at the cap: the
    // plugin hears the limit's name and the server never gets it whole.
    let error = list(&attack("big-stream")).await.unwrap_err().to_string();
    assert!(error.contains("HttpRequestBodySize"), "{error}");
    assert_eq!(sink.load(std::sync::atomic::Ordering::SeqCst), 0);
    // An answer with more headers than the cap is not read; one with fewer is.
    let error = list(&attack("many-headers")).await.unwrap_err().to_string();
    assert!(
        error.contains("HttpResponseHeaderSectionSize"),
        "an answer with {} headers was not refused by the cap: {error}",
        MAX_HTTP_RESPONSE_HEADERS + 50
    );
    let few = attack_at("many-headers", format!("{}/few", server.base_url));
    let error = list(&few).await.unwrap_err().to_string();
    assert!(error.contains("read an answer with"), "{error}");
    let error = list(&attack("flood")).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "refused {} of 2000",
            2000 - MAX_OPEN_REQUESTS_PER_CALL
        )),
        "{error}"
    );
    // The redirect's target is another port: a new request, checked anew.
    let error = list(&attack("follow")).await.unwrap_err().to_string();
    assert!(
        error.contains("outside this provider's network grants"),
        "{error}"
    );
    // A granted host behind user information would reach the server under
    // another name: refused before connecting.
    let userinfo = attack_at(
        "exfiltrate",
        server.base_url.replace("http://", "http://other-name@"),
    );
    let error = list(&userinfo).await.unwrap_err().to_string();
    assert!(error.contains("HttpRequestUriInvalid"), "{error}");
    // `Host` is the granted authority's, whatever the plugin asks.
    let error = list(&attack("host-header")).await.unwrap_err().to_string();
    assert!(error.contains("bad header"), "{error}");
}

/// Connections to `port` on loopback that the server's side holds open.
fn established_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            // `local_address` is `ADDRESS:PORT` in hex; state 01 is ESTABLISHED.
            columns.len() > 3 && columns[1].ends_with(&format!(":{port:04X}")) && columns[3] == "01"
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_keeps_its_connections_alive_for_itself_only_and_briefly() {
    use axum::extract::ConnectInfo;
    use cairn::host::connections::IDLE_FOR;
    use cairn::host::grants::Grant;
    use std::net::SocketAddr;
    let (host, plugin) = setup().await;
    // The client end of every request's connection, as the server saw it.
    let peers: Arc<std::sync::Mutex<Vec<SocketAddr>>> = Arc::default();
    let (seen, seen_closing) = (peers.clone(), peers.clone());
    let server = cairn_tests::serve::Served::start(move || {
        axum::Router::new()
            .route(
                "/steal",
                axum::routing::get(
                    move |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        seen.lock().unwrap().push(peer);
                        "taken"
                    },
                ),
            )
            // A server that closes each connection after its answer.
            .route(
                "/close/steal",
                axum::routing::get(
                    move |ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        seen_closing.lock().unwrap().push(peer);
                        ([(axum::http::header::CONNECTION, "close")], "taken")
                    },
                ),
            )
    });
    let port: u16 = server.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let connections = || {
        let peers = peers.lock().unwrap();
        peers.iter().collect::<std::collections::HashSet<_>>().len()
    };
    let requests = || peers.lock().unwrap().len();
    let grant = Grant::parse(&server.base_url).unwrap();
    let of_tenant = |tenant: &str, target: String| {
        let (tenant, grant) = (tenant.to_string(), grant.clone());
        instance(&host, &plugin, "exfiltrate", move |s| {
            s.tenant = tenant;
            s.config = serde_json::json!({"mode": "exfiltrate", "target": target});
            s.grants = vec![grant];
        })
    };

    let first = of_tenant("tenant-a", server.base_url.clone());
    for _ in 0..3 {
        list(&first).await.unwrap();
    }
    assert_eq!(requests(), 3);
    assert_eq!(
        connections(),
        1,
        "three calls of one instance, one connection"
    );
    assert_eq!(established_to(port), 1, "the connection is kept open");
    let other = of_tenant("tenant-b", server.base_url.clone());
    list(&other).await.unwrap();
    assert_eq!(
        connections(),
        2,
        "another tenant's instance never gets the first one's connection"
    );
    // Closed by the server after each answer: every request goes on a
    // new connection, and none fails.
    let closing = of_tenant("tenant-c", format!("{}/close", server.base_url));
    for _ in 0..3 {
        list(&closing).await.unwrap();
    }
    assert_eq!((requests(), connections()), (7, 5));
    // Unused for IDLE_FOR, kept connections are closed: the server is left
    // with none open, and the next request opens a new one.
    let unused_since = Instant::now();
    wait_for("the kept connections to close", || {
        established_to(port) == 0
    })
    .await;
    assert!(
        unused_since.elapsed() < IDLE_FOR * 3,
        "kept connections stayed open {:?} unused",
        unused_since.elapsed()
    );
    list(&first).await.unwrap();
    assert_eq!(
        connections(),
        6,
        "a connection kept past {IDLE_FOR:?} was used again"
    );
}

/// A guard that lets requests through until it is told to stop.
struct Lease(std::sync::atomic::AtomicBool);

impl cairn::host::SendGuard for Lease {
    fn may_send(&self) -> Result<(), String> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err("the lease is gone".into())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_whose_guard_says_no_sends_nothing() {
    use cairn::contract::{Action, Change, Outcome};
    use cairn::host::grants::Grant;
    let (host, plugin) = setup().await;
    let posts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let posted = posts.clone();
    let server = cairn_tests::serve::Served::start(move || {
        axum::Router::new().route(
            "/",
            axum::routing::post(move || async move {
                posted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                "{}"
            }),
        )
    });
    let target = server.base_url.clone();
    let sender = instance(&host, &plugin, "apply-send", |s| {
        s.config = serde_json::json!({"mode": "apply-send", "target": target});
        s.grants = vec![Grant::parse(&server.base_url).unwrap()];
    });
    let change = Change {
        type_name: "thing".into(),
        id: "bait".into(),
        action: Action::Create,
        summary: "create".into(),
        fields: Vec::new(),
        desired: Some(serde_json::json!({"name": "bait"})),
        observed: None,
        diagnostics: Vec::new(),
        recheck_after_ms: None,
        holds: Vec::new(),
        notice: None,
    };
    let lease = Arc::new(Lease(std::sync::atomic::AtomicBool::new(true)));
    let guard: Arc<dyn cairn::host::SendGuard> = lease.clone();
    let outcomes = sender
        .apply_guarded(std::slice::from_ref(&change), Some(guard.clone()))
        .await
        .unwrap();
    assert!(
        matches!(outcomes[..], [Outcome::Applied(_)]),
        "{outcomes:?}"
    );
    assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Once the guard says no, the call's request never leaves the host.
    lease.0.store(false, std::sync::atomic::Ordering::SeqCst);
    let outcomes = sender
        .apply_guarded(std::slice::from_ref(&change), Some(guard))
        .await
        .unwrap();
    match &outcomes[..] {
        [Outcome::Failed(error)] => {
            assert!(error.to_string().contains("the lease is gone"), "{error}")
        }
        other => panic!("the apply was not refused: {other:?}"),
    }
    assert_eq!(posts.load(std::sync::atomic::Ordering::SeqCst), 1);
}
