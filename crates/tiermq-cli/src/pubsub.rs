//! `tiermq pub`: stdin lines or generated numbers, with a topic prefix and pacing. (`tiermq sub` prints what it receives as `pull` does.)

use std::time::{Duration, Instant};

use tiermq::{Bytes, Socket};

use crate::args::SocketArgs;
use crate::error::CliResult;
use crate::exchange::{self, SLICE};
use crate::request::next_input;
use crate::stats::Stats;

/// Publishes `--count` generated messages, or else each stdin message, at
/// most `--rate` a second, each with `--topic` in front of its first frame.
pub(crate) fn publish(s: &Socket, args: &SocketArgs, stats: &mut Stats) -> CliResult<()> {
    let mut pace = Pace::new(args.rate);
    match args.count {
        Some(n) => {
            for i in 0..n {
                pace.wait(s, stats);
                let frames = vec![with_topic(&args.topic, i.to_string().as_bytes())];
                exchange::deliver(s, &frames, args, stats)?;
            }
        }
        None => {
            let input = exchange::spawn_stdin(crate::format(args));
            while let Some(mut frames) = next_input(&input, s, stats)? {
                pace.wait(s, stats);
                if let Some(first) = frames.first_mut() {
                    *first = with_topic(&args.topic, first);
                }
                exchange::deliver(s, &frames, args, stats)?;
            }
        }
    }
    Ok(())
}

/// `topic` followed by `body`, as one frame.
fn with_topic(topic: &[u8], body: &[u8]) -> Bytes {
    if topic.is_empty() {
        return Bytes::copy_from_slice(body);
    }
    let mut frame = Vec::with_capacity(topic.len() + body.len());
    frame.extend_from_slice(topic);
    frame.extend_from_slice(body);
    Bytes::from(frame)
}

/// Spaces sends `1/rate` s apart from the first one, so a slow moment is
/// caught up rather than lowering the average.
struct Pace {
    gap: Option<Duration>,
    next: Option<Instant>,
}

impl Pace {
    fn new(rate: Option<u32>) -> Pace {
        Pace {
            gap: rate.map(|r| Duration::from_secs(1) / r.max(1)),
            next: None,
        }
    }

    /// Returns when the next message is due, ticking `--stats` meanwhile.
    fn wait(&mut self, s: &Socket, stats: &mut Stats) {
        let Some(gap) = self.gap else {
            return;
        };
        let now = Instant::now();
        let due = *self.next.get_or_insert(now);
        let mut left = due.saturating_duration_since(now);
        while !left.is_zero() {
            std::thread::sleep(left.min(SLICE));
            stats.tick(s);
            left = due.saturating_duration_since(Instant::now());
        }
        self.next = Some(due + gap);
    }
}
