//! Folded callsites on the worker: the alert that stands for a callsite's
//! many variants, and when the fold ends.
//!
//! The layer decides that a callsite folds (`gate::fold`); the record that
//! tripped it, and any folded record that missed the gate, comes here
//! marked as folded. Its fingerprint is the callsite's (see
//! [`fingerprint`](super::fingerprint)), so the first one is the family's
//! alert and the rest are its repeats, tallied and edited like any alert
//! (fleet-wide with Redis). This stage gives that alert its words: a title
//! that says it stands for many messages, and a few of them as examples
//! (the variants alerted before the fold, and the one that tripped it).
//! When the fold's dedup window ends, the family is released at the gate
//! and its next variants are counted afresh.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::gate::RepeatGate;
use crate::record::{first_line, Family, FamilyKey, Record};

/// Examples shown in a fold's alert.
const EXAMPLES: usize = 3;
/// Longest example kept, in characters.
const EXAMPLE_CHARS: usize = 300;
/// Most families whose examples are kept (past it they are forgotten).
const MAX_FAMILIES: usize = 256;

/// The worker's side of folding.
#[derive(Debug)]
pub(crate) struct Folds {
    gate: Arc<RepeatGate>,
    /// The last few messages of each family that alerted variants.
    examples: HashMap<FamilyKey, VecDeque<String>>,
    /// Folds alive: the fold's fingerprint → its family and when it began.
    active: HashMap<u64, (FamilyKey, Instant)>,
}

impl Folds {
    pub(crate) fn new(gate: Arc<RepeatGate>) -> Self {
        Folds {
            gate,
            examples: HashMap::new(),
            active: HashMap::new(),
        }
    }

    /// A record of a family arrives (before dedup): a folded one is titled
    /// as the fold (so every process of a fleet remembers one heading) and
    /// its fold is tracked until its window ends.
    pub(crate) fn arrive(&mut self, record: &mut Record, fingerprint: Option<u64>, now: Instant) {
        let Some(Family { key, folded: true }) = record.family else {
            return;
        };
        if let Some(fp) = fingerprint {
            self.active.entry(fp).or_insert((key, now));
        }
        if record.title.is_none() {
            let own = example_of(record);
            let known = self.examples.get(&key).into_iter().flatten();
            record.title = Some(fold_title(known.chain([&own])));
        }
    }

    /// A record of a family is alerted: a variant is remembered as an
    /// example; the fold's own alert gets its body.
    pub(crate) fn alerted(&mut self, record: &mut Record) {
        let Some(family) = record.family else {
            return;
        };
        let example = example_of(record);
        if !family.folded {
            self.remember(family.key, example);
            return;
        }
        let mut examples = self.examples.remove(&family.key).unwrap_or_default();
        examples.retain(|known| *known != example);
        examples.push_back(example);
        while examples.len() > EXAMPLES {
            examples.pop_front();
        }
        let mut body = String::from(
            "One callsite is failing with many different messages: \
             from now on they are counted here as one alert. Examples:",
        );
        for example in &examples {
            body.push_str("\n• ");
            body.push_str(example);
        }
        record.message = body.into();
    }

    /// About how many variants the fold with `fingerprint` counted.
    pub(crate) fn variants(&self, fingerprint: u64) -> Option<u64> {
        let (family, _) = self.active.get(&fingerprint)?;
        self.gate.folds.variants(*family)
    }

    /// Releases the folds whose window (`window`, from their start) ended.
    pub(crate) fn expire(&mut self, now: Instant, window: Duration) {
        let gate = &self.gate;
        self.active.retain(|_, (family, began)| {
            let alive = now.saturating_duration_since(*began) < window;
            if !alive {
                gate.folds.release(*family);
            }
            alive
        });
    }

    /// When the next fold ends.
    pub(crate) fn next_expiry(&self, window: Duration) -> Option<Instant> {
        self.active.values().map(|(_, began)| *began + window).min()
    }

    fn remember(&mut self, family: FamilyKey, example: String) {
        if self.examples.len() >= MAX_FAMILIES && !self.examples.contains_key(&family) {
            self.examples.clear();
        }
        let examples = self.examples.entry(family).or_default();
        if examples.contains(&example) {
            return;
        }
        examples.push_back(example);
        if examples.len() > EXAMPLES - 1 {
            examples.pop_front();
        }
    }
}

/// The fold's title: the words its examples share, with "…" where they
/// differ (`import rejected for user …: column … is not writable`).
fn fold_title<'a>(examples: impl Iterator<Item = &'a String>) -> String {
    let examples: Vec<Vec<&str>> = examples
        .map(|example| example.split_whitespace().collect())
        .collect();
    let shape = match examples.split_first() {
        Some((first, rest)) if rest.iter().all(|words| words.len() == first.len()) => first
            .iter()
            .enumerate()
            .map(
                |(i, word)| match rest.iter().all(|words| words[i] == *word) {
                    true => *word,
                    false => "…",
                },
            )
            .collect::<Vec<_>>()
            .join(" "),
        Some((first, rest)) => {
            let prefix = first
                .iter()
                .enumerate()
                .take_while(|(i, word)| rest.iter().all(|words| words.get(*i) == Some(word)))
                .count();
            match prefix {
                0 => first.join(" "),
                _ => format!("{} …", first[..prefix].join(" ")),
            }
        }
        None => String::new(),
    };
    let shape = match shape.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &shape[..cut]),
        None => shape,
    };
    if shape.is_empty() {
        "Many variants of one failure".to_owned()
    } else {
        format!("Many variants: {shape}")
    }
}

/// A record's message as an example: its first line, cut at a character
/// boundary.
fn example_of(record: &Record) -> String {
    let line = first_line(&record.message).trim();
    match line.char_indices().nth(EXAMPLE_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertLevel;
    use crate::record::{Captured, Occurrence, Origin};

    fn record(message: &str, folded: bool) -> Record {
        Record::new(
            AlertLevel::Error,
            Occurrence::Alert,
            Origin::Manual,
            message.to_owned().into(),
            Captured {
                family: Some(Family {
                    key: FamilyKey(42),
                    folded,
                }),
                ..Captured::default()
            },
        )
    }

    #[test]
    fn the_fold_alert_shows_the_last_variants_and_its_own_message() {
        let mut folds = Folds::new(Arc::new(RepeatGate::default()));
        for user in [1, 2, 3] {
            folds.alerted(&mut record(
                &format!("import rejected for user {user}"),
                false,
            ));
        }
        let mut fold = record("import rejected for user 4", true);
        let now = Instant::now();
        folds.arrive(&mut fold, Some(7), now);
        folds.alerted(&mut fold);
        assert_eq!(
            fold.title.as_deref(),
            Some("Many variants: import rejected for user …")
        );
        let body = fold.message.to_string();
        assert!(body.contains("• import rejected for user 2\n• import rejected for user 3\n• import rejected for user 4"), "{body}");
        assert!(!body.contains("user 1"), "{body}");
        assert_eq!(
            folds.next_expiry(Duration::from_secs(600)),
            Some(now + Duration::from_secs(600))
        );
        folds.expire(now + Duration::from_secs(600), Duration::from_secs(600));
        assert_eq!(folds.next_expiry(Duration::from_secs(600)), None);
    }
}
