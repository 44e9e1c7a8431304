//! The vertical slice against a real PowerDNS: Git → Wasm provider →
//! PowerDNS, checked with `dig`.

use cairn_tests::Workspace;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A zone with one RRset of every supported type.
const ZONE: &str = r#"
[[dns.zone]]
name = "example.org."
nameservers = ["ns1.example.org.", "ns2.example.org."]

[[dns.record]]
name = "www.example.org."
type = "A"
ttl = 300
records = ["192.0.2.10", "192.0.2.11"]
depends_on = ["dns/zone/example.org."]

[[dns.record]]
name = "WWW.Example.org"
type = "aaaa"
records = ["2001:DB8:0:0::10"]

[[dns.record]]
name = "docs.example.org."
type = "CNAME"
records = ["www.example.org."]

[[dns.record]]
name = "example.org."
type = "MX"
records = ["10 mail.example.org.", "20 mail2.example.org"]

[[dns.record]]
name = "example.org."
type = "TXT"
records = ["v=spf1 -all", '"first part" "second part"', "say \"hi\""]

[[dns.record]]
name = "long.example.org."
type = "TXT"
records = ["""\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"""]

[[dns.record]]
name = "_sip._tcp.example.org."
type = "SRV"
records = ["10 5 5060 sip.example.org."]

[[dns.record]]
name = "example.org."
type = "CAA"
records = ['0 issue "letsencrypt.org"']

[[dns.record]]
name = "sub.example.org."
type = "NS"
records = ["ns.sub.example.org."]

[[dns.zone]]
name = "2.0.192.in-addr.arpa."
nameservers = ["ns1.example.org."]

[[dns.record]]
name = "10.2.0.192.in-addr.arpa."
type = "PTR"
records = ["www.example.org."]
"#;

fn long_txt_answer() -> String {
    format!("\"{}\" \"{}\"", "a".repeat(255), "a".repeat(45))
}

#[test]
fn git_to_powerdns_plan_apply_change_and_history() {
    let ws = Workspace::new();
    ws.repo.write("zones/example.toml", ZONE);
    let first = ws.repo.commit("Add example.org", AUTHOR);

    ws.cairn(&["validate"])
        .expect_code(0)
        .expect_contains("is valid: 12 resource(s)");

    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains(&first[..12])
        .expect_contains("+ dns/zone/example.org.")
        .expect_contains("dns/record/www.example.org./A")
        .expect_contains("dns/record/www.example.org./AAAA")
        .expect_contains("Plan: 12 to create; 0 unchanged.");
    assert!(
        ws.pdns.zones().is_empty(),
        "plan must not change the server"
    );

    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("Apply succeeded: 12 change(s), 0 not made");

    // The server answers exactly what Git says.
    let dig = |name: &str, t: &str| ws.pdns.dig(name, t);
    assert_eq!(dig("www.example.org", "A"), ["192.0.2.10", "192.0.2.11"]);
    assert_eq!(ws.pdns.dig_ttl("www.example.org", "A"), Some(300));
    assert_eq!(dig("www.example.org", "AAAA"), ["2001:db8::10"]);
    assert_eq!(ws.pdns.dig_ttl("www.example.org", "AAAA"), Some(3600));
    assert_eq!(dig("docs.example.org", "CNAME"), ["www.example.org."]);
    assert_eq!(
        dig("example.org", "MX"),
        ["10 mail.example.org.", "20 mail2.example.org."]
    );
    assert_eq!(
        dig("example.org", "TXT"),
        [
            "\"first part\" \"second part\"",
            "\"say \\\"hi\\\"\"",
            "\"v=spf1 -all\""
        ]
    );
    assert_eq!(dig("long.example.org", "TXT"), [long_txt_answer()]);
    assert_eq!(
        dig("_sip._tcp.example.org", "SRV"),
        ["10 5 5060 sip.example.org."]
    );
    assert_eq!(dig("example.org", "CAA"), ["0 issue \"letsencrypt.org\""]);
    assert_eq!(
        dig("example.org", "NS"),
        ["ns1.example.org.", "ns2.example.org."]
    );
    assert_eq!(dig("10.2.0.192.in-addr.arpa", "PTR"), ["www.example.org."]);

    // A second plan shows nothing to do.
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes. The real world matches the repository (12 resource(s)).");

    // Change one record, delete one, add one: the plan shows exactly that.
    let changed = ZONE
        .replace(
            "ttl = 300\nrecords = [\"192.0.2.10\", \"192.0.2.11\"]",
            "ttl = 600\nrecords = [\"192.0.2.10\", \"192.0.2.12\"]",
        )
        .replace(
            "[[dns.record]]\nname = \"_sip._tcp.example.org.\"\ntype = \"SRV\"\nrecords = [\"10 5 5060 sip.example.org.\"]\n",
            "[[dns.record]]\nname = \"api.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.20\"]\n",
        );
    assert_ne!(changed, ZONE);
    ws.repo.write("zones/example.toml", &changed);
    let second = ws.repo.commit(
        "Move www, replace SIP with an API host",
        "Grace Hopper <grace@example.org>",
    );

    let plan = ws.cairn(&["plan", "--json"]);
    plan.expect_code(2);
    let json = plan.json();
    assert_eq!(json["commit"]["id"], second);
    let mut summary: Vec<String> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["action"].as_str().unwrap(),
                c["address"].as_str().unwrap()
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        [
            "create dns/record/api.example.org./A",
            "delete dns/record/_sip._tcp.example.org./SRV",
            "update dns/record/www.example.org./A",
        ]
    );
    let update = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update")
        .unwrap();
    assert_eq!(
        update["summary"],
        "add 192.0.2.12, remove 192.0.2.11, ttl 300 → 600"
    );

    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(dig("www.example.org", "A"), ["192.0.2.10", "192.0.2.12"]);
    assert_eq!(ws.pdns.dig_ttl("www.example.org", "A"), Some(600));
    assert!(dig("_sip._tcp.example.org", "SRV").is_empty());
    assert_eq!(dig("api.example.org", "A"), ["192.0.2.20"]);
    ws.cairn(&["plan"]).expect_code(0);

    // History: who changed what, from which commit, with what result.
    let history = ws.cairn(&["history", "--json"]);
    history.expect_code(0);
    let runs = history.json();
    let applies: Vec<&serde_json::Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "apply")
        .collect();
    assert_eq!(applies.len(), 2);
    assert_eq!(applies[0]["commit_id"], second);
    assert_eq!(
        applies[0]["commit_author"],
        "Grace Hopper <grace@example.org>"
    );
    assert_eq!(applies[0]["outcome"], "succeeded");
    assert_eq!(applies[0]["actions"].as_array().unwrap().len(), 3);
    assert_eq!(applies[1]["commit_id"], first);
    assert_eq!(applies[1]["commit_author"], AUTHOR);
    assert_eq!(applies[1]["actions"].as_array().unwrap().len(), 12);
    assert!(
        applies[1]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["result"] == "ok" && a["after_digest"].is_string())
    );
    ws.cairn(&["history"])
        .expect_code(0)
        .expect_contains(
            "by Grace Hopper <grace@example.org>: Move www, replace SIP with an API host",
        )
        .expect_contains("ok update dns/record/www.example.org./A");
}

