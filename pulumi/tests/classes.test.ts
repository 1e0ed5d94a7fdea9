// Tests that catch classes of risky change, not instances: a resource type
// nobody reviewed, an action or a resource added to a role, a trust or an
// invoke permission wider than it must be, a value that no longer comes
// from the settings file, an alarm watching another resource than its name
// says. Each is a one-line change that the property tests of the other
// test files would let through; scripts/pulumi-mutations.py makes one of
// each and shows it caught.

import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { asList, deployed, mockStack, ofType, program, resources, statements, value } from "./mocks";

mockStack("test", { preset: "dev" });

/** The stack's name prefix, as the mocks see it. */
const NAME = "orderflow";
const arn = (n: string) => `arn:aws:mock:::${NAME}-${n}`;

describe("the orderflow stack, by class", () => {
    before(async () => {
        await deployed();
    });

    it("deploys only the resource types reviewed: a new kind (a function URL, a queue policy) fails until added here", () => {
        const reviewed = [
            "aws:apigatewayv2/api:Api",
            "aws:apigatewayv2/integration:Integration",
            "aws:apigatewayv2/route:Route",
            "aws:apigatewayv2/stage:Stage",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:cloudwatch/logMetricFilter:LogMetricFilter",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:ec2/securityGroup:SecurityGroup",
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            "aws:ec2/subnet:Subnet",
            "aws:ec2/vpc:Vpc",
            "aws:ec2/vpcEndpoint:VpcEndpoint",
            "aws:iam/role:Role",
            "aws:iam/rolePolicy:RolePolicy",
            "aws:lambda/alias:Alias",
            "aws:lambda/eventSourceMapping:EventSourceMapping",
            "aws:lambda/function:Function",
            "aws:lambda/invocation:Invocation",
            "aws:lambda/permission:Permission",
            "aws:rds/instance:Instance",
            "aws:rds/parameterGroup:ParameterGroup",
            "aws:rds/subnetGroup:SubnetGroup",
            "aws:secretsmanager/secret:Secret",
            "aws:sns/topic:Topic",
            "aws:sqs/queue:Queue",
        ];
        // The production preset adds the JWT authorizer and the alarm
        // subscriptions (tests/production.test.ts); a rehearsal, Cognito's
        // pool, domain, resource server and client (tests/rehearsal.test.ts).
        const types = [...new Set(resources.map((r) => r.type))].filter((t) => t !== "pulumi:pulumi:Stack").sort();
        assert.deepEqual(types, reviewed);
    });

    it("grants each function exactly its actions on exactly its resources (set equality, not contains)", () => {
        const secret = { app: arn("app-db"), idKey: arn("order-id-key"), master: "arn:aws:secretsmanager:mock:secret:db" };
        const queue = { orders: arn("orders"), processed: arn("processed") };
        const network = [
            "ec2:CreateNetworkInterface",
            "ec2:DeleteNetworkInterface",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSubnets",
            "ec2:AssignPrivateIpAddresses",
            "ec2:UnassignPrivateIpAddresses",
        ];
        const common = (fname: string) => ({
            "logs:CreateLogStream": [`${arn(fname)}:*`],
            "logs:PutLogEvents": [`${arn(fname)}:*`],
        });
        const expected: Record<string, Record<string, string[]>> = {
            ingest: {
                ...common("ingest"),
                "sqs:SendMessage": [queue.orders],
                "sqs:GetQueueAttributes": [queue.orders],
                "secretsmanager:GetSecretValue": [secret.idKey],
            },
            read: {
                ...common("read"),
                "sqs:GetQueueAttributes": [queue.orders, queue.processed],
                "secretsmanager:GetSecretValue": [secret.app],
            },
            processor: {
                ...common("processor"),
                "sqs:ReceiveMessage": [queue.orders],
                "sqs:DeleteMessage": [queue.orders],
                "sqs:ChangeMessageVisibility": [queue.orders],
                "sqs:GetQueueAttributes": [queue.orders, queue.processed],
                "sqs:SendMessage": [queue.processed],
                "secretsmanager:GetSecretValue": [secret.app],
            },
            notifier: {
                ...common("notifier"),
                "sqs:ReceiveMessage": [queue.processed],
                "sqs:DeleteMessage": [queue.processed],
                "sqs:ChangeMessageVisibility": [queue.processed],
                "sqs:GetQueueAttributes": [queue.processed],
                "secretsmanager:GetSecretValue": [secret.app],
            },
            migrate: {
                ...common("migrate"),
                "secretsmanager:GetSecretValue": [secret.app, secret.idKey, secret.master].sort(),
                "secretsmanager:PutSecretValue": [secret.app, secret.idKey],
                "secretsmanager:DescribeSecret": [secret.app, secret.idKey],
                "secretsmanager:UpdateSecretVersionStage": [secret.app, secret.idKey],
            },
        };
        const policies = statements();
        for (const [fname, want] of Object.entries(expected)) {
            const got: Record<string, Set<string>> = {};
            for (const st of policies[`${NAME}-${fname}`]) {
                assert.equal(st.Effect, "Allow", `${fname}: allows only`);
                for (const a of asList(st.Action as string | string[])) {
                    if (network.includes(a)) continue; // held to the VPC: iam.test.ts
                    for (const r of asList(st.Resource as string | string[])) (got[a] ??= new Set()).add(r);
                }
            }
            const sorted = Object.fromEntries(Object.entries(got).map(([a, rs]) => [a, [...rs].sort()]));
            const wanted = Object.fromEntries(Object.entries(want).map(([a, rs]) => [a, [...rs].sort()]));
            assert.deepEqual(sorted, wanted, `${fname}'s role`);
        }
        assert.deepEqual(Object.keys(policies).sort(), Object.keys(expected).map((f) => `${NAME}-${f}`).sort(), "one role a function");
    });

    it("lets only Lambda assume the functions' roles, with no condition to widen or narrow it", () => {
        const roles = ofType("aws:iam/role:Role");
        assert.equal(roles.length, 5);
        for (const r of roles) {
            const trust = JSON.parse(r.inputs.assumeRolePolicy);
            assert.deepEqual(
                trust.Statement,
                [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }],
                `${r.name}'s trust`,
            );
        }
    });

    it("lets API Gateway invoke each live alias only for the routes it serves, on the $default stage", async () => {
        const [api] = ofType("aws:apigatewayv2/api:Api");
        const execution = "arn:aws:execute-api:mock:abc123";
        assert.ok(api);
        const permissions = ofType("aws:lambda/permission:Permission");
        const got = await Promise.all(
            permissions.map(async (p) => {
                assert.equal(p.inputs.principal, "apigateway.amazonaws.com", p.name);
                assert.equal(p.inputs.action, "lambda:InvokeFunction", p.name);
                assert.equal(p.inputs.qualifier, "live", p.name);
                assert.equal(p.inputs.sourceAccount, undefined, p.name);
                return `${await value(p.inputs.function)} ${await value(p.inputs.sourceArn)}`;
            }),
        );
        assert.deepEqual(got.sort(), [
            `${NAME}-test-ingest ${execution}/$default/POST/api/orders`,
            `${NAME}-test-read ${execution}/$default/GET/api/inventory`,
            `${NAME}-test-read ${execution}/$default/GET/api/inventory/*`,
            `${NAME}-test-read ${execution}/$default/GET/api/orders/*`,
            `${NAME}-test-read ${execution}/$default/GET/health`,
        ]);
    });

    it("takes every value of the shape from the settings file, where it lands", async () => {
        const src = await program();
        const shape = src.readShape();
        const settings = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), "..", "deploy", "settings.json"), "utf8"));
        assert.deepEqual(shape, settings, "the program reads deploy/settings.json as it is");
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const fname of ["ingest", "read", "processor", "notifier"] as const) {
            const f = fns[`${NAME}-${fname}`].inputs;
            const want = shape.functions[fname]!;
            assert.deepEqual(
                [f.memorySize, f.timeout, f.reservedConcurrentExecutions, f.environment.variables.DB_MAX_CONNECTIONS],
                [want.memory_mb, want.timeout_secs, want.reserved_concurrency ?? -1, String(want.pool_size)],
                fname,
            );
        }
        const mappings = ofType("aws:lambda/eventSourceMapping:EventSourceMapping");
        assert.equal(mappings.length, 2);
        for (const m of mappings) {
            const fname = m.name.replace(`${NAME}-`, "") as "processor" | "notifier";
            const want = shape.event_sources[fname];
            assert.notEqual(m.inputs.enabled, false, `${fname}'s mapping is enabled`);
            assert.deepEqual(
                [m.inputs.batchSize, m.inputs.maximumBatchingWindowInSeconds, m.inputs.scalingConfig?.maximumConcurrency],
                [want.batch_size, want.batching_window_secs, want.maximum_concurrency],
                `${fname}'s mapping`,
            );
        }
        const queues = ofType("aws:sqs/queue:Queue");
        assert.equal(queues.length, 4);
        for (const q of queues) {
            const dlq = q.name.endsWith("-dlq");
            assert.equal(q.inputs.messageRetentionSeconds, dlq ? 14 * 24 * 3600 : undefined, `${q.name}: retention (a DLQ keeps 14 days, a queue SQS's 4)`);
            if (!dlq) {
                assert.equal(q.inputs.visibilityTimeoutSeconds, shape.visibility_timeout_secs, q.name);
                assert.equal(JSON.parse(await value(q.inputs.redrivePolicy)).maxReceiveCount, shape.max_receive_count, q.name);
            }
        }
        const [stage] = ofType("aws:apigatewayv2/stage:Stage");
        assert.deepEqual(
            [stage.inputs.defaultRouteSettings.throttlingRateLimit, stage.inputs.defaultRouteSettings.throttlingBurstLimit],
            [shape.stage_throttle.rate, shape.stage_throttle.burst],
        );
        const routes = Object.fromEntries(
            stage.inputs.routeSettings.map((r: any) => [r.routeKey, { rate: r.throttlingRateLimit, burst: r.throttlingBurstLimit }]),
        );
        assert.deepEqual(routes, shape.route_throttles);
    });

    it("names in each alarm the resource its name says it watches", async () => {
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
        const fns = ["ingest", "read", "processor", "notifier"];
        let checked = 0;
        for (const a of alarms) {
            const what = a.name.replace(`${NAME}-`, "");
            const d = a.inputs.dimensions ?? {};
            if (d.FunctionName !== undefined) {
                const fname = fns.find((f) => what.startsWith(`${f}-`));
                assert.ok(fname, `${a.name}: a function's alarm is named after it`);
                assert.equal(await value(d.FunctionName), `${NAME}-test-${fname}`, a.name);
                checked++;
            }
            if (d.QueueName !== undefined) {
                const q = what.startsWith("orders-") ? "orders" : what.startsWith("processed-") ? "processed" : undefined;
                assert.ok(q, `${a.name}: a queue's alarm is named after it`);
                const want = what.includes("-dlq-") ? `${q}-dlq` : q;
                assert.equal(await value(d.QueueName), `${NAME}-${want}`, a.name);
                checked++;
            }
            if (d.DBInstanceIdentifier !== undefined) {
                assert.ok(what.startsWith("db-"), a.name);
                assert.equal(await value(d.DBInstanceIdentifier), `${NAME}-db`, a.name);
                checked++;
            }
        }
        assert.ok(checked >= 15, `${checked} alarms checked`);
    });
});
