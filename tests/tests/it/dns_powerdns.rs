//! The vertical slice against a real PowerDNS: Git → Wasm provider →
//! PowerDNS, checked with `dig`.

use cairn_tests::Workspace;
use cairn_tests::proxy::RecordingProxy;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";

/// A zone with one RRset of each of the common types.
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

/// One RRset of each of the other types, and the null SRV target, written
/// as loosely as presentation format allows: upper-case and split hex,
/// mnemonics, unquoted strings, short LOC fields, SVCB parameters out of
/// order.
const MORE_TYPES: &str = r#"
[[dns.zone]]
name = "example.org."
nameservers = ["ns1.example.org."]

[[dns.record]]
name = "_sip._tcp.example.org."
type = "SRV"
records = ["0 0 0 ."]

[[dns.record]]
name = "old.example.org."
type = "DNAME"
records = ["New.Example.NET"]

[[dns.record]]
name = "host.example.org."
type = "SSHFP"
records = [
    "1 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
    "4 2 0123456789ABCDEF0123456789ABCDEF 0123456789abcdef0123456789abcdef",
]

[[dns.record]]
name = "_443._tcp.www.example.org."
type = "TLSA"
records = [
    "3 1 1 0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789ABCDEF",
    "3 0 0 30820122300D06092A864886F70D01010105",
]

[[dns.record]]
name = "child.example.org."
type = "NS"
records = ["ns.child.example.org."]

[[dns.record]]
name = "child.example.org."
type = "DS"
records = [
    "2371 ECDSAP256SHA256 2 0123456789ABCDEF0123456789abcdef 0123456789abcdef0123456789ABCDEF",
    "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118",
]

[[dns.record]]
name = "example.org."
type = "NAPTR"
records = [
    '100 10 S SIP+D2U "" _sip._udp.Example.org',
    '10 100 "u" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.org!" .',
]

[[dns.record]]
name = "office.example.org."
type = "LOC"
records = ["52 22 23 N 4 53 32 E -2m", "0 0 0 N 0 0 0 E 0m 10m 1000m 2m"]

[[dns.record]]
name = "example.org."
type = "HTTPS"
records = [
    '1 . port=8443 alpn="h3,h2" ipv4hint=192.0.2.1 ech=AEX+DQ== ipv6hint=2001:DB8:0:0:0:0:0:1 mandatory=port,alpn',
    "2 svc.example.net. no-default-alpn alpn=h2",
]

[[dns.record]]
name = "www.example.org."
type = "HTTPS"
records = ["0 Pool.Example.NET"]

[[dns.record]]
name = "_dns.resolver.example.org."
type = "SVCB"
records = [
    '1 doh.example.net. alpn=h2 dohpath=/dns-query{?dns} key65000="a b"',
    "2 dot.example.net. alpn=dot port=853",
]

[[dns.record]]
name = "gone.example.org."
type = "SVCB"
records = ["0 ."]
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

