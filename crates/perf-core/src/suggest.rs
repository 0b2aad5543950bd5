//! Helpers for error messages about text a user wrote: "did you mean" and positions.

/// The candidate closest to `word` by edit distance, when it is close enough to be a
/// plausible typo: at most a third of the longer word's length apart (at least 2 edits
/// allowed) and fewer edits than `word` has characters. Ties go to the first candidate.
///
/// ```
/// let keys = ["max_concurrent", "rate_limit_per_second", "enabled"];
/// assert_eq!(perf_core::closest_match("max_concurent", keys), Some("max_concurrent"));
/// assert_eq!(perf_core::closest_match("zzz", keys), None);
/// ```
pub fn closest_match<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let len = word.chars().count();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let d = edit_distance(word, c);
        let allowed = (len.max(c.chars().count()) / 3).max(2);
        if d <= allowed && d < len && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance in characters: insertions, deletions and substitutions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// 1-based line and column (in bytes) of byte `offset` in `text`; an offset past the end
/// counts from the end.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("héllo", "hello"), 1);
    }

    #[test]
    fn closest_match_accepts_typos_and_rejects_strangers() {
        let keys = ["query_count", "query_timeout", "seed"];
        assert_eq!(closest_match("query_cout", keys), Some("query_count"));
        assert_eq!(closest_match("sed", keys), Some("seed"));
        assert_eq!(
            closest_match("x", keys),
            None,
            "one letter is no typo of anything"
        );
        assert_eq!(closest_match("database", keys), None);
    }

    #[test]
    fn line_col_is_one_based() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
