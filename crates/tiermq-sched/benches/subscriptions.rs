//! Cost of matching one topic against 10, 1,000 and 10,000 unrelated
//! subscriptions plus one matching one. The figures should not grow with the
//! number of unrelated subscriptions.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tiermq_sched::{PipeId, Subscriptions};

/// `unrelated` subscriptions none of which is a prefix of the benched topic,
/// spread over 100 pipes, plus one matching one.
fn subscriptions(unrelated: usize) -> Subscriptions {
    let mut subs = Subscriptions::new();
    for i in 0..unrelated {
        // "other.<i>" shares no prefix beyond the trie root with the topic;
        // "market.<i>." shares "market." but diverges after it.
        let prefix = if i % 2 == 0 {
            format!("other.{i:05}")
        } else {
            format!("market.{i:05}.")
        };
        subs.subscribe(PipeId(i % 100), prefix.as_bytes());
    }
    subs.subscribe(PipeId(1000), b"market.EURUSD");
    subs
}

fn bench_matches(c: &mut Criterion) {
    let topic = b"market.EURUSD.bid 1.0842";
    let mut group = c.benchmark_group("matches");
    for unrelated in [10, 1_000, 10_000] {
        group.bench_function(BenchmarkId::new("unrelated", unrelated), |b| {
            let subs = subscriptions(unrelated);
            let mut out = Vec::with_capacity(16);
            b.iter(|| {
                out.clear();
                subs.matches(black_box(topic), &mut out);
                black_box(out.len())
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = bench_matches
}
criterion_main!(benches);