#[test]
fn every_record_type_applies_answers_dig_and_plans_nothing_after() {
    let ws = Workspace::new();
    ws.repo.write("zones/types.toml", MORE_TYPES);
    ws.repo.commit("Every record type", AUTHOR);
    ws.cairn(&["apply", "--yes"])
        .expect_code(0)
        .expect_contains("Apply succeeded: 13 change(s), 0 not made");

    // PowerDNS holds exactly the canonical forms the provider wrote, which
    // are the forms it reads back (docs/providers/dns-powerdns.md).
    let sha1 = "2bb183af5f22588179a53b0a98631fad1a292118";
    let sha256 = "0123456789abcdef".repeat(4);
    let mut expected = vec![
        "_sip._tcp.example.org. SRV 3600 0 0 0 .".to_string(),
        "old.example.org. DNAME 3600 new.example.net.".into(),
        format!("host.example.org. SSHFP 3600 1 1 {sha1} | 4 2 {sha256}"),
        format!(
            "_443._tcp.www.example.org. TLSA 3600 3 0 0 30820122300d06092a864886f70d01010105 | 3 1 1 {sha256}"
        ),
        "child.example.org. NS 3600 ns.child.example.org.".into(),
        format!("child.example.org. DS 3600 2371 13 2 {sha256} | 60485 5 1 {sha1}"),
        r#"example.org. NAPTR 3600 10 100 "u" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.org!" . | 100 10 "S" "SIP+D2U" "" _sip._udp.example.org."#.into(),
        "example.org. NS 3600 ns1.example.org.".into(),
        "office.example.org. LOC 3600 0 0 0.000 S 0 0 0.000 W 0.00m 10.00m 1000.00m 2.00m | 52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m".into(),
        r#"example.org. HTTPS 3600 1 . mandatory=alpn,port alpn=h3,h2 port=8443 ipv4hint=192.0.2.1 ech="AEX+DQ==" ipv6hint=2001:db8::1 | 2 svc.example.net. alpn=h2 no-default-alpn"#.into(),
        "www.example.org. HTTPS 3600 0 pool.example.net.".into(),
        r#"_dns.resolver.example.org. SVCB 3600 1 doh.example.net. alpn=h2 key7="/dns-query{?dns}" key65000="a b" | 2 dot.example.net. alpn=dot port=853"#.into(),
        "gone.example.org. SVCB 3600 0 .".into(),
    ];
    expected.sort();
    assert_eq!(ws.pdns.rrsets("example.org."), expected);

    // The server answers them.
    let dig = |name: &str, t: &str| ws.pdns.dig(name, t);
    let upper = |hex: &str| hex.to_ascii_uppercase();
    // dig splits long hex into words of 56 digits.
    let sha256_dig = format!("{} {}", upper(&sha256[..56]), upper(&sha256[56..]));
    assert_eq!(dig("_sip._tcp.example.org", "SRV"), ["0 0 0 ."]);
    assert_eq!(dig("old.example.org", "DNAME"), ["new.example.net."]);
    assert_eq!(
        dig("host.example.org", "SSHFP"),
        [format!("1 1 {}", upper(sha1)), format!("4 2 {sha256_dig}")]
    );
    assert_eq!(
        dig("_443._tcp.www.example.org", "TLSA"),
        [
            "3 0 0 30820122300D06092A864886F70D01010105".to_string(),
            format!("3 1 1 {sha256_dig}")
        ]
    );
    assert_eq!(
        dig("child.example.org", "DS"),
        [
            format!("2371 13 2 {sha256_dig}"),
            format!("60485 5 1 {}", upper(sha1))
        ]
    );
    assert_eq!(
        dig("example.org", "NAPTR"),
        [
            r#"10 100 "u" "E2U+sip" "!^\\+1(.*)$!sip:\\1@example.org!" ."#,
            r#"100 10 "S" "SIP+D2U" "" _sip._udp.example.org."#
        ]
    );
    assert_eq!(
        dig("office.example.org", "LOC"),
        [
            "0 0 0.000 N 0 0 0.000 E 0.00m 10m 1000m 2m",
            "52 22 23.000 N 4 53 32.000 E -2.00m 1m 10000m 10m"
        ]
    );
    assert_eq!(
        dig("example.org", "HTTPS"),
        [
            r#"1 . mandatory=alpn,port alpn="h3,h2" port=8443 ipv4hint=192.0.2.1 ech=AEX+DQ== ipv6hint=2001:db8::1"#,
            r#"2 svc.example.net. alpn="h2" no-default-alpn"#
        ]
    );
    assert_eq!(dig("www.example.org", "HTTPS"), ["0 pool.example.net."]);
    assert_eq!(
        dig("_dns.resolver.example.org", "SVCB"),
        [
            r#"1 doh.example.net. alpn="h2" key7="/dns-query{?dns}" key65000="a b""#,
            r#"2 dot.example.net. alpn="dot" port=853"#
        ]
    );
    assert_eq!(dig("gone.example.org", "SVCB"), ["0 ."]);

    // The unchanged repository plans nothing.
    ws.cairn(&["plan"])
        .expect_code(0)
        .expect_contains("No changes. The real world matches the repository (13 resource(s)).");
}

