// The alarms on Pulumi's mocks: each to the SNS topic, with what to do;
// what they watch; the counts the sim's bill charges for (src/alarms.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's alarms", () => {
    before(async () => {
        await deployed();
    });

    it("sends every alarm to the SNS topic, and watches what can go wrong", () => {
        const [topic] = ofType("aws:sns/topic:Topic");
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
        for (const a of alarms) {
            assert.deepEqual(a.inputs.alarmActions, [`arn:aws:mock:::${topic.name}`], `${a.name}: an action`);
            assert.deepEqual(a.inputs.okActions, [`arn:aws:mock:::${topic.name}`], `${a.name}: says when it is over`);
            assert.ok(a.inputs.alarmDescription.length > 20, `${a.name}: says what to do`);
        }
        const watched = new Set(alarms.map((a) => `${a.inputs.namespace} ${a.inputs.metricName}`));
        for (const m of [
            "AWS/SQS ApproximateNumberOfMessagesVisible",
            "AWS/SQS ApproximateAgeOfOldestMessage",
            "AWS/Lambda Errors",
            "AWS/Lambda Throttles",
            "AWS/RDS DatabaseConnections",
            "AWS/RDS FreeStorageSpace",
            "AWS/ApiGateway 5xx",
            // What a sale runs out of.
            "AWS/RDS CPUUtilization",
            "AWS/RDS CPUCreditBalance",
            "AWS/RDS EBSIOBalance%",
            "AWS/RDS EBSByteBalance%",
            "AWS/RDS FreeableMemory",
            "AWS/ApiGateway 4xx",
            "AWS/ApiGateway Latency",
            "AWS/Lambda ConcurrentExecutions",
            "AWS/Lambda Duration",
        ]) {
            assert.ok(watched.has(m), `an alarm on ${m}`);
        }
        const byName = (n: string) => alarms.find((a) => a.name === `orderflow-${n}`)!;
        for (const q of ["orders", "processed"]) assert.ok(byName(`${q}-oldest-message`).inputs.threshold <= 120, "minutes, not ten");
        for (const n of ["db-cpu", "db-freeable-memory"]) assert.equal(byName(n).inputs.treatMissingData, "breaching", `${n}: silence means the instance is down`);
        assert.equal(byName("db-freeable-memory").inputs.threshold, 0.1 * 2 ** 30, "10% of db.t4g.micro's 1 GiB");
        assert.equal(byName("ingest-concurrency").inputs.threshold, 640, "80% of ingest's 800");
        assert.equal(byName("processor-duration").inputs.threshold, 24000, "80% of the 30 s timeout");
        assert.equal(byName("processor-duration").inputs.extendedStatistic, "p99");
        for (const f of ["ingest", "read", "processor", "notifier"]) {
            assert.ok(alarms.some((a) => a.name === `orderflow-${f}-errors`) && alarms.some((a) => a.name === `orderflow-${f}-throttles`), f);
        }
        // 429s apart from the other 4xx, from the access log.
        const [filter] = ofType("aws:cloudwatch/logMetricFilter:LogMetricFilter");
        assert.equal(filter.inputs.pattern, '{ $.status = "429" }');
        const throttled = byName("api-429").inputs;
        assert.deepEqual([throttled.namespace, throttled.metricName], [filter.inputs.metricTransformation.namespace, filter.inputs.metricTransformation.name]);
        const connections = alarms.find((a) => a.inputs.metricName === "DatabaseConnections")!;
        assert.equal(connections.inputs.threshold, 48, "80% of the explicit max_connections 60");
        assert.equal(ofType("aws:sns/topicSubscription:TopicSubscription").length, 0, "no email configured on this stack");
    });

    it("alarms on the queue functions' own metrics, in the namespace and names their EMF lines use", async () => {
        const src = await program();
        const emf = fs.readFileSync(path.resolve(process.cwd(), "..", "lambda", "src", "emf.rs"), "utf8");
        assert.ok(emf.includes(`pub const NAMESPACE: &str = "${src.EMF.namespace}";`), "the namespace the functions write");
        for (const metric of [src.EMF.storeRetries, src.EMF.batchesLeft]) assert.ok(emf.includes(`"${metric}"`), metric);
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
        for (const f of ["processor", "notifier"]) {
            for (const [id, metric] of [["store-retries", src.EMF.storeRetries], ["batches-left", src.EMF.batchesLeft]]) {
                const a = alarms.find((x) => x.name === `orderflow-${f}-${id}`)!;
                assert.ok(a, `${f} ${id}`);
                assert.equal(a.inputs.namespace, "orderflow");
                assert.equal(a.inputs.metricName, metric);
                assert.deepEqual(a.inputs.dimensions, { FunctionName: `orderflow-test-${f}` }, "the function's name, as AWS_LAMBDA_FUNCTION_NAME");
                assert.equal(a.inputs.treatMissingData, "notBreaching", "no batches, nothing wrong");
                assert.ok(a.inputs.okActions.length > 0 && a.inputs.alarmActions.length > 0);
            }
        }
    });

    it("deploys the alarms, endpoints and secrets the sim's bill charges for", () => {
        // sim/src/aws/bill/ charges a run for what the stack keeps
        // running beside the functions; these are the counts it uses.
        const rs = fs.readFileSync(path.resolve("..", "sim", "src", "aws", "bill", "mod.rs"), "utf8");
        const constant = (name: string) => Number(new RegExp(`pub const ${name}: u32 = (\\d+);`).exec(rs)?.[1]);
        assert.equal(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").length, constant("ALARMS"), "alarms");
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
        assert.equal(endpoints.length, constant("ENDPOINTS"), "interface endpoints");
        for (const e of endpoints) assert.equal(e.inputs.subnetIds.length, constant("ZONES"), `${e.name}'s zones`);
        // The stack's own secrets, and the master user's, which RDS makes.
        assert.equal(ofType("aws:secretsmanager/secret:Secret").length + 1, constant("SECRETS"), "secrets");
    });
});
