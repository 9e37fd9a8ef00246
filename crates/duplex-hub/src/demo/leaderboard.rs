//! The leaderboard demo's board: players ranked by score, held in memory.
//!
//! No I/O here: the handler in `mod.rs` validates a request, calls
//! [`Board::score`], and publishes [`Board::snapshot`] on the demo's presence
//! channel. A player is a name; the board keeps at most `capacity` players
//! (the best ones), so memory stays bounded however many names are tried.

use serde::Serialize;

/// Players the board keeps; a newcomer who cannot beat the last one is not kept.
pub const CAPACITY: usize = 1000;
/// Ranks every page shows (and every update carries).
pub const SHOWN: usize = 10;
/// Most points one request may score.
pub const MAX_POINTS: u32 = 100;

/// One player on the board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Player {
    /// The player's name (validated: 1 to 32 characters, no control characters).
    pub name: String,
    /// Points so far.
    pub score: u64,
}

/// What one [`Board::score`] changed, for the update sent to every page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Who scored.
    pub name: String,
    /// Points scored by this request.
    pub points: u32,
    /// The player's score now.
    pub score: u64,
    /// The player's rank now (1 is the best); `None` if the board is full of
    /// better players.
    pub rank: Option<usize>,
    /// The rank before, `None` for a newcomer.
    pub previous_rank: Option<usize>,
}

/// What pages render: the top ranks and the board's version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot<'a> {
    /// Which board this is: a new one (after a server restart) starts its
    /// versions over, so a page compares versions within one epoch only.
    pub epoch: &'a str,
    /// Increases with every change, so a page can drop a stale copy (an
    /// update that overtook the board it fetched, or the reverse).
    pub version: u64,
    /// Players on the board.
    pub players: usize,
    /// The best [`SHOWN`] players, best first.
    pub top: Vec<Ranked<'a>>,
    /// The change that made this version, in updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'a Change>,
}

/// A player with their rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ranked<'a> {
    /// 1 is the best.
    pub rank: usize,
    /// The player's name.
    pub name: &'a str,
    /// The player's score.
    pub score: u64,
}

/// Why points were not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// Points must be 1 to [`MAX_POINTS`].
    #[error("points must be between 1 and {MAX_POINTS}")]
    Points,
}

/// Players ranked by score (highest first; of two players with the same
/// score, the first to get there ranks higher).
#[derive(Debug)]
pub struct Board {
    /// Best first. At most `capacity` players, so a linear search is cheap.
    players: Vec<Player>,
    /// How many players are kept.
    capacity: usize,
    /// Bumped by every recorded score.
    version: u64,
    /// Names this board among the boards of past and future server runs.
    epoch: String,
}

impl Default for Board {
    fn default() -> Self {
        Board::new(CAPACITY, &format!("{:016x}", rand::random::<u64>()))
    }
}

impl Board {
    /// An empty board that keeps up to `capacity` players (at least 1),
    /// named `epoch` (random by default).
    pub fn new(capacity: usize, epoch: &str) -> Self {
        Board {
            players: Vec::new(),
            capacity: capacity.max(1),
            version: 0,
            epoch: epoch.to_string(),
        }
    }

    /// Adds `points` to `name`'s score (a new player starts at 0). `name`
    /// must already be validated (see `super::validate_name`).
    ///
    /// A newcomer on a full board replaces the last player only with a
    /// higher score; otherwise nothing is kept and `rank` is `None`.
    pub fn score(&mut self, name: &str, points: u32) -> Result<Change, ScoreError> {
        if points == 0 || points > MAX_POINTS {
            return Err(ScoreError::Points);
        }
        let previous_rank = self.players.iter().position(|p| p.name == name);
        let player = match previous_rank {
            Some(index) => {
                let mut player = self.players.remove(index);
                player.score += u64::from(points);
                player
            }
            None => Player {
                name: name.to_string(),
                score: u64::from(points),
            },
        };
        let score = player.score;
        let full = previous_rank.is_none() && self.players.len() >= self.capacity;
        let rank = if full && self.players.last().is_some_and(|last| last.score >= score) {
            None
        } else {
            if full {
                self.players.pop();
            }
            self.version += 1;
            // Before every player with a lower score and after those with
            // the same score: they got there first.
            let index = self.players.partition_point(|p| p.score >= score);
            self.players.insert(index, player);
            Some(index + 1)
        };
        Ok(Change {
            name: name.to_string(),
            points,
            score,
            rank,
            previous_rank: previous_rank.map(|i| i + 1),
        })
    }