/// Records whose second value is malformed, each with the message that
/// says why: `(type, good value, bad value, message)`.
const MALFORMED: &[(&str, &str, &str, &str)] = &[
    (
        "SSHFP",
        "1 1 2bb183af5f22588179a53b0a98631fad1a292118",
        "4 2 2bb183af5f22588179a53b0a98631fad1a292118",
        "with fingerprint type 2 (SHA-256), the fingerprint is 32 bytes, 64 hexadecimal digits; this one has 40",
    ),
    (
        "TLSA",
        "3 0 0 3082",
        "3 1 1 3082",
        "with matching type 1 (SHA-256), the certificate association data is 32 bytes",
    ),
    (
        "DS",
        "60485 5 1 2bb183af5f22588179a53b0a98631fad1a292118",
        "60485 5 2 2bb183af5f22588179a53b0a98631fad1a292118",
        "with digest type 2 (SHA-256), the digest is 32 bytes",
    ),
    (
        "HTTPS",
        "1 . alpn=h2",
        "1 . alpn=h2 colour=blue",
        "unknown SVCB parameter `colour`",
    ),
    (
        "SVCB",
        "1 . port=53",
        "1 . port=65536",
        "the port `65536` is out of range: it is 0 to 65535",
    ),
    (
        "LOC",
        "52 N 4 E 0m",
        "52 N 4 E 0m 15m",
        "a LOC size or precision is one digit times a power of ten (RFC 1876); use 10.00m or 20.00m",
    ),
    (
        "NAPTR",
        r#"100 10 "S" "SIP+D2U" "" _sip._udp.example.org."#,
        r#"10 100 "u" "E2U+sip" "!^.*$!sip:a@example.org!" sip.example.org."#,
        "uses its regexp or its replacement, not both",
    ),
    ("NS", "ns1.example.net.", ".", "`.` is not a usable name"),
];

