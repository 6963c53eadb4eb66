//! Publishing notifications to SNS: the adapter of the core's
//! [`TopicPublisher`](breakglass_core::ports::TopicPublisher) port, built here from the shared
//! SDK configuration so the server never names an SDK type.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use breakglass_core::ports::{PublishFuture, TopicMessage, TopicPublisher};

/// SNS's longest subject.
const MAX_SUBJECT: usize = 100;

/// Publishes to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    /// A publisher to `topic_arn` with the shared SDK configuration.
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }

    /// A publisher to `topic_arn`, as the port the notification worker holds.
    pub fn shared(config: &SdkConfig, topic_arn: impl Into<String>) -> Arc<dyn TopicPublisher> {
        Arc::new(Self::new(config, topic_arn))
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Publishes `message` with `subject` (cut to SNS's 100 characters) and the
    /// idempotency key and kind as message attributes. Returns the SNS message id.
    pub async fn publish(
        &self,
        subject: &str,
        message: &str,
        idempotency_key: &str,
        kind: &str,
    ) -> Result<String, String> {
        let attr = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| e.to_string())
        };
        // SNS subjects: at most 100 printable ASCII characters, no line breaks.
        let subject: String = subject
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .take(MAX_SUBJECT)
            .collect();
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes("idempotency_key", attr(idempotency_key)?)
            .message_attributes("kind", attr(kind)?)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "SNS publish to `{}` failed: {}",
                    self.topic_arn,
                    aws_sdk_sns::error::DisplayErrorContext(e)
                )
            })?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

impl TopicPublisher for SnsPublisher {
    fn topic(&self) -> &str {
        &self.topic_arn
    }

    fn publish<'a>(&'a self, message: TopicMessage<'a>) -> PublishFuture<'a> {
        Box::pin(SnsPublisher::publish(
            self,
            message.subject,
            message.body,
            message.idempotency_key,
            message.kind,
        ))
    }
}
