//! The documentation holds together: every relative link and anchor in
//! README.md, ARCHITECTURE.md and docs/*.md reaches a file that exists and
//! a heading that it has (GitHub's anchor rules), and the README stays a
//! page (at most 200 lines). Links inside code are not links.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// The README's length limit: a page; the rest lives in docs/.
const README_MAX_LINES: usize = 200;

/// What a link's path names.
enum Target {
    Missing,
    Dir,
    File(String),
}

/// The lines of `text` outside fenced code blocks, 1-based, with inline
/// code spans blanked (their backticks and contents become spaces).
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.chars().take_while(|c| *c == m).count());
        match fence {
            Some((m, n)) => {
                if marker == Some(m) && run >= n && trimmed[run..].trim().is_empty() {
                    fence = None;
                }
                continue;
            }
            None if indent <= 3 && run >= 3 => {
                fence = marker.map(|m| (m, run));
                continue;
            }
            None => {}
        }
        out.push((i + 1, blank_code_spans(line)));
    }
    out
}

/// `line` with every inline code span (`` `x` ``, ``` ``x`` ```) turned into
/// spaces, so that nothing inside code is read as a link.
fn blank_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let open = chars[i..].iter().take_while(|c| **c == '`').count();
        // The closing run of exactly `open` backticks, if any.
        let mut j = i + open;
        let mut close = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let run = chars[j..].iter().take_while(|c| **c == '`').count();
                if run == open {
                    close = Some(j + run);
                    break;
                }
                j += run;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => {
                out.extend(std::iter::repeat_n(' ', end - i));
                i = end;
            }
            None => {
                // An unmatched run is literal text.
                out.extend(&chars[i..i + open]);
                i += open;
            }
        }
    }
    out
}

/// GitHub's anchor of a heading: lowercase; everything but letters, digits,
/// `_`, `-` and spaces removed; each space a hyphen.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || *c == ' ')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of every ATX heading outside code, in order; a repeated
/// anchor gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    // Headings are read from the raw line (code spans and all): GitHub drops
    // the backticks, which `slug` removes as punctuation.
    let lines: Vec<&str> = text.lines().collect();
    for (n, _) in prose_lines(text) {
        let line = lines[n - 1];
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() > 3 {
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let rest = &trimmed[hashes..];
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            continue;
        }
        // A closing run of #s is not part of the heading.
        let title = rest.trim().trim_end_matches('#').trim_end();
        let base = slug(title);
        let count = seen.entry(base.clone()).or_insert(0);
        out.push(if *count == 0 {
            base
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    out
}

/// Every inline link or image outside code: (line, text, target). The
/// target is cut at the first whitespace (a link's title follows it).
fn links(text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] != '[' || (i > 0 && chars[i - 1] == '\\') {
                i += 1;
                continue;
            }
            // The matching `]`, brackets nested.
            let mut depth = 0;
            let mut close = None;
            for (j, c) in chars.iter().enumerate().skip(i) {
                match c {
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            close = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let Some(close) = close else { break };
            if chars.get(close + 1) != Some(&'(') {
                i += 1;
                continue;
            }
            let Some(len) = chars[close + 2..].iter().position(|c| *c == ')') else {
                i += 1;
                continue;
            };
            let inside: String = chars[close + 2..close + 2 + len].iter().collect();
            let target = inside.split_whitespace().next().unwrap_or("").to_string();
            let label: String = chars[i + 1..close].iter().collect();
            out.push((n, label.trim().to_string(), target));
            i = close + 2 + len + 1;
        }
    }
    out
}

/// `path` with `.` and `..` resolved without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
}

/// Every broken relative link of `file` (a path relative to the repository
/// root) whose text is `text`; `lookup` says what a root-relative path is.
fn broken(file: &Path, text: &str, lookup: &dyn Fn(&Path) -> Target) -> Vec<String> {
    let mut errors = Vec::new();
    let dir = file.parent().unwrap_or(Path::new(""));
    for (line, label, target) in links(text) {
        if target.is_empty() || is_external(&target) {
            continue;
        }
        let at = format!("{}:{line}: [{label}]({target})", file.display());
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let (shown, content) = if path.is_empty() {
            (file.to_path_buf(), Target::File(text.to_string()))
        } else {
            let resolved = normalize(&dir.join(path));
            let found = lookup(&resolved);
            (resolved, found)
        };
        match (content, anchor) {
            (Target::Missing, _) => errors.push(format!("{at}: no such file {}", shown.display())),
            (_, None) => {}
            (Target::Dir, Some(a)) => errors.push(format!(
                "{at}: #{a} points into a directory, {}",
                shown.display()
            )),
            (Target::File(body), Some(a)) => {
                if !anchors(&body).iter().any(|h| h == a) {
                    errors.push(format!("{at}: no heading #{a} in {}", shown.display()));
                }
            }
        }
    }
    errors
}

