//! Accounts in `bouncer_users`; passwords are stored only as argon2id PHC strings.

use super::{Principal, Role};
use crate::catalogue::{audit, taken_or, valid_name};
use crate::error::{Result, TuxedoError};
use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::Argon2;
use bouncer_core::db::DbConnection;
use bouncer_core::models::{NewUser, User};
use bouncer_core::schema::bouncer_users;
use diesel::prelude::*;
use serde_json::json;

/// Shortest password accepted for a new account.
pub const MIN_PASSWORD: usize = 12;

/// Creates an account. `actor` is who did it (recorded in the audit log).
pub fn add(
    conn: &mut DbConnection,
    actor: &str,
    username: &str,
    role: Role,
    password: &str,
) -> Result<()> {
    let username = valid_name("username", username, bouncer_core::limits::USERNAME)?;
    if username.contains(':') {
        return Err(TuxedoError::invalid(
            "username",
            "must not contain ':' (HTTP Basic splits there)",
        ));
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(TuxedoError::invalid(
            "password",
            format!("shorter than {MIN_PASSWORD} characters"),
        ));
    }
    let hash = hash_password(password)?;
    crate::catalogue::write_tx(conn, |conn| {
        diesel::insert_into(bouncer_users::table)
            .values(NewUser {
                username,
                password_hash: &hash,
                role: role.as_str(),
                active: true,
                created_at: chrono::Utc::now().naive_utc(),
            })
            .execute(conn)
            .map_err(|e| taken_or(e, || TuxedoError::UserExists(username.to_owned())))?;
        audit(
            conn,
            actor,
            "user.add",
            &format!("user:{username}"),
            None,
            Some(json!({"username": username, "role": role.as_str()})),
        )
    })
}

/// The account `username` / `password` names, if the password is right and the account
/// active; `None` otherwise (the caller counts the failure). An unknown or inactive
/// account costs the same argon2 work as a wrong password (against a fixed dummy hash),
/// so the answer's timing does not tell which accounts exist.
pub fn verify(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
) -> Result<Option<Principal>> {
    Ok(verify_login(conn, username, password)?.map(|(who, _)| who))
}

/// The account the database finds under `username` (trimmed; the column's collation
/// decides, as for any write naming an account), active or not.
pub(super) fn named(conn: &mut DbConnection, username: &str) -> Result<Option<User>> {
    Ok(bouncer_users::table
        .filter(bouncer_users::username.eq(username.trim()))
        .first(conn)
        .optional()?)
}

/// The active account named `username` by the project's definition of the same name
/// ([`bouncer_core::names::same`]): the collation only finds candidates, so `root ` or
/// `ŕoot` are not `root` on MariaDB either.
fn active_account(conn: &mut DbConnection, username: &str) -> Result<Option<User>> {
    let candidates: Vec<User> = bouncer_users::table
        .filter(bouncer_users::username.eq(username))
        .filter(bouncer_users::active.eq(true))
        .load(conn)?;
    Ok(candidates
        .into_iter()
        .find(|u| bouncer_core::names::same(&u.username, username)))
}

/// Like [`verify`], with the [`password_stamp`] of the account's password for a web
/// session to keep: the session ends when the password changes.
pub fn verify_login(
    conn: &mut DbConnection,
    username: &str,
    password: &str,
) -> Result<Option<(Principal, String)>> {
    check(candidate(conn, username)?, username, password)
}

/// What a login is checked against, read before any hashing: the active account, if any.
pub struct Candidate(Option<User>);

impl Candidate {
    /// The [`password_stamp`] of the account's current password (`None`: no account).
    pub fn stamp(&self) -> Option<String> {
        self.0.as_ref().map(|u| password_stamp(&u.password_hash))
    }

    /// The account, accepted without a password check: only for credentials that passed
    /// one moments ago against the same password (same [`Candidate::stamp`]).
    pub fn accept(self) -> Result<Option<(Principal, String)>> {
        match self.0 {
            Some(user) => {
                let stamp = password_stamp(&user.password_hash);
                Ok(Some((principal(user)?, stamp)))
            }
            None => Ok(None),
        }
    }
}

/// The active account `username` names (one query; see [`check`]).
pub fn candidate(conn: &mut DbConnection, username: &str) -> Result<Candidate> {
    Ok(Candidate(active_account(conn, username)?))
}

