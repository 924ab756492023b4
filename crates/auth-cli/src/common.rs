//! Helpers shared by the subcommands: exit statuses, token input, output.

use std::error::Error;
use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// How a command ended; becomes the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: success.
    Ok,
    /// 1: the token was rejected, or a remote party could not be used.
    Failed,
    /// 2: bad usage or input.
    Usage,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Ok => ExitCode::SUCCESS,
            Exit::Failed => ExitCode::from(1),
            Exit::Usage => ExitCode::from(2),
        }
    }
}

/// Why a token could not be read.
#[derive(Debug)]
pub(crate) enum InputError {
    /// Standard input could not be read (or is not UTF-8).
    Stdin(io::Error),
    /// The token is empty (after trimming whitespace).
    Empty,
}

impl InputError {
    /// A one-line description.
    pub(crate) fn message(&self) -> String {
        match self {
            InputError::Stdin(e) => format!("cannot read the token from standard input: {e}"),
            InputError::Empty => "the token is empty".to_owned(),
        }
    }
}

/// The token from the `TOKEN` argument, or from stdin when it is `-`, without surrounding
/// whitespace (so `echo "$TOKEN" | auth verify ... -` works).
pub(crate) fn read_token(arg: &str) -> Result<String, InputError> {
    let token = if arg == "-" {
        if io::stdin().is_terminal() {
            eprintln!("reading the token from standard input (end with Ctrl-D)");
        }
        let mut buf = String::new();
        io::stdin()
            .lock()
            .read_to_string(&mut buf)
            .map_err(InputError::Stdin)?;
        buf
    } else {
        arg.to_owned()
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(token.to_owned())
}

/// Writes one line to stdout and flushes it. A closed stdout (`auth ... | head -1`) is not an
/// error worth a panic: the output is simply lost.
pub(crate) fn out(line: impl std::fmt::Display) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// An error and its causes on one line: `a: b: c`.
pub(crate) fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Now, in whole seconds since the Unix epoch.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `in 4m 59s` or `1h 2m ago` for a NumericDate relative to now.
pub(crate) fn relative(at: i64, now: i64) -> String {
    let delta = at.saturating_sub(now);
    if delta == 0 {
        return "now".to_owned();
    }
    let span = human_span(delta.unsigned_abs());
    if delta >= 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

fn human_span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_well() {
        assert_eq!(relative(100, 100), "now");
        assert_eq!(relative(101, 100), "in 1s");
        assert_eq!(relative(399, 100), "in 4m 59s");
        assert_eq!(relative(100, 3820), "1h 2m ago");
        assert_eq!(relative(100 + 2 * 86_400 + 3600, 100), "in 2d 1h");
    }

    #[test]
    fn chains_skip_repeated_causes() {
        let inner = io::Error::other("connection refused");
        let outer = io::Error::other(inner);
        assert_eq!(chain(&outer), "connection refused");
    }
}
