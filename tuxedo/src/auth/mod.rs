//! Who may call tuxedo: accounts with argon2-hashed passwords and a role, HTTP Basic
//! credentials, and a limit on failed logins.

pub mod checker;
pub mod http;
pub mod limiter;
pub mod tokens;
pub mod users;

use crate::error::{Result, TuxedoError};
use base64::Engine;
use std::str::FromStr;

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, accounts included.
    Admin,
    /// The catalogue: products, languages, locations, aliases (release automation).
    Release,
    /// Mirrors and regions.
    MirrorOperator,
    /// Reads only.
    ReadOnly,
    /// Reads, and download statistics (a dashboard's or an analyst's token).
    Stats,
}

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    /// Download statistics: how many people got what, where from (release managers,
    /// `stats`, admins; not every reader).
    Stats,
    Catalogue,
    Mirrors,
    Accounts,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Release => "release",
            Role::MirrorOperator => "mirror-operator",
            Role::ReadOnly => "read-only",
            Role::Stats => "stats",
        }
    }

    /// Whether an account with this role may hand `other` to a token: the same role,
    /// read-only, `stats` when it reads statistics itself, or anything for an admin.
    pub fn covers(self, other: Role) -> bool {
        self == Role::Admin
            || self == other
            || other == Role::ReadOnly
            || (other == Role::Stats && self.allows(Permission::Stats))
    }

    /// Whether this role grants `p`.
    pub fn allows(self, p: Permission) -> bool {
        matches!(
            (self, p),
            (Role::Admin, _)
                | (_, Permission::Read)
                | (Role::Release, Permission::Catalogue)
                | (Role::MirrorOperator, Permission::Mirrors)
                | (Role::Release | Role::Stats, Permission::Stats)
        )
    }
}

impl FromStr for Role {
    type Err = TuxedoError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "admin" => Role::Admin,
            "release" => Role::Release,
            "mirror-operator" => Role::MirrorOperator,
            "read-only" => Role::ReadOnly,
            "stats" => Role::Stats,
            other => {
                return Err(TuxedoError::invalid(
                    "role",
                    format!(
                        "{other:?}: expected admin, release, mirror-operator, read-only or stats"
                    ),
                ))
            }
        })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
}

impl Principal {
    /// `Ok` when the role grants `p`, else [`TuxedoError::Forbidden`].
    pub fn require(&self, p: Permission) -> Result<()> {
        match self.role.allows(p) {
            true => Ok(()),
            false => Err(TuxedoError::Forbidden),
        }
    }
}

/// Username and password of an `Authorization: Basic …` header value. The password is
/// everything after the first `:`, so it may itself contain `:`.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn password_may_contain_colons() {
        assert_eq!(
            parse_basic(&basic("rel:pa:ss:")),
            Some(("rel".into(), "pa:ss:".into()))
        );
        assert_eq!(parse_basic(&basic("nocolon")), None);
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic %%%"), None);
    }

    #[test]
    fn roles_grant_their_scope_only() {
        assert!(Role::Release.allows(Permission::Catalogue));
        assert!(!Role::Release.allows(Permission::Mirrors));
        assert!(Role::MirrorOperator.allows(Permission::Mirrors));
        assert!(!Role::MirrorOperator.allows(Permission::Catalogue));
        assert!(!Role::ReadOnly.allows(Permission::Catalogue));
        assert!(Role::ReadOnly.allows(Permission::Read));
        assert!(Role::Admin.allows(Permission::Accounts));
        assert!(!Role::Release.allows(Permission::Accounts));
        assert!(Role::Stats.allows(Permission::Stats) && Role::Release.allows(Permission::Stats));
        assert!(!Role::ReadOnly.allows(Permission::Stats));
        assert!(!Role::MirrorOperator.allows(Permission::Stats));
        assert!(!Role::Stats.allows(Permission::Catalogue));
        assert!(Role::Release.covers(Role::Stats) && !Role::MirrorOperator.covers(Role::Stats));
        for r in ["admin", "release", "mirror-operator", "read-only", "stats"] {
            assert_eq!(r.parse::<Role>().unwrap().as_str(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
