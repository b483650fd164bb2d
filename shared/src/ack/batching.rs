//! How the acknowledger's stream records are batched: the one place for the event source
//! mapping's settings (the SAM and CDK templates state the same numbers, and
//! `tests/infra_consistency.rs` checks them) and for how many records of a batch are acked
//! at once. The local stream poller reads its batches with these numbers too, so the local
//! stack delivers what the cloud would.

/// Records per invocation (`BatchSize`). Ten tickets in one invocation are acked together
/// (see [`ACK_CONCURRENCY`]) in about the time of one, so a burst drains ten times faster per
/// shard than one record per invocation, while a batch whose provider calls all time out
/// still ends well within the function's timeout.
pub const BATCH_SIZE: usize = 10;

/// How long Lambda may wait to fill a batch (`MaximumBatchingWindowInSeconds`): not at all.
/// The promise is "we got your message" at once, and a window delays every quiet-time ack by
/// up to its length while buying nothing in a burst: Lambda polls a shard four times a second,
/// and at 40 new tickets a second or more a poll already finds a full batch. (The load
/// harness measured the local poller both ways; BENCHMARKS.md, "Load harness".)
pub const MAXIMUM_BATCHING_WINDOW_SECONDS: u64 = 0;

/// Batches of one shard processed at once (`ParallelizationFactor`). Lambda keeps the order
/// of records with the same key, and each ticket is its own key, so four batches of a shard
/// can run side by side: up to 4 × [`BATCH_SIZE`] acks in flight per shard.
pub const PARALLELIZATION_FACTOR: u32 = 4;

/// Records of one batch acked at once. An ack is three DynamoDB calls (milliseconds each:
/// read, claim, record; see [`crate::ack`]) around one provider call of 100–300 ms, so it waits on the network almost all the
/// time: acking the whole batch at once makes a batch take about as long as its slowest ack
/// instead of the sum of them. Bounded all the same (equal to the batch size, so a batch is
/// one wave) so that a larger batch size never opens more connections to a provider at once
/// than this.
pub const ACK_CONCURRENCY: usize = BATCH_SIZE;

/// The event source mapping's `FilterCriteria` pattern: only the INSERT of a ticket's own item
/// invokes the acknowledger. Lambda drops every other record (messages, contacts, dedup and
/// reference items, every MODIFY and REMOVE) before batching, so a batch of
/// [`BATCH_SIZE`] is ten new tickets, not the one or two among the eight-odd stream records
/// each ticket writes. Both templates carry this pattern (`tests/infra_consistency.rs`).
pub fn filter_pattern() -> serde_json::Value {
    serde_json::json!({
        "eventName": ["INSERT"],
        "dynamodb": {
            "Keys": {
                "pk": { "S": [{ "prefix": crate::store::keys::ticket("") }] },
                "sk": { "S": [crate::store::keys::TICKET_SK] }
            }
        }
    })
}

/// Whether a stream record passes [`filter_pattern`]: what the local stream poller hands the
/// acknowledger, as Lambda would.
pub fn passes_filter(event_name: &str, pk: &str, sk: &str) -> bool {
    event_name == "INSERT"
        && crate::store::keys::ticket_id(pk).is_some()
        && sk == crate::store::keys::TICKET_SK
}

#[cfg(test)]
mod tests {
    use super::{filter_pattern, passes_filter};

    /// The pattern read as Lambda reads it (exact strings and one `prefix`), for the shapes
    /// the table writes.
    fn pattern_matches(event_name: &str, pk: &str, sk: &str) -> bool {
        let p = filter_pattern();
        let exact = |v: &serde_json::Value, s: &str| {
            v.as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str() == Some(s)))
        };
        let prefix = p["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"]
            .as_str()
            .unwrap_or("\u{0}");
        exact(&p["eventName"], event_name)
            && pk.starts_with(prefix)
            && exact(&p["dynamodb"]["Keys"]["sk"]["S"], sk)
    }

    #[test]
    fn the_local_filter_is_the_mappings_pattern() {
        for event in ["INSERT", "MODIFY", "REMOVE"] {
            for pk in [
                "TICKET#01J",
                "CONTACT#sms#+62812",
                "DEDUP#twilio#SM1",
                "REF#ABC",
            ] {
                for sk in ["META", "MSG#2026", "PROFILE", "DEDUP", "REF"] {
                    assert_eq!(
                        passes_filter(event, pk, sk),
                        pattern_matches(event, pk, sk),
                        "{event} {pk} {sk}"
                    );
                }
            }
        }
        assert!(passes_filter("INSERT", "TICKET#01J", "META"));
    }
}
