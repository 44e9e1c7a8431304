//! The command-line reference, `docs/cli.md`, rendered as Markdown from the
//! very definition `cairn` parses: every command, argument, default,
//! environment variable and help text. A test compares the file with this
//! rendering, so the page cannot drift from the binary.

use clap::builder::PossibleValue;
use clap::{Arg, ArgAction, Command};
use std::fmt::Write;

/// How to bring `docs/cli.md` up to date, written at its top and in the
/// test's failure.
pub const REGENERATE: &str = "CAIRN_BLESS_DOCS=1 cargo test -p cairn --test docs";

/// The Markdown reference of `command` and all its subcommands.
///
/// Built-in `--help`, `--version` and the `help` subcommand are left out
/// (the page says once that every command has them), and so is the
/// version number, so that a release does not change the page.
pub fn render(command: &Command) -> String {
    let mut command = command.clone();
    command.build();
    let mut out = String::new();
    let name = command.get_name().to_string();
    out.push_str("# Command-line reference\n\n");
    let _ = writeln!(
        out,
        "<!-- Generated from the definition `{name}` parses by `cairn::cli::reference_markdown()`. \
         Do not edit: change the doc comments in runtime/src/cli/ and run `{REGENERATE}`. -->\n"
    );
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        let _ = writeln!(out, "{}\n", paragraphs(&about.to_string()));
    }
    let _ = writeln!(
        out,
        "Every command takes `-h` (a summary) and `--help` (everything); `{name} --version` \
         prints the version. [Commands](commands.md) explains exit codes, JSON output and logs.\n"
    );
    let globals: Vec<&Arg> = command
        .get_arguments()
        .filter(|arg| arg.is_global_set() && !arg.is_hide_set() && !is_builtin(arg))
        .collect();
    if !globals.is_empty() {
        out.push_str("## Options of every command\n\n");
        out.push_str("Written before or after the command's name.\n\n");
        table(&globals, &mut out);
    }
    out.push_str("## Commands\n\n");
    contents(&command, &name, &mut out);
    out.push('\n');
    for subcommand in visible_subcommands(&command) {
        section(subcommand, &name, &mut out);
    }
    out
}

/// The bulleted list of commands, nested as they are.
fn contents(command: &Command, path: &str, out: &mut String) {
    for subcommand in visible_subcommands(command) {
        let full = format!("{path} {}", subcommand.get_name());
        let depth = full.split(' ').count().saturating_sub(2);
        let about = one_line(subcommand.get_about());
        let _ = write!(
            out,
            "{}- [`{full}`](#{})",
            "  ".repeat(depth),
            full.replace(' ', "-")
        );
        let _ = if about.is_empty() {
            writeln!(out)
        } else {
            writeln!(out, " — {about}")
        };
        contents(subcommand, &full, out);
    }
}

/// One command's section, then its subcommands'.
fn section(command: &Command, parent: &str, out: &mut String) {
    let full = format!("{parent} {}", command.get_name());
    let _ = writeln!(out, "## `{full}`\n");
    if let Some(about) = command.get_long_about().or(command.get_about()) {
        let _ = writeln!(out, "{}\n", sentence(paragraphs(&about.to_string())));
    }
    let aliases: Vec<String> = command
        .get_visible_aliases()
        .map(|alias| format!("`{parent} {alias}`"))
        .collect();
    if !aliases.is_empty() {
        let _ = writeln!(out, "Also: {}.\n", aliases.join(", "));
    }
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim().trim_start_matches("Usage:").trim();
    let _ = writeln!(out, "```text\n{usage}\n```\n");
    // Global options are listed once, at the top.
    let arguments: Vec<&Arg> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set() && !is_builtin(arg) && !arg.is_global_set())
        .collect();
    table(&arguments, out);
    for subcommand in visible_subcommands(command) {
        section(subcommand, &full, out);
    }
}

/// The table of `arguments`, if there are any.
fn table(arguments: &[&Arg], out: &mut String) {
    if arguments.is_empty() {
        return;
    }
    out.push_str("| argument | default | environment | what it does |\n");
    out.push_str("| --- | --- | --- | --- |\n");
    for arg in arguments {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            cell(&spelling(arg)),
            cell(&default(arg)),
            cell(
                &arg.get_env()
                    .map(|env| format!("`{}`", env.to_string_lossy()))
                    .unwrap_or_default()
            ),
            cell(&description(arg)),
        );
    }
    out.push('\n');
}

fn visible_subcommands(command: &Command) -> impl Iterator<Item = &Command> {
    command
        .get_subcommands()
        .filter(|subcommand| !subcommand.is_hide_set() && subcommand.get_name() != "help")
}

/// `--help` and `--version`, which clap adds to every command.
fn is_builtin(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
    )
}

