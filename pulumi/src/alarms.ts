// The alarms and where they go: the SNS topic with its subscriptions, and
// the alarms of the functions (errors, throttles, ingest's concurrency,
// the processor's duration, the queue functions' own EMF metrics) and of
// the API. The database's and the queues' are beside them (database.ts,
// queues.ts).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import type { Pipeline } from "./functions";
import type { Settings } from "./settings";
import type { Alarm, AlarmArgs, Stack } from "./stack";

/**
 * The queue functions' own metrics, one EMF line per batch
 * (lambda/src/emf.rs: the namespace and names must match).
 */
export const EMF = {
    namespace: "orderflow",
    storeRetries: "StoreRetries",
    batchesLeft: "BatchesLeftForRedelivery",
    /** Store retries a minute, three minutes running: assumed, a second's worth of lock waits or deadlocks every second is contention, not a blip. */
    storeRetriesPerMinute: 60,
    /** Batches handed back a minute, in 3 of 5 minutes: assumed, above a poison message's five quick receives. */
    batchesLeftPerMinute: 5,
};

/** Alarms on what CloudWatch cannot see from outside a queue function: its store retries and the batches it hands back. No batches, no data: not a problem. */
export function emfAlarms(
    alarm: Alarm,
    fname: string,
    func: aws.lambda.Function,
) {
    const common = { namespace: EMF.namespace, dimensions: { FunctionName: func.name }, statistic: "Sum", period: 60, treatMissingData: "notBreaching" };
    alarm(`${fname}-store-retries`, {
        ...common,
        alarmDescription: `The ${fname}'s store retries above ${EMF.storeRetriesPerMinute} a minute for 3 minutes: lock contention, deadlocks or a failing database; look at the DB's CPU and connections and the function's logs`,
        metricName: EMF.storeRetries,
        evaluationPeriods: 3,
        threshold: EMF.storeRetriesPerMinute,
        comparisonOperator: "GreaterThanThreshold",
    });
    alarm(`${fname}-batches-left`, {
        ...common,
        alarmDescription: `The ${fname} handed more than ${EMF.batchesLeftPerMinute} batches a minute back for redelivery in 3 of 5 minutes: messages are cycling (and counting receives toward the DLQ); see the logs' "will come back" lines`,
        metricName: EMF.batchesLeft,
        evaluationPeriods: 5,
        datapointsToAlarm: 3,
        threshold: EMF.batchesLeftPerMinute,
        comparisonOperator: "GreaterThanThreshold",
    });
}

/** Alarms go to one SNS topic: an email subscription and an HTTPS one if configured. */
export function alarmTopic(name: string, s: Settings, tags: Record<string, string>): { topic: aws.sns.Topic; alarm: Alarm } {
    const topic = new aws.sns.Topic(`${name}-alarms`, { tags });
    if (s.alarmHttpsEndpoint) {
        // A pager's or a chat's webhook; it confirms the subscription itself.
        new aws.sns.TopicSubscription(`${name}-alarms-https`, { topic: topic.arn, protocol: "https", endpoint: s.alarmHttpsEndpoint });
    }
    if (s.alarmEmail) {
        new aws.sns.TopicSubscription(`${name}-alarms-email`, { topic: topic.arn, protocol: "email", endpoint: s.alarmEmail });
    } else if (!s.alarmHttpsEndpoint) {
        pulumi.log.warn("no alarmEmail set: alarms reach the SNS topic only (pulumi config set alarmEmail you@example.com)");
    }
    const alarm = (id: string, args: AlarmArgs) =>
        new aws.cloudwatch.MetricAlarm(`${name}-${id}`, {
            treatMissingData: "notBreaching",
            ...args,
            alarmActions: [topic.arn],
            okActions: [topic.arn],
            tags,
        });
    return { topic, alarm };
}

/** Alarms on a function's errors and throttles. */
export function watch(st: Stack, fname: string, func: aws.lambda.Function) {
    const { physical, alarm } = st;
    const what = {
        Errors: `had failed invocations: its log group /aws/lambda/${physical}-${fname} says why`,
        Throttles: `was throttled at its reserved concurrency: see "Will it survive the sale?" in the book (docs/src/survive.md) before raising it`,
    };
    for (const [metricName, description] of Object.entries(what)) {
        alarm(`${fname}-${metricName.toLowerCase()}`, {
            alarmDescription: `The ${fname} function ${description}`,
            namespace: "AWS/Lambda",
            metricName,
            dimensions: { FunctionName: func.name },
            statistic: "Sum",
            period: 300,
            evaluationPeriods: 1,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
        });
    }
}

