//! "Did you mean ...?": the closest known name to a mistyped one.
//!
//! Why: a file with `screen_lok = true` must be refused (a silently ignored key reads as
//! "no screen lock"), and the refusal is most useful when it names the key that was meant.
//! Names here are short (keys, codes), so a plain edit distance is cheap enough.

/// The candidate closest to `word` (case-insensitive edit distance), if it is close:
/// at most a third of the word's length, and at least one edit, away. Ties go to the
/// first candidate.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (distance(&word, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters (two rows; names are short).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested_far_ones_not() {
        let keys = ["platform", "model", "screen_lock", "emails"];
        assert_eq!(closest("screen_lok", keys), Some("screen_lock"));
        assert_eq!(closest("Email", keys), Some("emails"));
        assert_eq!(closest("mdel", keys), Some("model"));
        assert_eq!(closest("kernel", keys), None);
        assert_eq!(closest("", keys), None);
        assert_eq!(closest("x", std::iter::empty()), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