#[test]
fn malformed_record_values_fail_validation_where_they_are_written() {
    let ws = Workspace::new();
    ws.repo
        .write("zones/zone.toml", "[[dns.zone]]\nname = \"example.org.\"\n");
    ws.repo.commit("zone", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let before = ws.pdns.rrsets("example.org.");

    // One record per malformed value, each five lines long, the bad value
    // second in its list.
    let mut text = String::new();
    let mut places = Vec::new();
    for (index, (record_type, good, bad, message)) in MALFORMED.iter().enumerate() {
        text.push_str(&format!(
            "[[dns.record]]\nname = \"bad{index}.example.org.\"\ntype = \"{record_type}\"\nrecords = ['{good}', '{bad}']\n\n"
        ));
        let line = index * 5 + 4;
        let column = "records = [".len() + good.len() + 2 + ", ".len() + 1;
        places.push((format!("zones/bad.toml:{line}:{column}"), *message));
    }
    ws.repo.write("zones/bad.toml", &text);
    ws.repo.commit("malformed records", AUTHOR);

    for command in [&["validate"][..], &["plan"], &["apply", "--yes"]] {
        let output = ws.cairn(command);
        output
            .expect_code(1)
            .expect_contains("dns.record `records.1`");
        for (place, message) in &places {
            output.expect_contains(place).expect_contains(message);
        }
    }
    assert_eq!(ws.pdns.rrsets("example.org."), before, "the server changed");
}

/// A record goes into the longest zone on the server that holds its name,
/// however the provider finds the zones: by searching at and below the
/// records' parents and asking for those parents' own parents by name, or
/// by listing every zone when the names have many parents. The server's
/// zones nest, and one record's name is itself a zone's apex.
#[test]
fn records_go_into_the_longest_zone_that_holds_them_however_it_is_found() {
    let ws = Workspace::new();
    let others: Vec<String> = (1..=5).map(|n| format!("other{n}.test.")).collect();
    for zone in [
        "example.org.",
        "sub.example.org.",
        "www.example.org.",
        "deep.sub.example.org.",
        "example.net.",
    ]
    .into_iter()
    .chain(others.iter().map(String::as_str))
    {
        ws.pdns
            .request(
                "POST",
                "/api/v1/servers/localhost/zones",
                Some(&serde_json::json!({"name": zone, "kind": "Native", "nameservers": []})),
            )
            .expect("a zone made by hand");
    }
    let record = |name: &str, address: &str| {
        format!("[[dns.record]]\nname = \"{name}\"\ntype = \"A\"\nrecords = [\"{address}\"]\n\n")
    };
    let holds = |zone: &str, name: &str, address: &str| {
        let line = format!("{name} A 3600 {address}");
        assert!(
            ws.pdns.rrsets(zone).contains(&line),
            "zone {zone} lacks `{line}`: {:?}",
            ws.pdns.rrsets(zone)
        );
    };

    // Found by name: a search at and below example.org. (which finds
    // www.example.org. and sub.example.org.), and below
    // deep.example.net., which is no zone, so its parents are asked for.
    let mut dns = record("www.example.org.", "192.0.2.1")
        + &record("b.example.org.", "192.0.2.2")
        + &record("a.sub.example.org.", "192.0.2.3")
        + &record("x.deep.example.net.", "192.0.2.4");
    ws.repo.write("dns.toml", &dns);
    ws.repo.commit("four records", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    holds("www.example.org.", "www.example.org.", "192.0.2.1");
    holds("example.org.", "b.example.org.", "192.0.2.2");
    holds("sub.example.org.", "a.sub.example.org.", "192.0.2.3");
    holds("example.net.", "x.deep.example.net.", "192.0.2.4");
    ws.cairn(&["plan"]).expect_code(0);

    // A zone at a record's own name, two levels below the search's.
    for (name, address) in [
        ("x1.sub.example.org.", "192.0.2.11"),
        ("deep.sub.example.org.", "192.0.2.14"),
    ] {
        dns.push_str(&record(name, address));
    }
    ws.repo.write("dns.toml", &dns);
    ws.repo.commit("two more below sub", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    holds("sub.example.org.", "x1.sub.example.org.", "192.0.2.11");
    holds(
        "deep.sub.example.org.",
        "deep.sub.example.org.",
        "192.0.2.14",
    );
    assert_eq!(ws.pdns.dig("deep.sub.example.org", "A"), ["192.0.2.14"]);
    ws.cairn(&["plan"]).expect_code(0);

    // Names below many parents: every zone is listed.
    for (n, zone) in others.iter().enumerate() {
        dns.push_str(&record(
            &format!("www.{zone}"),
            &format!("192.0.2.{}", 20 + n),
        ));
    }
    dns.push_str(&record("y.deep.sub.example.org.", "192.0.2.30"));
    ws.repo.write("dns.toml", &dns);
    ws.repo.commit("names below many parents", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    holds("other5.test.", "www.other5.test.", "192.0.2.24");
    holds(
        "deep.sub.example.org.",
        "y.deep.sub.example.org.",
        "192.0.2.30",
    );
    holds("www.example.org.", "www.example.org.", "192.0.2.1");
    holds("example.net.", "x.deep.example.net.", "192.0.2.4");
    ws.cairn(&["plan"]).expect_code(0);
}

/// PowerDNS's SQLite backend refuses a write that meets another writer at
/// once (500, "database is locked" in its log), as the writes of many
/// tenants on one server do. The provider sends such a write again after a
/// short wait, so the apply succeeds once the other writer is done,
/// instead of failing and waiting for the daemon's retry.
#[test]
fn a_write_that_meets_another_writer_is_sent_again() {
    let ws = Workspace::new();
    let dns = |address: &str| {
        format!(
            "[[dns.zone]]\nname = \"example.org.\"\n\n[[dns.record]]\nname = \"www.example.org.\"\ntype = \"A\"\nrecords = [\"{address}\"]\n"
        )
    };
    ws.repo.write("dns.toml", &dns("192.0.2.1"));
    ws.repo.commit("zone", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    ws.repo.write("dns.toml", &dns("192.0.2.2"));
    ws.repo.commit("move www", AUTHOR);

    let lock = ws.pdns.lock_writes();
    let refusals = |log: &str| log.matches("database is locked").count();
    let before = refusals(&ws.pdns.log());
    std::thread::scope(|scope| {
        let apply = scope.spawn(|| ws.cairn(&["apply", "--yes"]));
        cairn_tests::daemon::wait_until(
            std::time::Duration::from_secs(30),
            "PowerDNS refused the PATCH",
            || refusals(&ws.pdns.log()) > before || apply.is_finished(),
        );
        drop(lock);
        apply
            .join()
            .expect("the apply's thread")
            .expect_code(0)
            .expect_contains("update dns/record/www.example.org./A");
    });
    assert!(
        refusals(&ws.pdns.log()) > before,
        "the write never met the lock"
    );
    assert_eq!(ws.pdns.dig("www.example.org", "A"), ["192.0.2.2"]);
    ws.cairn(&["plan"]).expect_code(0);
}

/// A `list` of a few names of a zone (a plan of what Git moved, a
/// webhook's one record) asks the server for each name alone
/// (`rrset_name`) instead of reading the whole zone, and observes exactly
/// what the whole zone's answer shows of those names: every record type,
/// several types at one name, the apex, names with `_`, a wildcard, a
/// record disabled by hand beside an enabled one, an RRset all disabled,
/// and a name that has nothing.
#[test]
fn a_few_names_are_read_by_name_and_observed_as_the_whole_zone_shows_them() {
    let ws = Workspace::new();
    ws.repo.write("zones/types.toml", MORE_TYPES);
    ws.repo.commit("Every record type", AUTHOR);
    ws.cairn(&["apply", "--yes"]).expect_code(0);
    let rrset = |name: &str, kind: &str, records: &[(&str, bool)]| {
        let records: Vec<serde_json::Value> = records
            .iter()
            .map(
                |(content, disabled)| serde_json::json!({"content": content, "disabled": disabled}),
            )
            .collect();
        serde_json::json!({"name": name, "type": kind, "ttl": 120, "changetype": "REPLACE", "records": records})
    };
    ws.pdns
        .request(
            "PATCH",
            "/api/v1/servers/localhost/zones/example.org.",
            Some(&serde_json::json!({"rrsets": [
                rrset("by-hand.example.org.", "A", &[("192.0.2.7", false), ("192.0.2.8", true)]),
                rrset("by-hand.example.org.", "TXT", &[("\"kept\"", false)]),
                rrset("off.example.org.", "A", &[("192.0.2.9", true)]),
                rrset("*.example.org.", "TXT", &[("\"any\"", false)]),
            ]})),
        )
        .expect("records made by hand");

    let proxy = RecordingProxy::start(&ws.pdns.url());
    let config = format!(r#"{{"url": "{}"}}"#, proxy.url);
    let dns = cairn_tests::plugin_path("dns_powerdns")
        .display()
        .to_string();
    let list = |ids: &[String]| -> Vec<serde_json::Value> {
        let scope = serde_json::json!({"type_names": ["record"], "ids": ids}).to_string();
        let listed = ws.cairn_bare(&[
            "plugin",
            "call",
            &dns,
            "list",
            &scope,
            "--provider-config",
            &config,
            "--secret",
            "api_key=env:PDNS_API_KEY",
            "--allow",
            &proxy.url,
        ]);
        listed.expect_code(0);
        let mut observed = listed.json().as_array().expect("observed objects").clone();
        observed.sort_by_key(|object| object["id"].to_string());
        observed
    };
    let zone_reads = || -> Vec<String> {
        proxy
            .exchanges()
            .into_iter()
            .filter(|exchange| exchange.path.contains("/zones/example.org."))
            .map(|exchange| exchange.path)
            .collect()
    };

    // Every RRset of the zone and two names it lacks, read whole.
    let mut ids: Vec<String> = ws
        .pdns
        .rrsets("example.org.")
        .iter()
        .map(|line| {
            let mut words = line.split(' ');
            format!("{}/{}", words.next().unwrap(), words.next().unwrap())
        })
        .chain(["off.example.org./A".into(), "nothing.example.org./A".into()])
        .collect();
    ids.sort();
    ids.dedup();
    let whole = list(&ids);
    assert_eq!(
        zone_reads(),
        ["/api/v1/servers/localhost/zones/example.org."],
        "more than 4 names read the zone whole"
    );
    assert!(whole.iter().any(|o| o["id"] == "by-hand.example.org./A"
        && o["state"]["records"] == serde_json::json!(["192.0.2.7"])));
    assert!(!whole.iter().any(|o| o["id"] == "off.example.org./A"));

    // Then each name alone, and names four at a time: the same objects.
    let name_of = |id: &String| id.rsplit_once('/').unwrap().0.to_string();
    let mut names: Vec<String> = ids.iter().map(name_of).collect();
    names.sort();
    names.dedup();
    let groups: Vec<&[String]> = names.chunks(1).chain(names.chunks(4)).collect();
    for group in groups {
        let before = zone_reads().len();
        let asked: Vec<String> = ids
            .iter()
            .filter(|id| group.contains(&name_of(id)))
            .cloned()
            .collect();
        let expected: Vec<serde_json::Value> = whole
            .iter()
            .filter(|o| asked.iter().any(|id| o["id"] == id.as_str()))
            .cloned()
            .collect();
        assert_eq!(list(&asked), expected, "{group:?}");
        let mut read: Vec<String> = zone_reads()[before..]
            .iter()
            .map(|path| {
                let (_, name) = path.split_once("?rrset_name=").expect("a read by name");
                name.to_string()
            })
            .collect();
        read.sort();
        assert_eq!(read, group, "one request per name, for that name alone");
    }
}
