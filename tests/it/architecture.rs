//! The layout's promises, checked rather than asserted (ARCHITECTURE.md):
//! no module imports one that imports it back, neither file to file nor
//! folder to folder, and every module opens with a `//!` line.
//!
//! The import graph is read from the sources as text: every `crate::`,
//! `super::` and `use child::` path outside comments and outside the
//! trailing `#[cfg(test)]` module, resolved to the longest module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path such as `aws::clients` (`""` for the crate root).
type Module = String;

/// Every source file of the library under `src`, by module path.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            if parts.last().is_some_and(|l| l == "main") && parts.len() == 1 {
                continue; // the binary: a user of the library, not a part of it
            }
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The code of a file that counts as its imports: comments and the
/// trailing test module left out.
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            // `//` inside a string (a URL) is rare in paths; cut at the first.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn parent(m: &str) -> String {
    m.rsplit_once("::")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

fn join(base: &str, seg: &str) -> String {
    if base.is_empty() {
        seg.to_string()
    } else {
        format!("{base}::{seg}")
    }
}

/// The longest known module that `segments` (after `base`) names.
fn resolve(known: &BTreeSet<Module>, base: &str, segments: &[&str]) -> Option<Module> {
    let mut at = base.to_string();
    let mut found = None;
    for seg in segments {
        let next = join(&at, seg);
        if known.contains(&next) {
            found = Some(next.clone());
            at = next;
        } else {
            break;
        }
    }
    found.or_else(|| (!base.is_empty() && known.contains(base)).then(|| base.to_string()))
}

/// The path segments that follow `prefix::` at `i`, with `{a, b::c}`
/// groups expanded one level: each alternative's segments.
fn paths_after(code: &str, i: usize) -> Vec<Vec<&str>> {
    let rest = &code[i..];
    let head_len: usize = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let mut out = Vec::new();
    let head_refs: Vec<&str> = rest[..head_len]
        .split("::")
        .filter(|p| !p.is_empty())
        .collect();
    if rest[head_len..].starts_with('{') {
        let group = &rest[head_len + 1..];
        let end = group.find('}').unwrap_or(group.len());
        for alt in group[..end].split(',') {
            let alt = alt.trim();
            let mut p = head_refs.clone();
            p.extend(alt.split("::").map(str::trim).filter(|s| !s.is_empty()));
            out.push(p);
        }
    } else {
        out.push(head_refs);
    }
    out
}

/// Module → the other modules it imports.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = modules(src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let mut out = BTreeMap::new();
    for (module, path) in &files {
        let code = code_of(&std::fs::read_to_string(path).expect("read source"));
        let is_folder = path
            .file_name()
            .is_some_and(|f| f == "mod.rs" || f == "lib.rs");
        // `super` of a folder's mod.rs is the folder's parent; of a file, its folder.
        let sup = parent(module);
        let mut deps = BTreeSet::new();
        let mut add = |base: &str, segs: &[&str]| {
            if let Some(m) = resolve(&known, base, segs) {
                if &m != module {
                    deps.insert(m);
                }
            }
        };
        for (i, _) in code.match_indices("crate::") {
            if code[..i].ends_with('$') {
                continue; // `$crate::` inside a macro is the same crate, named by its path
            }
            for p in paths_after(&code, i + "crate::".len()) {
                add("", &p);
            }
        }
        for (i, _) in code.match_indices("super::") {
            if code[..i].ends_with("super::") {
                continue; // counted from the first `super::`
            }
            let mut base = sup.clone();
            let mut j = i + "super::".len();
            while code[j..].starts_with("super::") {
                base = parent(&base);
                j += "super::".len();
            }
            for p in paths_after(&code, j) {
                add(&base, &p);
            }
        }
        // A folder's own children, named bare in its `use` lines.
        for line in code.lines().map(str::trim) {
            let Some(rest) = line
                .strip_prefix("pub use ")
                .or_else(|| line.strip_prefix("pub(crate) use "))
                .or_else(|| line.strip_prefix("use "))
            else {
                continue;
            };
            if is_folder && !rest.starts_with("crate::") && !rest.starts_with("super::") {
                let i = line.len() - rest.len();
                for p in paths_after(line, i) {
                    add(module, &p);
                }
            }
        }
        out.insert(module.clone(), deps);
    }
    out
}