/// README.md, ARCHITECTURE.md and docs/*.md, relative to the root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("README.md"), PathBuf::from("ARCHITECTURE.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.strip_prefix(root).expect("under the root").to_path_buf())
        .collect();
    docs.sort();
    out.extend(docs);
    out
}

#[test]
fn every_relative_link_and_anchor_in_the_docs_resolves() {
    let root = crate::support::root();
    let lookup = |p: &Path| {
        let full = root.join(p);
        if full.is_dir() {
            Target::Dir
        } else {
            match std::fs::read_to_string(&full) {
                Ok(text) => Target::File(text),
                Err(_) => Target::Missing,
            }
        }
    };
    let documents = documents(&root);
    assert!(
        documents.len() > 3,
        "README.md, ARCHITECTURE.md and docs/*.md: {documents:?}"
    );
    let mut errors = Vec::new();
    let mut checked = 0;
    for doc in &documents {
        let text = std::fs::read_to_string(root.join(doc))
            .unwrap_or_else(|e| panic!("{}: {e}", doc.display()));
        checked += links(&text)
            .iter()
            .filter(|(_, _, t)| !is_external(t))
            .count();
        errors.extend(broken(doc, &text, &lookup));
    }
    assert!(
        checked > 20,
        "only {checked} relative links found: is the scan blind?"
    );
    assert!(
        errors.is_empty(),
        "broken links in the docs:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_readme_is_a_page() {
    let text = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail to docs/"
    );
}

#[test]
fn the_checker_catches_a_broken_link_and_a_broken_anchor() {
    let a = "# Top\n\
             See [b](b.md#real-heading), [again](./b.md), [here](#top) and [web](https://example.com/x.md).\n\
             Broken: [gone](missing.md), [wrong anchor](b.md#no-such-heading), [local](#nowhere).\n\
             Code is not a link: `[c](code.md)`.\n\
             ```\n\
             [fenced](fenced.md)\n\
             # not a heading\n\
             ```\n\
             [up](../outside.md)\n";
    let b = "# Real heading\n## Real heading\n### The role (`target-role.yaml`)\n";
    let files: BTreeMap<PathBuf, String> = [
        (PathBuf::from("docs/a.md"), a.to_string()),
        (PathBuf::from("docs/b.md"), b.to_string()),
    ]
    .into();
    let lookup = |p: &Path| match files.get(p) {
        Some(t) => Target::File(t.clone()),
        None if p == Path::new("docs") => Target::Dir,
        None => Target::Missing,
    };
    let errors = broken(Path::new("docs/a.md"), a, &lookup);
    let expected = [
        "docs/a.md:3: [gone](missing.md): no such file docs/missing.md",
        "docs/a.md:3: [wrong anchor](b.md#no-such-heading): no heading #no-such-heading in docs/b.md",
        "docs/a.md:3: [local](#nowhere): no heading #nowhere in docs/a.md",
        "docs/a.md:9: [up](../outside.md): no such file outside.md",
    ];
    assert_eq!(errors, expected, "{errors:#?}");
    // The fixed document passes.
    let fixed = "[b](b.md#real-heading-1) [role](b.md#the-role-target-roleyaml) [dir](../docs)";
    assert_eq!(
        broken(Path::new("docs/a.md"), fixed, &lookup),
        Vec::<String>::new()
    );
}

#[test]
fn anchors_follow_github() {
    assert_eq!(
        slug("The role in a target account (`target-role.yaml`)"),
        "the-role-in-a-target-account-target-roleyaml"
    );
    assert_eq!(slug("Who denied it?"), "who-denied-it");
    assert_eq!(slug("Deploying (AWS SAM)"), "deploying-aws-sam");
    assert_eq!(
        slug("The query’s `failing_probes`"),
        "the-querys-failing_probes"
    );
    assert_eq!(
        anchors("# A\n## A\n```sh\n# A\n```\n### A ##\n#not\n    # indented code\n"),
        ["a", "a-1", "a-2"]
    );
    assert_eq!(
        blank_code_spans("x `a` y ``b`c`` z ` lone"),
        "x     y         z ` lone"
    );
}
