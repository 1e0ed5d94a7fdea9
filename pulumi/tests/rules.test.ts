// The rules a deploy holds the shape to, on Pulumi's mocks: the shipped
// shape inside its connection budget, and refusals of what would fail on
// AWS or overrun the database (src/rules.ts). tests/cases.test.ts computes
// the table of cases the engine computes too.
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the deployment's rules", () => {
    before(async () => {
        await deployed();
    });

    it("deploys the shape of deploy/settings.json, inside the database's connection budget", async () => {
        const src = await program();
        const shape = src.readShape();
        // The same figures sim/src/aws/settings/ computes from the same file.
        assert.deepEqual(src.connectionBudget(shape), { needed: 45, available: 50 });
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const fname of ["ingest", "read", "processor", "notifier"] as const) {
            const f = fns[`orderflow-${fname}`];
            const want = shape.functions[fname]!;
            assert.equal(f.inputs.reservedConcurrentExecutions, want.reserved_concurrency, `${fname}: a concurrency cap`);
            assert.equal(f.inputs.environment.variables.DB_MAX_CONNECTIONS, String(want.pool_size));
            assert.equal(f.inputs.timeout, want.timeout_secs);
        }
        for (const m of ofType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
            const fname = m.name.replace("orderflow-", "") as "processor" | "notifier";
            assert.equal(m.inputs.scalingConfig.maximumConcurrency, shape.event_sources[fname].maximum_concurrency);
        }
    });

    it("refuses a shape whose functions could open more connections than the instance allows", async () => {
        const src = await program();
        // The first deployment's shape, which `sim --topology lambda` shows
        // refusing connections (sim/tests/it/deployed_shape.rs): no caps, so
        // 1,000 environments (the account's limit) times 2 connections, for each function.
        const first = src.readShape(path.resolve(process.cwd(), "..", "deploy", "first-deployment.json"));
        assert.deepEqual(src.connectionBudget(first), { needed: 6000, available: 56 });
        assert.throws(() => src.deploy(src.settings(first)), /6000 database connections/);
        // One cap short is enough to refuse: the notifier's mapping uncapped.
        const one = src.readShape();
        one.event_sources.notifier.maximum_concurrency = null;
        one.functions.notifier.reserved_concurrency = null;
        assert.throws(() => src.deploy(src.settings(one)), /database connections/);
    });

    it("refuses an ingest without a database unless a read function serves the reads, and route throttles past the stage's", async () => {
        const src = await program();
        const noRead = src.readShape();
        delete noRead.functions.read;
        assert.throws(() => src.deploy(src.settings(noRead)), /no `read` function/);
        const loud = src.readShape();
        loud.route_throttles!["GET /health"] = { rate: loud.stage_throttle.rate + 1, burst: 1 };
        assert.throws(() => src.deploy(src.settings(loud)), /more than the stage's throttle/);
        const unknown = src.readShape();
        unknown.route_throttles!["GET /api/dlq"] = { rate: 1, burst: 1 };
        assert.throws(() => src.deploy(src.settings(unknown)), /not a route of the API/);
    });

    it("refuses an account whose Lambda concurrency quota cannot hold the reservations and AWS's unreserved 100", async () => {
        const src = await program();
        const shape = src.readShape();
        // 800 ingest + 25 read + 15 processor + 5 notifier + 1 migrate.
        assert.equal(src.checkAccountConcurrency(946, shape), 946);
        assert.throws(() => src.checkAccountConcurrency(945, shape), /ask for at least 946/);
        assert.throws(() => src.checkAccountConcurrency(10, shape), /quota is 10/, "a new account's");
    });

    it("refuses a visibility timeout under six times a consumer's timeout", async () => {
        const src = await program();
        const short = src.readShape();
        short.visibility_timeout_secs = 6 * short.functions.processor.timeout_secs - 1;
        assert.throws(() => src.checkShape(short), /six times/);
        src.checkShape(src.readShape());
    });

    it("reads an absent reservation or mapping cap as none, as the engine does, and refuses the uncapped mapping", async () => {
        const src = await program();
        const shape = src.readShape();
        delete shape.event_sources.processor.maximum_concurrency;
        assert.equal(src.maxEnvironments(shape, "processor"), 15, "its reservation caps it");
        assert.deepEqual(src.connectionBudget(shape), { needed: 45, available: 50 });
        assert.throws(() => src.checkShape(shape), /processor mapping needs a maximum_concurrency/);
        delete shape.functions.processor.reserved_concurrency;
        assert.equal(src.maxEnvironments(shape, "processor"), 1000, "the account's limit");
    });

    it("counts a null read function as none, as a schema naming the functions may give it", async () => {
        const src = await program();
        const shape = src.readShape();
        shape.functions.read = null;
        assert.deepEqual(src.functionNames(shape), ["ingest", "notifier", "processor"]);
        assert.deepEqual(src.connectionBudget(shape), { needed: 20, available: 50 });
        assert.equal(src.reservedConcurrency(shape), 821);
        assert.equal(src.lockWaitSecs(shape), 10);
        assert.throws(() => src.checkSettings(shape), /no `read` function/);
    });
});
