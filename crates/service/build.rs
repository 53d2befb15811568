//! Fills `/__version__` from the build: the commit checked out (or `BOUNCER_COMMIT`, for
//! builds outside a git checkout such as container images) and `BOUNCER_BUILD`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=BOUNCER_COMMIT");
    println!("cargo:rerun-if-env-changed=BOUNCER_BUILD");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for watched in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        let path = root.join(watched);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let commit = std::env::var("BOUNCER_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&root)
            .output()
            .ok()?;
        let text = String::from_utf8(out.stdout).ok()?;
        let commit = text.trim();
        (out.status.success() && commit.len() == 40).then(|| commit.to_owned())
    });
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let build = std::env::var("BOUNCER_BUILD").unwrap_or_else(|_| format!("local {profile} build"));
    println!(
        "cargo:rustc-env=BOUNCER_BUILD_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
    println!("cargo:rustc-env=BOUNCER_BUILD_NAME={build}");
}
