// The pipeline's functions (ingest, read, processor, notifier), each with
// only the rights it needs, after the migration step (migration.ts); their
// alarms (alarms.ts); and the SQS event source mappings of the two queue
// consumers, on their live aliases, capped.

import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";

import { functionAlarms } from "./alarms";
import { consume, publish, readSecrets } from "./iam";
import { functionEnv, lambdaFunction, live } from "./lambda";
import { migrationStep } from "./migration";
import { mappingCap } from "./rules";
import type { FunctionShape } from "./shape";
import type { FunctionExtra, Network, Queue, Secrets, Stack } from "./stack";

/** The functions, the migration step they wait for, their alarms and their event source mappings. */
export function functions(st: Stack, net: Network, db: aws.rds.Instance, secrets: Secrets, orders: Queue, processed: Queue) {
    const env = functionEnv(st, db, secrets, orders, processed);
    const fn = (fname: string, f: FunctionShape, statements: object[], extra: FunctionExtra = {}) =>
        lambdaFunction(st, net, env, fname, f, statements, extra);
    const { migrate, migrated } = migrationStep(st, net, db, secrets, fn);
    const pipeline = pipelineFunctions(st, secrets, orders, processed, fn, { dependsOn: [migrated] });
    functionAlarms(st, pipeline);
    eventSources(st, pipeline, orders, processed);
    return { migrate, ...pipeline };
}

/** Makes one function of the stack (lambda.ts `lambdaFunction`, the stack and environment given). */
export type MakeFunction = (fname: string, f: FunctionShape, statements: object[], extra?: FunctionExtra) => aws.lambda.Function;

/** Ingest, read, processor and notifier, each with only the rights it needs. */
function pipelineFunctions(st: Stack, secrets: Secrets, orders: Queue, processed: Queue, fn: MakeFunction, after: { dependsOn: pulumi.Resource[] }) {
    const { s, shape } = st;
    const [appSecret, idKeySecret] = [secrets.app, secrets.idKey];
    // Ingest serves POST /api/orders only when a read function serves the
    // rest; with no pool it reads no database secret (and may not).
    const readFn = shape.functions.read;
    const ingestHasDb = shape.functions.ingest.pool_size > 0;
    const ingest = fn(
        "ingest",
        shape.functions.ingest,
        [publish(orders.main.arn), ingestHasDb ? readSecrets(appSecret.arn, idKeySecret.arn) : readSecrets(idKeySecret.arn)],
        {
            ...after,
            env: {
                ORDER_ID_KEY_SECRET_ARN: idKeySecret.arn,
                SQS_CHECK_QUEUES: "orders",
                API_ROUTES: readFn ? "intake" : "all",
                // With the authorizer on, an order is the token's customer's.
                ...(s.jwt ? { CUSTOMER_CLAIM: s.jwt.customerClaim } : {}),
            },
        },
    );
    // The read routes: the ingest binary with API_ROUTES=reads, its own
    // small pool and reserved concurrency, so a sale's intake holds no
    // database connection and reads cannot crowd out orders.
    const read = readFn
        ? fn(
              "read",
              readFn,
              [readSecrets(appSecret.arn), { Effect: "Allow", Action: ["sqs:GetQueueAttributes"], Resource: [orders.main.arn, processed.main.arn] }],
              {
                  ...after,
                  zip: "ingest",
                  env: {
                      SQS_CHECK_QUEUES: "orders,processed",
                      API_ROUTES: "reads",
                      // With the authorizer on, an order is read by its own customer only.
                      ...(s.jwt ? { CUSTOMER_CLAIM: s.jwt.customerClaim } : {}),
                  },
              },
          )
        : undefined;
    const processor = fn(
        "processor",
        shape.functions.processor,
        [consume(orders.main.arn), publish(processed.main.arn), readSecrets(appSecret.arn)],
        { ...after, env: { SQS_CHECK_QUEUES: "orders,processed" } },
    );
    const notifier = fn("notifier", shape.functions.notifier, [consume(processed.main.arn), readSecrets(appSecret.arn)], {
        ...after,
        env: { SQS_CHECK_QUEUES: "processed" },
    });
    return { ingest, read, processor, notifier };
}

/** The pipeline's functions, as the API and the alarms take them. */
export type Pipeline = ReturnType<typeof pipelineFunctions>;

/** The processor's and notifier's mappings, on the live alias, capped. */
function eventSources(st: Stack, { processor, notifier }: Pipeline, orders: Queue, processed: Queue) {
    const { shape, name } = st;
    for (const [fname, func, q] of [
        ["processor", processor, orders.main],
        ["notifier", notifier, processed.main],
    ] as const) {
        new aws.lambda.EventSourceMapping(`${name}-${fname}`, {
            eventSourceArn: q.arn,
            functionName: live(st, fname, func).arn,
            batchSize: shape.event_sources[fname].batch_size,
            maximumBatchingWindowInSeconds: shape.event_sources[fname].batching_window_secs,
            // Checked before anything is built (rules.ts checkShape).
            scalingConfig: { maximumConcurrency: mappingCap(shape, fname) },
            functionResponseTypes: ["ReportBatchItemFailures"],
        });
    }
}
