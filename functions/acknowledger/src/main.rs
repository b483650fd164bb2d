//! DynamoDB stream consumer: one acknowledgement per new ticket.

use aws_lambda_events::event::dynamodb::Event;
use intake::ack::Acknowledger;
use intake::store::Store;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    intake::telemetry::init();
    let sdk = intake::aws::load().await;
    let config = intake::Config::load(&sdk).await?;
    let store = Store::from_sdk_config(&sdk, &config.table_name);
    let clients = intake::providers::Clients::new(&sdk)?;
    let acknowledger = Acknowledger::from_config(&config, store, &clients);
    let acknowledger = &acknowledger;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(acknowledger.handle_event(event.payload).await)
    }))
    .await
}