/** Errors and throttles of each function; ingest's concurrency; the processor's duration; the queue functions' own metrics. */
export function functionAlarms(st: Stack, { ingest, read, processor, notifier }: Pipeline) {
    const { shape, alarm } = st;
    watch(st, "ingest", ingest);
    if (read) watch(st, "read", read);
    const ingestCap = shape.functions.ingest.reserved_concurrency ?? null;
    if (ingestCap !== null) {
        alarm("ingest-concurrency", {
            alarmDescription: `Ingest above 80% of its ${ingestCap} reserved environments: the next surge meets throttled requests (500s)`,
            namespace: "AWS/Lambda",
            metricName: "ConcurrentExecutions",
            dimensions: { FunctionName: ingest.name },
            statistic: "Maximum",
            period: 60,
            evaluationPeriods: 1,
            threshold: Math.floor(ingestCap * 0.8),
            comparisonOperator: "GreaterThanThreshold",
        });
    }
    watch(st, "processor", processor);
    alarm("processor-duration", {
        alarmDescription: `Processor invocations' p99 above 80% of its ${shape.functions.processor.timeout_secs} s timeout: batches are waiting on locks or the database; they will start coming back unfinished`,
        namespace: "AWS/Lambda",
        metricName: "Duration",
        dimensions: { FunctionName: processor.name },
        extendedStatistic: "p99",
        period: 60,
        evaluationPeriods: 3,
        threshold: shape.functions.processor.timeout_secs * 1000 * 0.8,
        comparisonOperator: "GreaterThanThreshold",
    });
    watch(st, "notifier", notifier);
    for (const [fname, func] of [["processor", processor], ["notifier", notifier]] as const) {
        emfAlarms(alarm, fname, func);
    }
}

/** The API's alarms: 5xx, 4xx, its own 429s (counted from the access log,
 * apart from the other 4xx) and p99 latency. */
export function apiAlarms(st: Stack, api: aws.apigatewayv2.Api, stage: aws.apigatewayv2.Stage, accessLogs: aws.cloudwatch.LogGroup) {
    const { name, physical, alarm } = st;
    alarm("api-5xx", {
        alarmDescription: "The API answered 5xx (503: the order queue could not take the order; 500: a bug or a queue that cannot be used): the ingest log group says which",
        namespace: "AWS/ApiGateway",
        metricName: "5xx",
        dimensions: { ApiId: api.id, Stage: stage.name },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 5,
        comparisonOperator: "GreaterThanThreshold",
    });
    alarm("api-4xx", {
        alarmDescription: "The API answered over 1,000 4xx in 5 minutes: 429s from the throttles (clients retry them: is the throttle below the sale?), or bad requests from a broken client",
        namespace: "AWS/ApiGateway",
        metricName: "4xx",
        dimensions: { ApiId: api.id, Stage: stage.name },
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 1000,
        comparisonOperator: "GreaterThanThreshold",
    });
    // API Gateway counts 429s inside 4xx; the access log tells them apart.
    const namespace = `orderflow/${physical}`;
    new aws.cloudwatch.LogMetricFilter(`${name}-api-429`, {
        logGroupName: accessLogs.name,
        pattern: '{ $.status = "429" }',
        metricTransformation: { name: "Throttled429", namespace, value: "1", defaultValue: "0" },
    });
    alarm("api-429", {
        alarmDescription: "The API answered over 100 429s in 5 minutes (from its access log): a throttle below the traffic; clients retry them, but a sale's customers wait. The stage and route throttles in deploy/settings.json, and ingest's reservation behind them",
        namespace,
        metricName: "Throttled429",
        statistic: "Sum",
        period: 300,
        evaluationPeriods: 1,
        threshold: 100,
        comparisonOperator: "GreaterThanThreshold",
        treatMissingData: "notBreaching",
    });
    alarm("api-latency-p99", {
        alarmDescription: "The API's p99 latency above 1 s for 3 minutes: ingest is cold-starting or SQS is slow; ingest's concurrency and the stage throttle",
        namespace: "AWS/ApiGateway",
        metricName: "Latency",
        dimensions: { ApiId: api.id, Stage: stage.name },
        extendedStatistic: "p99",
        period: 60,
        evaluationPeriods: 3,
        threshold: 1000,
        comparisonOperator: "GreaterThanThreshold",
    });
}
