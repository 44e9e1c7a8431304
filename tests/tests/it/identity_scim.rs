//! The SCIM identity provider against a real Canaille: users and groups
//! from Git, changes, removals, foreign users left alone, drift healed by
//! the daemon, a wrong client secret, users compared without asking the
//! server when they are as Git wants them, and passwords and the OAuth
//! client's credentials that never show — as is, in base64 or in hex — in
//! anything Cairn wrote or printed, logging at trace level.

use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use cairn_tests::{Canaille, Workspace};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const AUTHOR: &str = "Grace Hopper <grace@example.org>";

/// The most verbose logging of Cairn's own code (plugin logs included),
/// where a secret printed for debugging would show.
const TRACE: (&str, &str) = ("CAIRN_LOG", "cairn=trace");

/// A temporary folder for Canaille, outside the workspace: its settings
/// and database rightly hold the client secret, and the workspace is
/// searched for it.
fn canaille_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cairn-canaille-")
        .tempdir()
        .expect("create a temporary folder")
}

/// What must show nowhere: `passwords`, the client secret, and the
/// `client_id:client_secret` pair whose base64 is the HTTP Basic header the
/// plugin sends to the token endpoint (the secret's own base64 is not part
/// of it). The id and secret come from `token_urlsafe`, which the
/// form-encoding RFC 6749 applies to them first leaves unchanged.
fn secrets(canaille: &Canaille, passwords: &[&str]) -> Vec<String> {
    let mut secrets: Vec<String> = passwords.iter().map(|&p| p.to_string()).collect();
    secrets.push(canaille.client_secret.clone());
    secrets.push(format!("{}:{}", canaille.client_id, canaille.client_secret));
    secrets
}

/// A password no other test uses, so that finding it anywhere is this
/// test's leak.
fn unique_password(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_nanos();
    format!("Pw-{tag}-{nanos}-{}", std::process::id())
}

/// Writes `cairn.toml`: the workspace's DNS tenant plus an `idp` provider
/// for Canaille, its secrets in files.
fn configure(
    ws: &Workspace,
    canaille: &Canaille,
    client_secret: &str,
    tenant_settings: &str,
    provider_config: &str,
) {
    let options = ConfigOptions {
        tenant_settings: tenant_settings.to_string(),
        ..ConfigOptions::default()
    };
    let password = ("alice_password", ws.path().join("alice_password.secret"));
    let text = format!(
        "{}\n{}{}",
        config_header(),
        ws.tenant_block("default", &options),
        canaille.provider_table(
            "default",
            ws.path(),
            client_secret,
            &[password],
            provider_config
        )
    );
    std::fs::write(ws.config_path(), text).expect("write cairn.toml");
}

fn set_password(ws: &Workspace, password: &str) {
    std::fs::write(ws.path().join("alice_password.secret"), password).expect("write the password");
}

const PEOPLE: &str = r#"
[[idp.user]]
user_name = "Alice"
display_name = "Alice Liddell"
name = { given_name = "Alice", family_name = "Liddell" }
emails = ["Alice@Example.org"]
password = { secret = "alice_password" }
password_version = 1
enterprise = { department = "Research", employee_number = "7" }

[[idp.user]]
user_name = "bob"
display_name = "Bob Builder"
name = { given_name = "Bob", family_name = "Builder" }
emails = [{ value = "bob@example.org", type = "work" }]
title = "Builder"

[[idp.group]]
display_name = "admins"
members = ["alice", "bob"]
depends_on = ["idp/user/alice", "idp/user/bob"]

[[idp.group]]
display_name = "staff"
members = ["bob"]
depends_on = ["idp/user/bob"]
"#;

fn attribute(user: &serde_json::Value, pointer: &str) -> serde_json::Value {
    user.pointer(pointer).cloned().unwrap_or_default()
}

