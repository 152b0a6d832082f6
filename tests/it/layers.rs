//! The layering rule of ARCHITECTURE.md, checked on the source: every module may use only
//! modules of its own folder and of the folders below it, and no two modules use each other,
//! directly or through others. Read from the text of `src/` (paths after `crate::`, `super::`,
//! `self::` and a module's own submodules), so it needs no tool beyond the test itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The folders of `src/`, lowest first: a module may use its own folder and those before it.
const LAYERS: [&str; 11] = [
    "clock",
    "atomic_file",
    "snapshot",
    "inputs",
    "build",
    "health",
    "answer",
    "reload",
    "ops",
    "server",
    "cli",
];

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text without comments, string literals and `#[cfg(test)]` modules (tests may reach
/// anywhere in their own crate).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i + 1 < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // a char literal ('x' or '\n'); a lifetime has no closing quote here
            i += 1;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every path the code names that starts at `crate`, `super`, `self` or one of `children`,
/// with `use a::{b, c::d}` groups expanded, as absolute module paths (maybe ending in an item).
fn referenced_paths(
    code: &str,
    module: &[String],
    children: &BTreeSet<String>,
) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        if !is_ident(chars[i]) || (i > 0 && (is_ident(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let root: Vec<String> = match word.as_str() {
            "crate" => Vec::new(),
            "super" => module[..module.len().saturating_sub(1)].to_vec(),
            "self" => module.to_vec(),
            w if children.contains(w) => {
                let mut m = module.to_vec();
                m.push(w.to_string());
                m
            }
            _ => continue,
        };
        if !chars[i..].starts_with(&[':', ':']) {
            continue;
        }
        collect(&chars, &mut i, root, &mut found);
    }
    found
}

/// Reads `::a::b`, `::{a, b::c}` after a root at `*i`, pushing each full path.
fn collect(chars: &[char], i: &mut usize, mut path: Vec<String>, found: &mut Vec<Vec<String>>) {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    loop {
        if !chars[*i..].starts_with(&[':', ':']) {
            found.push(path);
            return;
        }
        *i += 2;
        if chars.get(*i) == Some(&'{') {
            *i += 1;
            loop {
                while chars
                    .get(*i)
                    .is_some_and(|c| c.is_whitespace() || *c == ',')
                {
                    *i += 1;
                }
                match chars.get(*i) {
                    Some('}') | None => {
                        *i += 1;
                        return;
                    }
                    _ => {}
                }
                let start = *i;
                while chars.get(*i).copied().is_some_and(is_ident) {
                    *i += 1;
                }
                if start == *i {
                    *i += 1; // `*`, `self` handled as a word, anything else skipped
                    continue;
                }
                let word: String = chars[start..*i].iter().collect();
                let mut sub = path.clone();
                if word != "self" {
                    sub.push(word);
                }
                collect(chars, i, sub, found);
                while chars
                    .get(*i)
                    .is_some_and(|c| c.is_whitespace() || *c == ',')
                {
                    *i += 1;
                }
                if chars.get(*i) == Some(&'}') {
                    *i += 1;
                    found.push(path);
                    return;
                }
                // ` as name` and the like: skip to the next separator
                while chars.get(*i).is_some_and(|c| *c != ',' && *c != '}') {
                    *i += 1;
                }
            }
        }
        let start = *i;
        while chars.get(*i).copied().is_some_and(is_ident) {
            *i += 1;
        }
        if start == *i {
            found.push(path);
            return;
        }
        path.push(chars[start..*i].iter().collect());
    }
}

struct Graph {
    /// Module path -> the modules it uses (other than itself).
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &modules {
        if module.len() == 1 && (module[0] == "lib" || module[0] == "main") {
            continue; // the crate root and the binary declare and use everything
        }
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim();
                let rest = l
                    .strip_prefix("pub mod ")
                    .or_else(|| l.strip_prefix("mod "))?;
                Some(rest.strip_suffix(';')?.trim().to_string())
            })
            .filter(|name| {
                let mut m = module.clone();
                m.push(name.clone());
                modules.contains_key(&m)
            })
            .collect();
        let mut uses = BTreeSet::new();
        for path in referenced_paths(&code, module, &children) {
            // The longest prefix of the path that is a module file.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|p| modules.contains_key(p));
            if let Some(target) = target {
                if &target != module {
                    uses.insert(target);
                }
            }
        }
        edges.insert(module.clone(), uses);
    }
    Graph { edges }
}

fn name(m: &[String]) -> String {
    m.join("::")
}

#[test]
fn no_module_uses_a_higher_layer() {
    let graph = graph();
    let layer = |m: &[String]| LAYERS.iter().position(|l| *l == m[0]);
    let mut wrong = Vec::new();
    for (from, targets) in &graph.edges {
        let Some(own) = layer(from) else {
            wrong.push(format!("{} is in no layer of LAYERS", name(from)));
            continue;
        };
        for to in targets {
            match layer(to) {
                Some(l) if l <= own => {}
                Some(_) => wrong.push(format!("{} uses {} (a higher layer)", name(from), name(to))),
                None => wrong.push(format!("{} uses {} (in no layer)", name(from), name(to))),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
    assert!(graph.edges.len() > 30, "the walk found the modules");
}

#[test]
fn no_module_cycle() {
    let graph = graph();
    // Depth-first search; a back edge closes a cycle, reported with its path.
    let mut state: BTreeMap<&Vec<String>, u8> = BTreeMap::new(); // 1: on the stack, 2: done
    let mut cycles = Vec::new();
    fn visit<'g>(
        m: &'g Vec<String>,
        graph: &'g Graph,
        state: &mut BTreeMap<&'g Vec<String>, u8>,
        stack: &mut Vec<&'g Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        state.insert(m, 1);
        stack.push(m);
        for next in graph.edges.get(m).into_iter().flatten() {
            match state.get(next) {
                Some(1) => {
                    let at = stack.iter().position(|s| *s == next).unwrap_or(0);
                    let mut path: Vec<String> = stack[at..].iter().map(|s| name(s)).collect();
                    path.push(name(next));
                    cycles.push(path.join(" -> "));
                }
                Some(_) => {}
                None => visit(next, graph, state, stack, cycles),
            }
        }
        stack.pop();
        state.insert(m, 2);
    }
    for m in graph.edges.keys() {
        if !state.contains_key(m) {
            visit(m, &graph, &mut state, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}
