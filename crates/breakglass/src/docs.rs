//! The documentation's commands are commands: every `breakglass …` invocation shown in a
//! shell block of the README, or in the example config's header, must parse with this
//! binary's own argument parser. (`scripts/check-quickstart` also runs the README's
//! quickstart block and the config header's commands against the emulator.)

use clap::Parser as _;
use clap::error::ErrorKind;

use crate::Cli;

const README: &str = include_str!("../../../README.md");
const EXAMPLE_CONFIG: &str = include_str!("../../../examples/breakglass.toml");

/// The shell lines of every ```` ```sh ```` block of `markdown`, continuation lines joined.
fn shell_lines(markdown: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    let mut pending = String::new();
    for line in markdown.lines() {
        if !inside {
            inside = line.trim_start().starts_with("```sh");
            continue;
        }
        if line.trim_start().starts_with("```") {
            inside = false;
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                pending.push(' ');
            }
            None => {
                pending.push_str(line);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    lines
}

/// The simple commands of one shell line: split at unquoted `;`, `|`, `&`, and with each
/// command substitution `$(…)` a command of its own (replaced by a word in its command).
/// Comments (an unquoted `#` starting a word) end the line.
fn simple_commands(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '#' if current.is_empty() || current.ends_with(char::is_whitespace) => break,
                ';' | '|' | '&' => out.push(std::mem::take(&mut current)),
                '$' if chars.get(i + 1) == Some(&'(') => {
                    let mut depth = 1;
                    let mut j = i + 2;
                    while j < chars.len() && depth > 0 {
                        match chars[j] {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        j += 1;
                    }
                    let inner: String = chars[i + 2..j.saturating_sub(1).max(i + 2)]
                        .iter()
                        .collect();
                    out.extend(simple_commands(&inner));
                    current.push_str("SUBSTITUTED");
                    i = j;
                    continue;
                }
                _ => current.push(c),
            },
        }
        i += 1;
    }
    out.push(current);
    out.retain(|c| !c.trim().is_empty());
    out
}

/// Every `breakglass …` command shown in `lines`, as words (leading `VAR=value` dropped).
fn invocations(lines: &[String]) -> Vec<(String, Vec<String>)> {
    let mut found = Vec::new();
    for line in lines {
        for command in simple_commands(line) {
            let Some(words) = shlex::split(&command) else {
                found.push((command, Vec::new()));
                continue;
            };
            let words: Vec<String> = words
                .into_iter()
                .skip_while(|w| {
                    w.split_once('=').is_some_and(|(name, _)| {
                        !name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    })
                })
                .collect();
            if words.first().is_some_and(|w| w == "breakglass") {
                found.push((command, without_redirections(words)));
            }
        }
    }
    found
}

/// `words` without the shell's redirections (`> file`, `2>&1`, `<file`, ...).
fn without_redirections(words: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut target_next = false;
    for word in words {
        if std::mem::take(&mut target_next) {
            continue;
        }
        let operator = word.trim_start_matches(|c: char| c.is_ascii_digit());
        if let Some(rest) = operator.strip_prefix(">>").or_else(|| {
            operator
                .strip_prefix('>')
                .or_else(|| operator.strip_prefix('<'))
        }) {
            target_next = rest.is_empty();
            continue;
        }
        out.push(word);
    }
    out
}

/// Parses each invocation; returns the ones that do not parse, with clap's reason.
fn unparsed(found: &[(String, Vec<String>)]) -> Vec<String> {
    found
        .iter()
        .filter_map(|(command, words)| {
            if words.is_empty() {
                return Some(format!("{command}: unbalanced quotes"));
            }
            match Cli::try_parse_from(words) {
                Ok(_) => None,
                Err(e)
                    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) =>
                {
                    None
                }
                Err(e) => Some(format!("{}\n  {}", command.trim(), e.render())),
            }
        })
        .collect()
}

#[test]
fn every_command_the_readme_shows_parses() {
    let found = invocations(&shell_lines(README));
    assert!(
        found.len() >= 30,
        "only {} breakglass commands found in the README's shell blocks",
        found.len()
    );
    let bad = unparsed(&found);
    assert!(
        bad.is_empty(),
        "README commands that do not parse:\n{}",
        bad.join("\n")
    );
}

#[test]
fn every_command_the_example_config_header_shows_parses() {
    let lines: Vec<String> = EXAMPLE_CONFIG
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("#   "))
        .map(str::to_owned)
        .collect();
    let found = invocations(&lines);
    assert!(
        found.len() >= 4,
        "the example config's header shows {found:?}"
    );
    let bad = unparsed(&found);
    assert!(
        bad.is_empty(),
        "header commands that do not parse:\n{}",
        bad.join("\n")
    );
}

/// The checker itself: a command that does not parse is found wherever it hides.
#[test]
fn a_command_that_does_not_parse_is_found_in_pipes_and_substitutions() {
    let lines = shell_lines(
        "text\n```sh\nbreakglass status > out.json 2>&1\nG=$(breakglass activte R)   # typo\nbreakglass status | breakglass nope \\\n  --x\nX=1 breakglass request -p a -r b -a 1 -d 1h -i I -j \"a; b # c\"\n```\n```toml\nbreakglass nope\n```\n",
    );
    let found = invocations(&lines);
    let shown: Vec<&str> = found.iter().map(|(c, _)| c.trim()).collect();
    assert_eq!(
        shown,
        [
            "breakglass status > out.json 2>",
            "breakglass activte R",
            "breakglass status",
            "breakglass nope    --x",
            "X=1 breakglass request -p a -r b -a 1 -d 1h -i I -j \"a; b # c\"",
        ]
    );
    let bad = unparsed(&found);
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].starts_with("breakglass activte R"), "{bad:?}");
    assert!(bad[1].starts_with("breakglass nope"), "{bad:?}");
}
