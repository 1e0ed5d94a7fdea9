// The queues: orders and processed, each with its DLQ after
// max_receive_count receives, and their alarms (messages in a DLQ, a
// backlog's oldest message).

import * as aws from "@pulumi/aws";

import type { Queue, Stack } from "./stack";

/** The queues' oldest-message alarm: a sale's backlog must page in minutes, not ten. */
export const OLDEST_MESSAGE_ALARM_SECS = 120;

/** A queue with its DLQ after max_receive_count receives, and their alarms. */
export function queue(st: Stack, q: string): Queue {
    const { shape, name, tags, alarm } = st;
    const dlq = new aws.sqs.Queue(`${name}-${q}-dlq`, {
        messageRetentionSeconds: 14 * 24 * 3600,
        sqsManagedSseEnabled: true,
        tags,
    });
    const main = new aws.sqs.Queue(`${name}-${q}`, {
        visibilityTimeoutSeconds: shape.visibility_timeout_secs,
        sqsManagedSseEnabled: true,
        redrivePolicy: dlq.arn.apply((arn) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: shape.max_receive_count })),
        tags,
    });
    alarm(`${q}-dlq-not-empty`, {
        alarmDescription: `Messages in the ${q} DLQ: read them in the SQS console, fix the cause, redrive`,
        namespace: "AWS/SQS",
        metricName: "ApproximateNumberOfMessagesVisible",
        dimensions: { QueueName: dlq.name },
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 1,
        threshold: 0,
        comparisonOperator: "GreaterThanThreshold",
    });
    alarm(`${q}-oldest-message`, {
        alarmDescription: `The ${q} queue's oldest message waited over 2 minutes two minutes running: its consumer is failing, throttled or too small (in a sale, minutes matter)`,
        namespace: "AWS/SQS",
        metricName: "ApproximateAgeOfOldestMessage",
        dimensions: { QueueName: main.name },
        statistic: "Maximum",
        period: 60,
        evaluationPeriods: 2,
        threshold: OLDEST_MESSAGE_ALARM_SECS,
        comparisonOperator: "GreaterThanThreshold",
    });
    return { main, dlq };
}
