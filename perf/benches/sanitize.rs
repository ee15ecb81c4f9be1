#![allow(missing_docs)] // criterion_group! generates undocumented items
//! Cost of sanitizing a typical 1 KB alert text, in the worker. Baseline in
//! the same run: copying the text (what any pipeline stage costs at least).
//!
//! Run: `cargo bench --bench sanitize`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tracing_telegram::Sanitizer;

/// About 1 KB of an ordinary alert: message, fields, span trace; no secrets.
fn clean_alert() -> String {
    let text = "🔴 ERROR · orders-api · production\n\n\
        payment provider refused the charge for order 77 after 3 attempts (took 1234 ms)\n\n\
        📍 orders_api::payments at src/payments/charge.rs:142\n\n\
        Fields\n• order_id: 77\n• customer_id: 550e8400-e29b-41d4-a716-446655440000\n\
        • amount_cents: 1250\n• currency: EUR\n• provider: acme-pay\n• attempt: 3\n\
        • error: upstream returned 502 Bad Gateway\n   ↳ caused by: connection reset by peer\n\n\
        Span trace\n\
        http_request{method=POST, route=/api/v1/orders/{id}/charge, status=502} · tower_http::trace\n\
        checkout{order_id=77, cart_items=3, region=eu-west-1} · orders_api::checkout\n\
        charge{provider=acme-pay, idempotency_key=7d9f0a2c4b6e8d1f} · orders_api::payments\n\
        call_gateway{host=gateway.acme-pay.example, port=443, timeout_ms=3000} · orders_api::http\n\n\
        🕒 2026-11-28 09:01:02 UTC\n";
    let mut text = text.to_owned();
    while text.len() < 1024 {
        text.push_str("retry scheduled in 250 ms for trace 4bf92f3577b34da6 ");
    }
    text
}

fn sanitize(c: &mut Criterion) {
    let sanitizer = Sanitizer::new();
    let clean = clean_alert();
    let dirty = clean.replacen(
        "order 77",
        "order 77 via postgres://billing:s3cr3t@db:5432/app with password=hunter2",
        1,
    );
    // Compile the rules outside the measurement.
    black_box(sanitizer.sanitize("warm-up password=x"));

    let mut group = c.benchmark_group("sanitize 1 KB alert");
    group.bench_function("baseline: copy the text", |b| {
        b.iter(|| black_box(black_box(clean.as_str()).to_owned()))
    });
    group.bench_function("no secrets", |b| {
        b.iter(|| black_box(sanitizer.sanitize(black_box(&clean)).len()))
    });
    group.bench_function("two secrets", |b| {
        b.iter(|| black_box(sanitizer.sanitize(black_box(&dirty)).len()))
    });
    group.finish();
}

criterion_group!(benches, sanitize);
criterion_main!(benches);
