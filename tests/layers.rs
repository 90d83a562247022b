//! The import graph of `src/` points down the layers.
//!
//! Reads every `crate::…` and `super::…` path (in `use` lines and inline paths alike, comments
//! aside) of every file under `src/` and checks:
//!
//! - no path goes through the crate root's re-exports (`crate::ThrottlePolicy`): a module names
//!   the module that defines what it uses;
//! - no file imports from a layer above its own. The layers, bottom to top: `otp`,
//!   `credential`, `policy`, the crate-wide `error`, `store`, `service`, and the web integration
//!   `web` (feature `axum`) on top: it may import from the service and below, nothing imports it;
//! - the service and the web integration use the storage traits and records only, never a store
//!   implementation (except `service/ready.rs`, which assembles the bundled stores into ready
//!   backends);
//! - the pairs that used to import each other do not: `policy::audit` imports no module that
//!   imports it back, and `otp::hotp` borrows nothing from `otp::totp`;
//! - no modules of one layer import each other, directly or around a cycle. A module here is a
//!   layer's root or a file or directory module directly inside it (`policy::enrollment`, all
//!   of `policy/enrollment/`); only the cycles in [`ALLOWED_CYCLES`] are let through.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom to top; a file may import from its own layer and the ones below.
const LAYERS: [&str; 7] = [
    "otp",
    "credential",
    "policy",
    "error",
    "store",
    "service",
    "web",
];

/// Store modules the service must not import: it talks to the traits only.
const STORE_IMPLEMENTATIONS: [&str; 7] = [
    "memory",
    "sql",
    "sqlite",
    "postgres",
    "reseal",
    "integrity",
    "conformance",
];

/// The one service file that may name store implementations: it assembles the bundled stores
/// into ready backends (`MemoryStore::backend`, …) and holds no service logic.
const READY_BACKENDS: &str = "service/ready.rs";

/// The cycles between modules of one layer that are still allowed, each exactly as listed: a
/// larger cycle through them, or any other, fails.
/// (None any more: the login ceremony and the account operations, which used to borrow its
/// factor helpers, import them from `service::factors` and `service::enroll`.)
const ALLOWED_CYCLES: [&[&str]; 0] = [];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file's path relative to `src/`, with `/` separators.
fn relative(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    rel.components()
        .map(|c| c.as_os_str().to_str().unwrap())
        .collect::<Vec<_>>()
        .join("/")
}

/// The module path of a file: `policy/audit.rs` is `policy::audit`, `store/mod.rs` is `store`.
fn module_of(rel: &str) -> String {
    let trimmed = rel.strip_suffix(".rs").unwrap();
    let trimmed = trimmed.strip_suffix("/mod").unwrap_or(trimmed);
    trimmed.replace('/', "::")
}

fn layer_index(name: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == name)
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `text` (the part after `crate::{`) at the top-level commas of its first brace group.
fn group_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '{' => {
                depth += 1;
                current.push(c);
            }
            '}' if depth == 0 => break,
            '}' => {
                depth -= 1;
                current.push(c);
            }
            ',' if depth == 0 => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .into_iter()
        .map(|s| s.split_whitespace().collect::<String>())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The source without comments, each line marked with whether it lies inside an inline
/// `mod name { … }` block (rustfmt closes one with a `}` at the indentation that opened it).
fn code_lines(source: &str) -> Vec<(bool, String)> {
    let mut lines = Vec::new();
    let mut closers: Vec<String> = Vec::new();
    for line in source.lines() {
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        if closers.last().is_some_and(|close| line == close) {
            closers.pop();
        }
        lines.push((!closers.is_empty(), code.to_owned()));
        let trimmed = code.trim_start();
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let opens_mod = trimmed.ends_with('{')
            && match words.as_slice() {
                ["mod", _, "{"] => true,
                [vis, "mod", _, "{"] => vis.starts_with("pub"),
                _ => false,
            };
        if opens_mod {
            let indent = &code[..code.len() - trimmed.len()];
            closers.push(format!("{indent}}}"));
        }
    }
    lines
}