#[test]
fn records_created_outside_cairn_survive_every_apply() {
    let ws = Workspace::new();
    ws.repo.write("dns.toml", "[[dns.zone]]\nname = \"example.net.\"\n\n[[dns.record]]\nname = \"www.example.net.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n");
    ws.repo.commit("zone", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    // Someone adds a record by hand.
    ws.pdns.put_rrset(
        "example.net.",
        "manual.example.net.",
        "A",
        60,
        &["198.51.100.7"],
    );

    // It is not Cairn's: not planned, not deleted, even when Git changes.
    ws.cairn(&["plan"]).expect_code(0);
    ws.repo.remove("dns.toml");
    ws.repo.write("dns.toml", "[[dns.zone]]\nname = \"example.net.\"\n\n[[dns.record]]\nname = \"api.example.net.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\n");
    ws.repo.commit("replace www by api", AUTHOR);
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2);
    assert!(
        !plan.stdout.contains("manual.example.net."),
        "{}",
        plan.stdout
    );
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("manual.example.net", "A"), ["198.51.100.7"]);
    assert!(ws.pdns.dig("www.example.net", "A").is_empty());
    assert_eq!(ws.pdns.dig("api.example.net", "A"), ["192.0.2.2"]);

    // A resource that collides with it is refused until adopted.
    ws.repo.write("manual.toml", "[[dns.record]]\nname = \"manual.example.net.\"\ntype = \"A\"\nttl = 60\nrecords = [\"198.51.100.7\"]\n");
    ws.repo.commit("claim manual", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("dns/record/manual.example.net./A")
        .expect_contains("Cairn did not create them")
        .expect_contains("adopt = true");
    ws.repo.write("manual.toml", "[[dns.record]]\nname = \"manual.example.net.\"\ntype = \"A\"\nttl = 60\nrecords = [\"198.51.100.7\"]\nadopt = true\n");
    ws.repo.commit("adopt manual", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("adopt dns/record/manual.example.net./A");
    ws.cairn(&["plan"]).expect_code(0);
}

#[test]
fn saved_plans_apply_only_while_nothing_moved() {
    let ws = Workspace::new();
    ws.repo.write("dns.toml", "[[dns.zone]]\nname = \"example.com.\"\n\n[[dns.record]]\nname = \"www.example.com.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n");
    ws.repo.commit("zone", AUTHOR);

    // Unchanged world and commit: the saved plan applies.
    ws.cairn(&["plan", "--out", "first.plan"]).expect_code(2);
    ws.cairn(&["apply", "first.plan"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.com", "A"), ["192.0.2.1"]);

    // The world moved: someone edits the managed record by hand.
    ws.repo.write("dns.toml", "[[dns.zone]]\nname = \"example.com.\"\n\n[[dns.record]]\nname = \"www.example.com.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\n");
    ws.repo.commit("move www", AUTHOR);
    ws.cairn(&["plan", "--out", "second.plan"]).expect_code(2);
    ws.pdns.put_rrset(
        "example.com.",
        "www.example.com.",
        "A",
        3600,
        &["203.0.113.9"],
    );
    ws.cairn(&["apply", "second.plan"])
        .expect_code(1)
        .expect_contains("no longer matches the real world")
        .expect_contains("Nothing was applied");
    assert_eq!(ws.pdns.dig("www.example.com", "A"), ["203.0.113.9"]);

    // The commit moved.
    ws.cairn(&["plan", "--out", "third.plan"]).expect_code(2);
    ws.repo.write(
        "extra.toml",
        "[[dns.record]]\nname = \"extra.example.com.\"\ntype = \"A\"\nrecords = [\"192.0.2.3\"]\n",
    );
    let moved = ws.repo.commit("add extra", AUTHOR);
    ws.cairn(&["apply", "third.plan"])
        .expect_code(1)
        .expect_contains(&format!("but the repository is now at {}", &moved[..12]))
        .expect_contains("nothing was applied");
    assert_eq!(ws.pdns.dig("www.example.com", "A"), ["203.0.113.9"]);
    assert!(ws.pdns.dig("extra.example.com", "A").is_empty());

    // Without --yes and without a terminal, apply refuses.
    ws.cairn(&["apply"])
        .expect_code(1)
        .expect_contains("refusing to apply without confirmation");
    assert!(ws.pdns.dig("extra.example.com", "A").is_empty());
}

#[test]
fn protect_orphan_and_the_safety_threshold() {
    let ws = Workspace::new();
    let mut text = String::from(
        "[[dns.zone]]\nname = \"example.io.\"\n\n[[dns.record]]\nname = \"keep.example.io.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\nprotect = true\ndepends_on = [\"dns/zone/example.io.\"]\n\n[[dns.record]]\nname = \"leave.example.io.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\non_delete = \"orphan\"\n\n",
    );
    for index in 0..10 {
        text.push_str(&format!("[[dns.record]]\nname = \"r{index}.example.io.\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\n\n", 10 + index));
    }
    ws.repo.write("dns.toml", &text);
    ws.repo.commit("thirteen resources", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    // Removing 5 of 13 owned objects (38%) is above the default 30%.
    let fewer = (0..5).fold(text.clone(), |text, index| {
        text.replace(&format!("[[dns.record]]\nname = \"r{index}.example.io.\"\ntype = \"A\"\nrecords = [\"192.0.2.{}\"]\n\n", 10 + index), "")
    });
    ws.repo.write("dns.toml", &fewer);
    ws.repo.commit("remove five", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains("the plan deletes or replaces 5 of the 13 objects provider `dns` owns (38%), more than max_delete_percent = 30")
        .expect_contains("apply with --force");
    assert_eq!(ws.pdns.dig("r0.example.io", "A"), ["192.0.2.10"]);
    let history = ws.cairn(&["history", "--json"]).json();
    assert_eq!(history[0]["outcome"], "blocked");
    ws.cairn(&["apply", "--yes", "--force"]).expect_code(0);
    assert!(ws.pdns.dig("r0.example.io", "A").is_empty());
    assert_eq!(ws.pdns.dig("r5.example.io", "A"), ["192.0.2.15"]);

    // Everything leaves Git: the protected record stays, and so does the
    // zone it depends on; the orphaned record is left in place.
    ws.repo.write("dns.toml", "");
    ws.repo.commit("empty", AUTHOR);
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2)
        .expect_contains("dns/record/keep.example.io./A left Git but is protected")
        .expect_contains("dns/zone/example.io. left Git but is kept: dns/record/keep.example.io./A, which stays, depends on it")
        .expect_contains("○ dns/record/leave.example.io./A");
    ws.cairn(&["apply", "--yes", "--force"]).expect_code(0);
    assert_eq!(ws.pdns.dig("keep.example.io", "A"), ["192.0.2.1"]);
    assert_eq!(ws.pdns.dig("leave.example.io", "A"), ["192.0.2.2"]);
    assert!(ws.pdns.dig("r5.example.io", "A").is_empty());
    assert_eq!(ws.pdns.zones(), ["example.io."]);
}

/// A record that no zone holds — neither one Git declares nor one on the
/// server — is found when planning, at its place in Git, and nothing of the
/// commit reaches PowerDNS. A record in a zone PowerDNS already has, which
/// Git does not declare, passes.
#[test]
fn a_record_no_zone_holds_stops_the_plan_before_anything_is_applied() {
    let ws = Workspace::new();
    ws.pdns
        .request(
            "POST",
            "/api/v1/servers/localhost/zones",
            Some(&serde_json::json!({"name": "example.net.", "kind": "Native", "nameservers": []})),
        )
        .expect("a zone made by hand");
    let dns = "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n\n[[dns.record]]\nname = \"www.example.net.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\n\n[[dns.record]]\nname = \"www.nowhere.test.\"\ntype = \"A\"\nrecords = [\"192.0.2.3\"]\n";
    ws.repo.write("dns.toml", dns);
    ws.repo.commit("three records", AUTHOR);

    let expected =
        "dns.toml:14:1: dns/record/www.nowhere.test./A `name`: no zone holds `www.nowhere.test.`";
    let plan = ws.cairn(&["plan"]);
    plan.expect_code(1).expect_contains(expected);
    assert_eq!(
        plan.all().matches("no zone holds").count(),
        1,
        "{}",
        plan.all()
    );
    ws.cairn(&["apply", "--yes"])
        .expect_code(1)
        .expect_contains(expected);
    assert_eq!(ws.pdns.zones(), ["example.net."], "nothing was applied");

    ws.repo.write(
        "dns.toml",
        &dns.replace("www.nowhere.test.", "api.example.org."),
    );
    ws.repo.commit("a record example.org holds", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    assert_eq!(ws.pdns.dig("www.example.net", "A"), ["192.0.2.2"]);
    assert_eq!(ws.pdns.dig("api.example.org", "A"), ["192.0.2.3"]);
}

/// A change the world made while Git did not move is marked as drift in
/// the text plan, as `--json` marks it (`drift: true`): before, a hand
/// edit read like a change from Git. A change Git asks for is not marked.
#[test]
fn the_text_plan_marks_what_changed_outside_git() {
    let ws = Workspace::new();
    let zone = |api: &str| {
        format!(
            "[[dns.zone]]\nname = \"example.biz.\"\n\n[[dns.record]]\nname = \"www.example.biz.\"\ntype = \"A\"\nrecords = [\"192.0.2.1\"]\n\n[[dns.record]]\nname = \"mail.example.biz.\"\ntype = \"A\"\nrecords = [\"192.0.2.2\"]\n\n[[dns.record]]\nname = \"api.example.biz.\"\ntype = \"A\"\nrecords = [\"{api}\"]\n"
        )
    };
    ws.repo.write("dns.toml", &zone("192.0.2.3"));
    ws.repo.commit("zone", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);

    // By hand: www edited, mail deleted. In Git: api moved.
    ws.pdns.put_rrset(
        "example.biz.",
        "www.example.biz.",
        "A",
        3600,
        &["203.0.113.9"],
    );
    ws.pdns
        .request(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.biz.",
            Some(&serde_json::json!({"rrsets": [
                {"name": "mail.example.biz.", "type": "A", "changetype": "DELETE"}
            ]})),
        )
        .expect("delete mail by hand");
    ws.repo.write("dns.toml", &zone("192.0.2.4"));
    ws.repo.commit("move api", AUTHOR);

    let plan = ws.cairn(&["plan"]);
    plan.expect_code(2);
    let line = |address: &str| {
        plan.stdout
            .lines()
            .find(|line| line.contains(address))
            .unwrap_or_else(|| panic!("no line for {address}:\n{}", plan.stdout))
            .to_string()
    };
    assert!(
        line("~ dns/record/www.example.biz./A").ends_with("(drift: changed outside Git)"),
        "{}",
        plan.stdout
    );
    assert!(
        line("+ dns/record/mail.example.biz./A").ends_with("(drift: removed outside Git)"),
        "{}",
        plan.stdout
    );
    assert!(
        !line("~ dns/record/api.example.biz./A").contains("drift"),
        "{}",
        plan.stdout
    );
    // The JSON says the same.
    let json = ws.cairn(&["plan", "--json"]).json();
    let drift: Vec<(String, bool)> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["address"].as_str().unwrap_or_default().to_string(),
                change["drift"] == true,
            )
        })
        .collect();
    for (address, drifted) in [
        ("dns/record/www.example.biz./A", true),
        ("dns/record/mail.example.biz./A", true),
        ("dns/record/api.example.biz./A", false),
    ] {
        assert!(
            drift.contains(&(address.to_string(), drifted)),
            "{address}: {drift:?}"
        );
    }
}