/// The argon2 half of [`verify_login`], with no connection held: an unknown or inactive
/// account is checked against the dummy hash, at the same cost.
pub fn check(
    candidate: Candidate,
    username: &str,
    password: &str,
) -> Result<Option<(Principal, String)>> {
    let Some(user) = candidate.0 else {
        check_password(dummy_hash()?, password)?;
        return Ok(None);
    };
    if !check_password(&user.password_hash, password)
        .map_err(|e| TuxedoError::Internal(format!("stored hash of {username:?}: {e}")))?
    {
        return Ok(None);
    }
    let stamp = password_stamp(&user.password_hash);
    Ok(Some((principal(user)?, stamp)))
}

/// A fingerprint of a stored password hash (SHA-256, hex): every password change, to the
/// same password too, makes a new salt and so a new stamp. What a web session keeps
/// instead of the hash itself.
pub fn password_stamp(hash: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(hash.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn principal(user: User) -> Result<Principal> {
    let role = user.role.parse().map_err(|_| {
        TuxedoError::Internal(format!(
            "unknown role {:?} of {:?}",
            user.role, user.username
        ))
    })?;
    Ok(Principal {
        username: user.username,
        role,
    })
}

thread_local! {
    /// Argon2 verifications done on this thread (see [`password_checks_on_this_thread`]).
    static PASSWORD_CHECKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many passwords this thread has checked with argon2: lets tests see that every
/// login attempt, for an unknown account too, costs one verification.
pub fn password_checks_on_this_thread() -> u64 {
    PASSWORD_CHECKS.with(std::cell::Cell::get)
}

thread_local! {
    /// The argon2 working memory of this thread, kept between checks: a check allocates
    /// nothing, so the few threads that check passwords hold a fixed amount (19 MiB each
    /// with the default parameters), instead of leaving 19 MiB blocks in whichever
    /// allocator arena a check happened to use (hundreds of MiB under a login flood).
    static BLOCKS: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` matches the PHC string `hash` (one argon2 verification, in this
/// thread's reused working memory, compared in constant time).
fn check_password(hash: &str, password: &str) -> Result<bool> {
    let bad = |e: &dyn std::fmt::Display| TuxedoError::Internal(format!("password hash: {e}"));
    let parsed = PasswordHash::new(hash).map_err(|e| bad(&e))?;
    PASSWORD_CHECKS.with(|c| c.set(c.get() + 1));
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(bad(&"no salt or no hash"));
    };
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).map_err(|e| bad(&e))?;
    let version = match parsed.version {
        Some(v) => argon2::Version::try_from(v).map_err(|e| bad(&e))?,
        None => argon2::Version::default(),
    };
    let stored = argon2::Params::try_from(&parsed).map_err(|e| bad(&e))?;
    let params = argon2::ParamsBuilder::new()
        .m_cost(stored.m_cost())
        .t_cost(stored.t_cost())
        .p_cost(stored.p_cost())
        .output_len(expected.len())
        .build()
        .map_err(|e| bad(&e))?;
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(|e| bad(&e))?;
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    BLOCKS
        .with(|blocks| {
            let mut blocks = blocks.borrow_mut();
            let n = argon.params().block_count();
            if blocks.len() != n {
                blocks.resize(n, argon2::Block::default());
            }
            argon.hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut blocks[..],
            )
        })
        .map_err(|e| bad(&e))?;
    Ok(subtle::ConstantTimeEq::ct_eq(&out[..], expected.as_bytes()).into())
}

/// Makes the dummy hash of [`verify`] (once per process), so no login waits for it.
pub fn prepare() -> Result<()> {
    dummy_hash().map(|_| ())
}

/// A hash of a random password with the parameters real hashes get, made once: what a
/// login for an account that does not exist is checked against.
fn dummy_hash() -> Result<&'static str> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let h = hash_password(&random_password())?;
    Ok(DUMMY.get_or_init(|| h))
}

/// The active account `username` as it is now, for a web session that logged in with the
/// password of [`password_stamp`] `stamp` (a session re-reads it on every request, so
/// deactivating or demoting an account, or changing its password, takes effect at once);
/// `None` when it is gone or inactive, or its password changed since.
pub fn current(conn: &mut DbConnection, username: &str, stamp: &str) -> Result<Option<Principal>> {
    let user = active_account(conn, username)?;
    user.filter(|u| password_stamp(&u.password_hash) == stamp)
        .map(principal)
        .transpose()
}

/// On a database without accounts, creates `admin` with a random password and returns
/// the password (to be shown once); `None` when accounts exist.
pub fn bootstrap(conn: &mut DbConnection) -> Result<Option<String>> {
    let count: i64 = bouncer_users::table.count().get_result(conn)?;
    if count > 0 {
        return Ok(None);
    }
    let password = random_password();
    match add(conn, "bootstrap", "admin", Role::Admin, &password) {
        Ok(()) => Ok(Some(password)),
        // Another instance bootstrapped at the same moment.
        Err(TuxedoError::UserExists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| TuxedoError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| TuxedoError::Internal(format!("hashing a password: {e}")))
}

fn random_password() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 24)
}

/// An account as the API shows it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserView {
    pub username: String,
    pub role: String,
    pub active: bool,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub created_at: chrono::NaiveDateTime,
}

/// Changes to an account; a field left out is kept. Deactivating an account (or lowering
/// its role) also stops its tokens (or those above the new role). A new password or
/// deactivation ends the account's web sessions (the audit row says `"sessions":
/// "ended"`). The last active admin
/// cannot be deactivated or demoted (no one could manage accounts any more).
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<String>,
    pub active: Option<bool>,
    /// A new password (at least [`MIN_PASSWORD`] characters).
    pub password: Option<String>,
}

/// Every account, by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<UserView>> {
    let rows: Vec<User> = bouncer_users::table.load(conn)?;
    let mut out: Vec<UserView> = rows.into_iter().map(view).collect();
    out.sort_by_key(|u| u.username.to_lowercase());
    Ok(out)
}

/// Applies `patch` to account `username`.
pub fn update(
    conn: &mut DbConnection,
    actor: &str,
    username: &str,
    patch: &UserPatch,
) -> Result<UserView> {
    let role: Option<Role> = patch.role.as_deref().map(str::parse).transpose()?;
    let hash = match &patch.password {
        Some(p) if p.chars().count() < MIN_PASSWORD => {
            return Err(TuxedoError::invalid(
                "password",
                format!("shorter than {MIN_PASSWORD} characters"),
            ))
        }
        Some(p) => Some(hash_password(p)?),
        None => None,
    };
    crate::catalogue::write_tx(conn, |conn| {
        let user = named(conn, username)?.ok_or_else(|| TuxedoError::NotFound {
            kind: "user",
            key: username.trim().to_owned(),
        })?;
        let new_role = role.map_or_else(|| user.role.clone(), |r| r.as_str().to_owned());
        diesel::update(bouncer_users::table.find(user.id))
            .set((
                bouncer_users::role.eq(&new_role),
                bouncer_users::active.eq(patch.active.unwrap_or(user.active)),
                bouncer_users::password_hash.eq(hash.as_deref().unwrap_or(&user.password_hash)),
            ))
            .execute(conn)?;
        let admins: i64 = bouncer_users::table
            .filter(bouncer_users::role.eq(Role::Admin.as_str()))
            .filter(bouncer_users::active.eq(true))
            .count()
            .get_result(conn)?;
        if admins == 0 {
            return Err(TuxedoError::Conflict(
                "the last active admin cannot be deactivated or demoted".into(),
            ));
        }
        let after: User = bouncer_users::table.find(user.id).first(conn)?;
        let (before, after) = (view(user), view(after));
        let mut after_json = json!(after);
        if hash.is_some() {
            after_json["password"] = json!("changed");
        }
        // Web sessions re-read the account: a new password or deactivation ends them.
        if hash.is_some() || (before.active && !after.active) {
            after_json["sessions"] = json!("ended");
        }
        audit(
            conn,
            actor,
            "user.update",
            &format!("user:{}", before.username),
            Some(json!(before)),
            Some(after_json),
        )?;
        Ok(after)
    })
}

fn view(u: User) -> UserView {
    UserView {
        username: u.username,
        role: u.role,
        active: u.active,
        created_at: u.created_at,
    }
}
