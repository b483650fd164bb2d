//! `POST /sms/{provider}`: SMS webhooks (Twilio) → tickets in DynamoDB.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    intake::lambda::serve_channel(intake::Channel::Sms, intake::providers::sms).await
}
