//! Enrich: what the worker adds to a record before it is sanitized — the
//! backtrace resolved to `function (file:line)` lines (captured unresolved
//! on the application's thread, see `capture::backtrace`), with the frames
//! of std, tracing and this crate filtered out.

use backtrace::Backtrace;

use crate::record::Record;
use crate::render::alert::short_path;

/// Symbol prefixes of frames that explain nothing about the application.
const NOISE: &[&str] = &[
    "std::",
    "core::",
    "alloc::",
    "backtrace::",
    "tracing::",
    "tracing_core::",
    "tracing_subscriber::",
    "tracing_telegram::",
    "__rust",
    "rust_begin_unwind",
    "rust_panic",
    "__libc_start",
    "_start",
    "__GI_",
    "clone",
    "start_thread",
];

/// Resolves the record's captured backtrace (if any) into at most `max`
/// frame lines.
pub(crate) fn resolve_backtrace(record: &mut Record, max: usize) {
    if let Some(mut backtrace) = record.backtrace.take() {
        record.frames = resolve(&mut backtrace, max);
    }
}

/// Resolves `backtrace` and returns at most `max` application frames,
/// innermost first.
pub(crate) fn resolve(backtrace: &mut Backtrace, max: usize) -> Vec<String> {
    if max == 0 {
        return Vec::new();
    }
    backtrace.resolve();
    let mut lines = Vec::new();
    for frame in backtrace.frames() {
        for symbol in frame.symbols() {
            let Some(name) = symbol.name().map(|n| format!("{n:#}")) else {
                continue;
            };
            if is_noise(&name) {
                continue;
            }
            let location = match (symbol.filename(), symbol.lineno()) {
                (Some(file), Some(line)) => {
                    format!(" ({}:{line})", short_path(&file.to_string_lossy()))
                }
                _ => String::new(),
            };
            lines.push(format!("{name}{location}"));
            if lines.len() == max {
                return lines;
            }
        }
    }
    lines
}

/// `<usize as core::slice::SliceIndex>::index` counts as core's, and
/// `<T as tracing_subscriber::Layer>::on_event` as tracing's.
fn is_noise(name: &str) -> bool {
    let name = name.trim_start_matches('<');
    let (self_type, trait_path) = name.split_once(" as ").unwrap_or((name, ""));
    let noisy = |path: &str| NOISE.iter().any(|prefix| path.starts_with(prefix));
    noisy(self_type) || noisy(trait_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_limited_and_filtered() {
        #[inline(never)]
        fn application_function() -> Box<Backtrace> {
            crate::capture::backtrace::capture()
        }
        let mut backtrace = application_function();
        let lines = resolve(&mut backtrace, 3);
        assert!(lines.len() <= 3);
        assert!(
            lines
                .iter()
                .all(|l| !l.starts_with("std::") && !l.starts_with("backtrace::")),
            "{lines:#?}"
        );
        assert!(resolve(&mut crate::capture::backtrace::capture(), 0).is_empty());
        assert!(is_noise(
            "<usize as core::slice::index::SliceIndex<[T]>>::index"
        ));
        assert!(is_noise(
            "<my_app::Layer as tracing_subscriber::layer::Layer<S>>::on_event"
        ));
        assert!(!is_noise("my_app::orders::charge::{{closure}}"));
    }
}
