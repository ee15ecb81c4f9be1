//! The `before_send` stage: the user's last look at an alert.
//!
//! The hook runs in the worker, on every record before anything else
//! changes it. It fails closed: a hook that panics (it may be the user's
//! redaction) drops the record rather than sending what it was meant to
//! clean; the pipeline says so once per digest window (see
//! `Pipeline::hook_panicked`).

use crate::alert::Alert;
use crate::hooks::{call_user_hook, BeforeSend};
use crate::record::{FieldValue, Record};
use crate::text::panic_text;

/// What the hook decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HookVerdict {
    /// Send the record (possibly edited).
    Keep,
    /// The hook returned `false`.
    Drop,
    /// The hook panicked (with this message): the record is dropped, unsent.
    Panicked(String),
}

impl BeforeSend {
    /// Shows the record to the hook as an [`Alert`] and applies what it
    /// changed. A panic in the hook is caught (the worker must not die).
    pub(crate) fn run(&self, record: &mut Record) -> HookVerdict {
        let outcome = call_user_hook(|| run_hook(self, record));
        match outcome {
            Ok(true) => HookVerdict::Keep,
            Ok(false) => HookVerdict::Drop,
            Err(payload) => HookVerdict::Panicked(panic_text(payload.as_ref())),
        }
    }
}

/// Fields the hook left as they were keep their original values (error
/// chains included).
fn run_hook(hook: &BeforeSend, record: &mut Record) -> bool {
    let mut alert = Alert {
        level: record.level,
        title: record.title.clone().unwrap_or_default(),
        text: Some(record.message.to_string()).filter(|m| !m.is_empty()),
        details: record
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), value.to_string()))
            .collect(),
    };
    if !(hook.0)(&mut alert) {
        return false;
    }
    record.level = alert.level;
    record.title = Some(alert.title).filter(|t| !t.is_empty());
    record.message = alert.text.unwrap_or_default().into();
    let mut original = std::mem::take(&mut record.fields);
    record.fields = alert
        .details
        .into_iter()
        .map(|(name, text)| {
            let kept = original
                .iter()
                .position(|(n, v)| *n == name && v.to_string() == text)
                .map(|i| original.swap_remove(i).1);
            let value = kept.unwrap_or(FieldValue::Str(text));
            (name, value)
        })
        .collect();
    true
}
