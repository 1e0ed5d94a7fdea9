// One Lambda function as every function of the stack is made: its log
// group, its role (iam.ts), the zip and its hash, the VPC, the common
// environment; and the `live` alias the API and the mappings call.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";

import { functionRole } from "./iam";
import type { FunctionShape } from "./shape";
import type { Env, FunctionExtra, Network, Queue, Secrets, Stack } from "./stack";

/** The environment every function starts from. */
export function functionEnv(st: Stack, db: aws.rds.Instance, secrets: Secrets, orders: Queue, processed: Queue): Env {
    const { shape, name } = st;
    const visibility = shape.visibility_timeout_secs;
    return {
        QUEUE_BACKEND: "sqs",
        ORDER_QUEUE_URL: orders.main.url,
        ORDER_DLQ_URL: orders.dlq.url,
        PROCESSED_QUEUE_URL: processed.main.url,
        PROCESSED_DLQ_URL: processed.dlq.url,
        DB_HOST: db.address,
        DB_PORT: db.port.apply(String),
        DB_NAME: name,
        DB_SECRET_ARN: secrets.app.arn,
        DB_SSL_MODE: "verify-identity",
        DB_SSL_CA: "rds",
        VISIBILITY_TIMEOUT_SECS: String(visibility),
        DB_MIGRATE_ON_START: String(shape.migrate_on_cold_start ?? false),
        RUST_LOG: "info",
    };
}

/** A zip's SHA-256, base64: what Lambda reports as the code's `CodeSha256`
 * and the provider's `sourceCodeHash` takes. The provider only echoes
 * `sourceCodeHash` when the program sets it, so the program computes it:
 * set on each function, a new zip shows in the preview, and in the
 * migration step's trigger, a new migrate zip re-runs the step. Undefined
 * for a zip not built yet (the deploy then fails at the archive, naming
 * its path). */
export function zipSha256(file: string): string | undefined {
    if (!fs.existsSync(file)) return undefined;
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("base64");
}

/** One function: its log group, its role with every statement inline (iam.ts), the function itself. */
export function lambdaFunction(st: Stack, net: Network, env: Env, fname: string, f: FunctionShape, statements: object[], extra: FunctionExtra = {}) {
    const { s, name, physical, tags } = st;
    const { vpc, subnetIds, functionsSg, endpoints } = net;
    // A function without a pool (ingest, when a read function serves the
    // reads) is not told where the database secret is: it reads none.
    const { DB_SECRET_ARN: _dbSecret, ...withoutDb } = env;
    const zip = `${s.lambdaDir}/${extra.zip ?? fname}/bootstrap.zip`;
    const logGroup = new aws.cloudwatch.LogGroup(`${name}-${fname}`, {
        name: `/aws/lambda/${physical}-${fname}`,
        retentionInDays: s.db.logRetentionDays,
        tags,
    });
    const { role, policy } = functionRole(st, fname, logGroup, vpc, statements);
    const func = new aws.lambda.Function(
        `${name}-${fname}`,
        {
            name: `${physical}-${fname}`,
            runtime: "provided.al2023",
            handler: "bootstrap",
            architectures: [s.architecture],
            code: new pulumi.asset.FileArchive(zip),
            sourceCodeHash: zipSha256(zip),
            role: role.arn,
            memorySize: f.memory_mb,
            timeout: f.timeout_secs,
            reservedConcurrentExecutions: f.reserved_concurrency ?? -1,
            // Each deploy publishes a version; the API and the mappings
            // call the `live` alias, so a bad deploy is rolled back by
            // pointing it at the version before (the book's "Operating the stack", "Rolling back").
            publish: true,
            vpcConfig: { subnetIds, securityGroupIds: [functionsSg.id] },
            environment: { variables: { ...(f.pool_size > 0 ? env : withoutDb), ...extra.env, DB_MAX_CONNECTIONS: String(f.pool_size) } },
            loggingConfig: { logFormat: "JSON", logGroup: logGroup.name },
            tags,
        },
        // The endpoints first: a function's init reaches SQS and Secrets
        // Manager through them.
        { dependsOn: [logGroup, policy, ...endpoints, ...(extra.dependsOn ?? [])] },
    );
    return func;
}

/** A `live` alias: what the API and the mappings call, so a bad deploy is rolled back by moving it. */
export function live(st: Stack, fname: string, func: aws.lambda.Function) {
    return new aws.lambda.Alias(`${st.name}-${fname}-live`, { name: "live", functionName: func.name, functionVersion: func.version });
}