    /// The board as pages show it, with the change that produced it.
    pub fn snapshot<'a>(&'a self, change: Option<&'a Change>) -> Snapshot<'a> {
        Snapshot {
            epoch: &self.epoch,
            version: self.version,
            players: self.players.len(),
            top: self
                .players
                .iter()
                .take(SHOWN)
                .enumerate()
                .map(|(i, p)| Ranked {
                    rank: i + 1,
                    name: &p.name,
                    score: p.score,
                })
                .collect(),
            change,
        }
    }

    /// The rank of `name` (1 is the best), if on the board.
    pub fn rank(&self, name: &str) -> Option<usize> {
        self.players
            .iter()
            .position(|p| p.name == name)
            .map(|i| i + 1)
    }

    /// Players on the board.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.players.len()
    }

    /// Whether nobody has scored yet.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// Every player, best first.
    pub fn players(&self) -> &[Player] {
        &self.players
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(board: &Board) -> Vec<&str> {
        board.players().iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn ranks_by_score_then_by_who_got_there_first() {
        let mut board = Board::default();
        assert_eq!(board.score("ann", 5).unwrap().rank, Some(1));
        assert_eq!(
            board.score("bob", 5).unwrap().rank,
            Some(2),
            "a tie goes to ann, who had 5 first"
        );
        let change = board.score("cy", 7).unwrap();
        assert_eq!((change.rank, change.previous_rank), (Some(1), None));
        assert_eq!(names(&board), ["cy", "ann", "bob"]);
        let change = board.score("bob", 3).unwrap();
        assert_eq!(change.score, 8);
        assert_eq!((change.rank, change.previous_rank), (Some(1), Some(3)));
        assert_eq!(names(&board), ["bob", "cy", "ann"]);
        assert_eq!(board.rank("ann"), Some(3));
        assert_eq!(board.rank("dee"), None);
    }

    #[test]
    fn every_change_bumps_the_version() {
        let mut board = Board::default();
        assert_eq!(board.snapshot(None).version, 0);
        board.score("ann", 1).unwrap();
        board.score("ann", 1).unwrap();
        assert_eq!(board.snapshot(None).version, 2);
        assert_ne!(
            board.snapshot(None).epoch,
            Board::default().snapshot(None).epoch,
            "every board has its own epoch"
        );
    }

    #[test]
    fn rejects_points_out_of_range() {
        let mut board = Board::default();
        assert_eq!(board.score("ann", 0), Err(ScoreError::Points));
        assert_eq!(board.score("ann", MAX_POINTS + 1), Err(ScoreError::Points));
        assert!(board.is_empty());
        assert!(board.score("ann", MAX_POINTS).is_ok());
        assert_eq!(board.len(), 1);
    }

    #[test]
    fn a_full_board_keeps_the_best_players() {
        let mut board = Board::new(2, "test");
        board.score("ann", 10).unwrap();
        board.score("bob", 5).unwrap();
        let change = board.score("cy", 5).unwrap();
        assert_eq!(change.rank, None, "not better than the last player");
        assert_eq!(names(&board), ["ann", "bob"]);
        let version = board.snapshot(None).version;
        assert_eq!(board.score("cy", 6).unwrap().rank, Some(2));
        assert_eq!(names(&board), ["ann", "cy"], "bob dropped off");
        assert_eq!(board.snapshot(None).version, version + 1);
        // Players already on the board can always score.
        assert_eq!(board.score("cy", 10).unwrap().rank, Some(1));
        assert_eq!(board.len(), 2);
    }

    #[test]
    fn snapshots_show_the_top_ranks_only() {
        let mut board = Board::default();
        for i in 0..(SHOWN as u32 + 5) {
            board.score(&format!("p{i}"), i + 1).unwrap();
        }
        let change = board.score("p0", 50).unwrap();
        let snapshot = board.snapshot(Some(&change));
        assert_eq!(snapshot.players, SHOWN + 5);
        assert_eq!(snapshot.top.len(), SHOWN);
        assert_eq!(
            (
                snapshot.top[0].rank,
                snapshot.top[0].name,
                snapshot.top[0].score
            ),
            (1, "p0", 51)
        );
        let json = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(json["change"]["previous_rank"], SHOWN + 5);
        assert_eq!(json["change"]["rank"], 1);
        assert_eq!(json["top"][1]["name"], format!("p{}", SHOWN + 4));
        assert!(serde_json::to_value(board.snapshot(None))
            .unwrap()
            .get("change")
            .is_none());
    }
}
