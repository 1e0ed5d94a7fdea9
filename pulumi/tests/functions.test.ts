// The functions and the migration step on Pulumi's mocks: their runtime,
// environment, names, logs, versions and aliases, and the step they wait
// for (src/functions.ts, src/lambda.ts, src/migration.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { dependsOn, deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's functions", () => {
    before(async () => {
        await deployed();
    });

    it("runs the Rust zips on provided.al2023, in the VPC, with no secret in the environment", () => {
        const fns = ofType("aws:lambda/function:Function");
        assert.deepEqual(fns.map((f) => f.name).sort(), ["orderflow-ingest", "orderflow-migrate", "orderflow-notifier", "orderflow-processor", "orderflow-read"]);
        for (const f of fns) {
            assert.equal(f.inputs.runtime, "provided.al2023");
            assert.equal(f.inputs.handler, "bootstrap");
            assert.deepEqual(f.inputs.architectures, ["x86_64"], "what scripts/build-lambdas.sh builds");
            assert.ok(f.inputs.vpcConfig.subnetIds.length === 2);
            const vars: Record<string, string> = f.inputs.environment.variables;
            for (const [k, v] of Object.entries(vars)) {
                assert.doesNotMatch(k, /PASSWORD|^ORDER_ID_KEY$|TOKEN|DATABASE_URL/, `${f.name}: ${k} would hold a secret`);
                if (/SECRET/.test(k)) assert.match(v, /^arn:/, `${f.name}: ${k} names a secret, never holds one`);
            }
            assert.equal(vars.QUEUE_BACKEND, "sqs");
        }
        const fn = (n: string) => fns.find((f) => f.name === `orderflow-${n}`)!.inputs.environment.variables;
        // The functions connect as the application user, the migration step as the owner.
        for (const n of ["read", "processor", "notifier"]) assert.equal(fn(n).DB_SECRET_ARN, "arn:aws:mock:::orderflow-app-db", n);
        // Ingest publishes only: no pool, no database secret, its one route.
        assert.equal(fn("ingest").DB_SECRET_ARN, undefined, "ingest has no database");
        assert.equal(fn("ingest").DB_MAX_CONNECTIONS, "0");
        assert.equal(fn("ingest").API_ROUTES, "intake");
        assert.equal(fn("read").API_ROUTES, "reads");
        assert.equal(fn("migrate").DB_SECRET_ARN, "arn:aws:secretsmanager:mock:secret:db");
        assert.equal(fn("migrate").APP_DB_SECRET_ARN, "arn:aws:mock:::orderflow-app-db");
        assert.equal(fn("migrate").APP_DB_USER_HOST, "10.20.%", "the application user connects from the VPC only");
        assert.equal(fn("ingest").ORDER_ID_KEY_SECRET_ARN, "arn:aws:mock:::orderflow-order-id-key");
        assert.equal(fn("processor").ORDER_ID_KEY_SECRET_ARN, undefined, "only ingest derives order ids");
    });

    const fnDeps = (name: string) => dependsOn[`aws:lambda/function:Function ${name}`];

    it("updates the functions that use the schema only after the migration step", () => {
        const step = "aws:lambda/invocation:Invocation orderflow-migrate";
        for (const f of ["ingest", "read", "processor", "notifier"]) {
            assert.ok(fnDeps(`orderflow-${f}`).includes(step), `${f} after the migration step`);
        }
        // The migrate function itself cannot wait for its own invocation.
        assert.ok(!fnDeps("orderflow-migrate").includes(step));
    });

    it("migrates once per deploy as a step before the functions change, never on a cold start", async () => {
        const invocations = ofType("aws:lambda/invocation:Invocation");
        assert.equal(invocations.length, 1);
        const src = await program();
        const step = invocations[0].inputs;
        assert.equal(step.triggers.migrations, src.migrationsDigest(), "re-run when db/migrations changes");
        assert.deepEqual(JSON.parse(step.input), { migrations: src.migrationsDigest() }, "the binary checks it carries the same");
        // The migrate zip's own SHA-256, computed by the program: a new zip
        // is a new trigger (the provider echoes no hash the program does not set).
        const [migrateFn] = ofType("aws:lambda/function:Function").filter((f) => f.name.endsWith("-migrate"));
        const zip: string = await migrateFn.inputs.code.path;
        const sha = crypto.createHash("sha256").update(fs.readFileSync(zip)).digest("base64");
        assert.equal(step.triggers.code, sha, "re-run when the migrate zip changes");
        assert.equal(migrateFn.inputs.sourceCodeHash, sha, "the function's sourceCodeHash is the zip's, known at preview");
        for (const f of ofType("aws:lambda/function:Function")) {
            const own = crypto.createHash("sha256").update(fs.readFileSync(await f.inputs.code.path)).digest("base64");
            assert.equal(f.inputs.sourceCodeHash, own, `${f.name}'s sourceCodeHash is its own zip's`);
        }
        assert.equal(step.triggers.database, "db-MOCKRESOURCEID", "re-run on a replaced database");
        for (const k of ["masterSecret", "appSecret", "orderIdKeySecret"]) assert.match(step.triggers[k], /^arn:/, k);
        assert.equal(step.triggers.accountConcurrency, "1000", "the account's quota, checked before the step runs");
        // The digest the migrate binary computes from its built-in migrations
        // (engine/tests/it/migrations.rs checks the same example to the same value).
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
        fs.writeFileSync(path.join(dir, "0002_y.sql"), "SELECT 2;\n");
        fs.writeFileSync(path.join(dir, "0001_x.sql"), "SELECT 1;\n");
        assert.equal(src.migrationsDigest(dir), "31a763051d3d939dd7c9589cf588f1b48bf971d6bf6afb6b8dea9f44b5f5253e");
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const fname of ["ingest", "read", "processor", "notifier"]) {
            assert.equal(fns[`orderflow-${fname}`].inputs.environment.variables.DB_MIGRATE_ON_START, "false", fname);
        }
        const migrate = fns["orderflow-migrate"];
        assert.equal(migrate.inputs.reservedConcurrentExecutions, 1);
        // This stack is named `test`, on the dev preset: the preset decides
        // (a production-preset stack named `dev` seeds nothing: production.test.ts).
        assert.equal(migrate.inputs.environment.variables.DEMO_INVENTORY, "true", "demo stock on the dev preset, whatever the stack's name");
    });

    it("publishes a version each deploy and calls the live alias, so a bad deploy rolls back in one step", () => {
        for (const f of ofType("aws:lambda/function:Function")) assert.equal(f.inputs.publish, true, f.name);
        const aliases = ofType("aws:lambda/alias:Alias");
        assert.deepEqual(aliases.map((a) => a.name).sort(), ["orderflow-ingest-live", "orderflow-notifier-live", "orderflow-processor-live", "orderflow-read-live"]);
        for (const a of aliases) {
            assert.equal(a.inputs.name, "live");
            assert.equal(a.inputs.functionVersion, "7", `${a.name}: the version just published`);
        }
        for (const m of ofType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
            assert.equal(m.inputs.functionName, `arn:aws:mock:::${m.name}-live`, `${m.name}: through the alias`);
        }
        for (const i of ofType("aws:apigatewayv2/integration:Integration")) {
            assert.equal(i.inputs.integrationUri, `arn:aws:lambda:mock:${i.name}-live/invocations`, `${i.name}: through the alias`);
        }
        for (const p of ofType("aws:lambda/permission:Permission")) assert.equal(p.inputs.qualifier, "live", p.name);
    });

    it("names what AWS sees after the stack, so two stacks in one account do not collide", () => {
        const fns = ofType("aws:lambda/function:Function").map((f) => f.inputs.name).sort();
        assert.deepEqual(fns, ["orderflow-test-ingest", "orderflow-test-migrate", "orderflow-test-notifier", "orderflow-test-processor", "orderflow-test-read"]);
        for (const g of ofType("aws:cloudwatch/logGroup:LogGroup")) assert.match(g.inputs.name, /^\/aws\/(lambda|apigateway)\/orderflow-test-/);
        for (const q of ofType("aws:sqs/queue:Queue")) assert.equal(q.inputs.name, undefined, "queues named by Pulumi");
    });

    it("keeps logs for a bounded time, as JSON lines", () => {
        for (const f of ofType("aws:lambda/function:Function")) assert.equal(f.inputs.loggingConfig.logFormat, "JSON");
        const groups = ofType("aws:cloudwatch/logGroup:LogGroup");
        assert.equal(groups.length, 6, "five functions and the API's access log");
        for (const g of groups) assert.ok(g.inputs.retentionInDays > 0 && g.inputs.retentionInDays <= 90);
    });
});
