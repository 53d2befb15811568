//! What a run learns and forgets of the files, decided from what the reference origins
//! said this run, the learned rows, and which sources are current (pure; `store` applies
//! the plan in one transaction).
//!
//! Learned metadata belongs to its source. One source teaches each file: the lowest
//! current source (mirror id; the pinned CDN is 0, and a source only when no mirror is
//! flagged) that saw it — so two references that disagree on an `ETag` do not rewrite
//! each other's rows every run. A row whose source is no longer current (unflagged,
//! disabled, deleted, or unknown: learned before sources were recorded) is forgotten,
//! unless a current source teaches the file this run (then it is relearned, or only
//! adopted when it says the same). A current source that did not see the file this run
//! (down, a 404) keeps its row: a blip of the reference is not a reason to forget.
//!
//! A learned size most checked mirrors contradict is disputed ([`disputed`]): not
//! enforced from then on, and reported — an operator's size is always enforced.

use crate::check::{Loc, MirrorReport};
use crate::probe::{Class, Reason};
use bouncer_core::files::{Learned, Observed};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a source said of one file this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen<'a> {
    pub location_id: i32,
    pub lang: &'a str,
    /// The source: a mirror id, or `files::FROM_CDN`.
    pub from: i32,
    pub observed: &'a Observed,
}

