//! The near-real-time path: an SQS queue that the break-glass EventBridge rules deliver
//! CloudTrail events to. Each message body is one EventBridge envelope (`detail` is the
//! CloudTrail record), which `breakglass_trail::read` reads as it is.
//!
//! Delivery is at least once: the caller deletes messages only after it has committed what
//! it read from them, and a message it never deletes comes back after the queue's
//! visibility timeout (duplicates are dropped on `eventID` downstream).

use aws_config::SdkConfig;
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;

use super::error::{TrailError, sdk_message};

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The handle that deletes this receipt of the message.
    pub receipt_handle: String,
    /// The body: an EventBridge envelope of a CloudTrail event.
    pub body: String,
}

/// SQS's largest batch, for receiving and deleting alike.
const BATCH: usize = 10;

/// SQS's longest long-poll wait, in seconds.
const MAX_WAIT: i32 = 20;

/// The queue the trail's events are delivered to.
#[derive(Debug, Clone)]
pub struct TrailQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl TrailQueue {
    /// The queue at `queue_url`.
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url: queue_url.into(),
        }
    }

    /// The queue named `name` owned by `owner_account` (the config's `[activity] queue` in
    /// its `account`), its URL looked up with `sqs:GetQueueUrl` in the configuration's
    /// region.
    pub async fn lookup(
        config: &SdkConfig,
        name: &str,
        owner_account: Option<&str>,
    ) -> Result<Self, TrailError> {
        let client = aws_sdk_sqs::Client::new(config);
        let out = client
            .get_queue_url()
            .queue_name(name)
            .set_queue_owner_aws_account_id(owner_account.map(str::to_owned))
            .send()
            .await
            .map_err(|e| TrailError::Queue {
                operation: "sqs:GetQueueUrl",
                queue: name.to_owned(),
                message: format!(
                    "{}; run `breakglass apply` to create it, or check the region",
                    sdk_message(&e)
                ),
            })?;
        let url = out.queue_url().unwrap_or_default().to_owned();
        Ok(Self {
            client,
            queue_url: url,
        })
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.queue_url
    }

    /// Up to `max` messages: the first request long-polls up to `wait` (at most SQS's 20
    /// seconds), further ones take only what is already there, until `max` are in hand or
    /// the queue has nothing more. Received messages stay invisible to other readers for
    /// the queue's visibility timeout.
    pub async fn receive(
        &self,
        max: usize,
        wait: std::time::Duration,
    ) -> Result<Vec<QueueMessage>, TrailError> {
        let mut out = Vec::new();
        let mut wait = i32::try_from(wait.as_secs())
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT);
        while out.len() < max {
            let want = (max - out.len()).min(BATCH);
            let page = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(1))
                .wait_time_seconds(wait)
                .send()
                .await
                .map_err(|e| TrailError::Queue {
                    operation: "sqs:ReceiveMessage",
                    queue: self.queue_url.clone(),
                    message: sdk_message(&e),
                })?;
            let messages = page.messages();
            if messages.is_empty() {
                break;
            }
            out.extend(messages.iter().filter_map(|m| {
                Some(QueueMessage {
                    receipt_handle: m.receipt_handle()?.to_owned(),
                    body: m.body()?.to_owned(),
                })
            }));
            wait = 0;
        }
        Ok(out)
    }

    /// Deletes the messages received with `receipt_handles`, ten per request. A handle SQS
    /// refuses (e.g. its visibility timeout passed and the message was received again) is
    /// an error naming how many failed; the others are deleted all the same.
    pub async fn delete(&self, receipt_handles: &[String]) -> Result<(), TrailError> {
        let mut failed = Vec::new();
        for chunk in receipt_handles.chunks(BATCH) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| TrailError::Queue {
                    operation: "sqs:DeleteMessageBatch",
                    queue: self.queue_url.clone(),
                    message: e.to_string(),
                })?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| TrailError::Queue {
                    operation: "sqs:DeleteMessageBatch",
                    queue: self.queue_url.clone(),
                    message: sdk_message(&e),
                })?;
            failed.extend(
                out.failed()
                    .iter()
                    .map(|f| format!("{} ({})", f.code(), f.message().unwrap_or_default())),
            );
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(TrailError::Queue {
                operation: "sqs:DeleteMessageBatch",
                queue: self.queue_url.clone(),
                message: format!(
                    "{} of {} messages were not deleted: {}; they will be received again",
                    failed.len(),
                    receipt_handles.len(),
                    failed.join(", ")
                ),
            })
        }
    }
}
