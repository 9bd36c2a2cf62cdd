//! `steno keys`: API keys in the configured ledger database (Postgres or
//! SQLite), and the admin key `steno up` and local mode keep for the CLI.

use std::path::{Path, PathBuf};

use steno_gateway::{
    auth::{self, Auth},
    store::Store,
};

/// Prints a new key on stdout (only there, and only now); what it is on stderr.
pub async fn create(database_url: &str, tenant: &str, label: &str, admin: bool) -> anyhow::Result<()> {
    let store = Store::connect(database_url).await?;
    let (key, row) = auth::create_key(&store, tenant, label, admin).await?;
    let kind = if admin { "an admin key (every tenant)" } else { "a key" };
    eprintln!("created {kind} for tenant {}, id {}; keep it now, it is not shown again:", row.tenant, row.id);
    println!("{key}");
    Ok(())
}

pub async fn list(database_url: &str) -> anyhow::Result<()> {
    let store = Store::connect(database_url).await?;
    println!("{:<14} {:<20} {:<6} {:<26} {:<10} LABEL", "ID", "TENANT", "ADMIN", "CREATED", "STATE");
    for key in store.keys().await? {
        let state = if key.revoked_at.is_some() { "revoked" } else { "active" };
        let created = key.created_at.format("%Y-%m-%d %H:%M:%S UTC");
        println!("{:<14} {:<20} {:<6} {:<26} {:<10} {}", key.id, key.tenant, key.admin, created, state, key.label);
    }
    Ok(())
}

pub async fn revoke(database_url: &str, id: &str) -> anyhow::Result<()> {
    let store = Store::connect(database_url).await?;
    anyhow::ensure!(store.revoke_key(id).await?, "no active key with id {id} (`steno keys list` shows them)");
    eprintln!("key {id} revoked; requests with it now get 401");
    Ok(())
}

/// The admin key kept in `file`: the one there while the ledger still
/// accepts it, else a new one for tenant `default`, written there (0600).
pub async fn ensure_admin_key(store: &Store, file: &Path) -> anyhow::Result<String> {
    if let Ok(key) = std::fs::read_to_string(file) {
        let key = key.trim().to_owned();
        if Auth::new(store.clone(), true).caller(Some(&key)).await.is_ok_and(|caller| caller.admin) {
            return Ok(key);
        }
    }
    let (key, _) = auth::create_key(store, auth::DEFAULT_TENANT, "steno up", true).await?;
    write_private(file, &key)?;
    Ok(key)
}

fn write_private(file: &Path, key: &str) -> anyhow::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("create {}: {e}", dir.display()))?;
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| anyhow::anyhow!("write {}: {e}", file.display()))?;
    writeln!(out, "{key}")?;
    Ok(())
}

/// The key the CLI sends: `--api-key`/`STENO_API_KEY` (clap resolves that
/// order), else the one `steno up` wrote in the data directory.
pub fn resolve(given: Option<String>, data_dir: &Path) -> Option<String> {
    given.or_else(|| std::fs::read_to_string(key_file(data_dir)).ok().map(|k| k.trim().to_owned()))
}

/// Where `steno up` keeps its admin key.
pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("api-key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_key_wins_over_the_data_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(resolve(None, dir.path()), None);
        write_private(&key_file(dir.path()), "steno_from_file").expect("write");
        assert_eq!(resolve(None, dir.path()).as_deref(), Some("steno_from_file"));
        assert_eq!(resolve(Some("steno_given".into()), dir.path()).as_deref(), Some("steno_given"));
        let mode = std::fs::metadata(key_file(dir.path())).expect("stat").permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600, "only its owner reads the key");
    }
}
