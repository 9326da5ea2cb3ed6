//! History queries, answered from memory.

use crate::state::{Change, State};
use std::sync::Arc;

/// Filters for [`crate::Store::history`]; every field is optional.
#[derive(Clone, Debug, Default)]
pub struct HistoryQuery {
    pub key: Option<String>,
    pub who: Option<String>,
    pub prefix: Option<String>,
    /// Only entries with a revision above this one.
    pub since_revision: Option<u64>,
    /// With `since_revision`, the first N entries after it (paging forward); without it,
    /// the newest N. Either way listed oldest first.
    pub limit: Option<usize>,
}

#[derive(Clone, Debug)]
pub struct HistoryPage {
    pub entries: Vec<Arc<Change>>,
    /// Entries retained in all.
    pub total_entries: usize,
    /// Entries that matched the filters, before the limit.
    pub filtered_entries: usize,
}

impl HistoryQuery {
    fn matches(&self, change: &Change) -> bool {
        self.key.as_deref().is_none_or(|k| &*change.key == k)
            && self.who.as_deref().is_none_or(|w| &*change.who == w)
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| change.key.starts_with(p))
    }

    pub(crate) fn run(&self, state: &State) -> HistoryPage {
        let since = self.since_revision.unwrap_or(0);
        // History is ordered by revision, so the start point is a binary search.
        let start = state.history.partition_point(|c| c.revision <= since);
        let matching = state
            .history
            .range(start..)
            .filter(|c| self.matches(c))
            .cloned();
        let mut entries: Vec<Arc<Change>> = matching.collect();
        let filtered_entries = entries.len();
        if let Some(limit) = self.limit {
            if self.since_revision.is_some() {
                entries.truncate(limit);
            } else if entries.len() > limit {
                entries.drain(..entries.len() - limit);
            }
        }
        HistoryPage {
            entries,
            total_entries: state.history.len(),
            filtered_entries,
        }
    }
}
