//! The demo's live output: one row per second of messages per worker, and
//! event lines in between. On a terminal the current second's row is
//! redrawn in place and events are coloured; into a pipe or file it is
//! plain lines with no control codes.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use super::worker::Status;

/// One worker's column in a row.
pub(super) struct Cell {
    /// Messages this period.
    pub(super) rate: usize,
    /// Messages in all.
    pub(super) total: usize,
    /// Running, stalled or killed.
    pub(super) status: Status,
}

/// The kind of an event line, for colour on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tone {
    /// What the demo does next.
    Narration,
    /// The active tier moved to a less preferred one.
    Failover,
    /// The active tier moved back to a more preferred one.
    Failback,
    /// Plain text.
    Plain,
}

/// Writes the demo's output to stdout.
pub(super) struct Screen {
    tty: bool,
    /// A live row is on screen without its newline (terminal only).
    live: bool,
}

const CELL_W: usize = 15;

impl Screen {
    pub(super) fn new() -> Screen {
        Screen {
            tty: std::io::stdout().is_terminal(),
            live: false,
        }
    }

    fn emit(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        // A closed stdout does not stop the demo: its verdict is the exit code.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Clears a live row before other output takes its line.
    fn clear_live(&mut self) {
        if self.live {
            self.emit("\r\x1b[K");
            self.live = false;
        }
    }

    /// The header: worker names and tiers.
    pub(super) fn header(&mut self, workers: &[(&str, u8)]) {
        let mut names = format!("{:>7} ", "time");
        let mut units = format!("{:>7} ", "");
        for (name, tier) in workers {
            names.push_str(&format!("{:>CELL_W$}", format!("{name} [{tier}]")));
            units.push_str(&format!("{:>CELL_W$}", "/s    total"));
        }
        names.push_str("   active");
        units.push_str("     tier");
        self.line(&names, Tone::Plain);
        self.line(&units, Tone::Plain);
    }

    /// An event line, stamped with the demo time.
    pub(super) fn event(&mut self, at: Duration, text: &str, tone: Tone) {
        let line = format!("{:>6.1}s  {text}", at.as_secs_f64());
        self.line(&line, tone);
    }

    /// A line of text, coloured on a terminal.
    pub(super) fn line(&mut self, text: &str, tone: Tone) {
        self.clear_live();
        let text = if self.tty {
            match tone {
                Tone::Narration => format!("\x1b[1m{text}\x1b[0m"),
                Tone::Failover => format!("\x1b[33m{text}\x1b[0m"),
                Tone::Failback => format!("\x1b[32m{text}\x1b[0m"),
                Tone::Plain => text.to_owned(),
            }
        } else {
            text.to_owned()
        };
        self.emit(&format!("{text}\n"));
    }

    /// A row of counts. `done`: the second is over, keep the row; else (on a
    /// terminal only) draw it in place, to be redrawn.
    pub(super) fn row(&mut self, second: u64, cells: &[Cell], tier: Option<u8>, done: bool) {
        if !done && !self.tty {
            return;
        }
        let mut text = format!("{:>6}s ", second);
        for c in cells {
            let rate = match c.status {
                Status::Killed => "down".to_owned(),
                Status::Stalled => "stall".to_owned(),
                Status::Running => c.rate.to_string(),
            };
            text.push_str(&format!("{:>6} {:>8}", rate, c.total));
        }
        let tier = tier.map_or_else(|| "-".to_owned(), |t| t.to_string());
        text.push_str(&format!("{tier:>9}"));
        self.clear_live();
        if done {
            self.emit(&format!("{text}\n"));
        } else {
            self.emit(&text);
            self.live = true;
        }
    }
}
