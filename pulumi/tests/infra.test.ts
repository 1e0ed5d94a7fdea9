// Unit tests of the Pulumi program on Pulumi's mocks: no cloud, no CLI.
// Each test states one security or reliability property of the deployment.

// The `test` stack, with no config: the dev preset, no JWT authorizer, no
// alarm email. tests/production.test.ts deploys a production stack.

import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { asList, dependsOn, deployed, mockStack, ofType, statements, value } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack", () => {
    let out: Record<string, pulumi.Output<string>>;

    before(async () => {
        out = await deployed();
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
        // Each endpoint carries its own service's calls to this account's resources only.
        for (const e of ofType("aws:ec2/vpcEndpoint:VpcEndpoint")) {
            const service = (e.inputs.serviceName as string).split(".").pop();
            const [statement, ...more] = JSON.parse(e.inputs.policy).Statement;
            assert.equal(more.length, 0, e.name);
            assert.equal(statement.Action, `${service}:*`, e.name);
            assert.deepEqual(statement.Condition, { StringEquals: { "aws:ResourceAccount": "123456789012" } }, e.name);
        }
        assert.equal(ofType("aws:ec2/natGateway:NatGateway").length, 0);
        assert.equal(ofType("aws:ec2/internetGateway:InternetGateway").length, 0);
        for (const s of ofType("aws:ec2/subnet:Subnet")) assert.equal(s.inputs.mapPublicIpOnLaunch, false);
    });

    it("puts the subnets in two zones by id, where both endpoints are offered, never use1-az3", async () => {
        const infra = await import("../infra");
        const zones = ofType("aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZoneId);
        assert.deepEqual(zones, ["use1-az1", "use1-az6"], "us-east-1a is use1-az3, Secrets Manager skips us-east-1d");
        for (const s of ofType("aws:ec2/subnet:Subnet")) assert.equal(s.inputs.availabilityZone, undefined, "not by name");
        const names = ["a", "b", "c"];
        assert.deepEqual(infra.pickZones(names, ["z3", "z1", "z2"], [names, names]), ["z1", "z2"], "in id order, the same in every account");
        assert.deepEqual(infra.pickZones(names, ["z3", "z1", "z2"], [names, ["a", "c"]]), ["z2", "z3"], "only where every service is");
        assert.throws(() => infra.pickZones(names, ["z1", "z2", "z3"], [["a"], names]), /two zones offering sqs and secretsmanager endpoints/);
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

    it("gives each function only the actions it needs, on its own queues and secrets", () => {
        const policies = statements();
        const grants = (fname: string) => {
            const out: Record<string, Set<string>> = {};
            for (const st of policies[`orderflow-${fname}`]) {
                for (const a of asList(st.Action as string | string[])) {
                    for (const r of asList(st.Resource as string | string[])) (out[a] ??= new Set()).add(r);
                }
            }
            return out;
        };
        const ingest = grants("ingest");
        assert.deepEqual([...ingest["sqs:SendMessage"]], ["arn:aws:mock:::orderflow-orders"]);
        assert.deepEqual([...ingest["sqs:GetQueueAttributes"]], ["arn:aws:mock:::orderflow-orders"], "ingest reads no other queue");
        assert.equal(ingest["sqs:ReceiveMessage"], undefined, "ingest only publishes");
        assert.deepEqual([...ingest["secretsmanager:GetSecretValue"]], ["arn:aws:mock:::orderflow-order-id-key"], "ingest reads no database secret");
        const read = grants("read");
        assert.deepEqual([...read["secretsmanager:GetSecretValue"]], ["arn:aws:mock:::orderflow-app-db"]);
        assert.deepEqual([...read["sqs:GetQueueAttributes"]].sort(), ["arn:aws:mock:::orderflow-orders", "arn:aws:mock:::orderflow-processed"]);
        assert.equal(read["sqs:SendMessage"], undefined, "the read function publishes nothing");
        assert.equal(read["sqs:ReceiveMessage"], undefined, "the read function consumes nothing");
        const processor = grants("processor");
        assert.deepEqual([...processor["sqs:ReceiveMessage"]], ["arn:aws:mock:::orderflow-orders"]);
        assert.deepEqual([...processor["sqs:SendMessage"]], ["arn:aws:mock:::orderflow-processed"]);
        assert.deepEqual([...processor["secretsmanager:GetSecretValue"]], ["arn:aws:mock:::orderflow-app-db"]);
        const notifier = grants("notifier");
        assert.deepEqual([...notifier["sqs:ReceiveMessage"]], ["arn:aws:mock:::orderflow-processed"]);
        assert.equal(notifier["sqs:SendMessage"], undefined, "the notifier publishes nothing");
        const migrate = grants("migrate");
        assert.ok(!Object.keys(migrate).some((a) => a.startsWith("sqs:")), "the migration step touches no queue");
        assert.deepEqual([...migrate["secretsmanager:PutSecretValue"]].sort(), ["arn:aws:mock:::orderflow-app-db", "arn:aws:mock:::orderflow-order-id-key"]);
        assert.ok(migrate["secretsmanager:GetSecretValue"].has("arn:aws:secretsmanager:mock:secret:db"), "the owner's secret: migrate only");
        for (const f of ["ingest", "read", "processor", "notifier"]) {
            assert.ok(!grants(f)["secretsmanager:GetSecretValue"].has("arn:aws:secretsmanager:mock:secret:db"), `${f} never reads the master secret`);
        }
    });

    it("allows the migration step every Secrets Manager call the code makes, on both secrets it fills", () => {
        // Each `client.<operation>()` of engine/src/secrets.rs is an IAM
        // action: a call added there without its action here fails this
        // test, not the first rotation on AWS (moto enforces no IAM).
        const rs = fs.readFileSync(path.resolve(process.cwd(), "..", "engine", "src", "secrets.rs"), "utf8");
        const calls = [...rs.matchAll(/\bclient\s*\.\s*([a-z_]+)\(\)/g)].map((m) => m[1]);
        const actions = [...new Set(calls)].map((op) => "secretsmanager:" + op.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join(""));
        assert.ok(actions.includes("secretsmanager:UpdateSecretVersionStage"), `${actions}`);
        assert.ok(actions.length >= 4, `${actions}`);
        const filled = ["arn:aws:mock:::orderflow-app-db", "arn:aws:mock:::orderflow-order-id-key"];
        for (const action of actions) {
            for (const secret of filled) {
                const allowed = statements()["orderflow-migrate"].some(
                    (st) => st.Effect === "Allow" && asList(st.Action).includes(action) && asList(st.Resource).includes(secret),
                );
                assert.ok(allowed, `the migrate role may not ${action} on ${secret}`);
            }
        }
    });

    it("attaches no managed policy: every role's rights are inline", () => {
        assert.equal(ofType("aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0);
        assert.equal(ofType("aws:iam/policyAttachment:PolicyAttachment").length, 0);
        assert.equal(ofType("aws:iam/policy:Policy").length, 0);
        for (const r of ofType("aws:iam/role:Role")) {
            assert.deepEqual(r.inputs.managedPolicyArns ?? [], [], `${r.name}: no managed policy`);
        }
        assert.equal(ofType("aws:iam/rolePolicy:RolePolicy").length, 5, "one inline policy a function");
    });

    it("allows a wildcard only for the network-interface actions AWS requires, and each log group only to its function", async () => {
        const infra = await import("../infra");
        const groups = Object.fromEntries(ofType("aws:cloudwatch/logGroup:LogGroup").map((g) => [g.name, `arn:aws:mock:::${g.name}`]));
        for (const [policy, sts] of Object.entries(statements())) {
            for (const st of sts) {
                assert.equal(st.Effect, "Allow");
                const actions = asList(st.Action as string | string[]);
                for (const a of actions) assert.ok(!a.includes("*"), `${policy}: wildcard action ${a}`);
                for (const r of asList(st.Resource as string | string[])) {
                    if (r === "*") {
                        const changes = infra.NETWORK_INTERFACE_ACTIONS.filter((a) => !infra.NETWORK_INTERFACE_DESCRIBES.includes(a));
                        if (st.Condition === undefined) {
                            assert.deepEqual(actions, infra.NETWORK_INTERFACE_DESCRIBES, `${policy}: \`*\` unconditioned only for the describes`);
                        } else {
                            assert.deepEqual(actions, changes, `${policy}: \`*\` for the network-interface changes`);
                            assert.deepEqual(st.Condition, { ArnEquals: { "ec2:Vpc": "arn:aws:mock:::orderflow-vpc" } }, `${policy}: only in the stack's VPC`);
                        }
                    } else if (r.includes("*")) {
                        assert.equal(r, `${groups[policy]}:*`, `${policy}: a wildcard only over its own log group's streams`);
                    }
                }
            }
        }
    });

    it("lets nothing out of the VPC, in any spelling of a range, and the functions only to MySQL and the endpoints", () => {
        // Every CIDR a rule names must lie inside the VPC's 10.20.0.0/16;
        // any IPv6 range is out (the VPC has none).
        const inside = (cidr: string) => {
            const [ip, bits] = cidr.split("/");
            const [a, b] = ip.split(".").map(Number);
            return Number(bits) >= 16 && a === 10 && b === 20;
        };
        const cidrs = (r: Record<string, any>) => [...(r.cidrBlocks ?? []), ...(r.cidrIpv4 ? [r.cidrIpv4] : [])];
        const v6 = (r: Record<string, any>) => [...(r.ipv6CidrBlocks ?? []), ...(r.cidrIpv6 ? [r.cidrIpv6] : [])];
        for (const sg of [...ofType("aws:ec2/securityGroup:SecurityGroup"), ...ofType("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")]) {
            for (const rule of [...(sg.inputs.egress ?? []), ...(sg.inputs.ingress ?? [])]) {
                for (const cidr of cidrs(rule)) assert.ok(inside(cidr), `${sg.name}: ${cidr} reaches outside the VPC`);
                assert.deepEqual(v6(rule), [], `${sg.name}: IPv6`);
            }
        }
        const rules = [
            ...ofType("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
            ...ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
            ...ofType("aws:ec2/securityGroupRule:SecurityGroupRule"),
        ];
        for (const r of rules) {
            for (const cidr of cidrs(r.inputs)) assert.ok(inside(cidr), `${r.name}: ${cidr} reaches outside the VPC`);
            assert.deepEqual(v6(r.inputs), [], `${r.name}: IPv6`);
        }
        // The functions' group: no rule of its own, two egress rules, each
        // to one group on one port.
        const fnSg = ofType("aws:ec2/securityGroup:SecurityGroup").find((r) => r.name === "orderflow-functions")!;
        assert.deepEqual(fnSg.inputs.egress, []);
        const egress = rules.filter((r) => r.inputs.securityGroupId === "orderflow-functions-id" && r.inputs.type === "egress");
        const to = egress.map((r) => `${r.inputs.fromPort}-${r.inputs.toPort} ${r.inputs.sourceSecurityGroupId}`).sort();
        assert.deepEqual(to, ["3306-3306 orderflow-db-id", "443-443 orderflow-endpoints-id"]);
        // The VPC's default group allows nothing.
        const [def] = ofType("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup");
        assert.deepEqual([def.inputs.ingress, def.inputs.egress], [[], []]);
    });

    const fnDeps = (name: string) => dependsOn[`aws:lambda/function:Function ${name}`];
    it("resolves the SQS and Secrets Manager names to the endpoints (private DNS), and makes the functions and the migration step wait for them", () => {
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
        for (const e of endpoints) assert.equal(e.inputs.privateDnsEnabled, true, e.name);
        const names = endpoints.map((e) => `aws:ec2/vpcEndpoint:VpcEndpoint ${e.name}`);
        for (const f of ofType("aws:lambda/function:Function")) {
            for (const e of names) assert.ok(fnDeps(f.name).includes(e), `${f.name} waits for ${e}`);
        }
        const step = dependsOn["aws:lambda/invocation:Invocation orderflow-migrate"];
        for (const e of names) assert.ok(step.includes(e), `the migration step waits for ${e}`);
    });

    it("updates the functions that use the schema only after the migration step", () => {
        const step = "aws:lambda/invocation:Invocation orderflow-migrate";
        for (const f of ["ingest", "read", "processor", "notifier"]) {
            assert.ok(fnDeps(`orderflow-${f}`).includes(step), `${f} after the migration step`);
        }
        // The migrate function itself cannot wait for its own invocation.
        assert.ok(!fnDeps("orderflow-migrate").includes(step));
    });

    it("refuses config a deploy would fail on: no preset, a log retention CloudWatch lacks, too little storage, zips of another architecture, more provisioned than reserved", async () => {
        const infra = await import("../infra");
        const config = (values: Record<string, string>) =>
            pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`orderflow:${k}`, v])));
        try {
            config({});
            assert.throws(() => infra.settings(), /set the stack's preset/);
            config({ preset: "staging" });
            assert.throws(() => infra.settings(), /preset must be production or dev/);
            config({ preset: "dev", logRetentionDays: "10" });
            assert.throws(() => infra.settings(), /logRetentionDays must be one of/);
            config({ preset: "dev", dbAllocatedStorage: "10" });
            assert.throws(() => infra.settings(), /at least 20/);
            config({ preset: "dev", logRetentionDays: "14", dbAllocatedStorage: "50" });
            assert.equal(infra.settings().db.logRetentionDays, 14);
            // Zips built for one architecture, deployed as another.
            const zips = fs.mkdtempSync(path.join(os.tmpdir(), "orderflow-manifest-"));
            fs.writeFileSync(path.join(zips, "manifest.json"), JSON.stringify({ architecture: "x86_64" }));
            config({ preset: "dev", lambdaDir: zips, architecture: "arm64" });
            assert.throws(() => infra.settings(), /built for x86_64, and this stack deploys arm64/);
            config({ preset: "dev", lambdaDir: zips, architecture: "x86_64" });
            assert.equal(infra.settings().architecture, "x86_64");
            // Provisioned concurrency comes out of ingest's reservation.
            config({ preset: "dev", saleProvisionedConcurrency: "801" });
            assert.throws(() => infra.settings(), /from 0 to ingest's reserved concurrency \(800\)/);
            config({ preset: "dev", saleProvisionedConcurrency: "100" });
            assert.equal(infra.settings().saleProvisionedConcurrency, 100);
        } finally {
            config({ preset: "dev" });
        }
    });

    it("deploys the settings file `sim plan` chose (settingsFile), whose connection budget it accepts", async () => {
        const infra = await import("../infra");
        const config = (values: Record<string, string>) =>
            pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(values).map(([k, v]) => [`orderflow:${k}`, v])));
        for (const file of ["../deploy/planned/flash-sale-central.json", "../deploy/planned/flash-sale-pessimistic.json"]) {
            try {
                config({ preset: "dev", settingsFile: file });
                const s = infra.settings();
                const planned = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), file), "utf8"));
                assert.deepEqual(s.shape, planned, `${file} is the shape deployed`);
                assert.equal(s.architecture, planned.architecture ?? "x86_64", "the file's architecture, unless the stack says otherwise");
                infra.checkShape(s.shape);
                const budget = infra.connectionBudget(s.shape);
                assert.ok(budget.needed <= budget.available, `${file}: ${budget.needed} of ${budget.available}`);
            } finally {
                config({ preset: "dev" });
            }
        }
        config({ preset: "dev", settingsFile: "../deploy/planned/flash-sale-central.json", architecture: "x86_64" });
        try {
            assert.equal(infra.settings().architecture, "x86_64", "the stack's config overrides the file");
        } finally {
            config({ preset: "dev" });
        }
    });

    it("refuses an account whose Lambda concurrency quota cannot hold the reservations and AWS's unreserved 100", async () => {
        const infra = await import("../infra");
        const shape = infra.readShape();
        // 800 ingest + 25 read + 15 processor + 5 notifier + 1 migrate.
        assert.equal(infra.checkAccountConcurrency(946, shape), 946);
        assert.throws(() => infra.checkAccountConcurrency(945, shape), /ask for at least 946/);
        assert.throws(() => infra.checkAccountConcurrency(10, shape), /quota is 10/, "a new account's");
    });

    it("changes the database when you say so: pinned windows, deferred changes unless asked, gp3 that may grow", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.instanceClass, "db.t4g.micro", "a dev stack runs the shape's class");
        assert.equal(db.inputs.applyImmediately, false, "a class or storage change waits for the window");
        assert.equal(db.inputs.maintenanceWindow, "sun:03:00-sun:04:00");
        assert.equal(db.inputs.backupWindow, "02:00-02:30");
        assert.equal(db.inputs.autoMinorVersionUpgrade, true, "minor upgrades, in that window");
        assert.equal(db.inputs.storageType, "gp3");
        assert.equal(db.inputs.maxAllocatedStorage, 100);
        assert.deepEqual(db.inputs.enabledCloudwatchLogsExports, ["error", "slowquery"]);
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

    it("refuses a visibility timeout under six times a consumer's timeout", async () => {
        const infra = await import("../infra");
        const short = infra.readShape();
        short.visibility_timeout_secs = 6 * short.functions.processor.timeout_secs - 1;
        assert.throws(() => infra.checkShape(short), /six times/);
        infra.checkShape(infra.readShape());
    });

    it("requires TLS to the database, verified against the RDS CAs with the host name", () => {
        const [params] = ofType("aws:rds/parameterGroup:ParameterGroup");
        assert.equal(params.inputs.family, "mysql8.4");
        const p = Object.fromEntries(params.inputs.parameters.map((x: any) => [x.name, x.value]));
        assert.equal(p.require_secure_transport, "1");
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.parameterGroupName, params.name, "the instance uses it");
        for (const f of ofType("aws:lambda/function:Function")) {
            assert.equal(f.inputs.environment.variables.DB_SSL_MODE, "verify-identity", f.name);
            assert.equal(f.inputs.environment.variables.DB_SSL_CA, "rds", f.name);
        }
    });

    it("sets lock waits below the function timeout and closes idle connections in minutes", async () => {
        const infra = await import("../infra");
        const [params] = ofType("aws:rds/parameterGroup:ParameterGroup");
        const p = Object.fromEntries(params.inputs.parameters.map((x: any) => [x.name, Number(x.value)]));
        const shortest = Math.min(...ofType("aws:lambda/function:Function").map((f) => f.inputs.timeout));
        assert.ok(p.innodb_lock_wait_timeout < shortest, `lock wait ${p.innodb_lock_wait_timeout} s < ${shortest} s`);
        assert.equal(p.innodb_lock_wait_timeout, infra.lockWaitSecs(infra.readShape()));
        assert.ok(p.wait_timeout >= 60 && p.wait_timeout <= 900, `wait_timeout ${p.wait_timeout} s`);
        assert.equal(p.wait_timeout, infra.readShape().wait_timeout_secs);
    });

    it("sets max_connections explicitly, the number the budget and the connection alarm read", async () => {
        const infra = await import("../infra");
        const shape = infra.readShape();
        const [params] = ofType("aws:rds/parameterGroup:ParameterGroup");
        const p = Object.fromEntries(params.inputs.parameters.map((x: any) => [x.name, Number(x.value)]));
        assert.equal(p.max_connections, shape.max_connections);
        const alarm = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.metricName === "DatabaseConnections")!;
        assert.equal(alarm.inputs.threshold, infra.connectionAlarmThreshold(shape));
        assert.ok(alarm.inputs.threshold < shape.max_connections, "reachable below the limit");
        // The same shape against a smaller explicit limit is refused.
        const smaller = { ...shape, max_connections: infra.connectionBudget(shape).needed + shape.reserved_connections - 1 };
        assert.throws(() => infra.checkShape(smaller), /max_connections/);
    });

    it("caps every event source mapping's concurrency, within its function's reserved concurrency", async () => {
        const infra = await import("../infra");
        const fns = Object.fromEntries(ofType("aws:lambda/function:Function").map((f) => [f.name, f]));
        for (const m of ofType("aws:lambda/eventSourceMapping:EventSourceMapping")) {
            const cap = m.inputs.scalingConfig?.maximumConcurrency;
            assert.ok(cap >= 2, `${m.name}: a maximumConcurrency`);
            const reserved = fns[m.name].inputs.reservedConcurrentExecutions;
            assert.ok(reserved > 0 && cap <= reserved, `${m.name}: ${cap} within ${reserved}`);
        }
        const uncapped = infra.readShape();
        uncapped.event_sources.processor.maximum_concurrency = null;
        assert.throws(() => infra.checkShape(uncapped), /processor mapping needs a maximum_concurrency/);
        const above = infra.readShape();
        above.event_sources.notifier.maximum_concurrency = above.functions.notifier.reserved_concurrency! + 1;
        assert.throws(() => infra.checkShape(above), /above the function's reserved concurrency/);
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
        const infra = await import("../infra");
        const emf = fs.readFileSync(path.resolve(process.cwd(), "..", "engine", "src", "lambda", "emf.rs"), "utf8");
        assert.ok(emf.includes(`pub const NAMESPACE: &str = "${infra.EMF.namespace}";`), "the namespace the functions write");
        for (const metric of [infra.EMF.storeRetries, infra.EMF.batchesLeft]) assert.ok(emf.includes(`"${metric}"`), metric);
        const alarms = ofType("aws:cloudwatch/metricAlarm:MetricAlarm");
        for (const f of ["processor", "notifier"]) {
            for (const [id, metric] of [["store-retries", infra.EMF.storeRetries], ["batches-left", infra.EMF.batchesLeft]]) {
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

    it("logs every API request as JSON", () => {
        const [stage] = ofType("aws:apigatewayv2/stage:Stage");
        const group = ofType("aws:cloudwatch/logGroup:LogGroup").find((g) => g.name === "orderflow-api-access")!;
        assert.equal(stage.inputs.accessLogSettings.destinationArn, "arn:aws:mock:::orderflow-api-access");
        assert.equal(group.inputs.name, "/aws/apigateway/orderflow-test-access");
        const format = JSON.parse(stage.inputs.accessLogSettings.format);
        for (const field of ["requestId", "ip", "route", "status"]) assert.ok(format[field], field);
    });

    it("on a dev stack: single-AZ, no deletion protection or final snapshot, and the API anonymous unless a JWT issuer is set", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.multiAz, false);
        assert.equal(db.inputs.deletionProtection, false);
        assert.equal(db.inputs.skipFinalSnapshot, true);
        assert.equal(ofType("aws:apigatewayv2/authorizer:Authorizer").length, 0);
        for (const r of ofType("aws:apigatewayv2/route:Route")) assert.equal(r.inputs.authorizationType, undefined);
        const ingest = ofType("aws:lambda/function:Function").find((f) => f.name === "orderflow-ingest")!;
        assert.equal(ingest.inputs.environment.variables.CUSTOMER_CLAIM, undefined, "no token, no claim to check");
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
        const integrations = ofType("aws:apigatewayv2/integration:Integration");
        for (const i of integrations) assert.equal(i.inputs.payloadFormatVersion, "2.0");
        // Orders to ingest, every read to the read function.
        const target = (fname: string) => `integrations/orderflow-${fname}-id`;
        for (const r of ofType("aws:apigatewayv2/route:Route")) {
            assert.equal(r.inputs.target, target(r.inputs.routeKey === "POST /api/orders" ? "ingest" : "read"), r.inputs.routeKey);
        }
        // Each read route's own throttle, as deploy/settings.json gives it.
        const shape = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), "..", "deploy", "settings.json"), "utf8"));
        const own = Object.fromEntries(stage.inputs.routeSettings.map((r: { routeKey: string; throttlingRateLimit: number; throttlingBurstLimit: number }) => [r.routeKey, { rate: r.throttlingRateLimit, burst: r.throttlingBurstLimit }]));
        assert.deepEqual(own, shape.route_throttles);
        assert.ok(own["GET /health"].rate < stage.inputs.defaultRouteSettings.throttlingRateLimit);
    });

    it("computes the connection budget of every hand-worked case the engine also computes", async () => {
        const infra = await import("../infra");
        const table = JSON.parse(fs.readFileSync(path.resolve("..", "deploy", "budget-cases.json"), "utf8"));
        const merge = (base: any, edit: any): any => {
            if (edit === null || typeof edit !== "object" || base === null || typeof base !== "object") return edit;
            const out = { ...base };
            for (const [k, v] of Object.entries(edit)) out[k] = merge(base[k], v);
            return out;
        };
        assert.ok(table.cases.length >= 8);
        for (const c of table.cases) {
            const shape = infra.validShape(merge(infra.readShape(), c.edit), c.name);
            const budget = infra.connectionBudget(shape);
            assert.deepEqual(
                { needed: budget.needed, available: budget.available, fits: budget.needed <= budget.available },
                { needed: c.needed, available: c.available, fits: c.fits },
                c.name,
            );
        }
    });

    it("deploys the alarms, endpoints and secrets the sim's bill charges for", () => {
        // sim/src/aws/bill.rs charges a run for what the stack keeps
        // running beside the functions; these are the counts it uses.
        const rs = fs.readFileSync(path.resolve("..", "sim", "src", "aws", "bill.rs"), "utf8");
        const constant = (name: string) => Number(new RegExp(`pub const ${name}: u32 = (\\d+);`).exec(rs)?.[1]);
        assert.equal(ofType("aws:cloudwatch/metricAlarm:MetricAlarm").length, constant("ALARMS"), "alarms");
        const endpoints = ofType("aws:ec2/vpcEndpoint:VpcEndpoint");
        assert.equal(endpoints.length, constant("ENDPOINTS"), "interface endpoints");
        for (const e of endpoints) assert.equal(e.inputs.subnetIds.length, constant("ZONES"), `${e.name}'s zones`);
        // The stack's own secrets, and the master user's, which RDS makes.
        assert.equal(ofType("aws:secretsmanager/secret:Secret").length + 1, constant("SECRETS"), "secrets");
    });

    it("refuses a settings file the engine's schema refuses", async () => {
        const infra = await import("../infra");
        const shipped = infra.readShape();
        const misspelt: any = { ...shipped, max_connection: shipped.max_connections };
        delete misspelt.max_connections;
        assert.throws(() => infra.validShape(misspelt, "misspelt.json"), /misspelt.json is not a settings file.*max_connection/);
        const unknown: any = { ...shipped, functions: { ...shipped.functions, reader: shipped.functions.ingest } };
        assert.throws(() => infra.validShape(unknown, "f.json"), /functions.*reader/);
        const typed: any = { ...shipped, stage_throttle: { rate: "fast", burst: 1 } };
        assert.throws(() => infra.validShape(typed, "t.json"), /stage_throttle\/rate must be integer/);
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "shape-")), "settings.json");
        fs.writeFileSync(file, JSON.stringify(misspelt));
        assert.throws(() => infra.readShape(file), /max_connection/);
    });

    it("deploys the shape of deploy/settings.json, inside the database's connection budget", async () => {
        const infra = await import("../infra");
        const shape = infra.readShape();
        // The same figures engine/src/deployment.rs computes from the same file.
        assert.deepEqual(infra.connectionBudget(shape), { needed: 45, available: 50 });
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
        const infra = await import("../infra");
        // The first deployment's shape, which `sim --topology lambda` shows
        // refusing connections (sim/tests/deployed_shape.rs): no caps, so
        // 1,000 environments (the account's limit) times 2 connections, for each function.
        const first = infra.readShape(path.resolve(process.cwd(), "..", "deploy", "first-deployment.json"));
        assert.deepEqual(infra.connectionBudget(first), { needed: 6000, available: 56 });
        assert.throws(() => infra.deploy(infra.settings(first)), /6000 database connections/);
        // One cap short is enough to refuse: the notifier's mapping uncapped.
        const one = infra.readShape();
        one.event_sources.notifier.maximum_concurrency = null;
        one.functions.notifier.reserved_concurrency = null;
        assert.throws(() => infra.deploy(infra.settings(one)), /database connections/);
    });

    it("refuses an ingest without a database unless a read function serves the reads, and route throttles past the stage's", async () => {
        const infra = await import("../infra");
        const noRead = infra.readShape();
        delete noRead.functions.read;
        assert.throws(() => infra.deploy(infra.settings(noRead)), /no `read` function/);
        const loud = infra.readShape();
        loud.route_throttles!["GET /health"] = { rate: loud.stage_throttle.rate + 1, burst: 1 };
        assert.throws(() => infra.deploy(infra.settings(loud)), /more than the stage's throttle/);
        const unknown = infra.readShape();
        unknown.route_throttles!["GET /api/dlq"] = { rate: 1, burst: 1 };
        assert.throws(() => infra.deploy(infra.settings(unknown)), /not a route of the API/);
    });

    it("runs MySQL 8.4, in standard support, with Extended Support refused", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.engine, "mysql");
        assert.equal(db.inputs.engineVersion, "8.4");
        assert.equal(db.inputs.engineLifecycleSupport, "open-source-rds-extended-support-disabled");
    });

    it("migrates once per deploy as a step before the functions change, never on a cold start", async () => {
        const invocations = ofType("aws:lambda/invocation:Invocation");
        assert.equal(invocations.length, 1);
        const infra = await import("../infra");
        const step = invocations[0].inputs;
        assert.equal(step.triggers.migrations, infra.migrationsDigest(), "re-run when db/migrations changes");
        assert.deepEqual(JSON.parse(step.input), { migrations: infra.migrationsDigest() }, "the binary checks it carries the same");
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
        // (engine/tests/migrations.rs checks the same example to the same value).
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "migrations-"));
        fs.writeFileSync(path.join(dir, "0002_y.sql"), "SELECT 2;\n");
        fs.writeFileSync(path.join(dir, "0001_x.sql"), "SELECT 1;\n");
        assert.equal(infra.migrationsDigest(dir), "31a763051d3d939dd7c9589cf588f1b48bf971d6bf6afb6b8dea9f44b5f5253e");
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

    it("exports the endpoints a user needs", async () => {
        assert.equal(await value(out.api_endpoint), "https://abc123.execute-api.mock/");
        assert.equal(await value(out.db_endpoint), "db.mock");
        assert.match(await value(out.order_queue_url), /orderflow-orders$/);
        assert.match(await value(out.processed_queue_url), /orderflow-processed$/);
    });
});