#[test]
fn users_and_groups_from_git_to_canaille() {
    let ws = Workspace::new();
    let dir = canaille_dir();
    let canaille = Canaille::start(dir.path());
    // Every run at trace level: each plan and apply sends the client secret
    // to the token endpoint, and the applies send passwords to Canaille.
    let cairn = |args: &[&str]| ws.cairn_env(args, &[TRACE]);
    let mut outputs = Vec::new();
    let first_password = unique_password("first");
    set_password(&ws, &first_password);
    // Someone else's user, created in Canaille directly.
    canaille.create_user("carol", "carol@example.org");
    let carol_before = canaille.user("carol").expect("carol exists");

    ws.repo.write("people.toml", PEOPLE);
    ws.repo.commit("people", AUTHOR);

    // A wrong client secret: a clear error, and nothing changes.
    configure(&ws, &canaille, "not-the-secret", "", "");
    let refused = cairn(&["apply", "--yes"]);
    refused
        .expect_code(1)
        .expect_contains("refused the client credentials")
        .expect_contains("client_secret");
    assert!(canaille.user("alice").is_none());
    outputs.push(refused.all());

    configure(&ws, &canaille, &canaille.client_secret, "", "");
    let plan = cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("idp/user/alice")
        .expect_contains("idp/group/admins")
        .expect_contains("4 to create");
    outputs.push(plan.all());
    let apply = cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    outputs.push(apply.all());

    let alice = canaille.user("alice").expect("alice was created");
    assert_eq!(alice["displayName"], "Alice Liddell");
    assert_eq!(alice["active"], true);
    assert_eq!(attribute(&alice, "/name/formatted"), "Alice Liddell");
    assert_eq!(attribute(&alice, "/emails/0/value"), "alice@example.org");
    assert_eq!(
        attribute(
            &alice,
            "/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/department"
        ),
        "Research"
    );
    assert!(canaille.password_is("alice", &first_password));
    assert_eq!(canaille.members("admins"), ["alice", "bob"]);
    assert_eq!(canaille.members("staff"), ["bob"]);

    // Unchanged repository: no changes.
    let again = cairn(&["plan"]);
    again.expect_code(0).expect_contains("No changes");
    outputs.push(again.all());

    // New commit: attributes, membership and a new password version.
    let second_password = unique_password("second");
    set_password(&ws, &second_password);
    let changed = PEOPLE
        .replace("title = \"Builder\"", "title = \"Chief Builder\"")
        .replace("members = [\"alice\", \"bob\"]", "members = [\"alice\"]")
        .replace("password_version = 1", "password_version = 2");
    ws.repo.write("people.toml", &changed);
    ws.repo
        .commit("promote bob, new password for alice", AUTHOR);
    let plan = cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("remove bob")
        .expect_contains("title: \"Builder\" → \"Chief Builder\"")
        .expect_contains("password (sensitive)");
    outputs.push(plan.all());
    let apply = cairn(&["apply", "--yes"]);
    apply.expect_code(0);
    outputs.push(apply.all());
    assert_eq!(canaille.user("bob").unwrap()["title"], "Chief Builder");
    assert_eq!(canaille.members("admins"), ["alice"]);
    assert!(canaille.password_is("alice", &second_password));

    // Declaring someone else's user is refused until it is adopted.
    ws.repo.write(
        "carol.toml",
        "[[idp.user]]\nuser_name = \"carol\"\nemails = [\"carol@example.org\"]\n",
    );
    ws.repo.commit("carol", AUTHOR);
    let refused = cairn(&["plan"]);
    refused.expect_code(1).expect_contains("adopt");
    outputs.push(refused.all());
    ws.repo.remove("carol.toml");

    // Removed: alice is deactivated, staff is deleted, carol untouched.
    let remaining = changed
        .split("[[idp.")
        .filter(|block| block.starts_with("user]]\nuser_name = \"bob\""))
        .map(|block| format!("[[idp.{block}"))
        .collect::<String>();
    ws.repo.write("people.toml", &remaining);
    ws.repo.commit("alice leaves, groups go", AUTHOR);
    let apply = cairn(&["apply", "--yes"]);
    apply
        .expect_code(0)
        .expect_contains("deactivate the user")
        .expect_contains("idp/group/staff");
    outputs.push(apply.all());
    let alice = canaille.user("alice").expect("alice is kept, deactivated");
    assert_eq!(alice["active"], false);
    assert!(canaille.group("staff").is_none());
    assert!(canaille.group("admins").is_none());
    let carol_after = canaille.user("carol").expect("carol is still there");
    assert_eq!(
        carol_before["meta"]["version"],
        carol_after["meta"]["version"]
    );
    let final_plan = cairn(&["plan"]);
    final_plan.expect_code(0);
    outputs.push(final_plan.all());

    let history = cairn(&["history", "--json"]);
    history.expect_code(0);
    outputs.push(history.all());
    // Once with every crate at debug, the HTTP stack's own logs included,
    // on a run that asks the token endpoint for a token.
    let debug = ws.cairn_env(&["plan"], &[("CAIRN_LOG", "debug")]);
    outputs.push(debug.all());

    for secret in secrets(
        &canaille,
        &[first_password.as_str(), second_password.as_str()],
    ) {
        ws.assert_never_written_encoded(&outputs, &secret);
    }
}