/// Every `crate::` and `super::` path of a source text, outside comments, as the segments of
/// its absolute path (`crate::policy::roles::Role` gives `["policy", "roles", "Role"]`; in
/// `service/account.rs`, `super::login::Reauthentication` gives `["service", "login",
/// "Reauthentication"]`). A `super::` inside an inline module (`mod tests { use super::*; }`)
/// names the file's own module.
fn crate_paths(module: &str, source: &str) -> Vec<Vec<String>> {
    let own: Vec<String> = module.split("::").map(str::to_owned).collect();
    let parent = &own[..own.len() - 1];
    let mut paths = Vec::new();
    for (inline, line) in code_lines(source) {
        for (prefix, base) in [
            ("crate::", &[][..]),
            ("super::", if inline { &own[..] } else { parent }),
        ] {
            let mut rest = line.as_str();
            while let Some(at) = rest.find(prefix) {
                let before = rest[..at].chars().next_back();
                let after = &rest[at + prefix.len()..];
                rest = after;
                if before.is_some_and(|c| (is_ident(c) && c != '$') || c == ':') {
                    continue; // `mycrate::`, `super::super::`: not the start of a path
                }
                let heads: Vec<String> = if let Some(group) = after.strip_prefix('{') {
                    group_items(group)
                } else {
                    let end = after
                        .find(|c: char| !(is_ident(c) || c == ':'))
                        .unwrap_or(after.len());
                    vec![after[..end].to_owned()]
                };
                for head in heads {
                    let segments: Vec<String> = base
                        .iter()
                        .cloned()
                        .chain(
                            head.split("::")
                                .map(|s| s.chars().take_while(|c| is_ident(*c)).collect::<String>())
                                .filter(|s| !s.is_empty()),
                        )
                        .collect();
                    if segments.len() > base.len() {
                        paths.push(segments);
                    }
                }
            }
        }
    }
    paths
}

/// The node of the module graph a module belongs to: a layer's root, or one file or directory
/// module directly inside it (`policy::enrollment::state` is in `policy::enrollment`).
fn node_of(module: &str) -> String {
    module.split("::").take(2).collect::<Vec<_>>().join("::")
}

