//! The table definition. The SAM template and the CDK app declare the same table; this one
//! is for the local stack and the tests.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};
use std::time::Duration;

use super::keys::{BY_CONTACT_INDEX, EXPIRES_AT, PK, SK};
use super::{StoreError, classify};

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema has name and type")
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute has name and type")
}

/// Creates the table (on-demand, stream `NEW_AND_OLD_IMAGES`, TTL on `expires_at`, the
/// `by_contact` index) unless it exists, and waits until it is active.
pub async fn create_table_if_missing(client: &Client, table: &str) -> Result<(), StoreError> {
    let exists = client.describe_table().table_name(table).send().await;
    if exists.is_err() {
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attr(PK))
            .attribute_definitions(string_attr(SK))
            .attribute_definitions(string_attr("contact_key"))
            .attribute_definitions(string_attr("created_at"))
            .key_schema(key(PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(BY_CONTACT_INDEX)
                    .key_schema(key("contact_key", KeyType::Hash))
                    .key_schema(key("created_at", KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .expect("index has name and keys"),
            )
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::NewAndOldImages)
                    .build()
                    .expect("stream spec is complete"),
            )
            .send()
            .await;
        if let Err(e) = created {
            let text = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
            // Another process created it first: fine.
            if !text.contains("ResourceInUseException") {
                return Err(classify(e));
            }
        }
    }
    for _ in 0..100 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(classify)?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            let _ = client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .enabled(true)
                        .attribute_name(EXPIRES_AT)
                        .build()
                        .expect("ttl spec is complete"),
                )
                .send()
                .await;
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {table} did not become active"
    )))
}
