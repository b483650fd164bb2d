//! The cold-start baseline of `make cold-start`: a Lambda function that is nothing but the
//! runtime (`lambda_http`), the AWS SDK's configuration from the environment and a DynamoDB
//! client, answering every request 200. Built with the functions' release profile, it is
//! what any Rust webhook on Lambda pays before doing anything; each function's init is
//! measured against it (`scripts/cold_start.py`), so what Intake adds at cold start shows as
//! a ratio that the machine's load does not move.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    lambda_http::run(service_fn(move |_request: Request| {
        // Held by the handler as a function's client is, so it is not optimized away.
        let _client = dynamodb.clone();
        async move { Ok::<_, Error>(Response::new(Body::from("ok"))) }
    }))
    .await
}
