//! Backtrace capture on the application's thread: just the instruction
//! pointers (cheap); the worker resolves them (`pipeline::enrich`).

use backtrace::Backtrace;

/// Captures the current stack without resolving symbols.
pub(crate) fn capture() -> Box<Backtrace> {
    Box::new(Backtrace::new_unresolved())
}
