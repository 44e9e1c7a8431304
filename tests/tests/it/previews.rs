//! Previews against real servers: a branch that adds, changes and deletes
//! DNS records (PowerDNS) and users (Canaille) is planned with its policy
//! findings, as text, JSON and Markdown — which a Markdown parser reads as
//! a forge would render it — by `cairn preview` and by the daemon's API,
//! and nothing changes: not the servers, not the history, not the
//! inventory (README, "Previews").

use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::Daemon;
use cairn_tests::policies::rego_table;
use cairn_tests::{Canaille, Workspace};
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::collections::BTreeSet;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";
const TENANT_TOKEN: &str = "preview-tenant-token-51c2";
const OTHER_TOKEN: &str = "other-tenant-token-08d1";
const OPERATOR_TOKEN: &str = "preview-operator-token-3e7a";

fn records(www: &str, extra: &str) -> String {
    format!(
        r#"[[dns.zone]]
name = "example.quest."

[[dns.record]]
name = "www.example.quest."
type = "A"
records = ["{www}"]
{extra}"#
    )
}

const API: &str = r#"
[[dns.record]]
name = "api.example.quest."
type = "A"
records = ["192.0.2.20"]
"#;

const SHOP: &str = r#"
[[dns.record]]
name = "shop.example.quest."
type = "A"
ttl = 60
records = ["192.0.2.30"]
"#;

fn user(name: &str, display_name: &str) -> String {
    format!(
        "[[idp.user]]\nuser_name = \"{name}\"\ndisplay_name = \"{display_name}\"\nname = {{ family_name = \"{name}\" }}\n\n"
    )
}

/// The Markdown's structure as a renderer sees it: headings' text, each
/// table's body rows (as their cells' text), the `<details>` blocks, and
/// the code blocks' languages.
#[derive(Debug, Default)]
struct Rendered {
    headings: Vec<String>,
    tables: Vec<Vec<Vec<String>>>,
    details: usize,
    html: Vec<String>,
    code_blocks: Vec<String>,
    text: String,
}

