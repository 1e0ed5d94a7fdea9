// Unit tests of the Pulumi program on Pulumi's mocks: no cloud, no CLI.
// Each test states one security or reliability property of the deployment.

import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, any>;
}
const resources: Recorded[] = [];

pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs) {
            resources.push({ type: args.type, name: args.name, inputs: args.inputs });
            const state: Record<string, any> = { ...args.inputs, arn: `arn:aws:mock:::${args.name}` };
            if (args.type === "aws:sqs/queue:Queue") state.url = `https://sqs.mock/123456789012/${args.name}`;
            if (args.type === "aws:rds/instance:Instance") {
                state.address = "db.mock";
                state.port = 3306;
                state.masterUserSecrets = [{ secretArn: "arn:aws:secretsmanager:mock:secret:db" }];
            }
            if (args.type === "aws:apigatewayv2/api:Api") {
                state.apiEndpoint = "https://abc123.execute-api.mock";
                state.executionArn = "arn:aws:execute-api:mock:abc123";
            }
            if (args.type === "aws:lambda/function:Function") state.invokeArn = `arn:aws:lambda:mock:${args.name}/invocations`;
            return { id: `${args.name}-id`, state };
        },
        call(args: pulumi.runtime.MockCallArgs) {
            if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones") return { names: ["az-a", "az-b"] };
            if (args.token === "aws:index/getRegion:getRegion") return { name: "us-east-1", region: "us-east-1" };
            return args.inputs;
        },
    },
    "orderflow",
    "test",
    true,
);

