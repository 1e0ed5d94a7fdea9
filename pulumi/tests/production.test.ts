// A stack of the `production` preset, with an alarm email and a JWT issuer
// configured: what the production preset and the identity settings deploy.
// It is named `dev` on purpose: the preset decides, not the name.

import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { deployed, mockStack, ofType, program } from "./mocks";

mockStack("dev", {
    preset: "production",
    alarmEmail: "ops@example.com",
    alarmHttpsEndpoint: "https://hooks.example.com/orderflow",
    jwtIssuer: "https://auth.example.com/",
    jwtAudience: "orderflow-api, orderflow-admin",
    saleProvisionedConcurrency: "100",
});

describe("a production stack", () => {
    before(async () => {
        await deployed();
    });

    it("protects the database: Multi-AZ, deletion protection, a final snapshot, two weeks of backups", () => {
        const [db] = ofType("aws:rds/instance:Instance");
        assert.equal(db.inputs.multiAz, true);
        assert.equal(db.inputs.deletionProtection, true, "a production database cannot be deleted by accident");
        assert.equal(db.inputs.skipFinalSnapshot, false);
        assert.equal(db.inputs.finalSnapshotIdentifier, "orderflow-dev-final");
        assert.equal(db.inputs.backupRetentionPeriod, 14);
        for (const s of ofType("aws:secretsmanager/secret:Secret")) assert.equal(s.inputs.recoveryWindowInDays, 30, s.name);
    });

    it("turns Performance Insights on where the instance class has it", async () => {
        const src = await program();
        const [db] = ofType("aws:rds/instance:Instance");
        const shape = src.readShape();
        assert.equal(db.inputs.instanceClass, shape.production_instance_class, "the production class");
        assert.equal(db.inputs.performanceInsightsEnabled, true, "db.t4g.medium has it");
        assert.equal(src.supportsPerformanceInsights("db.t4g.micro"), false, "not on the smallest burstable classes");
        assert.equal(src.supportsPerformanceInsights("db.t4g.medium"), true);
        assert.equal(src.supportsPerformanceInsights("db.m7g.large"), true);
    });

    it("posts the alarms to the configured HTTPS endpoint too (a pager or a chat)", () => {
        const subs = ofType("aws:sns/topicSubscription:TopicSubscription");
        const https = subs.find((x) => x.inputs.protocol === "https")!;
        assert.equal(https.inputs.endpoint, "https://hooks.example.com/orderflow");
    });

    it("emails the alarms to the configured address", () => {
        const sub = ofType("aws:sns/topicSubscription:TopicSubscription").find((x) => x.inputs.protocol === "email")!;
        assert.equal(sub.inputs.endpoint, "ops@example.com");
        for (const a of ofType("aws:cloudwatch/metricAlarm:MetricAlarm")) assert.ok(a.inputs.alarmActions.length > 0, a.name);
    });

    it("puts every route but /health behind the JWT authorizer of the configured issuer and audiences", () => {
        const [auth] = ofType("aws:apigatewayv2/authorizer:Authorizer");
        assert.equal(auth.inputs.authorizerType, "JWT");
        assert.deepEqual(auth.inputs.identitySources, ["$request.header.Authorization"]);
        assert.equal(auth.inputs.jwtConfiguration.issuer, "https://auth.example.com/");
        assert.deepEqual(auth.inputs.jwtConfiguration.audiences, ["orderflow-api", "orderflow-admin"]);
        for (const r of ofType("aws:apigatewayv2/route:Route")) {
            if (r.inputs.routeKey === "GET /health") {
                assert.equal(r.inputs.authorizationType, undefined, "a load balancer's probe needs no token");
            } else {
                assert.equal(r.inputs.authorizationType, "JWT", r.inputs.routeKey);
                assert.equal(r.inputs.authorizerId, "orderflow-jwt-id", r.inputs.routeKey);
            }
        }
    });

    it("tells the ingest and read functions which claim names the order's customer, and no other function", () => {
        const fns = ofType("aws:lambda/function:Function");
        const api = fns.filter((f) => f.name === "orderflow-ingest" || f.name === "orderflow-read");
        assert.equal(api.length, 2);
        for (const f of api) assert.equal(f.inputs.environment.variables.CUSTOMER_CLAIM, "sub", `${f.name}: the token's subject by default`);
        for (const f of fns.filter((f) => !api.includes(f))) {
            assert.equal(f.inputs.environment.variables.CUSTOMER_CLAIM, undefined, f.name);
        }
    });

    it("keeps ingest's live alias warm for the sale when asked (saleProvisionedConcurrency)", () => {
        const configs = ofType("aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig");
        assert.equal(configs.length, 1);
        assert.equal(configs[0].inputs.provisionedConcurrentExecutions, 100);
        assert.equal(configs[0].inputs.qualifier, "live", "on the alias the API calls");
        assert.equal(configs[0].inputs.functionName, "orderflow-dev-ingest");
    });

    it("keeps logs for 90 days and seeds no demo stock", () => {
        for (const g of ofType("aws:cloudwatch/logGroup:LogGroup")) assert.equal(g.inputs.retentionInDays, 90, g.name);
        const migrate = ofType("aws:lambda/function:Function").find((f) => f.name === "orderflow-migrate")!;
        assert.equal(migrate.inputs.environment.variables.DEMO_INVENTORY, "false", "a production stack named dev seeds nothing");
    });

    it("refuses a production stack without a JWT issuer unless anonymous orders are allowed on purpose", async () => {
        const pulumi = await import("@pulumi/pulumi");
        const src = await program();
        pulumi.runtime.setAllConfig({ "orderflow:preset": "production" });
        assert.throws(() => src.settings(), /needs a JWT issuer/);
        pulumi.runtime.setAllConfig({ "orderflow:preset": "production", "orderflow:allowAnonymous": "true" });
        assert.equal(src.settings().jwt, undefined);
        pulumi.runtime.setAllConfig({ "orderflow:preset": "dev" });
        assert.equal(src.settings().jwt, undefined, "a dev stack may be anonymous");
    });

    it("takes the order's customer from another claim when told to", async () => {
        const pulumi = await import("@pulumi/pulumi");
        const src = await program();
        const jwt = { "orderflow:preset": "production", "orderflow:jwtIssuer": "https://auth.example.com/", "orderflow:jwtAudience": "a" };
        pulumi.runtime.setAllConfig({ ...jwt, "orderflow:jwtCustomerClaim": "custom:customer_id" });
        assert.equal(src.settings().jwt?.customerClaim, "custom:customer_id");
        pulumi.runtime.setAllConfig(jwt);
        assert.equal(src.settings().jwt?.customerClaim, "sub");
    });

    it("refuses half a JWT configuration", async () => {
        const pulumi = await import("@pulumi/pulumi");
        pulumi.runtime.setAllConfig({ "orderflow:preset": "production", "orderflow:jwtIssuer": "https://auth.example.com/" });
        const src = await program();
        assert.throws(() => src.settings(), /set both jwtIssuer and jwtAudience/);
        pulumi.runtime.setAllConfig({ "orderflow:preset": "staging" });
        assert.throws(() => src.settings(), /preset must be production or dev/);
    });
});
