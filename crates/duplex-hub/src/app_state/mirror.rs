//! The member list of a cluster's presence channel as this node's
//! subscribers were shown it.
//!
//! Member events reach a node from several places (its own joins and
//! leaves, the Redis bus, a dead node's clean-up, a rebuild after an outage)
//! and can arrive twice or cross a snapshot in flight. The mirror makes them
//! idempotent: `member_added` goes out only for a user the mirror lacks,
//! `member_removed` only for one it has. While a snapshot of the cluster's
//! list is being read, changes are also logged, so that the snapshot can be
//! taken and the changes that raced it replayed on top.

use serde_json::value::RawValue;

use duplex_pusher::presence::Members;

/// A change to a member list.
#[derive(Debug, Clone)]
pub(crate) enum MemberChange {
    /// A user joined, with its `user_info`.
    Added(String, Option<Box<RawValue>>),
    /// A user left.
    Removed(String),
}

impl PartialEq for MemberChange {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Added(a, x), Self::Added(b, y)) => {
                a == b && x.as_deref().map(RawValue::get) == y.as_deref().map(RawValue::get)
            }
            (Self::Removed(a), Self::Removed(b)) => a == b,
            _ => false,
        }
    }
}

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// What the subscribers were shown.
    pub members: Members,
    /// Changes seen since a snapshot read began; `None` when none is.
    log: Option<Vec<MemberChange>>,
}

impl Mirror {
    /// A new channel's mirror: empty, and waiting for its first snapshot.
    pub fn syncing() -> Self {
        Mirror {
            members: Members::new(),
            log: Some(Vec::new()),
        }
    }

    /// Starts logging changes for a snapshot about to be read.
    pub fn begin_sync(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// Stops logging without a snapshot (it could not be read).
    pub fn cancel_sync(&mut self) {
        self.log = None;
    }

    /// Whether a snapshot is awaited.
    pub fn is_syncing(&self) -> bool {
        self.log.is_some()
    }

    /// Applies a change; returns whether the list changed (i.e. whether to
    /// tell the subscribers).
    pub fn apply(&mut self, change: MemberChange) -> bool {
        if let Some(log) = &mut self.log {
            log.push(change.clone());
        }
        match change {
            MemberChange::Added(user, info) => self.members.insert(&user, info),
            MemberChange::Removed(user) => self.members.remove(&user),
        }
    }

    /// Ends a sync: the list becomes `snapshot` with the logged changes
    /// replayed on it. Returns the changes the subscribers must be told to
    /// go from what they were shown to the new list.
    pub fn finish_sync(&mut self, snapshot: Members) -> Vec<MemberChange> {
        let Some(log) = self.log.take() else {
            return Vec::new();
        };
        let mut target = snapshot;
        for change in log {
            match change {
                MemberChange::Added(user, info) => {
                    target.insert(&user, info);
                }
                MemberChange::Removed(user) => {
                    target.remove(&user);
                }
            }
        }
        let mut changes: Vec<MemberChange> = self
            .members
            .ids()
            .filter(|id| !target.contains(id))
            .map(|id| MemberChange::Removed(id.to_string()))
            .collect();
        changes.extend(
            target
                .iter()
                .filter(|(id, _)| !self.members.contains(id))
                .map(|(id, info)| {
                    MemberChange::Added(id.to_string(), info.map(RawValue::to_owned))
                }),
        );
        self.members = target;
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(json: &str) -> Option<Box<RawValue>> {
        Some(RawValue::from_string(json.to_string()).unwrap())
    }

    fn added(user: &str) -> MemberChange {
        MemberChange::Added(user.into(), None)
    }

    fn members(ids: &[&str]) -> Members {
        let mut m = Members::new();
        for id in ids {
            m.insert(id, None);
        }
        m
    }

    #[test]
    fn duplicates_are_absorbed() {
        let mut mirror = Mirror::default();
        assert!(mirror.apply(added("a")));
        assert!(
            !mirror.apply(added("a")),
            "a second member_added is not news"
        );
        assert!(mirror.apply(MemberChange::Removed("a".into())));
        assert!(!mirror.apply(MemberChange::Removed("a".into())));
    }

    #[test]
    fn a_snapshot_with_changes_that_raced_it() {
        let mut mirror = Mirror::syncing();
        // Seen while the snapshot was in flight: b joined after it was
        // taken, a left before it was taken (the snapshot lacks a already).
        mirror.apply(MemberChange::Added("b".into(), info(r#"{"n":1}"#)));
        mirror.apply(MemberChange::Removed("a".into()));
        let changes = mirror.finish_sync(members(&["c"]));
        assert_eq!(mirror.members.ids().collect::<Vec<_>>(), ["b", "c"]);
        // The subscribers had been shown b; they learn of c.
        assert_eq!(changes, vec![added("c")]);
        assert!(!mirror.is_syncing());
    }

    #[test]
    fn a_resync_tells_what_changed_while_apart() {
        let mut mirror = Mirror::default();
        mirror.apply(added("a"));
        mirror.apply(added("b"));
        mirror.begin_sync();
        let changes = mirror.finish_sync(members(&["b", "c"]));
        assert_eq!(changes, vec![MemberChange::Removed("a".into()), added("c")]);
        assert_eq!(mirror.finish_sync(members(&[])), vec![], "not syncing");
    }
}
