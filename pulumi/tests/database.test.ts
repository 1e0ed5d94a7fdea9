// The database on Pulumi's mocks: private, encrypted, TLS only, MySQL 8.4,
// its limits explicit and its changes in a pinned window (src/database.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, program } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's database", () => {
    before(async () => {
        await deployed();
    });

    it("keeps the database private, encrypted, with a generated password in Secrets Manager", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.engine, "mysql");
        assert.match(db.inputs.engineVersion, /^8\./);
        assert.equal(db.inputs.publiclyAccessible, false);
        assert.equal(db.inputs.storageEncrypted, true);
        assert.equal(db.inputs.manageMasterUserPassword, true);
        assert.equal(db.inputs.password, undefined, "no password in the program");
    });

    it("runs MySQL 8.4, in standard support, with Extended Support refused", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.engine, "mysql");
        assert.equal(db.inputs.engineVersion, "8.4");
        assert.equal(db.inputs.engineLifecycleSupport, "open-source-rds-extended-support-disabled");
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
        const src = await program();
        const [params] = ofType("aws:rds/parameterGroup:ParameterGroup");
        const p = Object.fromEntries(params.inputs.parameters.map((x: any) => [x.name, Number(x.value)]));
        const shortest = Math.min(...ofType("aws:lambda/function:Function").map((f) => f.inputs.timeout));
        assert.ok(p.innodb_lock_wait_timeout < shortest, `lock wait ${p.innodb_lock_wait_timeout} s < ${shortest} s`);
        assert.equal(p.innodb_lock_wait_timeout, src.lockWaitSecs(src.readShape()));
        assert.ok(p.wait_timeout >= 60 && p.wait_timeout <= 900, `wait_timeout ${p.wait_timeout} s`);
        assert.equal(p.wait_timeout, src.readShape().wait_timeout_secs);
    });

    it("sets max_connections explicitly, the number the budget and the connection alarm read", async () => {
        const src = await program();
        const shape = src.readShape();
        const [params] = ofType("aws:rds/parameterGroup:ParameterGroup");
        const p = Object.fromEntries(params.inputs.parameters.map((x: any) => [x.name, Number(x.value)]));
        assert.equal(p.max_connections, shape.max_connections);
        const alarm = ofType("aws:cloudwatch/metricAlarm:MetricAlarm").find((a) => a.inputs.metricName === "DatabaseConnections")!;
        assert.equal(alarm.inputs.threshold, src.connectionAlarmThreshold(shape));
        assert.ok(alarm.inputs.threshold < shape.max_connections, "reachable below the limit");
        // The same shape against a smaller explicit limit is refused.
        const smaller = { ...shape, max_connections: src.connectionBudget(shape).needed + shape.reserved_connections - 1 };
        assert.throws(() => src.checkShape(smaller), /max_connections/);
    });
});
