//! The dashboard in a real headless Chromium, driving a real daemon whose
//! tenants keep real PowerDNS zones (README, "Dashboard"): a tenant token
//! signs in and sees only its tenant; a pushed commit shows on the open
//! page without a reload; drift shows with its fields; suspend, resume and
//! roll back from the page reach the state store and PowerDNS; a form
//! without its CSRF token is refused; the operator sees every tenant and
//! the cluster. Every page is checked with axe-core and saved as a
//! screenshot under the target folder. Without a token the dashboard is
//! open and read-only, and every answer carries the security headers.

use cairn_tests::Workspace;
use cairn_tests::browser::{Browser, Scheme};
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::daemon::{Daemon, wait_until};
use std::time::Duration;

const AUTHOR: &str = "Ada Lovelace <ada@example.org>";
const OPERATOR: &str = "dashboard-operator-token-6b1f";
const TENANT_A: &str = "dashboard-tenant-a-token-2c90";
const TENANT_B: &str = "dashboard-tenant-b-token-e47d";

fn zone(name: &str, www: &str) -> String {
    format!(
        "[[dns.zone]]\nname = \"{name}\"\n\n[[dns.record]]\nname = \"www.{name}\"\ntype = \"A\"\nrecords = [\"{www}\"]\n"
    )
}

/// Checks the page with axe-core, saves it as `name`, and checks that no
/// token is in it or its URL.
fn look(browser: &Browser, name: &str, violations: &mut Vec<String>) {
    browser.screenshot(name);
    let (page, url) = (browser.source(), browser.url());
    for token in [OPERATOR, TENANT_A, TENANT_B] {
        assert!(
            !page.contains(token) && !url.contains(token),
            "{name} shows a token"
        );
    }
    for violation in browser.accessibility_violations() {
        violations.push(format!("{name}: {violation}"));
    }
}

