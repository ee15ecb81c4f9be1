//! Properties of the sanitizer on arbitrary input: it never panics, never
//! grows text without bound, and sanitizing twice equals sanitizing once.

use proptest::prelude::*;
use tracing_telegram::Sanitizer;

/// Fragments that look like parts of secrets, to steer inputs towards the
/// rules' edges.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("password=".to_owned()),
        Just("\"token\": \"".to_owned()),
        Just("postgres://u:".to_owned()),
        Just("@db:5432/x".to_owned()),
        Just("Authorization: Bearer ".to_owned()),
        Just("4242 4242 4242 4242".to_owned()),
        Just("ghp_".to_owned()),
        Just("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.".to_owned()),
        Just("-----BEGIN PRIVATE KEY-----\n".to_owned()),
        Just("123456789:".to_owned()),
        Just("Cookie: a=b\n".to_owned()),
        Just("sk-proj-".to_owned()),
        Just("a@b.co".to_owned()),
        "[A-Za-z0-9_+/=-]{1,50}",
        "[ \\t\\n:=;,&\"'{}()]{1,3}",
        any::<String>(),
    ]
}

fn input() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sanitizing_is_bounded_and_idempotent(text in input(), emails in any::<bool>()) {
        let sanitizer = Sanitizer::new().redact_emails(emails);
        let once = sanitizer.sanitize(&text).into_owned();
        prop_assert!(once.len() <= text.len() * 3 + 64, "grew from {} to {}", text.len(), once.len());
        let twice = sanitizer.sanitize(&once).into_owned();
        prop_assert_eq!(&twice, &once, "not idempotent for {:?}", text);
    }
}
