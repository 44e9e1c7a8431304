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
//! - `git_source::a_branch_deleted_on_the_remote_is_an_error_until_it_is_back`:
//!   a branch deleted on the remote stayed in Cairn's mirror, and
//!   `cairn apply` said "No changes" forever, applying the last commit it
//!   had seen.
//! - `refusals::a_commit_refused_for_its_signature_is_in_the_history_status_and_alert`:
//!   a refused commit left no run in the history, `cairn status` did not
//!   show the error, and the alert named the last good commit.
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
use cairn_tests::cairn::{ConfigOptions, Output, config_header};
use std::path::Path;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A zone with one record.
const ZONE: &str = "[[dns.zone]]\nname = \"example.eu.\"\n\n[[dns.record]]\nname = \"www.example.eu.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n";

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

/// Runs `cairn ARGS` in `dir` with `env`, and otherwise the environment
/// the workspace's own runs have but for `PDNS_API_KEY`: the provider's
/// key comes from where `cairn.toml` says.
fn cairn_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    cairn_tests::cairn_command()
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("PDNS_API_KEY")
        .env_remove("CAIRN_LOG")
        .env_remove("CAIRN_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run cairn")
        .into()
}

/// `cairn --config FILE plan` was refused (`unexpected argument
/// '--config'`): the option was the subcommands' own, so it worked only
/// after the command's name, although the README writes it before. It is
/// now global: before the command or after it, long or short.
#[test]
fn the_config_option_goes_before_or_after_the_command() {
    let ws = Workspace::new();
    ws.repo.write("dns.toml", ZONE);
    ws.repo.commit("zone", AUTHOR);
    let config = ws.config_path();
    let config = config.to_str().expect("a UTF-8 path");
    // From another folder, where no `cairn.toml` is: only the option
    // names the file.
    let elsewhere = ws.repo.path();
    let key = [("PDNS_API_KEY", cairn_tests::pdns::API_KEY)];
    for args in [
        &["--config", config, "validate"][..],
        &["validate", "--config", config],
        &["-c", config, "validate"],
        &["validate", "-c", config],
    ] {
        cairn_in(elsewhere, args, &key)
            .expect_code(0)
            .expect_contains("is valid: 2 resource(s)");
    }
    cairn_in(elsewhere, &["--config", config, "plan"], &key)
        .expect_code(2)
        .expect_contains("+ dns/record/www.example.eu./A");
    cairn_in(elsewhere, &["--config", config, "apply", "--yes"], &key).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.eu", "A"), ["192.0.2.1"]);
    cairn_in(elsewhere, &["-c", config, "history"], &[])
        .expect_code(0)
        .expect_contains("create dns/record/www.example.eu./A");
    cairn_in(elsewhere, &["--config", config, "status"], &[])
        .expect_code(0)
        .expect_contains("dns/record/www.example.eu./A");
}

/// A secret `{ file = "pdns.key" }` was read from `pdns.key` in the
/// folder Cairn ran from, not beside `cairn.toml` as every other relative
/// path of the file (and the README) has it: run from elsewhere, the
/// provider had no key. It is read beside `cairn.toml` now.
#[test]
fn a_relative_secret_file_is_read_beside_cairn_toml() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.path().join("keys")).expect("create keys/");
    std::fs::write(
        ws.path().join("keys/pdns.key"),
        format!("{}\n", cairn_tests::pdns::API_KEY),
    )
    .expect("write the key");
    let block = ws.tenant_block("default", &ConfigOptions::default());
    let relative = block.replace("{ env = \"PDNS_API_KEY\" }", "{ file = \"keys/pdns.key\" }");
    assert_ne!(block, relative, "the key is read from a file");
    std::fs::write(ws.config_path(), format!("{}\n{relative}", config_header()))
        .expect("write cairn.toml");
    ws.repo.write("dns.toml", ZONE);
    ws.repo.commit("zone", AUTHOR);

    // From the repository's folder, which has no `keys/`.
    let config = ws.config_path();
    let config = config.to_str().expect("a UTF-8 path");
    cairn_in(ws.repo.path(), &["--config", config, "apply", "--yes"], &[])
        .expect_code(0)
        .expect_contains("create dns/record/www.example.eu./A");
    assert_eq!(ws.pdns.dig("www.example.eu", "A"), ["192.0.2.1"]);
}