/// One import circle of `graph`, as the modules around it, if any.
fn circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark: BTreeMap<&Module, Mark> = graph.keys().map(|k| (k, Mark::New)).collect();
    fn visit<'a>(
        m: &'a Module,
        graph: &'a BTreeMap<Module, BTreeSet<Module>>,
        mark: &mut BTreeMap<&'a Module, Mark>,
        path: &mut Vec<&'a Module>,
    ) -> Option<Vec<Module>> {
        mark.insert(m, Mark::Open);
        path.push(m);
        for d in graph.get(m).into_iter().flatten() {
            match mark.get(d).copied().unwrap_or(Mark::Done) {
                Mark::Open => {
                    let start = path.iter().position(|p| *p == d).unwrap_or(0);
                    let mut c: Vec<Module> = path[start..].iter().map(|s| s.to_string()).collect();
                    c.push(d.clone());
                    return Some(c);
                }
                Mark::New => {
                    if let Some(c) = visit(d, graph, mark, path) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        mark.insert(m, Mark::Done);
        None
    }
    let keys: Vec<&Module> = graph.keys().collect();
    for k in keys {
        if mark[k] == Mark::New {
            if let Some(c) = visit(k, graph, &mut mark, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// The graph between top-level modules (folders and leaf files): a file's
/// imports count for its folder, imports inside one folder not at all.
fn folders(graph: &BTreeMap<Module, BTreeSet<Module>>) -> BTreeMap<Module, BTreeSet<Module>> {
    let top = |m: &str| m.split("::").next().unwrap_or_default().to_string();
    let mut out: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, deps) in graph {
        let entry = out.entry(top(m)).or_default();
        for d in deps {
            // The crate root only declares and re-exports: not a folder.
            if top(d) != top(m) && !d.is_empty() {
                entry.insert(top(d));
            }
        }
    }
    out.remove("");
    out
}

fn show(c: &[Module]) -> String {
    c.iter()
        .map(|m| if m.is_empty() { "lib" } else { m.as_str() })
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn src() -> PathBuf {
    crate::support::root().join("src")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph(&src());
    assert!(g.len() > 30, "read only {} modules", g.len());
    assert!(
        g["run"].contains("run::pool") && g["probe::table"].contains("aws::call"),
        "the graph misses known imports: {g:?}"
    );
    if let Some(c) = circle(&g) {
        panic!("import circle between files: {}", show(&c));
    }
}

#[test]
fn no_folder_imports_one_that_imports_it_back() {
    let f = folders(&graph(&src()));
    assert!(f["probe"].contains("aws"), "{f:?}");
    if let Some(c) = circle(&f) {
        panic!("import circle between folders: {}", show(&c));
    }
}

#[test]
fn the_circle_check_finds_a_circle() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    };
    w("lib.rs", "//! root\npub mod a;\npub mod b;\n");
    w("a/mod.rs", "//! a\npub mod x;\npub use x::X;\n");
    w("a/x.rs", "//! x\nuse crate::b::{Y, z::Z};\n");
    w(
        "b/mod.rs",
        "//! b\npub mod z;\n// crate::a is named in a comment only\n",
    );
    w(
        "b/z.rs",
        "//! z\n#[cfg(test)]\nmod tests {\n    use crate::a::X;\n}\n",
    );
    let g = graph(dir.path());
    assert_eq!(g["a"], BTreeSet::from(["a::x".to_string()]));
    assert_eq!(
        g["a::x"],
        BTreeSet::from(["b".to_string(), "b::z".to_string()])
    );
    assert!(circle(&g).is_none(), "{g:?}");
    assert!(circle(&folders(&g)).is_none());
    // Now b::z imports a outside its tests: a circle of folders and files.
    w("b/z.rs", "//! z\nuse super::super::a::X;\n");
    let g = graph(dir.path());
    assert_eq!(show(&circle(&g).unwrap()), "a -> a::x -> b::z -> a");
    assert_eq!(show(&circle(&folders(&g)).unwrap()), "a -> b -> a");
}

#[test]
fn every_module_says_what_it_is_for() {
    let mut missing = Vec::new();
    for path in modules(&src()).values() {
        let text = std::fs::read_to_string(path).unwrap();
        if !text.starts_with("//! ") {
            missing.push(path.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a //! line: {missing:?}"
    );
}
