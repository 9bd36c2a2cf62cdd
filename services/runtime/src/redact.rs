//! Secrets kept out of what people see: a source URL's credentials and
//! query (signed URLs carry their signature there) in every view, event and
//! log line; a connection string's password in `--print-config`.

/// The URL with its user-info and query string replaced by `redacted`
/// (the download stage still uses the real one).
pub fn url(raw: &str) -> String {
    let Ok(mut shown) = ::url::Url::parse(raw) else { return "<not a valid URL>".to_owned() };
    if !shown.username().is_empty() || shown.password().is_some() {
        let _ = shown.set_password(None);
        let _ = shown.set_username("redacted");
    }
    if shown.query().is_some() {
        shown.set_query(Some("redacted"));
    }
    shown.set_fragment(None);
    shown.to_string()
}

/// A connection URL (`postgres://user:password@host/db`, `nats://…`) with
/// its password replaced by `redacted`.
pub fn password(raw: &str) -> String {
    match ::url::Url::parse(raw) {
        Ok(mut shown) if shown.password().is_some() => {
            let _ = shown.set_password(Some("redacted"));
            shown.to_string()
        }
        _ => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_signatures_are_hidden() {
        assert_eq!(
            url("https://ann:s3cret@media.example/talk.mp3?X-Amz-Signature=abc#t=1"),
            "https://redacted@media.example/talk.mp3?redacted"
        );
        assert_eq!(url("https://media.example/talk.mp3"), "https://media.example/talk.mp3");
        assert_eq!(url("not a url"), "<not a valid URL>");
    }

    #[test]
    fn connection_passwords_are_hidden() {
        assert_eq!(password("postgres://steno:pw@db:5432/steno"), "postgres://steno:redacted@db:5432/steno");
        assert_eq!(password("postgres://db/steno"), "postgres://db/steno");
        assert_eq!(password("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
