// The functions' rights on Pulumi's mocks: no managed policy, each role
// its own queues and secrets, `*` only where AWS requires it (src/iam.ts).
// tests/classes.test.ts holds every role to its exact set.
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { asList, deployed, mockStack, ofType, program, statements } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's rights", () => {
    before(async () => {
        await deployed();
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
        // Each `client.<operation>()` of lambda/src/secrets.rs is an IAM
        // action: a call added there without its action here fails this
        // test, not the first rotation on AWS (moto enforces no IAM).
        const rs = fs.readFileSync(path.resolve(process.cwd(), "..", "lambda", "src", "secrets.rs"), "utf8");
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
        const src = await program();
        const groups = Object.fromEntries(ofType("aws:cloudwatch/logGroup:LogGroup").map((g) => [g.name, `arn:aws:mock:::${g.name}`]));
        for (const [policy, sts] of Object.entries(statements())) {
            for (const st of sts) {
                assert.equal(st.Effect, "Allow");
                const actions = asList(st.Action as string | string[]);
                for (const a of actions) assert.ok(!a.includes("*"), `${policy}: wildcard action ${a}`);
                for (const r of asList(st.Resource as string | string[])) {
                    if (r === "*") {
                        const changes = src.NETWORK_INTERFACE_ACTIONS.filter((a) => !src.NETWORK_INTERFACE_DESCRIBES.includes(a));
                        if (st.Condition === undefined) {
                            assert.deepEqual(actions, src.NETWORK_INTERFACE_DESCRIBES, `${policy}: \`*\` unconditioned only for the describes`);
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

    it("exports each function's policy as deploy/iam-policies.json, which the moto tests run the code under", () => {
        // The file is the program's, not a copy by hand: each role's inline
        // policy with the stack's ARNs as `${name}` placeholders, which the
        // Rust tests fill with moto's (lambda/tests/deploy_step.rs runs the
        // migration step and the ingest function each under its own).
        const exported = Object.fromEntries(
            Object.entries(statements())
                .map(([name, st]) => [name.replace(`orderflow-`, ""), { Version: "2012-10-17", Statement: st }] as const)
                .sort(([a], [b]) => a.localeCompare(b)),
        );
        const text =
            JSON.stringify(exported, null, 2)
                .replace(/arn:aws:mock:::orderflow-([a-z0-9-]+)/g, "$${$1}")
                .replace(/arn:aws:secretsmanager:mock:secret:db/g, "$${master-secret}") + "\n";
        const file = path.resolve(process.cwd(), "..", "deploy", "iam-policies.json");
        if (process.env.WRITE_IAM_POLICIES) fs.writeFileSync(file, text);
        assert.equal(
            fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "",
            text,
            "deploy/iam-policies.json is stale: run `WRITE_IAM_POLICIES=1 npm test` in pulumi/",
        );
    });
});