/// One write of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Record what this source said (written only if it differs, see `files::learn`).
    Learn(Seen<'a>),
    /// The row's source is gone: forget what it taught.
    Forget(&'a Learned),
}

/// The plan: learn from each file's teacher, forget what gone sources taught.
pub fn plan<'a>(rows: &'a [Learned], sources: &[i32], seen: &[Seen<'a>]) -> Vec<Step<'a>> {
    let current: HashSet<i32> = sources.iter().copied().collect();
    let mut teachers: BTreeMap<(i32, &str), &Seen<'a>> = BTreeMap::new();
    for s in seen
        .iter()
        .filter(|s| current.contains(&s.from) && s.observed.size.is_some())
    {
        let key = (s.location_id, s.lang);
        match teachers.get(&key) {
            Some(t) if t.from <= s.from => {}
            _ => {
                teachers.insert(key, s);
            }
        }
    }
    let mut steps = Vec::new();
    let mut taught = HashSet::new();
    for (key, teacher) in &teachers {
        let row = rows
            .iter()
            .find(|r| (r.location_id, r.lang.as_str()) == *key);
        // A row of a lower current source outranks this run's teacher (a run restricted
        // to one reference does not undo what a lower one taught).
        let outranked = row
            .and_then(|r| r.from)
            .is_some_and(|f| current.contains(&f) && f < teacher.from);
        taught.insert(*key);
        if !outranked {
            steps.push(Step::Learn((*teacher).clone()));
        }
    }
    for r in rows {
        let gone = !r.from.is_some_and(|f| current.contains(&f));
        if gone && !taught.contains(&(r.location_id, r.lang.as_str())) {
            steps.push(Step::Forget(r));
        }
    }
    steps
}

/// The current sources: the active mirrors flagged `reference`, else the pinned CDN when
/// there is one.
pub fn sources(references: Vec<i32>, cdn: bool) -> Vec<i32> {
    match (references.is_empty(), cdn) {
        (true, true) => vec![bouncer_core::files::FROM_CDN],
        _ => references,
    }
}

/// What the mirrors checked this run said of one learned size they were held to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Mirrors that served the file with that size.
    pub agree: usize,
    /// The sizes the others served instead, and by how many mirrors.
    pub contradict: BTreeMap<u64, usize>,
}

impl Tally {
    pub fn count(&mut self, served: Option<u64>, expected: u64) {
        match served {
            Some(s) if s != expected => *self.contradict.entry(s).or_default() += 1,
            Some(_) => self.agree += 1,
            None => {}
        }
    }
}

/// Counts what a (non-reference) mirror's report says of each learned size it was held
/// to, by location index: the size it served, as its outcome tells.
pub fn count(tallies: &mut HashMap<usize, Tally>, report: &MirrorReport, locs: &[Loc]) {
    for (i, o) in &report.results {
        let Some(loc) = locs.get(*i) else { continue };
        let Some(expected) = loc.expected_size.filter(|_| loc.learned) else {
            continue;
        };
        let served = match (o.class, &o.reason) {
            (_, Reason::SizeMismatch(got, _)) => Some(*got),
            (Class::Healthy, _) => Some(expected),
            _ => None,
        };
        tallies.entry(*i).or_default().count(served, expected);
    }
}

/// The fewest mirrors whose contradiction disputes a learned size: one mirror that
/// disagrees with the reference is as likely the stale one.
pub const MIN_CONTRADICTING: usize = 2;

/// Why a learned size of `expected` bytes is not to be enforced, if it is not: more than
/// half of the mirrors that served the file contradicted it, and at least
/// [`MIN_CONTRADICTING`] of them. The reference that taught it is then likelier wrong than
/// every mirror that disagrees (as when a reference answered 77 bytes for every file).
pub fn disputed(expected: u64, t: &Tally) -> Option<String> {
    let against: usize = t.contradict.values().sum();
    let checked = against + t.agree;
    if against < MIN_CONTRADICTING || against * 2 <= checked {
        return None;
    }
    let (common, _) = t
        .contradict
        .iter()
        .max_by_key(|(size, n)| (**n, std::cmp::Reverse(**size)))?;
    Some(format!(
        "learned size {expected} contradicted by {against} of {checked} mirrors checked \
         (most say {common}); not enforced"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_most_mirrors_contradict_is_disputed() {
        let tally = |agree, against: &[(u64, usize)]| Tally {
            agree,
            contradict: against.iter().copied().collect(),
        };
        assert_eq!(
            disputed(77, &tally(0, &[(1234, 2)])).as_deref(),
            Some("learned size 77 contradicted by 2 of 2 mirrors checked (most say 1234); not enforced")
        );
        assert!(disputed(77, &tally(1, &[(1234, 2), (5, 1)])).is_some());
        assert!(
            disputed(77, &tally(2, &[(1234, 2)])).is_none(),
            "half is not most"
        );
        assert!(
            disputed(77, &tally(0, &[(1234, 1)])).is_none(),
            "one mirror"
        );
        assert!(disputed(77, &tally(5, &[])).is_none());
        let mut t = Tally::default();
        t.count(Some(1234), 77);
        t.count(Some(77), 77);
        t.count(None, 77);
        assert_eq!(t, tally(1, &[(1234, 1)]));
    }

    fn row(location_id: i32, from: Option<i32>) -> Learned {
        Learned {
            location_id,
            lang: "en-US".into(),
            size: Some(77),
            from,
        }
    }

    fn seen(location_id: i32, from: i32, o: &Observed) -> Seen<'_> {
        Seen {
            location_id,
            lang: "en-US",
            from,
            observed: o,
        }
    }

    #[test]
    fn what_a_gone_source_taught_is_forgotten() {
        let rows = [row(1, Some(5)), row(2, None), row(3, Some(6))];
        // 5 unflagged; 6 still a reference that did not see file 3 this run.
        let steps = plan(&rows, &[6], &[]);
        assert_eq!(steps, [Step::Forget(&rows[0]), Step::Forget(&rows[1])]);
        assert!(plan(&rows[2..], &[6], &[]).is_empty(), "a blip keeps it");
    }

    #[test]
    fn the_lowest_current_source_teaches_each_file() {
        let (a, b) = (
            Observed {
                size: Some(10),
                etag: Some("a".into()),
                last_modified: None,
            },
            Observed {
                size: Some(10),
                etag: Some("b".into()),
                last_modified: None,
            },
        );
        let both = [seen(1, 4, &b), seen(1, 3, &a)];
        assert_eq!(plan(&[], &[3, 4], &both), [Step::Learn(seen(1, 3, &a))]);
        // Taught by 3 already: a run of 4 alone does not undo it.
        let rows = [row(1, Some(3))];
        assert!(plan(&rows, &[3, 4], &[seen(1, 4, &b)]).is_empty());
        // 3 is gone: 4 teaches (and the row is not forgotten first).
        assert_eq!(
            plan(&rows, &[4], &[seen(1, 4, &b)]),
            [Step::Learn(seen(1, 4, &b))]
        );
        // An unknown source's row is relearned (or adopted) by a current one.
        let old = [row(1, None)];
        assert_eq!(
            plan(&old, &[4], &[seen(1, 4, &b)]),
            [Step::Learn(seen(1, 4, &b))]
        );
        // What a non-source said, or a sizeless answer, teaches nothing.
        let sizeless = Observed::default();
        assert!(plan(&[], &[3], &[seen(1, 9, &a), seen(1, 3, &sizeless)]).is_empty());
    }

    #[test]
    fn the_cdn_teaches_only_without_a_reference_mirror() {
        assert_eq!(sources(vec![], true), [0]);
        assert_eq!(sources(vec![], false), Vec::<i32>::new());
        assert_eq!(sources(vec![2, 7], true), [2, 7]);
    }
}
