//! The incident stage: whether a new kind alerts on its own or is named in
//! an incident ([`incident`](super::incident) keeps them), as this process
//! decides or, with a fleet, as the fleet decided (the worker asks it with
//! [`Pipeline::incident_question`] before the record comes in); and the
//! incident messages: the first, and the edits as problems join and
//! repeat, here or in other processes.

use crate::alert::AlertLevel;
use crate::chat::Target;
use crate::delivery::Message;
use crate::fleet::claim::Claim;
use crate::record::{Occurrence, Origin, Record};
use crate::render;

use super::incident::{self, Admission, FleetAdmission, IncidentMember};
use super::{fingerprint, Heading, IncidentConfig, Pipeline};

impl Pipeline {
    /// Whether a new kind alerts on its own or in an incident (only
    /// events do: a manual alert is always its own), as the fleet decided
    /// (`incident`) or, without one, in this process.
    pub(super) fn admit_to_incident(
        &mut self,
        record: &Record,
        fingerprint: Option<u64>,
        incident: Option<FleetAdmission>,
    ) -> Admission {
        let Some(kind) = self.incident_kind(record, fingerprint) else {
            return Admission::Own;
        };
        let now = (self.clock.now(), self.clock.wall());
        match incident {
            Some(answer) => {
                let chat = chat_key(&kind.target);
                self.incidents.admit_from_fleet(kind, answer, &chat, now)
            }
            None => self.incidents.admit(kind, now.0, now.1),
        }
    }

    /// A record as a problem an incident may name: a new kind of event
    /// (not Critical) while incidents are on.
    fn incident_kind(&self, record: &Record, fingerprint: Option<u64>) -> Option<incident::Kind> {
        let (Some(fingerprint), Occurrence::Alert, Origin::Event(_)) =
            (fingerprint, &record.occurrence, &record.origin)
        else {
            return None;
        };
        if !self.incidents.enabled() || record.level == AlertLevel::Critical {
            return None;
        }
        let problem = match record.family {
            // A callsite's variants (and its fold) are one problem.
            Some(_) => fingerprint::callsite_fingerprint(record),
            None => fingerprint,
        };
        Some(incident::Kind {
            fingerprint,
            problem,
            title: self.safe_title(record),
            level: record.level,
            target: self.target_of(record),
        })
    }

    /// For a record the fleet claimed for this process (`Claim::First`):
    /// what to ask the fleet about incidents — the chat's key, the member,
    /// and the rules. `None`: nothing to ask.
    pub(crate) fn incident_question(
        &self,
        record: &Record,
        key: Option<u64>,
        claim: Claim,
    ) -> Option<(String, IncidentMember, IncidentConfig)> {
        if claim != Claim::First {
            return None;
        }
        let kind = self.incident_kind(record, key)?;
        Some((
            chat_key(&kind.target),
            incident::new_member(&kind),
            self.incidents.config(),
        ))
    }

    /// Counts of this process's kinds that live in another process's
    /// incident, for the fleet.
    pub(crate) fn take_incident_updates(&mut self) -> Vec<(String, IncidentMember)> {
        self.incidents.take_updates()
    }

    /// Whether this process holds a fleet incident (then it reads the
    /// fleet's copy about once a second).
    pub(crate) fn holds_incidents(&self) -> bool {
        self.incidents.holds_any()
    }

    /// The fleet incidents this process holds (chat key, version read).
    pub(crate) fn held_incidents(&self) -> Vec<(String, u64)> {
        self.incidents.held()
    }

    /// What the fleet's copy of a held incident says: the edit due.
    pub(crate) fn merge_incident(
        &mut self,
        chat: &str,
        version: u64,
        members: &[IncidentMember],
    ) -> Vec<Message> {
        if self.incidents.merge(chat, version, members) {
            return self.incident_edits();
        }
        Vec::new()
    }

    /// The fleet's incident of `chat` is no longer this process's.
    pub(crate) fn let_go_of_incident(&mut self, chat: &str) {
        self.incidents.let_go(chat);
    }

    /// The first message of incident `id`; it settles the record that
    /// opened it.
    pub(super) fn render_incident(&mut self, id: u64) -> Vec<Message> {
        let quiet = self.in_quiet_hours();
        let ctx = self.config.render_context(0);
        let Some((target, text)) = self.incidents.text(id) else {
            return Vec::new();
        };
        let html = render::incident::render_incident(&text, &ctx);
        let heading = Heading::new(text.level, "Incident");
        let mut message = Message::page(text.level, heading.title, &target, html);
        message.silent = super::silent(text.level, quiet);
        message.records = 1;
        message.fingerprint = Some(id);
        vec![message]
    }

    /// Edits of the delivered incidents that changed.
    pub(super) fn incident_edits(&mut self) -> Vec<Message> {
        let ctx = self.config.render_context(0);
        self.incidents
            .take_edits()
            .into_iter()
            .map(|(message_id, target, text)| {
                let html = render::incident::render_incident(&text, &ctx);
                let mut edit = Message::page(text.level, "Incident".to_owned(), &target, html);
                edit.silent = true;
                edit.edit = Some(message_id);
                edit
            })
            .collect()
    }
}

/// The fleet's key for a destination: chat and topic.
fn chat_key(target: &Target) -> String {
    format!("{}:{}", target.chat_id, target.thread_id.unwrap_or(0))
}