/// The strongly connected components of more than one node (Tarjan's algorithm): each is a set
/// of modules that import each other, directly or around a cycle.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct Search<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<BTreeSet<String>>,
    }
    impl<'g> Search<'g> {
        fn visit(&mut self, node: &'g str) {
            let at = self.index.len();
            self.index.insert(node, at);
            self.low.insert(node, at);
            self.stack.push(node);
            for next in self.graph.get(node).into_iter().flatten() {
                if !self.index.contains_key(next.as_str()) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next.as_str()]);
                    self.low.insert(node, low);
                } else if self.stack.contains(&next.as_str()) {
                    let low = self.low[node].min(self.index[next.as_str()]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = BTreeSet::new();
                while let Some(member) = self.stack.pop() {
                    component.insert(member.to_owned());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !search.index.contains_key(node.as_str()) {
            search.visit(node);
        }
    }
    search.found
}

/// What went wrong in a tree, one line per arrow.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    // node -> the nodes it imports
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = relative(src, file);
        if rel == "lib.rs" {
            continue; // the crate root re-exports; it is the one place that may
        }
        let module = module_of(&rel);
        let node = node_of(&module);
        let top = module.split("::").next().unwrap().to_owned();
        let Some(own) = layer_index(&top) else {
            problems.push(format!("{rel}: `{top}` is in no layer"));
            continue;
        };
        let source = fs::read_to_string(file).unwrap();
        for path in crate_paths(&module, &source) {
            let first = path[0].as_str();
            let Some(target) = layer_index(first) else {
                problems.push(format!(
                    "{rel}: `crate::{}` goes through the crate root",
                    path.join("::")
                ));
                continue;
            };
            if target > own {
                problems.push(format!(
                    "{rel}: `crate::{}` points up, from {} to {}",
                    path.join("::"),
                    LAYERS[own],
                    LAYERS[target]
                ));
            }
            if (top == "service" || top == "web")
                && rel != READY_BACKENDS
                && first == "store"
                && path
                    .get(1)
                    .is_some_and(|m| STORE_IMPLEMENTATIONS.contains(&m.as_str()))
            {
                problems.push(format!(
                    "{rel}: `crate::{}`: the service uses the storage traits only",
                    path.join("::")
                ));
            }
            let depth = path.len().min(2);
            let imported = path[..depth]
                .iter()
                .filter(|s| s.starts_with(|c: char| c.is_ascii_lowercase()))
                .cloned()
                .collect::<Vec<_>>()
                .join("::");
            if !imported.is_empty() && imported != node {
                graph.entry(node.clone()).or_default().insert(imported);
            }
        }
    }
    let imports = |from: &str, to: &str| graph.get(from).is_some_and(|m| m.contains(to));
    if let Some(audit_imports) = graph.get("policy::audit") {
        for module in audit_imports {
            if imports(module, "policy::audit") {
                problems.push(format!("policy::audit and {module} import each other"));
            }
        }
    }
    if imports("otp::hotp", "otp::totp") {
        problems.push("otp::hotp borrows from otp::totp".to_owned());
    }
    // Within one layer: the same graph, keeping only the arrows between its own modules.
    let within: BTreeMap<String, BTreeSet<String>> = graph
        .iter()
        .map(|(from, to)| {
            let layer = from.split("::").next().unwrap();
            let same = to
                .iter()
                .filter(|t| t.split("::").next() == Some(layer))
                .cloned()
                .collect();
            (from.clone(), same)
        })
        .collect();
    let allowed: Vec<BTreeSet<String>> = ALLOWED_CYCLES
        .iter()
        .map(|modules| modules.iter().map(|m| (*m).to_owned()).collect())
        .collect();
    for cycle in cycles(&within) {
        if !allowed.contains(&cycle) {
            problems.push(format!(
                "a cycle between modules of one layer: {}",
                cycle.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    problems
}

#[test]
fn every_import_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = violations(&src);
    assert!(
        problems.is_empty(),
        "{} arrows break the layering:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_checker_sees_root_imports_and_upward_arrows() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    fs::create_dir_all(src.join("otp")).unwrap();
    fs::create_dir_all(src.join("service")).unwrap();
    fs::create_dir_all(src.join("web")).unwrap();
    fs::write(
        src.join("web/session.rs"),
        "use crate::store::sql::SqlStore;\nuse crate::service::Authenticator;\n",
    )
    .unwrap();
    fs::write(
        src.join("service/leaving.rs"),
        "use crate::web::session::CurrentSession;\n",
    )
    .unwrap();
    fs::write(
        src.join("otp/totp.rs"),
        "use crate::{ThrottlePolicy, policy::ids::PersonId};\n// crate::Ignored in a comment\n",
    )
    .unwrap();
    fs::write(
        src.join("service/mod.rs"),
        "use crate::store::memory::MemoryStore;\nfn f() { crate::otp::totp::Totp::new(); }\n",
    )
    .unwrap();
    fs::write(
        src.join("service/ready.rs"),
        "use crate::store::memory::MemoryStore;\n",
    )
    .unwrap();
    let problems = violations(src);
    let found = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(!found("service/ready.rs"), "{problems:?}");
    assert!(
        found("`crate::ThrottlePolicy` goes through the crate root"),
        "{problems:?}"
    );
    assert!(
        found("`crate::policy::ids::PersonId` points up"),
        "{problems:?}"
    );
    assert!(
        found("the service uses the storage traits only"),
        "{problems:?}"
    );
    assert!(!found("Ignored"), "{problems:?}");
    assert!(!found("crate::otp::totp::Totp"), "{problems:?}");
    assert!(
        found(
            "service/leaving.rs: `crate::web::session::CurrentSession` points up, from service to web"
        ),
        "nothing imports the web integration: {problems:?}"
    );
    assert!(
        found(
            "web/session.rs: `crate::store::sql::SqlStore`: the service uses the storage traits only"
        ),
        "{problems:?}"
    );
    assert!(
        !found("web/session.rs: `crate::service::Authenticator`"),
        "the web integration sits on the service: {problems:?}"
    );
}

#[test]
fn the_checker_sees_cycles_within_a_layer() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    for sub in ["otp", "policy/enrollment", "service"] {
        fs::create_dir_all(src.join(sub)).unwrap();
    }
    let write = |file: &str, text: &str| fs::write(src.join(file), text).unwrap();
    // Two files that import each other.
    write(
        "otp/error.rs",
        "fn f() { crate::otp::secret::SecretKey::MAX_LEN; }\n",
    );
    write("otp/secret.rs", "use crate::otp::error::OtpError;\n");
    // A cycle through a directory module: one of its files imports back.
    write(
        "policy/error.rs",
        "use crate::policy::enrollment::EnrollmentPhase;\n",
    );
    write("policy/enrollment/mod.rs", "mod state;\n");
    write(
        "policy/enrollment/state.rs",
        "use crate::policy::error::PolicyError;\nmod tests {\n    use super::*;\n}\n",
    );
    // A pair seen through `super::`; and a larger cycle through it.
    write(
        "service/login.rs",
        "use super::account::Reauthentication;\n",
    );
    write(
        "service/account.rs",
        "use super::login::Reauthentication;\n",
    );
    let problems = violations(src);
    let cycles: Vec<&String> = problems.iter().filter(|p| p.contains("cycle")).collect();
    assert_eq!(cycles.len(), 3, "{problems:?}");
    assert!(
        cycles
            .iter()
            .any(|p| p.ends_with("service::account, service::login")),
        "{problems:?}"
    );
    assert!(
        cycles
            .iter()
            .any(|p| p.ends_with("otp::error, otp::secret")),
        "{problems:?}"
    );
    assert!(
        cycles
            .iter()
            .any(|p| p.ends_with("policy::enrollment, policy::error")),
        "{problems:?}"
    );
    write(
        "service/members.rs",
        "use crate::service::login::LoginStep;\n",
    );
    write(
        "service/account.rs",
        "use super::login::Reauthentication;\nuse super::members::NewMember;\n",
    );
    write(
        "service/login.rs",
        "use super::account::Reauthentication;\n",
    );
    let problems = violations(src);
    assert!(
        problems
            .iter()
            .any(|p| p.ends_with("service::account, service::login, service::members")),
        "{problems:?}"
    );
}
