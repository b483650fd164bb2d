//! `/social/{provider}`: Meta (Messenger, Instagram, WhatsApp), Telegram and LINE webhooks →
//! tickets in DynamoDB.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    intake::lambda::serve_channel(intake::Channel::Social, intake::providers::social).await
}
