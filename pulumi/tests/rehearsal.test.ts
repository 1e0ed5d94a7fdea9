// A rehearsal stack (`rehearsal: true`, the production preset, no JWT
// issuer configured) on Pulumi's mocks: its own token issuer, a Cognito
// user pool whose client gets tokens by the client credentials grant, wired
// into the JWT authorizer; a database `pulumi destroy` can remove; the
// outputs `sim rehearse` and `sim collect` read (src/rehearsal.ts).

import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as assert from "node:assert/strict";

import { deployed, mockStack, ofType, program, value } from "./mocks";

mockStack("rehearsal", { preset: "production", rehearsal: "true" });

/** The mocks' ids: `<logical name>-id`. */
const POOL_ID = "orderflow-rehearsal-pool-id";
const CLIENT_ID = "orderflow-rehearsal-client-id";

describe("a rehearsal stack", () => {
    let out: Record<string, any>;

    before(async () => {
        out = await deployed();
    });

    it("makes a user pool, its domain, a resource server with one scope and a client credentials client with a secret", () => {
        const cognito = ofType("aws:cognito/userPool:UserPool").concat(
            ...["userPoolDomain:UserPoolDomain", "resourceServer:ResourceServer", "userPoolClient:UserPoolClient"].map((t) => ofType(`aws:cognito/${t}`)),
        );
        assert.equal(cognito.length, 4, "one of each");
        const [server] = ofType("aws:cognito/resourceServer:ResourceServer");
        assert.equal(server.inputs.identifier, "orderflow");
        assert.deepEqual(
            server.inputs.scopes.map((s: any) => s.scopeName),
            ["orders"],
        );
        const [client] = ofType("aws:cognito/userPoolClient:UserPoolClient");
        assert.equal(client.inputs.userPoolId, POOL_ID);
        assert.equal(client.inputs.generateSecret, true, "the client credentials grant needs a secret");
        assert.deepEqual(client.inputs.allowedOauthFlows, ["client_credentials"], "no user flows: only the machine's");
        assert.equal(client.inputs.allowedOauthFlowsUserPoolClient, true);
        assert.deepEqual(client.inputs.allowedOauthScopes, ["orderflow/orders"]);
        const [domain] = ofType("aws:cognito/userPoolDomain:UserPoolDomain");
        assert.equal(domain.inputs.userPoolId, POOL_ID);
        assert.match(domain.inputs.domain, /^orderflow-rehearsal-[0-9a-f]{8}$/, "derived from the stack's name");
    });

    it("authorizes with the pool as the issuer and the client as the audience (API Gateway checks client_id when a token has no aud)", () => {
        const [auth] = ofType("aws:apigatewayv2/authorizer:Authorizer");
        assert.equal(auth.inputs.authorizerType, "JWT");
        assert.equal(auth.inputs.jwtConfiguration.issuer, `https://cognito-idp.us-east-1.amazonaws.com/${POOL_ID}`);
        assert.deepEqual(auth.inputs.jwtConfiguration.audiences, [CLIENT_ID]);
        for (const r of ofType("aws:apigatewayv2/route:Route").filter((r) => r.inputs.routeKey !== "GET /health")) {
            assert.equal(r.inputs.authorizationType, "JWT", r.inputs.routeKey);
        }
        // A client credentials token's `sub` is the client id: the orders' customer.
        const ingest = ofType("aws:lambda/function:Function").find((f) => f.name === "orderflow-ingest")!;
        assert.equal(ingest.inputs.environment.variables.CUSTOMER_CLAIM, "sub");
    });

    it("runs the production shape, with a database and secrets pulumi destroy removes whole", async () => {
        const [db] = ofType("aws:rds/instance:Instance");
        const src = await program();
        assert.equal(db.inputs.multiAz, true);
        assert.equal(db.inputs.instanceClass, src.readShape().production_instance_class);
        assert.equal(db.inputs.backupRetentionPeriod, 14, "the preset's backups");
        assert.equal(db.inputs.deletionProtection, false, "destroy would be refused");
        assert.equal(db.inputs.skipFinalSnapshot, true, "no snapshot left billing, or in the way of the next rehearsal's");
        for (const s of ofType("aws:secretsmanager/secret:Secret")) assert.equal(s.inputs.recoveryWindowInDays, 0, s.name);
    });

    it("outputs what sim rehearse and sim collect read, the client's secret as a secret", async () => {
        assert.equal(await value(out.api_id), "orderflow-api-id");
        assert.equal(await value(out.stage), "$default");
        assert.equal(await value(out.db_instance_id), "orderflow-db");
        const names = await value(pulumi.output(out.function_names));
        assert.deepEqual(names, {
            ingest: "orderflow-rehearsal-ingest",
            read: "orderflow-rehearsal-read",
            processor: "orderflow-rehearsal-processor",
            notifier: "orderflow-rehearsal-notifier",
        });
        const domain = ofType("aws:cognito/userPoolDomain:UserPoolDomain")[0].inputs.domain;
        assert.equal(await value(out.rehearsal_token_url), `https://${domain}.auth.us-east-1.amazoncognito.com/oauth2/token`);
        assert.equal(await value(out.rehearsal_client_id), CLIENT_ID);
        assert.equal(await value(out.rehearsal_scope), "orderflow/orders");
        assert.equal(await out.rehearsal_client_secret.isSecret, true, "never printed by pulumi stack output without --show-secrets");
    });

    it("exports every output deploy returns from index.ts, by the same name", () => {
        const index = fs.readFileSync(path.resolve(__dirname, "..", "..", "index.ts"), "utf8");
        const exported = [...index.matchAll(/^export const (\w+) = out\.(\w+);$/gm)];
        for (const [, name, key] of exported) assert.equal(name, key);
        assert.deepEqual(exported.map(([, name]) => name).sort(), Object.keys(out).sort());
    });

    it("derives a domain prefix Cognito takes from any stack name", async () => {
        const { cognitoDomainPrefix } = await import("../src/rehearsal");
        const valid = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
        for (const stack of ["rehearsal", "Shop-Prod", "aws-cognito-amazon", "awamazons", "x".repeat(200), "a-b-aws"]) {
            const prefix = cognitoDomainPrefix(stack, "123456789012");
            assert.match(prefix, valid, stack);
            assert.ok(prefix.length <= 63, stack);
            for (const word of ["aws", "amazon", "cognito"]) assert.ok(!prefix.includes(word), `${stack}: ${prefix}`);
        }
        assert.equal(cognitoDomainPrefix("Shop-Prod", "1"), cognitoDomainPrefix("shop-prod", "1"));
        assert.notEqual(cognitoDomainPrefix("rehearsal", "111111111111"), cognitoDomainPrefix("rehearsal", "222222222222"), "another account, another prefix");
        assert.ok(!cognitoDomainPrefix("rehearsal", "123456789012").includes("123456789012"), "the account id stays out of DNS");
    });

    it("refuses a rehearsal with a JWT issuer of its own, saying what to unset", async () => {
        const src = await program();
        pulumi.runtime.setAllConfig({
            "orderflow:preset": "production",
            "orderflow:rehearsal": "true",
            "orderflow:jwtIssuer": "https://auth.example.com/",
            "orderflow:jwtAudience": "a",
        });
        assert.throws(() => src.settings(), /rehearsal true makes the stack its own token issuer.*pulumi config rm jwtIssuer/);
        pulumi.runtime.setAllConfig({ "orderflow:preset": "production", "orderflow:rehearsal": "true" });
        const s = src.settings();
        assert.equal(s.rehearsal, true);
        assert.equal(s.jwt, undefined, "the issuer is made by deploy, not configured");
        pulumi.runtime.setAllConfig({ "orderflow:preset": "production", "orderflow:allowAnonymous": "true" });
        assert.equal(src.settings().rehearsal, false, "off unless asked");
        assert.equal(src.settings().db.deletionProtection, true, "a production stack keeps its protection");
    });
});