/** Resolves an Output in tests. */
function value<T>(o: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

const ofType = (t: string) => resources.filter((r) => r.type === t);

describe("the orderflow stack", () => {
    let out: Record<string, pulumi.Output<string>>;

    before(async () => {
        const infra = await import("../infra");
        out = infra.deploy(infra.settings()) as unknown as Record<string, pulumi.Output<string>>;
        // Let every resource register.
        await value(out.api_endpoint);
        await new Promise((r) => setTimeout(r, 100));
    });
    after(() => undefined);

    it("keeps the database private, encrypted, with a generated password in Secrets Manager", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.engine, "mysql");
        assert.match(db.inputs.engineVersion, /^8\./);
        assert.equal(db.inputs.publiclyAccessible, false);
        assert.equal(db.inputs.storageEncrypted, true);
        assert.equal(db.inputs.manageMasterUserPassword, true);
        assert.equal(db.inputs.password, undefined, "no password in the program");
    });

    it("lets only the functions reach MySQL", () => {
        const dbSg = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "orderflow-db")!;
        assert.equal(dbSg.inputs.ingress.length, 1);
        const rule = dbSg.inputs.ingress[0];
        assert.equal(rule.fromPort, 3306);
        assert.equal(rule.toPort, 3306);
        assert.deepEqual(rule.cidrBlocks ?? [], [], "no CIDR range, only the functions' group");
        assert.deepEqual(rule.securityGroups, ["orderflow-functions-id"]);
    });

    it("reaches SQS and Secrets Manager through VPC endpoints, with no NAT gateway or internet gateway", () => {
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint").map((e) => e.inputs.serviceName);
        assert.deepEqual(endpoints.sort(), ["com.amazonaws.us-east-1.secretsmanager", "com.amazonaws.us-east-1.sqs"]);
        assert.equal(ofType("aws:ec2/natGateway:NatGateway").length, 0);
        assert.equal(ofType("aws:ec2/internetGateway:InternetGateway").length, 0);
        for (const s of ofType("aws:ec2/subnet:Subnet")) assert.equal(s.inputs.mapPublicIpOnLaunch, false);
    });

    it("moves a message to its DLQ after 3 receives, on both queues, and alarms on DLQ depth", () => {
        const queues = ofType("aws:sqs/queue:Queue");
        const main = queues.filter((q) => !q.name.endsWith("-dlq"));
        assert.equal(main.length, 2);
        for (const q of main) {
            const policy = JSON.parse(q.inputs.redrivePolicy);
            assert.equal(policy.maxReceiveCount, 3);
            assert.match(policy.deadLetterTargetArn, /-dlq$/);
            assert.ok(q.inputs.visibilityTimeoutSeconds >= 6 * 30, "visibility covers retried invocations");
        }
        for (const q of queues) assert.equal(q.inputs.sqsManagedSseEnabled, true);
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
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

    it("runs the Rust zips on provided.al2023, in the VPC, with no password in the environment", () => {
        const fns = ofType("aws:lambda/function:Function");
        assert.deepEqual(fns.map((f) => f.name).sort(), ["orderflow-ingest", "orderflow-migrate", "orderflow-notifier", "orderflow-processor"]);
        for (const f of fns) {
            assert.equal(f.inputs.runtime, "provided.al2023");
            assert.equal(f.inputs.handler, "bootstrap");
            assert.ok(f.inputs.vpcConfig.subnetIds.length === 2);
            const vars = f.inputs.environment.variables;
            assert.equal(vars.DB_PASSWORD, undefined);
            assert.equal(vars.DATABASE_URL, undefined);
            assert.equal(vars.DB_SECRET_ARN, "arn:aws:secretsmanager:mock:secret:db");
            assert.equal(vars.QUEUE_BACKEND, "sqs");
        }
    });

    it("gives each function only the actions it needs", () => {
        const policies = Object.fromEntries(
            ofType("aws:iam/rolePolicy:RolePolicy").map((p) => [p.name, JSON.parse(p.inputs.policy)]),
        );
        const actions = (fname: string) =>
            new Set(policies[`orderflow-${fname}`].Statement.flatMap((s: any) => s.Action as string[]));
        for (const fname of ["ingest", "processor", "notifier", "migrate"]) {
            for (const st of policies[`orderflow-${fname}`].Statement) {
                assert.notEqual(st.Resource, "*", `${fname}: no wildcard resource`);
                for (const a of st.Action) assert.ok(!a.endsWith("*"), `${fname}: no wildcard action ${a}`);
            }
        }
        assert.ok(actions("ingest").has("sqs:SendMessage"));
        assert.ok(!actions("ingest").has("sqs:ReceiveMessage"), "ingest only publishes");
        assert.ok(actions("processor").has("sqs:ReceiveMessage"));
        assert.ok(!actions("notifier").has("sqs:SendMessage"), "the notifier publishes nothing");
        for (const fname of ["ingest", "processor", "notifier"]) assert.ok(actions(fname).has("secretsmanager:GetSecretValue"));
        assert.deepEqual([...actions("migrate")].sort(), ["logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"], "the migration step touches no queue");
    });

    it("names what AWS sees after the stack, so two stacks in one account do not collide", () => {
        const fns = ofType("aws:lambda/function:Function").map((f) => f.inputs.name).sort();
        assert.deepEqual(fns, ["orderflow-test-ingest", "orderflow-test-migrate", "orderflow-test-notifier", "orderflow-test-processor"]);
        for (const g of ofType("aws:cloudwatch/logGroup:LogGroup")) assert.match(g.inputs.name, /^\/aws\/lambda\/orderflow-test-/);
        for (const q of ofType("aws:sqs/queue:Queue")) assert.equal(q.inputs.name, undefined, "queues named by Pulumi");
    });

    it("keeps logs for a bounded time, as JSON lines", () => {
        for (const f of ofType("aws:lambda/function:Function")) assert.equal(f.inputs.loggingConfig.logFormat, "JSON");
        const groups = ofType("aws:cloudwatch/logGroup:LogGroup");
        assert.equal(groups.length, 4);
        for (const g of groups) assert.ok(g.inputs.retentionInDays > 0 && g.inputs.retentionInDays <= 90);
    });

    it("exposes the order and read routes only, throttled", () => {
        const routes = ofType("aws:apigatewayv2/route:Route").map((r) => r.inputs.routeKey).sort();
        assert.deepEqual(routes, [
            "GET /api/inventory",
            "GET /api/inventory/{product_id}",
            "GET /api/orders/{order_id}",
            "GET /health",
            "POST /api/orders",
        ]);
        const [stage] = ofType("aws:apigatewayv2/stage:Stage");
        assert.ok(stage.inputs.defaultRouteSettings.throttlingRateLimit > 0);
        assert.ok(stage.inputs.defaultRouteSettings.throttlingBurstLimit > 0);
        const [integration] = ofType("aws:apigatewayv2/integration:Integration");
        assert.equal(integration.inputs.payloadFormatVersion, "2.0");
    });

    it("deploys the shape of deploy/settings.json, inside the database's connection budget", async () => {
        const infra = await import("../infra");
        const shape = infra.readShape();
        // The same figures engine/src/deployment.rs computes from the same file.
        assert.equal(infra.maxConnections("db.t4g.micro"), 85);
        assert.deepEqual(infra.connectionBudget(shape), { needed: 60, available: 75 });
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const fname of ["ingest", "processor", "notifier"] as const) {
            const f = fns[`orderflow-${fname}`];
            const want = shape.functions[fname];
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
        const infra = await import("../infra");
        // The first deployment's shape, which `sim --topology lambda` shows
        // refusing connections (sim/tests/deployed_shape.rs): no caps, so
        // 1,000 environments (the account's limit) times 2 connections, for each function.
        const first = infra.readShape(path.resolve(process.cwd(), "..", "deploy", "first-deployment.json"));
        assert.deepEqual(infra.connectionBudget(first), { needed: 6000, available: 75 });
        assert.throws(() => infra.deploy(infra.settings(first)), /6000 database connections/);
        // One cap short is enough to refuse: the notifier's mapping uncapped.
        const one = infra.readShape();
        one.event_sources.notifier.maximum_concurrency = null;
        one.functions.notifier.reserved_concurrency = null;
        assert.throws(() => infra.deploy(infra.settings(one)), /database connections/);
    });

    it("runs MySQL 8.4, in standard support, with Extended Support refused", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.engine, "mysql");
        assert.equal(db.inputs.engineVersion, "8.4");
        assert.equal(db.inputs.engineLifecycleSupport, "open-source-rds-extended-support-disabled");
    });

    it("migrates once per deploy as a step before the functions change, never on a cold start", () => {
        const invocations = ofType("aws:lambda/invocation:Invocation");
        assert.equal(invocations.length, 1);
        assert.equal(invocations[0].inputs.triggers.migrations.length, 64, "re-run when db/migrations changes");
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const fname of ["ingest", "processor", "notifier"]) {
            assert.equal(fns[`orderflow-${fname}`].inputs.environment.variables.DB_MIGRATE_ON_START, "false", fname);
        }
        const migrate = fns["orderflow-migrate"];
        assert.equal(migrate.inputs.reservedConcurrentExecutions, 1);
        assert.equal(migrate.inputs.environment.variables.DEMO_INVENTORY, "false", "no demo stock outside a dev stack");
    });

    it("exports the endpoints a user needs", async () => {
        assert.equal(await value(out.api_endpoint), "https://abc123.execute-api.mock/");
        assert.equal(await value(out.db_endpoint), "db.mock");
        assert.match(await value(out.order_queue_url), /orderflow-orders$/);
        assert.match(await value(out.processed_queue_url), /orderflow-processed$/);
    });
});
