//! Scoped API tokens: a secret shown once at creation, stored only as its SHA-256 (a
//! 256-bit random secret needs no slow hash), with a role no higher than its user's and an
//! optional expiry. Sent as `Authorization: Bearer <secret>` on both APIs.

use super::{Principal, Role};
use crate::catalogue::{audit, taken_or, valid_name};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::User;
use bouncer_core::schema::{bouncer_api_tokens as tokens, bouncer_users as users};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Prefix of every secret, so a leaked one is recognisable (secret scanners, logs).
pub const SECRET_PREFIX: &str = "bnct_";

/// A token as the API shows it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: i32,
    pub user: String,
    pub name: String,
    pub role: String,
    #[serde(serialize_with = "bouncer_core::utc::serialize")]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub expires_at: Option<NaiveDateTime>,
    #[serde(serialize_with = "bouncer_core::utc::serialize_option")]
    pub last_used_at: Option<NaiveDateTime>,
}

/// A created token with its secret, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenView,
    pub secret: String,
}

type Row = (
    i32,
    String,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
);

/// Creates a token for `user` with `role` (which the user's role must cover).
pub fn create(
    conn: &mut DbConnection,
    actor: &str,
    user: &str,
    role: Role,
    name: &str,
    expires_at: Option<NaiveDateTime>,
) -> Result<CreatedToken> {
    let name = valid_name("name", name, bouncer_core::limits::TOKEN_NAME)?;
    crate::catalogue::valid_future("expires_at", expires_at)?;
    let now = chrono::Utc::now().naive_utc();
    let secret = new_secret();
    let hash = hash(&secret);
    crate::catalogue::write_tx(conn, |conn| {
        let owner = super::users::named(conn, user)?
            .ok_or_else(|| TuxedoError::invalid("user", format!("no account {:?}", user.trim())))?;
        let owner_role: Role = owner.role.parse()?;
        if !owner_role.covers(role) {
            return Err(TuxedoError::invalid(
                "role",
                format!(
                    "{} is above the {} role of {}",
                    role.as_str(),
                    owner_role.as_str(),
                    owner.username
                ),
            ));
        }
        diesel::insert_into(tokens::table)
            .values((
                tokens::user_id.eq(owner.id),
                tokens::name.eq(name),
                tokens::token_hash.eq(&hash),
                tokens::role.eq(role.as_str()),
                tokens::created_at.eq(now),
                tokens::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map_err(|e| taken_or(e, || TuxedoError::Internal("token hash collision".into())))?;
        let row = rows(conn, By::Hash(&hash))?.pop();
        let token =
            view(row.ok_or_else(|| TuxedoError::Internal("inserted token not found".into()))?);
        audit(
            conn,
            actor,
            "token.create",
            &format!("token:{}", token.id),
            None,
            Some(json!(token)),
        )?;
        Ok(token)
    })
    .map(|token| CreatedToken { token, secret })
}

/// Every token, by id.
pub fn list(conn: &mut DbConnection) -> Result<Vec<TokenView>> {
    Ok(rows(conn, By::All)?.into_iter().map(view).collect())
}

/// Revokes (deletes) token `id`.
pub fn revoke(conn: &mut DbConnection, actor: &str, id: i32) -> Result<()> {
    crate::catalogue::write_tx(conn, |conn| {
        let row = rows(conn, By::Id(id))?
            .pop()
            .ok_or_else(|| TuxedoError::NotFound {
                kind: "token",
                key: id.to_string(),
            })?;
        diesel::delete(tokens::table.find(id)).execute(conn)?;
        let before = view(row);
        audit(
            conn,
            actor,
            "token.revoke",
            &format!("token:{id}"),
            Some(json!(before)),
            None,
        )
    })
}

/// The caller a secret names: an unexpired token of an active account whose role still
/// covers the token's. Records the use. `None` for anything else.
pub fn verify(conn: &mut DbConnection, secret: &str) -> Result<Option<Principal>> {
    let now = chrono::Utc::now().naive_utc();
    let found: Option<(i32, String, Option<NaiveDateTime>, User)> = tokens::table
        .inner_join(users::table)
        .filter(tokens::token_hash.eq(hash(secret.trim())))
        .select((
            tokens::id,
            tokens::role,
            tokens::expires_at,
            User::as_select(),
        ))
        .first(conn)
        .optional()?;
    let Some((id, role, expires_at, user)) = found else {
        return Ok(None);
    };
    let (Ok(role), Ok(user_role)) = (role.parse::<Role>(), user.role.parse::<Role>()) else {
        return Ok(None);
    };
    if !user.active || expires_at.is_some_and(|e| e <= now) || !user_role.covers(role) {
        return Ok(None);
    }
    diesel::update(tokens::table.find(id))
        .set(tokens::last_used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(Some(Principal {
        username: user.username,
        role,
    }))
}

/// Which tokens [`rows`] reads.
enum By<'a> {
    All,
    Id(i32),
    Hash(&'a str),
}

fn rows(conn: &mut DbConnection, by: By<'_>) -> Result<Vec<Row>> {
    let q = tokens::table
        .inner_join(users::table)
        .select((
            tokens::id,
            users::username,
            tokens::name,
            tokens::role,
            tokens::created_at,
            tokens::expires_at,
            tokens::last_used_at,
        ))
        .order(tokens::id.asc())
        .into_boxed();
    let q = match by {
        By::All => q,
        By::Id(id) => q.filter(tokens::id.eq(id)),
        By::Hash(h) => q.filter(tokens::token_hash.eq(h.to_owned())),
    };
    Ok(q.load(conn)?)
}

fn view(r: Row) -> TokenView {
    TokenView {
        id: r.0,
        user: r.1,
        name: r.2,
        role: r.3,
        created_at: r.4,
        expires_at: r.5,
        last_used_at: r.6,
    }
}

fn new_secret() -> String {
    use rand::distr::{Alphanumeric, SampleString};
    format!(
        "{SECRET_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::rng(), 43)
    )
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
