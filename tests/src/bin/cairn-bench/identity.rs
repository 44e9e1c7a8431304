//! Users and groups against a real Canaille: reconciling a directory from
//! scratch, and a plan with nothing to change, whole `cairn` processes.

use crate::{median, timed_apply, timed_no_change_plans};
use cairn_tests::cairn::{ConfigOptions, config_header};
use cairn_tests::{Canaille, Workspace};
use std::fmt::Write;
use std::time::Duration;

/// Fresh servers, each reconciled from scratch once.
const ROUNDS: usize = 3;
/// No-change plans per round.
const PLANS: usize = 3;
/// Users per resource file: a directory split as teams would split it.
const USERS_PER_FILE: usize = 50;

/// What the identity section measured.
pub struct Figures {
    /// Users and groups declared.
    pub users: usize,
    pub groups: usize,
    /// `cairn apply --yes` into an empty directory, per round.
    pub from_scratch: Vec<Duration>,
    /// `cairn plan` with nothing to change.
    pub no_change: Vec<Duration>,
    /// The floor of `no_change`, after each round's plans: Canaille's own
    /// listing of every user and group (a token, then the pages of
    /// `/Users` and `/Groups`), sent directly on one connection.
    pub listing: Vec<Duration>,
}

/// The repository: `users` users in files of [`USERS_PER_FILE`], and
/// `groups` groups whose members are consecutive users.
fn write_directory(ws: &Workspace, users: usize, groups: usize) {
    let name = |index: usize| format!("user{index:04}");
    for file in 0..users.div_ceil(USERS_PER_FILE) {
        let mut text = String::new();
        for index in file * USERS_PER_FILE..((file + 1) * USERS_PER_FILE).min(users) {
            let _ = write!(
                text,
                "[[idp.user]]\nuser_name = \"{0}\"\ndisplay_name = \"User {index}\"\nname = {{ given_name = \"User\", family_name = \"N{index}\" }}\nemails = [\"{0}@example.org\"]\n\n",
                name(index)
            );
        }
        ws.repo.write(&format!("users/team{file:02}.toml"), &text);
    }
    let mut text = String::new();
    let per_group = users / groups.max(1);
    for group in 0..groups {
        let members: Vec<String> = (group * per_group..(group + 1) * per_group)
            .map(|index| format!("{:?}", name(index)))
            .collect();
        let depends: Vec<String> = (group * per_group..(group + 1) * per_group)
            .map(|index| format!("\"idp/user/{}\"", name(index)))
            .collect();
        let _ = write!(
            text,
            "[[idp.group]]\ndisplay_name = \"group{group:03}\"\nmembers = [{}]\ndepends_on = [{}]\n\n",
            members.join(", "),
            depends.join(", ")
        );
    }
    ws.repo.write("groups.toml", &text);
    ws.repo.commit("the directory", "Bench <bench@example.org>");
}

/// Reconciles `users` users and `groups` groups into fresh Canaille
/// servers, timing the apply and the no-change plans after it.
pub fn directory(users: usize, groups: usize) -> anyhow::Result<Figures> {
    let mut figures = Figures {
        users,
        groups,
        from_scratch: Vec::new(),
        no_change: Vec::new(),
        listing: Vec::new(),
    };
    for _ in 0..ROUNDS {
        let ws = Workspace::new();
        let canaille = Canaille::start(&ws.path().join("canaille"));
        write_directory(&ws, users, groups);
        let text = format!(
            "{}\n{}{}",
            config_header(),
            ws.tenant_block("default", &ConfigOptions::default()),
            canaille.provider_table("default", ws.path(), &canaille.client_secret, &[], "")
        );
        std::fs::write(ws.config_path(), text)?;
        figures.from_scratch.push(timed_apply(&ws, "the apply")?);
        figures.no_change.extend(timed_no_change_plans(&ws, PLANS)?);
        for _ in 0..PLANS {
            figures.listing.push(listing(&canaille, users + groups)?);
        }
    }
    Ok(figures)
}

/// The time Canaille takes to hand over its whole directory: a bearer
/// token, then every page of `/Users` and `/Groups` as the provider reads
/// them (from `startIndex` 1, the server's page size), on one connection.
/// Fails unless `expected` resources came.
fn listing(canaille: &Canaille, expected: usize) -> anyhow::Result<Duration> {
    let agent = cairn_tests::http_agent(Duration::from_secs(60));
    let started = std::time::Instant::now();
    let token = canaille.token().map_err(anyhow::Error::msg)?;
    let mut listed = 0;
    for endpoint in ["Users", "Groups"] {
        let mut start = 1;
        loop {
            let request = ureq::http::Request::builder()
                .uri(format!(
                    "{}/{endpoint}?startIndex={start}",
                    canaille.scim_url
                ))
                .header("authorization", format!("Bearer {token}"))
                .body(String::new())?;
            let page: serde_json::Value =
                serde_json::from_str(&agent.run(request)?.body_mut().read_to_string()?)?;
            let got = page["Resources"].as_array().map_or(0, Vec::len);
            listed += got;
            start += got;
            if got == 0 || start > page["totalResults"].as_u64().unwrap_or(0) as usize {
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    anyhow::ensure!(
        listed == expected,
        "the listing found {listed} resources of {expected}"
    );
    Ok(elapsed)
}

impl Figures {
    /// The medians, in seconds: from scratch, no change, the listing.
    pub fn medians(&self) -> (f64, f64, f64) {
        (
            median(self.from_scratch.clone()).as_secs_f64(),
            median(self.no_change.clone()).as_secs_f64(),
            median(self.listing.clone()).as_secs_f64(),
        )
    }
}
