//! The repeat gate's probe: what the layer reads from an event to find its
//! kind ([`GateKey`]) without building a record (see [`table`](super::table) for
//! the table it counts in).

use std::fmt::{self, Write as _};

use tracing_core::field::{Field, Visit};
use tracing_core::Metadata;

use crate::alert::AlertLevel;
use crate::record::http::write_request_key;
use crate::record::{
    first_line, is_error_field, is_response_field, means_skip, FamilyKey, Fields, GateKey,
    Instruction, CONTROL_PREFIX,
};
use crate::text::normalize::normalized_bytes;
use crate::text::InlineText;

use super::hash::QuickHash;
use super::spread::Combination;

/// What the layer reads from an event to compute its [`GateKey`], without
/// allocating: the message goes into a stack buffer.
#[derive(Default)]
pub(crate) struct GateProbe {
    /// The message, formatted on the stack (longer ones overflow).
    message: InlineText<255>,
    fingerprint: Option<u64>,
    level: Option<AlertLevel>,
    /// `telegram.skip = true` on the event itself.
    pub(crate) skip: bool,
    /// Something did not fit (a long message or fingerprint): no key.
    overflow: bool,
    /// A bridged `log` record's `log.*` fields, hashed: its real origin
    /// takes part in the fingerprint, so it takes part in the key (0: none).
    log_origin: u64,
    /// Error-carrying fields (`error`, `status`, …), hashed as the
    /// fingerprint reads them (0: none).
    errors: u64,
    /// The request the event happened in (method and route), hashed: an
    /// alert is grouped by its request (0: none).
    request: u64,
    /// The values of its small fields, hashed (what varies across repeats).
    combination: Combination,
}

impl GateProbe {
    /// With `on`, the probe also hashes the values of small fields (set in
    /// place: the probe is large, and a struct update copies it).
    #[inline]
    pub(crate) fn count_values(&mut self, on: bool) {
        self.combination = Combination::new(on);
    }

    /// The combination of the event's small field values, if any took part.
    pub(crate) fn combination(&self) -> Option<u64> {
        self.combination.word()
    }

    /// The level the record would get (an explicit `telegram.level` wins).
    pub(crate) fn level_override(&self) -> Option<AlertLevel> {
        self.level
    }

    /// The event's key, or `None` if the probe could not read it whole.
    pub(crate) fn key(
        &self,
        metadata: &'static Metadata<'static>,
        level: AlertLevel,
    ) -> Option<GateKey> {
        if self.overflow {
            return None;
        }
        let mut hash = QuickHash::default();
        // The callsite's identity: its metadata is a static, one per callsite.
        hash.write_u64(std::ptr::from_ref(metadata) as usize as u64);
        hash.write_u64(level as u64);
        match self.fingerprint {
            Some(explicit) => hash.write_u64(explicit),
            None => normalized_bytes(self.message.as_bytes(), |piece| {
                hash.write(piece);
            }),
        }
        if self.log_origin != 0 {
            hash.write_u64(self.log_origin);
        }
        if self.errors != 0 {
            hash.write_u64(self.errors);
        }
        if self.request != 0 {
            hash.write_u64(self.request);
        }
        Some(GateKey(hash.finish()))
    }

    /// The event's family: its key without the message and error fields
    /// (what a storm of variants of one callsite has in common). Read only
    /// when [`key`](Self::key) is `Some`.
    pub(crate) fn family(
        &self,
        metadata: &'static Metadata<'static>,
        level: AlertLevel,
    ) -> FamilyKey {
        let mut hash = QuickHash::default();
        hash.write_u64(std::ptr::from_ref(metadata) as usize as u64);
        hash.write_u64(level as u64);
        hash.write_u64(self.log_origin);
        FamilyKey(hash.finish())
    }
}

impl GateProbe {
    /// Notes the request the event happened in: the [`request_key`] of the
    /// innermost span that describes one; `false` for a span whose fields
    /// describe no request (`None`).
    pub(crate) fn note_request(&mut self, key: Option<u64>) -> bool {
        match key {
            Some(key) => {
                self.request = key;
                true
            }
            None => false,
        }
    }

    fn set_message(&mut self, text: &str) {
        self.message.clear();
        if self.message.write_str(text).is_err() {
            self.overflow = true;
        }
    }

    /// A `telegram.*` instruction, read as the ordinary path reads it
    /// (`FieldCollector`): an unknown level is ignored, and the title takes
    /// no part in the key.
    fn instruction(&mut self, name: &str, value: &str) {
        match Instruction::of(name) {
            Some(Instruction::Fingerprint) => {
                let mut hash = QuickHash::default();
                hash.write(value.as_bytes());
                self.fingerprint = Some(hash.finish());
            }
            Some(Instruction::Level) => self.level = AlertLevel::parse(value),
            Some(Instruction::Skip) => self.skip |= means_skip(value),
            Some(Instruction::Title | Instruction::SlowThreshold) | None => {}
        }
    }

    /// Mixes an error-carrying text field into the key: its first line,
    /// normalised (as the fingerprint reads it).
    #[cold]
    fn note_error_text(&mut self, name: &str, text: &str) {
        let mut hash = QuickHash(self.errors);
        hash.write(name.as_bytes());
        normalized_bytes(first_line(text).as_bytes(), |piece| hash.write(piece));
        self.errors = hash.finish() | 1;
    }

    /// Mixes a `log.*` field (a bridged `log` record's target, module, file
    /// or line) into the origin hash.
    #[cold]
    fn note_log_origin(&mut self, name: &str, value: &[u8]) {
        let mut hash = QuickHash(self.log_origin);
        hash.write(name.as_bytes());
        hash.write(value);
        self.log_origin = hash.finish() | 1;
    }

