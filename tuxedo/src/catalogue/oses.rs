//! Operating systems: the `os` of a download (`win64`, `osx`, …), in priority order.

use super::{clash, valid_name, write_tx, Change, Rows, Tail};
use crate::error::{Result, TuxedoError};
use bouncer_core::db::DbConnection;
use bouncer_core::models::{NewOs, Os};
use bouncer_core::schema::{mirror_locations, mirror_os};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Longest name the schema holds.
pub const MAX_NAME: usize = bouncer_core::limits::OS_NAME;

/// An operating system as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsView {
    pub id: i32,
    pub name: String,
    pub priority: i32,
}

/// A new operating system.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOsForm {
    pub name: String,
    #[serde(default)]
    pub priority: i32,
}

/// Changes to an operating system; a field left out is kept.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsPatch {
    pub name: Option<String>,
    pub priority: Option<i32>,
}

/// Every operating system, by id.
/// The OS of that name ([`bouncer_core::names::same`]; the collation only finds candidates).
pub(crate) fn named(conn: &mut DbConnection, name: &str) -> Result<Os> {
    let name = name.trim();
    mirror_os::table
        .filter(mirror_os::name.eq(name))
        .load::<Os>(conn)?
        .into_iter()
        .find(|o| bouncer_core::names::same(&o.name, name))
        .ok_or_else(|| TuxedoError::OsNotFound(name.to_owned()))
}

/// Operating systems as the JSON API lists, adds, updates and deletes them.
pub const ROWS: Rows<NewOsForm, OsPatch, OsView> = Rows {
    list,
    add,
    update,
    delete,
};

pub fn list(conn: &mut DbConnection) -> Result<Vec<OsView>> {
    let rows: Vec<Os> = mirror_os::table.order(mirror_os::id.asc()).load(conn)?;
    Ok(rows.into_iter().map(view).collect())
}

/// Adds an operating system; a taken name (any case) is a conflict.
pub fn add(conn: &mut DbConnection, actor: &str, form: &NewOsForm) -> Result<OsView> {
    let name = valid_name("name", &form.name, MAX_NAME)?;
    write_tx(conn, |conn| {
        diesel::insert_into(mirror_os::table)
            .values(NewOs {
                name,
                priority: form.priority,
            })
            .execute(conn)
            .map_err(|e| clash(e, "os", name))?;
        let after = view(named(conn, name)?);
        Tail::new(actor, "os.add", target(name))
            .changes(&[Change::Os(after.id)])
            .added(conn, after)
    })
}

/// Renames an operating system or changes its priority.
pub fn update(conn: &mut DbConnection, actor: &str, id: i32, patch: &OsPatch) -> Result<OsView> {
    let name = match &patch.name {
        Some(n) => Some(valid_name("name", n, MAX_NAME)?),
        None => None,
    };
    write_tx(conn, |conn| {
        let before = view(find(conn, id)?);
        let new_name = name.unwrap_or(&before.name).to_owned();
        diesel::update(mirror_os::table.find(id))
            .set((
                mirror_os::name.eq(&new_name),
                mirror_os::priority.eq(patch.priority.unwrap_or(before.priority)),
            ))
            .execute(conn)
            .map_err(|e| clash(e, "os", &new_name))?;
        let after = view(find(conn, id)?);
        Tail::new(actor, "os.update", target(&before.name))
            .changes(&[Change::Os(id)])
            .updated(conn, &before, after)
    })
}

/// Deletes an operating system no location uses (deleting a used one would silently take
/// its locations along, so that is a conflict).
pub fn delete(conn: &mut DbConnection, actor: &str, id: i32) -> Result<()> {
    write_tx(conn, |conn| {
        let os = view(find(conn, id)?);
        let used: i64 = mirror_locations::table
            .filter(mirror_locations::os_id.eq(id))
            .count()
            .get_result(conn)?;
        if used > 0 {
            return Err(TuxedoError::Conflict(format!(
                "os {:?} is used by {used} location(s)",
                os.name
            )));
        }
        diesel::delete(mirror_os::table.find(id)).execute(conn)?;
        Tail::new(actor, "os.delete", target(&os.name))
            .changes(&[Change::Os(id)])
            .before(&os)
            .record(conn)
    })
}

fn find(conn: &mut DbConnection, id: i32) -> Result<Os> {
    mirror_os::table
        .find(id)
        .first(conn)
        .optional()?
        .ok_or_else(|| TuxedoError::NotFound {
            kind: "os",
            key: id.to_string(),
        })
}

fn view(o: Os) -> OsView {
    OsView {
        id: o.id,
        name: o.name,
        priority: o.priority,
    }
}

fn target(name: &str) -> String {
    format!("os:{name}")
}
