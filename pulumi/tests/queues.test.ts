// The queues and their mappings on Pulumi's mocks: DLQs, visibility,
// partial batch failures, capped mappings (src/queues.ts, src/functions.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's queues", () => {
    before(async () => {
        await deployed();
    });

    it("moves a message to its DLQ after 5 receives, on both queues, and alarms on DLQ depth", () => {
        const queues = ofType("aws:sqs/queue:Queue");
        const main = queues.filter((q) => !q.name.endsWith("-dlq"));
        assert.equal(main.length, 2);
        for (const q of main) {
            const policy = JSON.parse(q.inputs.redrivePolicy);
            // AWS asks for at least 5 where Lambda consumes the queue: a
            // throttled or timed-out invoke uses up a receive.
            assert.equal(policy.maxReceiveCount, 5);
            assert.match(policy.deadLetterTargetArn, /-dlq$/);
            assert.ok(q.inputs.visibilityTimeoutSeconds >= 6 * 30, "visibility covers retried invocations");
            assert.equal(q.inputs.visibilityTimeoutSeconds, JSON.parse(fs.readFileSync(path.resolve(process.cwd(), "..", "deploy", "settings.json"), "utf8")).visibility_timeout_secs);
        }
        for (const q of queues) assert.equal(q.inputs.sqsManagedSseEnabled, true);
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").filter((a) => a.name.endsWith("-dlq-not-empty"));
        assert.equal(alarms.length, 2);
        for (const a of alarms) {
            assert.equal(a.inputs.metricName, "ApproximateNumberOfMessagesVisible");
            assert.equal(a.inputs.threshold, 0);
        }
    });

    it("reports partial batch failures from both SQS-driven functions", () => {
        const mappings = ofType("aws:lambda/eventSourceMapping:EventSourceMapping");
        assert.equal(mappings.length, 2);
        for (const m of mappings) {
            assert.deepEqual(m.inputs.functionResponseTypes, ["ReportBatchItemFailures"]);
            // AWS: up to 10,000 for a standard queue, and past 10 only with a batching window.
            assert.ok(m.inputs.batchSize >= 1 && m.inputs.batchSize <= 10000);
            assert.ok(m.inputs.batchSize <= 10 || m.inputs.maximumBatchingWindowInSeconds >= 1, "a batch past 10 needs a window");
        }
    });

    it("caps every event source mapping's concurrency, within its function's reserved concurrency", async () => {
        const src = await program();
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const m of ofType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
            const cap = m.inputs.scalingConfig?.maximumConcurrency;
            assert.ok(cap >= 2, `${m.name}: a maximumConcurrency`);
            const reserved = fns[m.name].inputs.reservedConcurrentExecutions;
            assert.ok(reserved > 0 && cap <= reserved, `${m.name}: ${cap} within ${reserved}`);
        }
        const uncapped = src.readShape();
        uncapped.event_sources.processor.maximum_concurrency = null;
        assert.throws(() => src.checkShape(uncapped), /processor mapping needs a maximum_concurrency/);
        const above = src.readShape();
        above.event_sources.notifier.maximum_concurrency = above.functions.notifier.reserved_concurrency! + 1;
        assert.throws(() => src.checkShape(above), /above the function's reserved concurrency/);
    });
});
