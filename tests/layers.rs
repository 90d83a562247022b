//! The import graph of `src/` points down the layers.
//!
//! Reads every `crate::…` path (in `use` lines and inline paths alike, comments aside) of every
//! file under `src/` and checks:
//!
//! - no path goes through the crate root's re-exports (`crate::ThrottlePolicy`): a module names
//!   the module that defines what it uses;
//! - no file imports from a layer above its own. The layers, bottom to top: `otp`,
//!   `credential`, `policy`, the crate-wide `error`, `store`, `service`;
//! - the service uses the storage traits and records only, never a store implementation
//!   (except `service/ready.rs`, which assembles the bundled stores into ready backends);
//! - the pairs that used to import each other do not: `policy::audit` imports no module that
//!   imports it back, and `otp::hotp` borrows nothing from `otp::totp`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, bottom to top; a file may import from its own layer and the ones below.
const LAYERS: [&str; 6] = ["otp", "credential", "policy", "error", "store", "service"];

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

/// Files below the crate-wide `error` layer that still return [`authcore::Error`] and so import
/// `crate::error`. Each must shrink away as its functions get their own error type; the test
/// fails if a file is listed that no longer needs the entry, and if any other file imports the
/// error layer from below.
const PENDING_ERROR_IMPORTS: [&str; 15] = [
    "otp/algorithm.rs",
    "otp/code.rs",
    "otp/hotp.rs",
    "otp/qr.rs",
    "otp/secret.rs",
    "otp/totp.rs",
    "otp/uri.rs",
    "credential/oob.rs",
    "credential/password/hash.rs",
    "credential/password/policy.rs",
    "credential/password/temporary.rs",
    "credential/recovery.rs",
    "credential/sealing.rs",
    "credential/token.rs",
    "policy/enrollment.rs",
];

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

/// Every `crate::` path of a source text, outside comments, as its segments
/// (`crate::policy::roles::Role` gives `["policy", "roles", "Role"]`).
fn crate_paths(source: &str) -> Vec<Vec<String>> {
    let mut code = String::new();
    for line in source.lines() {
        let line = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + "crate::".len()..];
        rest = after;
        if before.is_some_and(|c| is_ident(c) && c != '$') {
            continue; // `mycrate::`, not this crate
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
            let segments: Vec<String> = head
                .split("::")
                .map(|s| s.chars().take_while(|c| is_ident(*c)).collect::<String>())
                .filter(|s| !s.is_empty())
                .collect();
            if !segments.is_empty() {
                paths.push(segments);
            }
        }
    }
    paths
}

/// What went wrong in a tree, one line per arrow.
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    // module -> the modules (two segments deep) it imports
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let rel = relative(src, file);
        if rel == "lib.rs" {
            continue; // the crate root re-exports; it is the one place that may
        }
        let module = module_of(&rel);
        let top = module.split("::").next().unwrap().to_owned();
        let Some(own) = layer_index(&top) else {
            problems.push(format!("{rel}: `{top}` is in no layer"));
            continue;
        };
        let source = fs::read_to_string(file).unwrap();
        for path in crate_paths(&source) {
            let first = path[0].as_str();
            let Some(target) = layer_index(first) else {
                problems.push(format!(
                    "{rel}: `crate::{}` goes through the crate root",
                    path.join("::")
                ));
                continue;
            };
            if target > own {
                let pending = first == "error" && PENDING_ERROR_IMPORTS.contains(&rel.as_str());
                if !pending {
                    problems.push(format!(
                        "{rel}: `crate::{}` points up, from {} to {}",
                        path.join("::"),
                        LAYERS[own],
                        LAYERS[target]
                    ));
                }
            }
            if top == "service"
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
            if !imported.is_empty() && imported != module {
                graph.entry(module.clone()).or_default().insert(imported);
            }
        }
    }
    for pending in PENDING_ERROR_IMPORTS {
        let module = module_of(pending);
        if !graph.get(&module).is_some_and(|m| m.contains("error")) {
            problems.push(format!(
                "{pending} no longer imports `crate::error`: drop it from PENDING_ERROR_IMPORTS"
            ));
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
}
