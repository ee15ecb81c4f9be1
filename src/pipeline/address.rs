//! Before stage 1: what a record is, where the application's thread could
//! not tell cheaply, and where it goes — a target or field route decides
//! before the hook or the sanitizer change its fields (see `chat::Routes`).

use crate::chat::Target;
use crate::record::{grpc, Occurrence, Record};

use super::Pipeline;

impl Pipeline {
    /// Before stage 1: what the record is, where the application's thread
    /// could not tell cheaply — a gRPC call the caller got wrong (tower-http's
    /// `classification = "Code: 5"`) is counted in the digest, not alerted.
    /// A record a target or field route claims is addressed here, before
    /// the hook or the sanitizer change its fields.
    pub(crate) fn classify(&self, record: &mut Record) {
        if record.occurrence == Occurrence::Alert && grpc::is_client_error_report(&record.fields) {
            record.occurrence = Occurrence::DigestOnly;
        }
        let target = record.location().map(|location| location.target);
        let routed = self
            .addresses
            .routes
            .specific(target, |name, value| record.carries(name, value));
        record.routed = routed.cloned().map(Box::new);
    }

    /// Where an alert of `record` goes: its route, else its level's.
    pub(crate) fn target_of(&self, record: &Record) -> Target {
        match &record.routed {
            Some(routed) => (**routed).clone(),
            None => self.addresses.routes.target(record.level),
        }
    }
}
