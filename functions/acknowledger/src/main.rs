//! DynamoDB stream consumer: one acknowledgement per new ticket. Also run by an EventBridge
//! schedule, which sweeps acks left `sending` by an invocation that died (`ack::sweep`).

use intake::ack::Acknowledger;
use intake::ack::sweep::Sweeper;
use intake::ack::trigger::Trigger;
use intake::store::Store;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    intake::telemetry::init();
    let sdk = intake::aws::load().await;
    let config = intake::Config::load(&sdk).await?;
    let store = Store::from_sdk_config(&sdk, &config.table_name);
    let clients = intake::providers::Clients::new(&sdk)?;
    let acknowledger =
        std::sync::Arc::new(Acknowledger::from_config(&config, store.clone(), &clients));
    // Stale claims are sent again through this same acknowledger where that is safe (LINE).
    let sweeper =
        Sweeper::new(store, intake::metrics::stdout()).resending_with(acknowledger.clone());
    let (acknowledger, sweeper) = (&acknowledger, &sweeper);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            match Trigger::from_value(event.payload)? {
                Trigger::Stream(batch) => {
                    let response = acknowledger.handle_event(*batch).await;
                    Ok::<_, lambda_runtime::Error>(serde_json::to_value(response)?)
                }
                Trigger::Schedule => {
                    let report = sweeper.sweep(jiff::Timestamp::now()).await?;
                    tracing::info!(?report, "stale ack claims swept");
                    Ok(serde_json::to_value(report)?)
                }
            }
        },
    ))
    .await
}
