//! `/email/{provider}`: Amazon SES (through SNS), Mailgun, SendGrid Inbound Parse and Postmark
//! inbound mail → tickets in DynamoDB.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    intake::lambda::serve_channel(intake::Channel::Email, intake::providers::email).await
}
