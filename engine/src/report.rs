//! What the binaries report: an error with its causes on one line.

use std::error::Error;

/// `error: cause: cause's cause`, leaving out a cause whose text the line
/// already holds (many errors, sqlx's and the engine's among them, write
/// their source into their own message as well).
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("context")]
    struct Context(#[source] Outer);

    #[test]
    fn causes_already_written_are_not_repeated() {
        let io = std::io::Error::other("refused");
        assert_eq!(error_chain(&Context(Outer(io))), "context: outer: refused");
    }
}