fn render(markdown: &str) -> Rendered {
    let options = pulldown_cmark::Options::ENABLE_TABLES;
    let mut rendered = Rendered::default();
    let mut heading: Option<String> = None;
    let mut row: Option<Vec<String>> = None;
    let mut in_head = false;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => rendered.headings.push(heading.take().unwrap()),
            Event::Start(Tag::Table(_)) => rendered.tables.push(Vec::new()),
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => row = Some(Vec::new()),
            Event::End(TagEnd::TableRow) => {
                let cells = row.take().unwrap();
                if !in_head {
                    rendered.tables.last_mut().unwrap().push(cells);
                }
            }
            Event::Start(Tag::TableCell) => {
                if let Some(row) = row.as_mut() {
                    row.push(String::new());
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => rendered.code_blocks.push(match kind {
                pulldown_cmark::CodeBlockKind::Fenced(language) => language.to_string(),
                pulldown_cmark::CodeBlockKind::Indented => String::new(),
            }),
            Event::Html(html) | Event::InlineHtml(html) => {
                if html.contains("<details>") {
                    rendered.details += 1;
                }
                rendered.html.push(html.to_string());
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(heading) = heading.as_mut() {
                    heading.push_str(&text);
                }
                if let Some(cell) = row.as_mut().and_then(|row| row.last_mut()) {
                    cell.push_str(&text);
                }
                rendered.text.push_str(&text);
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => rendered.text.push(' '),
            _ => {}
        }
    }
    rendered
}

#[test]
fn a_preview_of_a_branch_shows_its_changes_and_findings_and_changes_nothing() {
    let ws = Workspace::new();
    let canaille_home = tempfile::Builder::new()
        .prefix("cairn-canaille-")
        .tempdir()
        .unwrap();
    let canaille = Canaille::start(canaille_home.path());
    for (file, token) in [
        ("operator", OPERATOR_TOKEN),
        ("default", TENANT_TOKEN),
        ("other", OTHER_TOKEN),
    ] {
        std::fs::write(ws.path().join(format!("{file}.token")), token).unwrap();
    }
    // `other` reads a folder of its own, with nothing in it.
    let tenant = |name: &str, path: &str| {
        ws.tenant_block(
            name,
            &ConfigOptions {
                tenant_settings: format!(
                    "interval = \"1h\"\napi_token = {{ file = \"{name}.token\" }}\n"
                ),
                path: path.into(),
                ..ConfigOptions::default()
            },
        )
    };
    let text = format!(
        "{}\n[daemon]\napi_token = {{ file = \"operator.token\" }}\n{}{}{}{}",
        config_header(),
        tenant("default", "."),
        canaille.provider_table("default", ws.path(), &canaille.client_secret, &[], ""),
        tenant("other", "other"),
        rego_table(
            "[[policies]]",
            "ttl",
            "advisory",
            "dns_min_ttl.rego",
            r#"production_zones = ["example.quest."]"#
        ),
    );
    std::fs::write(ws.config_path(), text).unwrap();

    ws.repo.write("dns.toml", &records("192.0.2.10", API));
    ws.repo
        .write("users.toml", &(user("ada", "Ada") + &user("bob", "Bob")));
    ws.repo.write("other/README.md", "nothing yet\n");
    ws.repo.commit("the live state", AUTHOR);
    ws.cairn(&["apply", "--yes", "--tenant", "default"])
        .expect_code(0);

    // The branch under review: one record changed, one deleted, one
    // added (with a TTL the policy flags), a user changed, one deleted,
    // one added.
    ws.repo.git(&["checkout", "-q", "-b", "feature/rework"]);
    ws.repo.write("dns.toml", &records("192.0.2.11", SHOP));
    ws.repo.write(
        "users.toml",
        &(user("bob", "Robert") + &user("carol", "Carol")),
    );
    let feature = ws
        .repo
        .commit("rework | the *front* <img src=x> door", AUTHOR);
    ws.repo.git(&["checkout", "-q", "main"]);

    let rrsets = ws.pdns.rrsets("example.quest.");
    let people: BTreeSet<String> = canaille
        .all("Users")
        .iter()
        .map(|user| format!("{}/{}", user["userName"], user["displayName"]))
        .collect();
    let history = || {
        ws.cairn(&["history", "--json", "--tenant", "default"])
            .expect_code(0)
            .json()
            .as_array()
            .unwrap()
            .clone()
    };
    let runs = history().len();

    let json = ws
        .cairn(&[
            "preview",
            "--ref",
            "feature/rework",
            "--tenant",
            "default",
            "--format",
            "json",
        ])
        .expect_code(2)
        .json();
    assert_eq!(json["reference"], "feature/rework");
    assert_eq!(json["plan"]["commit"]["id"], feature.as_str());
    let changes: BTreeSet<String> = json["plan"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            format!(
                "{} {}",
                change["action"].as_str().unwrap(),
                change["address"].as_str().unwrap()
            )
        })
        .collect();
    let expected: BTreeSet<String> = [
        "update dns/record/www.example.quest./A",
        "delete dns/record/api.example.quest./A",
        "create dns/record/shop.example.quest./A",
        "update idp/user/bob",
        "delete idp/user/ada",
        "create idp/user/carol",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(changes, expected, "{json:#}");
    let findings = json["plan"]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{json:#}");
    assert_eq!(findings[0]["address"], "dns/record/shop.example.quest./A");
    assert!(json["blocked_by"].as_array().unwrap().is_empty());

    ws.cairn(&["preview", "--ref", "feature/rework", "--tenant", "default"])
        .expect_code(2)
        .expect_contains("Preview of feature/rework (nothing is applied):")
        .expect_contains("- dns/record/api.example.quest./A")
        .expect_contains("error ttl/dns-min-ttl [advisory]");

    let markdown = ws
        .cairn(&[
            "preview",
            "--ref",
            "feature/rework",
            "--tenant",
            "default",
            "--format",
            "markdown",
        ])
        .expect_code(2)
        .stdout
        .clone();
    let rendered = render(&markdown);
    assert_eq!(
        rendered.headings,
        [
            "Cairn preview of feature/rework for tenant default",
            "Policy findings"
        ],
        "{markdown}"
    );
    // The findings table comes first, then one table per provider.
    assert_eq!(rendered.tables.len(), 3, "{markdown}");
    assert_eq!(rendered.tables[0].len(), 1, "{markdown}");
    assert!(rendered.tables[0][0][0].contains("error"), "{markdown}");
    assert!(
        rendered.tables[0][0][2].contains("dns-min-ttl"),
        "{markdown}"
    );
    assert!(rendered.tables[0][0][3].contains("dns/record/shop.example.quest./A"));
    let rows = |table: usize| -> BTreeSet<String> {
        rendered.tables[table]
            .iter()
            .map(|row| format!("{} {}", row[0], row[1]))
            .collect()
    };
    assert_eq!(
        rows(1),
        [
            "➖ delete dns/record/api.example.quest./A",
            "➕ create dns/record/shop.example.quest./A",
            "✏️ update dns/record/www.example.quest./A",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "{markdown}"
    );
    assert_eq!(
        rows(2),
        [
            "➖ delete idp/user/ada",
            "➕ create idp/user/carol",
            "✏️ update idp/user/bob",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
        "{markdown}"
    );
    assert_eq!(
        rendered.details, 2,
        "one collapsible section per provider: {markdown}"
    );
    assert_eq!(rendered.code_blocks, ["diff", "diff"], "{markdown}");
    assert!(rendered.text.contains("192.0.2.11"), "{markdown}");
    // The commit's message is text, not markup: no HTML but Cairn's own.
    assert!(
        rendered
            .text
            .contains("rework | the *front* <img src=x> door"),
        "{markdown}"
    );
    assert!(
        rendered.html.iter().all(|html| !html.contains("img")),
        "{:?}",
        rendered.html
    );
    assert!(
        markdown.contains("**2 to create, 2 to update, 2 to delete**"),
        "{markdown}"
    );
    for secret in [canaille.client_secret.as_str(), cairn_tests::pdns::API_KEY] {
        assert!(!markdown.contains(secret) && !json.to_string().contains(secret));
    }

    // Nothing moved.
    assert_eq!(ws.pdns.rrsets("example.quest."), rrsets);
    let after: BTreeSet<String> = canaille
        .all("Users")
        .iter()
        .map(|user| format!("{}/{}", user["userName"], user["displayName"]))
        .collect();
    assert_eq!(after, people);
    assert_eq!(history().len(), runs, "a preview records no run");
    ws.cairn(&["plan", "--tenant", "default"])
        .expect_code(0)
        .expect_contains("No changes");

    // The daemon serves the same to the tenant's token, and to no other.
    let daemon = Daemon::start(&ws.config_path());
    let ask = |token: &str, body: &str| {
        daemon
            .post(
                "/api/v1/tenants/default/preview",
                &[
                    ("Authorization", &format!("Bearer {token}")),
                    ("Content-Type", "application/json"),
                ],
                body,
            )
            .expect("the API answers")
    };
    let body = r#"{"ref": "feature/rework", "format": "markdown"}"#;
    let mut answer = ask(TENANT_TOKEN, body);
    for _ in 0..50 {
        if answer.0 != 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        answer = ask(TENANT_TOKEN, body);
    }
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1, markdown, "the daemon's preview is the command's");
    let (status, json) = ask(OPERATOR_TOKEN, r#"{"ref": "feature/rework"}"#);
    assert_eq!(status, 200, "{json}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["plan"]["changes"].as_array().unwrap().len(), 6);
    assert_eq!(
        ask(OTHER_TOKEN, body).0,
        404,
        "another tenant's token sees no such tenant"
    );
    let (status, message) = ask(TENANT_TOKEN, r#"{"ref": "no-such-branch"}"#);
    assert_eq!(status, 404, "{message}");
    let (status, message) = ask(TENANT_TOKEN, r#"{"branch": "main"}"#);
    assert_eq!(status, 400, "{message}");
    assert!(message.contains("\"ref\""), "{message}");
    assert_eq!(ws.pdns.rrsets("example.quest."), rrsets);
    let recorded = history();
    assert!(
        !recorded
            .iter()
            .any(|run| run["commit_id"] == feature.as_str()),
        "the daemon's previews record no run either: {recorded:#?}"
    );
}