#[test]
fn drift_made_in_canaille_is_healed_by_the_daemon() {
    let ws = Workspace::new();
    let dir = canaille_dir();
    let canaille = Canaille::start(dir.path());
    let password = unique_password("drift");
    set_password(&ws, &password);
    ws.repo.write("people.toml", PEOPLE);
    ws.repo.commit("people", AUTHOR);
    configure(
        &ws,
        &canaille,
        &canaille.client_secret,
        "interval = \"1s\"\ndrift_interval = \"1s\"\nself_heal = true",
        // Repairs go by PUT here; the other test's changes by PATCH.
        "patch = false",
    );
    let daemon = Daemon::start_logging(&ws.config_path(), "cairn=trace");
    wait_until(Duration::from_secs(60), "the people applied", || {
        canaille.members("admins") == ["alice", "bob"]
    });
    // The apply's run must be over, its convergence check included, before
    // anything changes by hand: a change made while the host checks what
    // the provider made is taken for the provider not converging, and the
    // resources are held instead of repaired.
    wait_until(
        Duration::from_secs(60),
        "the people recorded in sync",
        || {
            daemon.tenant("default")["resources"]
                .as_array()
                .is_some_and(|resources| {
                    resources.len() == 4 && resources.iter().all(|r| r["status"] == "in-sync")
                })
        },
    );

    // By hand: bob's title changes and alice joins a group.
    canaille.patch_user("bob", serde_json::json!({"title": "Vandal"}));
    let staff = canaille.group("staff").expect("staff exists");
    let alice = canaille.user("alice").expect("alice exists");
    let alice_id = alice["id"].as_str().unwrap();
    let id = staff["id"].as_str().unwrap();
    canaille
        .scim(
            "PATCH",
            &format!("/Groups/{id}"),
            Some(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "members", "value": [
                    {"value": alice_id, "$ref": format!("{}/Users/{alice_id}", canaille.scim_url)}
                ]}]
            })),
        )
        .expect("add a member by hand");
    assert_eq!(canaille.members("staff"), ["alice", "bob"]);
    // Alone, the repair comes within two seconds. Under the whole suite's
    // load a drift check, the repair and its convergence check each wait
    // on a Canaille that lists slowly, and a call that times out puts the
    // tenant into its backoff: the bound is generous, not the expectation.
    let repaired = || {
        canaille
            .user("bob")
            .is_some_and(|bob| bob["title"] == "Builder")
            && canaille.members("staff") == ["bob"]
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while !repaired() {
        if std::time::Instant::now() > deadline {
            let log = daemon.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "timed out after 180s waiting for the repair; the daemon's log ends:\n{}",
                tail.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(daemon);
    let history = ws.cairn(&["history", "--json"]).json();
    let drifted: Vec<String> = history
        .as_array()
        .expect("runs")
        .iter()
        .flat_map(|run| run["actions"].as_array().cloned().unwrap_or_default())
        .filter(|action| action["action"] == "drift")
        .filter_map(|action| action["address"].as_str().map(String::from))
        .collect();
    assert!(
        drifted.contains(&"idp/user/bob".to_string())
            && drifted.contains(&"idp/group/staff".to_string()),
        "drift recorded: {drifted:?}"
    );
    // The daemon's log is in the workspace, searched with the rest.
    for secret in secrets(&canaille, &[password.as_str()]) {
        ws.assert_never_written_encoded(&[], &secret);
    }
}

/// What Canaille would refuse is found when planning, and nothing of the
/// commit reaches it: a group member that neither Git nor Canaille has,
/// and a user without the family name Canaille's schema requires. Each
/// problem is listed once, at its resource's place in Git; members Git
/// declares or Canaille has already pass.
#[test]
fn a_member_nobody_has_stops_the_plan_before_anything_is_applied() {
    let ws = Workspace::new();
    let dir = canaille_dir();
    let canaille = Canaille::start(dir.path());
    canaille.create_user("carol", "carol@example.org");
    set_password(&ws, &unique_password("unused"));
    configure(&ws, &canaille, &canaille.client_secret, "", "");
    let people = r#"[[idp.user]]
user_name = "zed"
name = { given_name = "Zed", family_name = "Shaw" }
emails = ["zed@example.org"]

[[idp.user]]
user_name = "yan"
emails = ["yan@example.org"]

[[idp.group]]
display_name = "admins"
members = ["zed", "carol", "nobody"]
"#;
    ws.repo.write("people.toml", people);
    ws.repo.commit("admins", AUTHOR);

    let member = "people.toml:10:1: idp/group/admins `members`: the member `nobody` is neither a user this commit declares nor a user on the server";
    let name = "people.toml:6:1: idp/user/yan `name`: the SCIM server requires name.familyName, which this user does not set";
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(1)
        .expect_contains("2 problem(s)")
        .expect_contains(member)
        .expect_contains(name);
    assert_eq!(
        plan.all().matches("is neither a user").count(),
        1,
        "{}",
        plan.all()
    );
    assert!(!plan.all().contains("`zed`") && !plan.all().contains("`carol`"));
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(member)
        .expect_contains(name);
    assert!(
        canaille.user("zed").is_none(),
        "nothing of the commit is applied"
    );
    assert!(canaille.group("admins").is_none());

    let fixed = people.replace(", \"nobody\"", "").replace(
        "user_name = \"yan\"",
        "user_name = \"yan\"\nname = { family_name = \"Li\" }",
    );
    ws.repo.write("people.toml", &fixed);
    ws.repo
        .commit("admins without nobody, yan with a name", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(canaille.members("admins"), ["carol", "zed"]);
    ws.cairn(&["plan"]).expect_code(0);
}

/// A user's recorded state holds what only Cairn keeps (`removal`,
/// `password_version`, which the schema marks write-only) besides what
/// Canaille shows, so a plan with nothing to change compares the two
/// without them, and finds the users settled: no `diff` at all. A user
/// edited by hand in an attribute Git does not set is handed to the
/// provider, which finds it as Git wants it without asking Canaille
/// anything more (no token, no discovery). A user with an attribute
/// Canaille does not keep still needs the server's schemas, and gets them.
#[test]
fn settled_users_are_not_compared_and_moved_ones_without_asking_the_server() {
    let ws = Workspace::new();
    let dir = canaille_dir();
    let canaille = Canaille::start(dir.path());
    set_password(&ws, &unique_password("unused"));
    configure(&ws, &canaille, &canaille.client_secret, "", "");
    let people = r#"
[[idp.user]]
user_name = "grace"
display_name = "Grace Hopper"
name = { given_name = "Grace", family_name = "Hopper" }
emails = ["grace@example.org"]
removal = "delete"

[[idp.user]]
user_name = "ada"
display_name = "Ada Lovelace"
name = { given_name = "Ada", family_name = "Lovelace" }
emails = ["ada@example.org"]

[[idp.group]]
display_name = "engines"
members = ["grace", "ada"]
depends_on = ["idp/user/grace", "idp/user/ada"]
"#;
    ws.repo.write("people.toml", people);
    ws.repo.commit("people", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let logged = &[("CAIRN_LOG", "cairn=debug,cairn_sandbox=debug")];
    let requests_of = |log: &str, function: &str| {
        log.lines()
            .filter(|line| {
                line.contains(&format!("function=\"{function}\"}}: plugin HTTP request"))
            })
            .count()
    };

    let plan = ws.cairn_env(&["plan"], logged);
    plan.expect_code(0).expect_contains("No changes");
    let log = plan.all();
    assert!(
        requests_of(&log, "list") > 0,
        "the log shows requests: {log}"
    );
    assert!(
        !log.contains(r#"function="diff""#),
        "nothing compared: {log}"
    );

    canaille.patch_user("grace", serde_json::json!({"title": "Rear Admiral"}));
    let plan = ws.cairn_env(&["plan"], logged);
    plan.expect_code(0).expect_contains("No changes");
    let log = plan.all();
    assert!(log.contains(r#"function="diff""#), "grace compared: {log}");
    assert_eq!(requests_of(&log, "diff"), 0, "{log}");

    // An email type, which Canaille does not keep: the comparison needs
    // the server's schemas to know it, and finds nothing to send (the new
    // spec is only recorded).
    ws.repo.write(
        "people.toml",
        &people.replace(
            "emails = [\"ada@example.org\"]",
            "emails = [{ value = \"ada@example.org\", type = \"work\" }]",
        ),
    );
    ws.repo.commit("a work email", AUTHOR);
    let plan = ws.cairn_env(&["plan"], logged);
    plan.expect_contains("idp/user/ada  record Git's change")
        .expect_contains("1 to refresh");
    let log = plan.all();
    assert!(requests_of(&log, "diff") > 0, "{log}");
    assert!(log.contains("attributes=emails.type"), "{log}");
}