/// Tenant `a`'s status, read with the operator's token.
fn status_of_a(daemon: &Daemon) -> serde_json::Value {
    let (status, body) = daemon
        .get_with(
            "/api/v1/tenants/a",
            &[("Authorization", &format!("Bearer {OPERATOR}"))],
        )
        .expect("the status API answers");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The tenant's control state and last runs, as the status API and the
/// history read them from the store.
fn control(daemon: &Daemon) -> serde_json::Value {
    status_of_a(daemon)["control"].clone()
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let ws = Workspace::new();
    for (file, token) in [("operator", OPERATOR), ("a", TENANT_A), ("blog", TENANT_B)] {
        std::fs::write(ws.path().join(format!("{file}.token")), token).unwrap();
    }
    let tenant = |name: &str| {
        ws.tenant_block(
            name,
            &ConfigOptions {
                tenant_settings: format!(
                    "interval = \"1h\"\ndrift_interval = \"1h\"\napi_token = {{ file = \"{name}.token\" }}\n"
                ),
                path: name.into(),
                ..ConfigOptions::default()
            },
        )
    };
    let text = format!(
        "{}\n[daemon]\napi_token = {{ file = \"operator.token\" }}\n{}{}",
        config_header(),
        tenant("a"),
        tenant("blog")
    );
    std::fs::write(ws.config_path(), text).unwrap();
    ws.repo
        .write("a/dns.toml", &zone("example.quest.", "192.0.2.10"));
    ws.repo
        .write("blog/dns.toml", &zone("other.quest.", "198.51.100.1"));
    let first = ws.repo.commit("the first records", AUTHOR);
    let daemon = Daemon::start(&ws.config_path());
    let base = format!("http://127.0.0.1:{}", daemon.port);
    wait_until(Duration::from_secs(60), "both tenants applied", || {
        ws.pdns.dig("www.example.quest.", "A") == ["192.0.2.10"]
            && ws.pdns.dig("www.other.quest.", "A") == ["198.51.100.1"]
    });
    let mut violations = Vec::new();
    let browser = Browser::start(1280, 900, Scheme::Light);

    // Without a session every page sends the browser to sign in.
    browser.goto(&format!("{base}/ui/"));
    browser.wait_for_url("/ui/sign-in");
    look(&browser, "sign-in", &mut violations);
    browser.fill("#token", "not-a-token");
    browser.click("button[type=submit]");
    browser.wait_for_text("not valid");

    // A tenant's token sees its tenant, and no other.
    browser.fill("#token", TENANT_A);
    browser.click("button[type=submit]");
    browser.wait_for_url("/ui/tenants/a");
    let session = browser
        .cookies()
        .into_iter()
        .find(|(name, ..)| name == "cairn_session")
        .expect("a session cookie");
    assert!(session.2, "the session cookie is HttpOnly");
    assert_eq!(session.3, "Strict");
    browser.goto(&format!("{base}/ui/"));
    assert!(browser.has("a[href='/ui/tenants/a']"), "tenant a is listed");
    assert!(
        !browser.has("a[href='/ui/tenants/blog']"),
        "tenant blog is not listed"
    );
    assert!(
        !browser.source().contains("other.quest"),
        "nothing of tenant blog shows"
    );
    browser.goto(&format!("{base}/ui/tenants/blog"));
    browser.wait_for_text("There is no tenant `blog`");
    browser.goto(&format!("{base}/ui/cluster"));
    browser.wait_for_text("operator's token");

    // A commit pushed shows on the open page, which is not reloaded.
    browser.goto(&format!("{base}/ui/tenants/a"));
    browser.wait_for_text(&first[..12]);
    look(&browser, "tenant", &mut violations);
    browser.run("window.cairnNotReloaded = true; return true;");
    let run_before = status_of_a(&daemon)["last_run"]["run_id"].clone();
    ws.repo
        .write("a/dns.toml", &zone("example.quest.", "192.0.2.11"));
    let second = ws.repo.commit("www moves", AUTHOR);
    let (status, _) = daemon
        .post(
            "/api/v1/tenants/a/reconcile",
            &[("Authorization", &format!("Bearer {TENANT_A}"))],
            "",
        )
        .unwrap();
    assert_eq!(status, 202);
    let shown_after = browser.wait_for_text(&second[..12]);
    assert_eq!(
        browser.run("return window.cairnNotReloaded === true;"),
        true,
        "the page was not reloaded"
    );
    assert_eq!(ws.pdns.dig("www.example.quest.", "A"), ["192.0.2.11"]);
    // The run ended (its convergence checked) before the hand edit below.
    wait_until(Duration::from_secs(30), "the pushed commit's run", || {
        let last = &status_of_a(&daemon)["last_run"];
        last["run_id"] != run_before && last["outcome"] == "applied"
    });
    eprintln!("the pushed commit showed {shown_after:?} after the trigger");

    // Drift, found by the run a suspension starts, shows with its fields.
    ws.pdns.put_rrset(
        "example.quest.",
        "www.example.quest.",
        "A",
        3600,
        &["192.0.2.99"],
    );
    browser.click("form[action$='/suspend'] button");
    browser.wait_for_text("Suspended");
    assert_eq!(
        control(&daemon)["suspended"],
        true,
        "the store records the suspension"
    );
    // The value may show elsewhere on the live page first (the run's
    // actions): the drift article itself is waited for.
    let mut drift = String::new();
    wait_until(Duration::from_secs(30), "the drift article", || {
        drift = browser.text("#drift-title + p + article");
        drift.contains("192.0.2.99")
    });
    assert!(
        drift.contains("/records") || drift.contains("records"),
        "{drift}"
    );
    assert!(drift.contains("192.0.2.11"), "Git's value shows: {drift}");
    look(&browser, "tenant-drift", &mut violations);

    // A form without the session's CSRF token is refused; nothing changes.
    let refused = browser.run_async(
        r#"const done = arguments[arguments.length - 1];
           fetch("/ui/tenants/a/resume", { method: "POST", credentials: "same-origin",
               headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "" })
             .then(r => r.text().then(t => done([r.status, t])));"#,
    );
    assert_eq!(refused[0], 403, "{refused}");
    assert!(refused[1].as_str().unwrap().contains("CSRF"), "{refused}");
    let forged = browser.run_async(
        r#"const done = arguments[arguments.length - 1];
           fetch("/ui/tenants/a/resume", { method: "POST", credentials: "same-origin",
               headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "csrf=00" })
             .then(r => done(r.status));"#,
    );
    assert_eq!(forged, 403);
    assert_eq!(
        control(&daemon)["suspended"],
        true,
        "a refused form changes nothing"
    );

    // Resume from the page.
    browser.click("form[action$='/resume'] button");
    browser.wait_for_text("Resumed");
    assert_eq!(control(&daemon)["suspended"], false);

    // Roll back, after a confirmation that names the commit.
    browser.click("a[href$='/rollback']");
    browser.wait_for_text("Roll a back?");
    let confirmation = browser.main_text();
    assert!(
        confirmation.contains(&first[..12]),
        "the commit is named: {confirmation}"
    );
    look(&browser, "rollback-confirmation", &mut violations);
    browser.click("form[action$='/rollback'] button");
    wait_until(Duration::from_secs(60), "the rollback applied", || {
        ws.pdns.dig("www.example.quest.", "A") == ["192.0.2.10"]
    });
    assert_eq!(
        control(&daemon)["held_commit"],
        first.as_str(),
        "the store holds the tenant"
    );
    browser.wait_for_text("held at");
    let runs = ws
        .cairn(&["history", "--tenant", "a", "--json"])
        .expect_code(0)
        .json();
    let runs = runs.as_array().unwrap();
    let rollback = runs
        .iter()
        .find(|run| run["kind"] == "rollback")
        .expect("a rollback run in the history");
    assert_eq!(rollback["commit_id"], first.as_str());
    let applied_second = runs
        .iter()
        .find(|run| run["commit_id"] == second.as_str() && run["outcome"] == "succeeded")
        .expect("the second commit's run");

    // The history, a run, and the difference between two runs' commits.
    browser.goto(&format!("{base}/ui/tenants/a/history"));
    assert!(browser.main_text().contains("rollback"));
    look(&browser, "history", &mut violations);
    browser.goto(&format!("{base}/ui/tenants/a/runs/{}", rollback["id"]));
    let run = browser.main_text();
    assert!(
        run.contains("dns/record/www.example.quest./A") || run.contains("www.example.quest"),
        "{run}"
    );
    assert!(run.contains(" ms"), "durations show: {run}");
    look(&browser, "run", &mut violations);
    browser.goto(&format!("{base}/ui/tenants/a/history"));
    browser.click(&format!("input[name=from][value='{}']", rollback["id"]));
    browser.click(&format!("input[name=to][value='{}']", applied_second["id"]));
    browser.click("form[action$='/diff'] button[type=submit]");
    browser.wait_for_text("resources differ");
    let diff = browser.main_text();
    assert!(
        diff.contains("changed") && diff.contains("192.0.2.10") && diff.contains("192.0.2.11"),
        "{diff}"
    );
    look(&browser, "diff", &mut violations);

    // The plan on demand: the held commit is where the world is.
    browser.goto(&format!("{base}/ui/tenants/a"));
    browser.click("form[action$='/plan'] button");
    browser.wait_for_text("Plan of a");
    let plan = browser.main_text();
    assert!(
        plan.contains("Plan of a") && plan.contains("nothing was applied"),
        "{plan}"
    );
    look(&browser, "plan", &mut violations);
    browser.goto(&format!("{base}/ui/tenants/a/plan?ref={second}"));
    let preview = browser.main_text();
    assert!(
        preview.contains("update") && preview.contains("192.0.2.11"),
        "{preview}"
    );

    // Signing out ends the session; the operator sees every tenant and
    // the cluster.
    browser.click("form[action='/ui/sign-out'] button");
    browser.wait_for_url("/ui/sign-in");
    browser.goto(&format!("{base}/ui/tenants/a"));
    assert!(
        browser.url().ends_with("/ui/sign-in"),
        "the old session is over"
    );
    browser.fill("#token", OPERATOR);
    browser.click("button[type=submit]");
    browser.wait_for_text("Tenants");
    assert!(browser.has("a[href='/ui/tenants/a']") && browser.has("a[href='/ui/tenants/blog']"));
    look(&browser, "overview", &mut violations);
    browser.goto(&format!("{base}/ui/?state=held"));
    assert!(
        browser.has("a[href='/ui/tenants/a']") && !browser.has("a[href='/ui/tenants/blog']"),
        "the filter keeps the held tenant"
    );
    browser.goto(&format!("{base}/ui/?q=blog"));
    assert!(
        !browser.has("a[href='/ui/tenants/a']") && browser.has("a[href='/ui/tenants/blog']"),
        "the search finds tenant blog"
    );
    browser.goto(&format!("{base}/ui/cluster"));
    let cluster = browser.main_text();
    assert!(
        cluster.contains("Daemons (1)") && cluster.contains("Leases (2)"),
        "{cluster}"
    );
    look(&browser, "cluster", &mut violations);

    // Phone width, and dark mode.
    for (scheme, name) in [(Scheme::Light, "phone"), (Scheme::Dark, "phone-dark")] {
        let phone = Browser::start(390, 844, scheme);
        phone.goto(&format!("{base}/ui/sign-in"));
        phone.fill("#token", TENANT_A);
        phone.click("button[type=submit]");
        phone.wait_for_text("Resources");
        let overflow =
            phone.run("return document.documentElement.scrollWidth - window.innerWidth;");
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "{name}: the page is wider than the screen by {overflow}px"
        );
        if scheme == Scheme::Dark {
            assert_eq!(
                phone.run("return matchMedia('(prefers-color-scheme: dark)').matches;"),
                true
            );
        }
        look(&phone, &format!("tenant-{name}"), &mut violations);
    }

    assert!(
        violations.is_empty(),
        "accessibility violations:\n{}",
        violations.join("\n")
    );
    // No token was ever put in a page, a URL or the log.
    let log = daemon.log();
    for token in [OPERATOR, TENANT_A, TENANT_B] {
        assert!(!log.contains(token), "a token was logged");
    }
}

