//! Tests named for a bug they pin: each says what went wrong before it
//! was fixed, so that it does not come back. A test that needs the helpers
//! of its own module stays there and is listed here instead.
//!
//! Pinned elsewhere in this program:
//! - `cluster::sqlite_a_paused_daemon_cannot_write` and
//!   `cluster::postgres_a_paused_daemon_cannot_write`: a daemon stopped
//!   (SIGSTOP) past its lease and resumed wrote a round of changes under
//!   the tokens it had lost; the lease is now checked before and during
//!   every apply request. `sandbox::an_apply_whose_guard_says_no_sends_nothing`
//!   pins the same check in the plugin host.
//! - `cluster::postgres_restarted_mid_run_is_recovered_from`: the runs
//!   that failed during a store outage waited out their backoff, which the
//!   outage had stretched; every held tenant is now reconciled as soon as
//!   the store answers again. (Its harness also removes the stale
//!   `postmaster.pid` a killed PostgreSQL leaves when another program has
//!   taken its process id, which kept the server from starting again.)
//! - `sandbox::a_looping_tenant_uses_up_only_its_own_call_slots`: a tenant
//!   whose plugin loops could take every call slot of the process, and the
//!   other tenants' calls failed; it now holds its own share, and calls
//!   past the process's slots wait.
//! - `daemon::a_tenant_whose_plugin_fails_to_load_is_reported_while_the_others_run`:
//!   one tenant's plugin looping in `describe` held up the start of every
//!   other tenant (the daemon waited for every load); each tenant now loads
//!   on its own, and one that fails is tried again.
//! - `sandbox::a_grant_with_a_ca_bundle_trusts_that_ca_and_no_other`: a
//!   plugin's HTTPS request panicked the host task, which had no
//!   process-wide rustls provider.
//! - `logging::tracing_cairn_does_not_trace_the_engine`: `CAIRN_LOG=trace`
//!   let the WebAssembly engine write gigabytes of trace for every compile.
//! - `logging::a_call_writes_a_bounded_number_of_warnings_about_its_requests`:
//!   a plugin flooding the network gate had every refused request logged.
//! - `http_limits::anonymous_callers_cannot_starve_or_bloat_the_daemon`:
//!   1,100 half-sent requests shut the daemon's HTTP server out, and
//!   unsigned webhook bodies, held whole before their signature was
//!   checked, grew the daemon by 962 MiB.
//! - `convergence::a_provider_that_does_not_converge_is_reported_once_and_held_until_git_changes`:
//!   a provider whose observed state differed from the spec it applied
//!   (a field shaped differently) "succeeded" at every apply, the next
//!   plan showed the same update, and the daemon applied it again at every
//!   drift check; it is now reported once and held until Git or the
//!   plugin changes.
//! - `cluster_kubernetes::a_partly_refused_bundle_is_cairns_and_converges_once_fixed_in_git`:
//!   a 13-object manifest set failed on one object (a Service port without
//!   `protocol`, which the API server's server-side apply refuses), and the
//!   next plan refused the twelve objects Cairn had made as "not created by
//!   Cairn"; such ports are now defaulted to TCP, and what a failed create
//!   made stays Cairn's.
//!
//! Pinned by the library's unit tests:
//! - `only_regular_files_are_read`: a plugin path naming a pipe or a
//!   device was read; and `entries_that_are_not_files_or_too_large_are_not_read`,
//!   the same for the entries of the compiled-code cache.
//! - `values_nested_past_the_parsers_limit_still_count`: TOML values nested
//!   past the parser's depth limit went uncounted by the values quota,
//!   though the parser builds what follows them before refusing the file.
//! - `the_engine_stays_at_info_unless_named`: the filter behind
//!   `CAIRN_LOG=trace` above.

use cairn_tests::Workspace;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A CNAME replaced by an A record in one commit failed: the PowerDNS
/// plugin sent the new RRset before deleting the old one in its PATCH, and
/// PowerDNS refuses other data beside a CNAME. Deletes now go first.
#[test]
fn a_cname_can_become_an_a_record_in_one_commit() {
    let ws = Workspace::new();
    let zone = "[[dns.zone]]\nname = \"example.info.\"\n\n";
    ws.repo.write("dns.toml", &format!("{zone}[[dns.record]]\nname = \"www.example.info.\"\ntype = \"CNAME\"\nrecords = [\"web.example.info.\"]\n"));
    ws.repo.commit("cname", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    ws.repo.write("dns.toml", &format!("{zone}[[dns.record]]\nname = \"www.example.info.\"\ntype = \"A\"\nrecords = [\"192.0.2.5\"]\n"));
    ws.repo.commit("a", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.info", "A"), ["192.0.2.5"]);
    assert!(ws.pdns.dig("www.example.info", "CNAME").is_empty());
}

/// `protect = true` added in Git to a resource whose world needed no
/// change was forgotten — the plan saw nothing to do, so nothing recorded
/// it — and removing the resource from Git later deleted the object. A
/// change of lifecycle, dependencies or ignored fields alone is now
/// recorded by a host-only `refresh`.
#[test]
fn a_flag_added_in_git_is_recorded_even_when_the_world_needs_no_change() {
    let ws = Workspace::new();
    let record = "[[dns.zone]]\nname = \"example.page.\"\n\n[[dns.record]]\nname = \"www.example.page.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n";
    ws.repo.write("dns.toml", record);
    ws.repo.commit("record", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    ws.repo
        .write("dns.toml", &format!("{record}protect = true\n"));
    ws.repo.commit("protect it", AUTHOR);
    ws.cairn(&["plan"])
        .expect_code(2)
        .expect_contains("= dns/record/www.example.page./A")
        .expect_contains("record Git's change");
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    ws.cairn(&["plan"]).expect_code(0);

    // Now it leaves Git: the recorded protect keeps it.
    ws.repo
        .write("dns.toml", "[[dns.zone]]\nname = \"example.page.\"\n");
    ws.repo.commit("remove it", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_contains("dns/record/www.example.page./A left Git but is protected");
    assert_eq!(ws.pdns.dig("www.example.page", "A"), ["192.0.2.1"]);
}
