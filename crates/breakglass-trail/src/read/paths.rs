//! Which files of a directory tree in the CloudTrail S3 key layout are trail objects.
//!
//! The caller walks the file system; this only judges relative paths, so the rule is testable
//! and the library stays free of I/O.

/// Is this path under a `CloudTrail-Digest` folder (integrity digests, not events)?
pub fn is_digest_path(path: &str) -> bool {
    path.split(['/', '\\'])
        .any(|part| part.eq_ignore_ascii_case("CloudTrail-Digest"))
}

/// Should a directory scan read this file? JSON, JSON lines and their gzip forms, outside
/// `CloudTrail-Digest/`. Files named explicitly are read whatever their name.
pub fn is_trail_object(path: &str) -> bool {
    if is_digest_path(path) {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    let name = lower.strip_suffix(".gz").unwrap_or(&lower);
    [".json", ".jsonl", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_layout_objects_are_read_and_digests_skipped() {
        assert!(is_trail_object(
            "AWSLogs/o-abc/111122223333/CloudTrail/us-east-1/2024/03/01/111122223333_CloudTrail_us-east-1_20240301T1000Z_abc.json.gz"
        ));
        assert!(is_trail_object("export/events.ndjson"));
        assert!(is_trail_object("x/EVENTS.JSON"));
        assert!(!is_trail_object(
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/01/x.json.gz"
        ));
        assert!(!is_trail_object("notes.txt"));
        assert!(!is_trail_object("archive.tar.gz"));
    }
}
