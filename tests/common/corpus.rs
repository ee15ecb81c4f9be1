//! The secret corpus (`tests/corpus/secrets.tsv`), for every test that
//! checks nothing secret leaves.
#![allow(dead_code)] // each test binary uses its part

/// One line of `tests/corpus/secrets.tsv`.
pub struct Case {
    pub kind: String,
    pub secret: String,
    pub text: String,
    pub emails: bool,
    /// The secret is caught on its own, without the words around it (a
    /// prefixed or structured format).
    pub bare: bool,
}

/// The corpus: add a line to the TSV file to cover a new format or context.
pub fn corpus() -> Vec<Case> {
    let file = include_str!("../corpus/secrets.tsv");
    file.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            assert!(columns.len() >= 3, "malformed corpus line: {line}");
            let secret = columns[1].replace("\\n", "\n");
            Case {
                kind: columns[0].to_owned(),
                text: columns[2].replace("\\n", "\n").replace("{}", &secret),
                secret,
                emails: columns.get(3).is_some_and(|o| o.contains("emails")),
                bare: columns.get(3).is_some_and(|o| o.contains("bare")),
            }
        })
        .collect()
}

/// The parts of a secret that must not survive: the whole, and each run of
/// 8 or more letters and digits that has a letter in it (so that a bot id
/// kept as context, `123456:***`, passes but a leaked secret half does not).
pub fn leaks<'a>(secret: &'a str, text: &str) -> Option<&'a str> {
    let runs = secret
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|run| run.len() >= 8 && run.chars().any(|c| c.is_ascii_alphabetic()));
    std::iter::once(secret)
        .chain(runs)
        .find(|part| text.contains(part))
}
