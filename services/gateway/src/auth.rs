//! API keys and the tenant each request acts for.
//!
//! A key reads `steno_<id>_<secret>`: `id` (12 hex digits) is public and
//! finds the key's row; `secret` (32 random bytes, base64url) is stored only
//! as its SHA-256. Keys are made by `steno keys create` ([`create_key`]);
//! every front door turns the credential it was given into a [`Caller`]
//! with [`Auth::caller`].

use base64::Engine as _;
use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};

use crate::{
    error::ApiError,
    store::{KeyRow, Store},
};

const PREFIX: &str = "steno_";

/// Who a request acts for: one tenant, or (admin) every tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The tenant new jobs belong to.
    pub tenant: String,
    pub admin: bool,
}

impl Caller {
    /// The tenant store queries are scoped to; `None` (every tenant) for admins.
    pub fn scope(&self) -> Option<&str> {
        (!self.admin).then_some(self.tenant.as_str())
    }
}

/// Whether requests must carry a key (`gateway.auth`).
#[derive(Clone)]
pub struct Auth {
    store: Store,
    keys_required: bool,
}

/// The tenant of every job when `gateway.auth = "none"`.
pub const DEFAULT_TENANT: &str = "default";

impl Auth {
    pub fn new(store: Store, keys_required: bool) -> Self {
        Self { store, keys_required }
    }

    /// Whether requests must carry a key (`gateway.auth = "keys"`).
    pub fn keys_required(&self) -> bool {
        self.keys_required
    }

    /// The caller a credential (`Bearer <key>`, or the bare key) names. A
    /// missing, unknown or revoked key gets the same answer.
    pub async fn caller(&self, credential: Option<&str>) -> Result<Caller, ApiError> {
        if !self.keys_required {
            return Ok(Caller { tenant: DEFAULT_TENANT.into(), admin: true });
        }
        let key = credential.map(|c| c.trim()).map(|c| c.strip_prefix("Bearer ").unwrap_or(c).trim());
        let Some((id, secret)) = key.and_then(parse_key) else { return Err(ApiError::Unauthenticated) };
        let row = self.store.key(id).await?.filter(|row| row.revoked_at.is_none());
        match row {
            Some(row) if constant_time_eq(row.secret_hash.as_bytes(), hash(secret).as_bytes()) => {
                Ok(Caller { tenant: row.tenant, admin: row.admin })
            }
            _ => Err(ApiError::Unauthenticated),
        }
    }
}

/// Makes a key for `tenant` and stores its hash; returns the key (shown
/// once) and its row.
pub async fn create_key(store: &Store, tenant: &str, label: &str, admin: bool) -> anyhow::Result<(String, KeyRow)> {
    validate_tenant(tenant)?;
    let random = SystemRandom::new();
    let (mut id, mut secret) = ([0u8; 6], [0u8; 32]);
    random.fill(&mut id).and_then(|()| random.fill(&mut secret)).map_err(|_| anyhow::anyhow!("no randomness"))?;
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let row = KeyRow {
        id: id.clone(),
        tenant: tenant.to_owned(),
        label: label.to_owned(),
        admin,
        secret_hash: hash(&secret),
        created_at: chrono::Utc::now(),
        revoked_at: None,
    };
    store.insert_key(&row).await?;
    Ok((format!("{PREFIX}{id}_{secret}"), row))
}

/// A tenant name: 1–63 of `a-z 0-9 - _`, starting with a letter or digit.
pub fn validate_tenant(name: &str) -> anyhow::Result<()> {
    let valid = (1..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    anyhow::ensure!(valid, "tenant {name:?}: use 1 to 63 of a-z, 0-9, - and _, starting with a letter or digit");
    Ok(())
}

/// `steno_<id>_<secret>` → (id, secret).
fn parse_key(key: &str) -> Option<(&str, &str)> {
    let (id, secret) = key.strip_prefix(PREFIX)?.split_once('_')?;
    let well_formed = id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && secret.len() == 43;
    well_formed.then_some((id, secret))
}

fn hash(secret: &str) -> String {
    digest::digest(&digest::SHA256, secret.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_only_in_their_own_shape() {
        let secret = "a".repeat(43);
        assert_eq!(parse_key(&format!("steno_0123456789ab_{secret}")), Some(("0123456789ab", secret.as_str())));
        let with_underscore = format!("steno_0123456789ab_{}_b", "a".repeat(41));
        assert!(parse_key(&with_underscore).is_some(), "base64url secrets may hold `_`");
        for bad in ["", "steno_", "sk-0123456789ab", "steno_0123456789ab_short", "steno_0123456789xz_aaaa"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn tenant_names_are_plain() {
        for good in ["a", "acme", "team-2", "x_y"] {
            assert!(validate_tenant(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "Acme", "a b", "a/b", &"a".repeat(64)] {
            assert!(validate_tenant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_compare_whole() {
        assert!(constant_time_eq(hash("x").as_bytes(), hash("x").as_bytes()));
        assert!(!constant_time_eq(hash("x").as_bytes(), hash("y").as_bytes()));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
