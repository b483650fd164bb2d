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

/// How long Lambda may wait to fill a batch (`MaximumBatchingWindowInSeconds`). One second
/// adds at most a second to an ack that is only worth sending within minutes, and during a
/// burst fills batches instead of invoking once per record.
pub const MAXIMUM_BATCHING_WINDOW_SECONDS: u64 = 1;

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
