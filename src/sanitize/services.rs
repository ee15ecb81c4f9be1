//! Prefixed credentials of widely used services, from the formats public
//! secret-scanner rule sets document (gitleaks, trufflehog), kept only
//! where a prefix or a structure makes a match unambiguous: no entropy
//! guessing, no "32 hex characters near the word stripe". Each rule is an
//! alternation whose every branch captures the part kept as context (the
//! prefix, or nothing), so `npm_abc…` becomes `npm_***`.
//!
//! `tests/corpus/secrets.tsv` has a line per format, and
//! `tests/corpus/not_secrets.txt` the look-alikes that must survive.

use regex::Captures;

use super::{BuiltIn, REDACTED};

/// The kept context (the first branch that matched captures it), then the
/// redaction marker.
fn keep_prefix(c: &Captures<'_>) -> String {
    let prefix = c.iter().skip(1).flatten().next().map_or("", |m| m.as_str());
    format!("{prefix}{REDACTED}")
}

/// The service rules, grouped by the kind of service.
pub(super) const SERVICES: &[BuiltIn] = &[
    BuiltIn {
        name: "package registry token (npm, PyPI, RubyGems, crates.io, Docker Hub, Clojars)",
        pattern: concat!(
            r"(?-u:\b)(?:(npm_)[A-Za-z0-9]{36}",
            r"|(pypi-)AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}",
            r"|(rubygems_)[a-f0-9]{48}",
            r"|(cio)[A-Za-z0-9]{32}",
            r"|(dckr_pat_)[A-Za-z0-9_-]{27}",
            r"|(CLOJARS_)[a-z0-9]{60})(?-u:\b)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "ML hub token (Hugging Face, Replicate, Groq, Perplexity)",
        pattern: concat!(
            r"(?-u:\b)(?:(hf_)[A-Za-z]{34}",
            r"|(api_org_)[A-Za-z]{34}",
            r"|(r8_)[A-Za-z0-9]{37}",
            r"|(gsk_)[A-Za-z0-9]{52}",
            r"|(pplx-)[A-Za-z0-9]{48})(?-u:\b)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "cloud API token (DigitalOcean, Alibaba, Azure AD, Heroku, Bedrock, Cloudflare CA, Databricks, Supabase, Fly.io, PlanetScale, Terraform, Vault, Doppler, Pulumi, age)",
        pattern: concat!(
            r"(?-u:\b)(?:(do[opr]_v1_)[a-f0-9]{64}",
            r"|(LTAI)[A-Za-z0-9]{20}",
            r"|()[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
            r"|(HRKU-)AA[A-Za-z0-9_-]{58}",
            r"|(ABSK)[A-Za-z0-9+/]{109,269}={0,2}",
            r"|(v1\.0-)[a-f0-9]{24}-[a-f0-9]{146}",
            r"|(dapi)[a-f0-9]{32}(?:-[0-9])?",
            r"|(sbp_)[a-f0-9]{40}",
            r"|(fo1_)[A-Za-z0-9_-]{43}",
            r"|(pscale_(?:tkn|pw|oauth)_)[A-Za-z0-9_=.-]{32,64}",
            r"|()[a-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
            r"|(hv[sb]\.)[A-Za-z0-9_-]{90,300}",
            r"|(dp\.pt\.)[A-Za-z0-9]{43}",
            r"|(pul-)[a-f0-9]{40}",
            r"|(AGE-SECRET-KEY-1)[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "mail and SMS provider key (SendGrid, Brevo, Mailgun, Mailchimp, Twilio)",
        pattern: concat!(
            r"(?-u:\b)(?:(SG\.)[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
            r"|(xkeysib-)[a-f0-9]{64}-[A-Za-z0-9]{16}",
            r"|(key-)[a-f0-9]{32}",
            r"|()[a-f0-9]{32}-us[0-9]{1,2}",
            r"|(SK)[0-9a-fA-F]{32})(?-u:\b)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "shop and payment platform token (Shopify, Square, Shippo, EasyPost, Duffel, Flutterwave)",
        pattern: concat!(
            r"(?-u:\b)(?:(shp(?:at|ca|pa|ss)_)[a-fA-F0-9]{32}",
            r"|(sq0(?:atp|csp)-)[A-Za-z0-9_-]{22,43}",
            r"|(shippo_(?:live|test)_)[a-fA-F0-9]{40}",
            r"|(EZ[AT]K)[A-Za-z0-9]{54}",
            r"|(duffel_(?:test|live)_)[A-Za-z0-9_=-]{43}",
            r"|(FLWSECK(?:_TEST)?-)[A-Za-z0-9]{32}-X)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "webhook secret or URL (Stripe, Discord, Microsoft Teams)",
        pattern: concat!(
            r"(?:(?-u:\b)(whsec_)[A-Za-z0-9+/=]{32,}",
            r"|(discord(?:app)?\.com/api/webhooks/[0-9]+/)[A-Za-z0-9_-]{60,}",
            r"|(\.webhook\.office\.com/webhookb2/)[^\s]+)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "chat app token (Slack app-level, Discord bot)",
        pattern: concat!(
            r"(?-u:\b)(?:(xapp-)[0-9]-[A-Z0-9]+-[0-9]+-[a-z0-9]+",
            r"|()[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38})(?-u:\b)",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "CI runner and deploy token (GitLab runner, deploy, job, trigger, feed, agent, OAuth app; Buildkite; Atlassian; Linear; Postman)",
        pattern: concat!(
            r"(?-u:\b)(?:(glrt-)[A-Za-z0-9_-]{20,}",
            r"|(gldt-)[A-Za-z0-9_-]{20}",
            r"|(glcbt-)[A-Za-z0-9]{1,5}_[A-Za-z0-9_-]{20}",
            r"|(glptt-)[a-f0-9]{40}",
            r"|(glft-)[A-Za-z0-9_-]{20}",
            r"|(glimt-)[A-Za-z0-9_-]{25}",
            r"|(glagent-)[A-Za-z0-9_-]{50}",
            r"|(gloas-)[A-Za-z0-9_-]{64}",
            r"|(glsoat-)[A-Za-z0-9_-]{20}",
            r"|(GR1348941)[A-Za-z0-9_-]{20}",
            r"|(bkua_)[a-f0-9]{40}",
            r"|(ATATT3)[A-Za-z0-9_=-]{186}",
            r"|(lin_api_)[A-Za-z0-9]{40}",
            r"|(PMAK-)[a-f0-9]{24}-[a-f0-9]{34})",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "error reporting and observability (Sentry DSN and tokens, Grafana, New Relic, Dynatrace)",
        pattern: concat!(
            r"(?:(https?://)[0-9a-f]{32}(?::[0-9a-f]{32})?(?-u:\b)",
            r"|(?-u:\b)(sntryu_)[a-f0-9]{64}",
            r"|(?-u:\b)(sntrys_)[A-Za-z0-9+/=_]{50,}",
            r"|(?-u:\b)(glc_)[A-Za-z0-9+/]{32,400}={0,2}",
            r"|(?-u:\b)(glsa_)[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
            r"|(?-u:\b)(NR(?:AK|II|JS)-)[A-Za-z0-9-]{19,32}",
            r"|(?-u:\b)(dt0c01\.)[A-Za-z0-9]{24}\.[A-Za-z0-9]{64})",
        ),
        replace: keep_prefix,
    },
    BuiltIn {
        name: "cloud storage signed URL (S3, GCS, Azure SAS)",
        pattern: r#"(?i)([?&](?:x-amz-signature|x-amz-security-token|x-amz-credential|x-goog-signature|x-goog-credential|sig)=)[^&\s"'#]+"#,
        replace: keep_prefix,
    },
];