/// Rollback moved forward: commits were ordered by their latest successful
/// run, so each rollback moved its own target to the top, and with v1, v2
/// and v3 applied the third `cairn rollback` went to v2 again; and `--to`
/// applied and held a commit that had never applied with success. A
/// rollback now walks back in the order commits were first applied, one
/// further each time, and says when there is nothing further back; `--to`
/// takes only a commit applied with success, naming those it could take.
#[test]
fn rollback_walks_back_in_the_order_commits_were_first_applied() {
    let ws = Workspace::new();
    let zone = |address: &str| {
        format!(
            "[[dns.zone]]\nname = \"example.wiki.\"\n\n[[dns.record]]\nname = \"www.example.wiki.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n"
        )
    };
    let www = || ws.pdns.dig("www.example.wiki", "A");
    let held_at = |commit: &str| format!("held at commit {}", &commit[..12]);
    let mut commits = Vec::new();
    for (version, address) in [(1, "192.0.2.1"), (2, "192.0.2.2"), (3, "192.0.2.3")] {
        ws.repo.write("dns.toml", &zone(address));
        commits.push(ws.repo.commit(&format!("v{version}"), AUTHOR));
        ws.cairn(&["apply", "--yes"]).expect_code(0);
        assert_eq!(www(), [address]);
    }

    ws.cairn(&["rollback"])
        .expect_code(0)
        .expect_contains(&held_at(&commits[1]));
    assert_eq!(www(), ["192.0.2.2"]);
    ws.cairn(&["rollback"])
        .expect_code(0)
        .expect_contains(&held_at(&commits[0]));
    assert_eq!(www(), ["192.0.2.1"]);
    ws.cairn(&["rollback"])
        .expect_code(1)
        .expect_contains(&format!(
            "tenant default is at commit {}, the first commit it applied with success: there is nothing further back",
            &commits[0][..12]
        ));
    assert_eq!(www(), ["192.0.2.1"]);

    // A commit never applied is refused by name, with the ones a rollback
    // may go to; nothing is applied, nothing recorded.
    ws.repo.write("dns.toml", &zone("192.0.2.4"));
    let never = ws.repo.commit("v4, never applied", AUTHOR);
    let runs = ws.history().len();
    let refused = ws.cairn(&["rollback", "--to", &never]);
    refused.expect_code(1).expect_contains(&format!(
        "commit {} was never applied with success to tenant default",
        &never[..12]
    ));
    for (commit, version) in commits.iter().zip(["v1", "v2", "v3"]) {
        refused.expect_contains(&format!("{} ({version})", &commit[..12]));
    }
    assert_eq!(www(), ["192.0.2.1"]);
    assert_eq!(
        ws.history().len(),
        runs,
        "a refused rollback recorded a run"
    );

    // `--to` a commit applied with success, by its short id, goes there;
    // the walk back then starts from it.
    ws.cairn(&["rollback", "--to", &commits[2][..12]])
        .expect_code(0)
        .expect_contains(&held_at(&commits[2]));
    assert_eq!(www(), ["192.0.2.3"]);
    ws.cairn(&["rollback"])
        .expect_code(0)
        .expect_contains(&held_at(&commits[1]));
    assert_eq!(www(), ["192.0.2.2"]);
    let kinds: Vec<(String, String)> = ws
        .history()
        .iter()
        .filter(|run| run["kind"] == "rollback")
        .map(|run| {
            (
                run["commit_id"].as_str().unwrap().to_string(),
                run["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [1, 2, 0, 1]
        .iter()
        .map(|&i| (commits[i].clone(), "succeeded".to_string()))
        .collect();
    assert_eq!(kinds, expected, "newest first");
}
