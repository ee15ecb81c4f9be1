//! The `before_send` stage: the user's last look at an alert.
//!
//! The hook runs in the worker, on every record before anything else
//! changes it. It fails closed: a hook that panics (it may be the user's
//! redaction) drops the record rather than sending what it was meant to
//! clean, and says so once.

use std::fmt;
use std::sync::Arc;

use crate::alert::Alert;
use crate::record::{FieldValue, Record};

/// The `before_send` hook: may edit an alert; `false` drops it.
#[derive(Clone)]
pub(crate) struct BeforeSend(pub(crate) Arc<dyn Fn(&mut Alert) -> bool + Send + Sync>);

impl fmt::Debug for BeforeSend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BeforeSend(..)")
    }
}

/// What the hook decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HookVerdict {
    /// Send the record (possibly edited).
    Keep,
    /// The hook returned `false`.
    Drop,
    /// The hook panicked: the record is dropped, unsent.
    Panicked,
}

impl BeforeSend {
    /// Shows the record to the hook as an [`Alert`] and applies what it
    /// changed. A panic in the hook is caught (the worker must not die).
    pub(crate) fn run(&self, record: &mut Record) -> HookVerdict {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_hook(self, record)));
        match outcome {
            Ok(true) => HookVerdict::Keep,
            Ok(false) => HookVerdict::Drop,
            Err(_) => HookVerdict::Panicked,
        }
    }
}

/// Fields the hook left as they were keep their original values (error
/// chains included).
fn run_hook(hook: &BeforeSend, record: &mut Record) -> bool {
    let mut alert = Alert {
        level: record.level,
        title: record.title.clone().unwrap_or_default(),
        message: Some(record.message.to_string()).filter(|m| !m.is_empty()),
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
    record.message = alert.message.unwrap_or_default().into();
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