/// An answer read without following redirects: status, headers, body.
fn raw(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = agent
        .run(request.body(body.to_string()).unwrap())
        .expect("the daemon answers");
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (response.status().as_u16(), response.headers().clone(), text)
}

#[test]
fn without_a_token_the_dashboard_is_open_read_only_and_hardened() {
    let ws = Workspace::new();
    ws.configure(&ConfigOptions {
        tenant_settings: "interval = \"1h\"".into(),
        ..ConfigOptions::default()
    });
    ws.repo
        .write("dns.toml", &zone("example.quest.", "192.0.2.10"));
    ws.repo.commit("records", AUTHOR);
    let daemon = Daemon::start(&ws.config_path());
    let base = format!("http://127.0.0.1:{}", daemon.port);
    wait_until(Duration::from_secs(60), "the tenant applied", || {
        ws.pdns.dig("www.example.quest.", "A") == ["192.0.2.10"]
    });

    // Open to anyone: a page, and a cookie that binds its forms.
    let (status, headers, page) = raw("GET", &format!("{base}/ui/tenants/default"), &[], "");
    assert_eq!(status, 200, "{page}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(page.contains("read-only"), "the page says it is read-only");
    assert!(!page.contains("/suspend"), "no button to act");
    let session = cookie.split(';').next().unwrap().to_string();
    assert!(
        !page.contains("name=\"csrf\""),
        "a read-only page carries no form that acts"
    );
    let (_, _, confirmation) = raw(
        "GET",
        &format!("{base}/ui/tenants/default/rollback"),
        &[],
        "",
    );
    assert!(
        !confirmation.contains("<form method=\"post\""),
        "{confirmation}"
    );

    // A POST with the session but no CSRF token, and one with a guessed
    // token, are refused; the state is unchanged.
    for body in ["", "csrf=0000"] {
        let (status, _, text) = raw(
            "POST",
            &format!("{base}/ui/tenants/default/suspend"),
            &[
                ("Cookie", &session),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            body,
        );
        assert_eq!(status, 403, "{text}");
    }
    let control = daemon.tenant("default")["control"].clone();
    assert_eq!(control["suspended"], false, "nothing was suspended");

    // The assets are served with the same headers; the API is unchanged.
    let (status, headers, css) = raw("GET", &format!("{base}/ui/assets/dashboard.css"), &[], "");
    assert_eq!(status, 200);
    assert!(css.contains("prefers-color-scheme: dark"));
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(
        raw("GET", &format!("{base}/api/v1/tenants"), &[], "").0,
        200
    );
}