    /// A message or instruction recorded in a way the ordinary path turns
    /// into text differently: let it decide. (Called for every non-text
    /// field of every repeat: most names are told apart by their first
    /// letter.)
    #[inline]
    fn unusual(&mut self, field: &Field) {
        let name = field.name();
        if !matches!(
            name.as_bytes().first(),
            Some(b'm' | b't' | b'e' | b'c' | b's' | b'h')
        ) {
            return;
        }
        // An error-carrying value the probe does not read as the ordinary
        // path does (an `Error`, a float): let that path decide.
        if is_error_field(name) {
            self.overflow = true;
            return;
        }
        let instruction = Instruction::of(name);
        if name == "message" || instruction.is_some_and(Instruction::shapes_the_key) {
            self.overflow = true;
        }
    }

    /// [`unusual`](Self::unusual) for an integer, which may also be a
    /// bridged `log` record's line (one function, one first-letter test).
    fn unusual_u64(&mut self, field: &Field, value: u64) {
        let name = field.name();
        match name.as_bytes().first() {
            Some(b'l') if name.starts_with("log.") => {
                self.note_log_origin(name, &value.to_le_bytes());
            }
            Some(b's' | b'h') if is_response_field(name) => self.overflow = true,
            Some(b'm' | b't') => self.unusual(field),
            _ => {}
        }
    }
}

impl Visit for GateProbe {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        // Every text field of every repeat comes here: the names that
        // matter are told apart by their first letter first.
        match name.as_bytes().first() {
            Some(b'm') if name == "message" => self.set_message(value),
            Some(b'l') if name.starts_with("log.") => {
                self.note_log_origin(name, value.as_bytes());
            }
            // Which request a response answered takes part in the
            // fingerprint and is not known here: the ordinary path decides.
            Some(b'c' | b's' | b'h') if is_response_field(name) => self.overflow = true,
            Some(b'e') if is_error_field(name) => self.note_error_text(name, value),
            Some(b't') if name.starts_with(CONTROL_PREFIX) => self.instruction(name, value),
            _ => self.combination.text(name, value),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match Instruction::of(field.name()) {
            Some(Instruction::Skip) => self.skip |= value,
            _ => {
                self.unusual(field);
                self.combination.bool(field.name(), value);
            }
        }
    }

    fn record_f64(&mut self, field: &Field, _: f64) {
        self.unusual(field);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.unusual(field);
        self.combination.signed(field.name(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.unusual_u64(field, value);
        self.combination.unsigned(field.name(), value);
    }

    fn record_i128(&mut self, field: &Field, _: i128) {
        self.unusual(field);
    }

    fn record_u128(&mut self, field: &Field, _: u128) {
        self.unusual(field);
    }

    fn record_error(&mut self, field: &Field, _: &(dyn std::error::Error + 'static)) {
        self.unusual(field);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            // As the ordinary path formats it (`fmt::Arguments` for `error!("...")`).
            self.message.clear();
            if write!(self.message, "{value:?}").is_err() {
                self.overflow = true;
            }
        } else if is_response_field(field.name()) {
            self.overflow = true;
        } else if is_error_field(field.name()) {
            // `error = %e` (as `#[instrument(err)]` records it) or `?e`.
            let mut text = InlineText::<255>::default();
            match write!(text, "{value:?}") {
                Ok(()) => self.note_error_text(field.name(), text.as_str()),
                Err(_) => self.overflow = true,
            }
        } else {
            self.unusual(field);
            self.combination.debug(field.name(), value);
        }
    }
}

/// What an alert inside a request span is grouped by, as the repeat gate
/// keys it: a hash of the request's key (`GET /orders/{id}`, as the
/// fingerprint reads it), never 0; `None` if `fields` describe no request.
/// A span's state keeps it, so that the repeats inside one request span
/// read its fields once.
pub(crate) fn request_key(fields: &Fields) -> Option<u64> {
    let mut hash = QuickHash::default();
    write_request_key(fields, &mut |piece| hash.write(piece)).then(|| hash.finish() | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::record::test_callsite::META;

    #[test]
    fn the_key_follows_the_normalised_message_level_and_fingerprint() {
        fn key(message: &str, level: AlertLevel, fingerprint: Option<u64>) -> Option<GateKey> {
            let mut probe = GateProbe::default();
            probe.set_message(message);
            probe.fingerprint = fingerprint;
            probe.key(&META, level)
        }
        let e = AlertLevel::Error;
        assert_eq!(
            key("timeout after 130 ms", e, None),
            key("timeout after 4127 ms", e, None)
        );
        assert_ne!(
            key("payment failed", e, None),
            key("payment refused", e, None)
        );
        assert_ne!(
            key("payment failed", e, None),
            key("payment failed", AlertLevel::Critical, None)
        );
        assert_eq!(key("a", e, Some(7)), key("b", e, Some(7)));
        let long = "x".repeat(300);
        let mut probe = GateProbe::default();
        probe.set_message(&long);
        assert!(probe.overflow);
    }

    #[test]
    fn texts_that_differ_in_a_few_letters_get_different_keys() {
        let mut keys = std::collections::HashSet::new();
        for n in 0..50_000u32 {
            // `user-` and the number in letters, as user input would be.
            let letters: String = n
                .to_string()
                .bytes()
                .map(|digit| char::from(b'a' + (digit - b'0')))
                .collect();
            let mut probe = GateProbe::default();
            probe.set_message(&format!(
                "import rejected for user user-{letters}: column ssn is not writable"
            ));
            keys.insert(probe.key(&META, AlertLevel::Error).map(|key| key.0));
        }
        assert_eq!(keys.len(), 50_000, "keys collided");
    }
}