/// How the argument is written: `<PLAN>`, `-c, --config <CONFIG>`, `--json`.
fn spelling(arg: &Arg) -> String {
    let values = arg
        .get_value_names()
        .map(|names| {
            names
                .iter()
                .map(|name| format!("<{name}>"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| format!("<{}>", arg.get_id()));
    if arg.is_positional() {
        let bare = values.trim_start_matches('<').trim_end_matches('>');
        return if arg.is_required_set() {
            format!("`{bare}`")
        } else {
            format!("`[{bare}]`")
        };
    }
    let mut names = Vec::new();
    if let Some(short) = arg.get_short() {
        names.push(format!("-{short}"));
    }
    if let Some(long) = arg.get_long() {
        names.push(format!("--{long}"));
    }
    let names = names.join(", ");
    if arg.get_action().takes_values() {
        format!("`{names} {values}`")
    } else {
        format!("`{names}`")
    }
}

/// The default value, for arguments that take one.
fn default(arg: &Arg) -> String {
    if !arg.get_action().takes_values() || arg.is_hide_default_value_set() {
        return String::new();
    }
    arg.get_default_values()
        .iter()
        .map(|value| format!("`{}`", value.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The help text, with the values an enumerated argument accepts.
fn description(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|help| sentence(paragraphs(&help.to_string())))
        .unwrap_or_default();
    let values: Vec<PossibleValue> = arg
        .get_possible_values()
        .into_iter()
        .filter(|value| !value.is_hide_set())
        .collect();
    if arg.get_action().takes_values() && !values.is_empty() {
        let listed: Vec<String> = values
            .iter()
            .map(|value| match value.get_help() {
                Some(help) => format!("`{}` ({})", value.get_name(), one_line(Some(help))),
                None => format!("`{}`", value.get_name()),
            })
            .collect();
        let _ = write!(text, " One of: {}.", listed.join(", "));
    }
    text
}

/// Help text as Markdown paragraphs: clap keeps a doc comment's lines
/// joined within a paragraph and blank lines between paragraphs.
fn paragraphs(text: &str) -> String {
    text.trim()
        .split("\n\n")
        .map(|paragraph| paragraph.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// `text` ending with a full stop: clap drops the one a one-paragraph doc
/// comment ends with, and the page reads as sentences.
fn sentence(mut text: String) -> String {
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

/// A help text on one line, without its final full stop (for lists).
fn one_line(text: Option<&clap::builder::StyledStr>) -> String {
    let text = text.map(ToString::to_string).unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text.trim_end_matches('.').to_string()
}

/// Text fit for a table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace("\n\n", "<br><br>")
        .replace('\n', " ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    #[test]
    fn every_command_argument_default_and_variable_is_rendered() {
        let command = Command::new("tool")
            .about("Does things.")
            .arg(
                Arg::new("verbose")
                    .long("verbose")
                    .global(true)
                    .action(ArgAction::SetTrue)
                    .help("Says more."),
            )
            .subcommand(
                Command::new("run")
                    .about("Runs it.")
                    .visible_alias("go")
                    .arg(
                        Arg::new("config")
                            .long("config")
                            .short('c')
                            .default_value("tool.toml")
                            .env("TOOL_CONFIG")
                            .help("The file | its path."),
                    )
                    .arg(
                        Arg::new("json")
                            .long("json")
                            .action(ArgAction::SetTrue)
                            .help("As JSON."),
                    )
                    .arg(Arg::new("plan").value_name("PLAN").help("A saved plan.")),
            )
            .subcommand(Command::new("group").subcommand(Command::new("leaf").about("A leaf.")));
        let page = render(&command);
        assert!(
            page.contains("- [`tool run`](#tool-run) — Runs it\n"),
            "{page}"
        );
        assert!(
            page.contains("  - [`tool group leaf`](#tool-group-leaf)"),
            "{page}"
        );
        assert!(
            page.contains("## `tool run`\n\nRuns it.\n\nAlso: `tool go`."),
            "{page}"
        );
        assert!(
            page.contains("```text\ntool run [OPTIONS] [PLAN]\n```"),
            "{page}"
        );
        assert!(
            page.contains(
                "| `-c, --config <config>` | `tool.toml` | `TOOL_CONFIG` | The file \\| its path. |"
            ),
            "{page}"
        );
        assert!(page.contains("| `--json` |  |  | As JSON. |"), "{page}");
        assert!(page.contains("A leaf.\n"), "{page}");
        assert!(page.contains("| `[PLAN]` |"), "{page}");
        assert!(page.contains("## `tool group leaf`"), "{page}");
        assert!(!page.contains("| `-h, --help` |"), "{page}");
        // A global option once, before the commands.
        assert_eq!(
            page.matches("| `--verbose` |  |  | Says more. |").count(),
            1,
            "{page}"
        );
        assert!(
            page.find("## Options of every command") < page.find("## Commands"),
            "{page}"
        );
        assert!(!page.contains("tool help"), "{page}");
    }
}
