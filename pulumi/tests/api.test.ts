// The HTTP API on Pulumi's mocks: its routes and throttles, its access
// log, its exports, anonymous on a dev stack without a JWT issuer
// (src/api.ts).
//
// The `test` stack, with no config but the dev preset: no JWT authorizer,
// no alarm email (tests/production.test.ts deploys a production stack).

import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, value } from "./mocks";

mockStack("test", { preset: "dev" });

describe("the orderflow stack's API", () => {
    let out: Record<string, pulumi.Output<string>>;

    before(async () => {
        out = await deployed();
    });
    after(() => undefined);

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

    it("exports the endpoints a user needs", async () => {
        assert.equal(await value(out.api_endpoint), "https://abc123.execute-api.mock/");
        assert.equal(await value(out.db_endpoint), "db.mock");
        assert.match(await value(out.order_queue_url), /orderflow-orders$/);
        assert.match(await value(out.processed_queue_url), /orderflow-processed$/);
    });
});
