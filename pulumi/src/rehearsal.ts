// The token issuer of a rehearsal stack (`rehearsal: true`): a Cognito user
// pool with one app client that gets access tokens by the client
// credentials grant, so `sim rehearse` can send the sale through the JWT
// authorizer as a production stack runs it, with no identity provider of
// the team's own. The authorizer takes the pool as its issuer and the
// client as its audience.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as crypto from "node:crypto";

import type { Stack } from "./stack";

/** The resource server's identifier and its one scope: a client credentials grant needs a custom scope. */
export const RESOURCE_SERVER = "orderflow";
export const SCOPE = "orders";

/** Words Cognito refuses anywhere in a domain prefix ("Domain cannot contain reserved word: ..."). */
const RESERVED = ["amazon", "cognito", "aws"];

/**
 * The prefix of the pool's hosted domain (`<prefix>.auth.<region>.amazoncognito.com`,
 * where the token endpoint is): `orderflow-<stack>-<8 hex digits of the
 * account id's SHA-256>`. A prefix is unique among every account's in the
 * region, so the stack's name alone (`rehearsal`) would collide with
 * another team's; the digest keeps it this account's without putting the
 * account id in a public DNS name. Cognito's rules (AWS CloudFormation
 * reference, AWS::Cognito::UserPoolDomain, `Domain`, read 2026-12-06):
 * lowercase letters, digits and hyphens, not first or last, 1 to 63
 * characters; and no reserved word (aws, amazon, cognito), which are
 * dropped from the stack's part.
 */
export function cognitoDomainPrefix(stack: string, accountId: string): string {
    let part = stack.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    // Again until none is left: dropping one can join the halves of another (`awamazons`).
    while (RESERVED.some((word) => part.includes(word))) {
        for (const word of RESERVED) part = part.split(word).join("");
    }
    part = part.replace(/-+/g, "-").replace(/^-|-$/g, "").slice(0, 40).replace(/-$/, "");
    const digest = crypto.createHash("sha256").update(accountId).digest("hex").slice(0, 8);
    return ["orderflow", part, digest].filter((p) => p).join("-");
}

/** The pool, its domain, the resource server and the client; the authorizer's issuer and audience; the rehearsal's outputs. */
export function tokenIssuer(st: Stack) {
    const { name, physical, tags } = st;
    const region = aws.getRegionOutput().region;
    const account = aws.getCallerIdentityOutput().accountId;
    const pool = new aws.cognito.UserPool(`${name}-rehearsal-pool`, { name: `${physical}-rehearsal`, tags });
    const domain = new aws.cognito.UserPoolDomain(`${name}-rehearsal-domain`, {
        domain: account.apply((id) => cognitoDomainPrefix(pulumi.getStack(), id)),
        userPoolId: pool.id,
    });
    const server = new aws.cognito.ResourceServer(`${name}-rehearsal-api`, {
        userPoolId: pool.id,
        identifier: RESOURCE_SERVER,
        name: `${physical} API`,
        scopes: [{ scopeName: SCOPE, scopeDescription: "place and read orders" }],
    });
    const client = new aws.cognito.UserPoolClient(
        `${name}-rehearsal-client`,
        {
            userPoolId: pool.id,
            name: `${physical}-rehearsal`,
            generateSecret: true,
            allowedOauthFlowsUserPoolClient: true,
            allowedOauthFlows: ["client_credentials"],
            allowedOauthScopes: [`${RESOURCE_SERVER}/${SCOPE}`],
            supportedIdentityProviders: ["COGNITO"],
        },
        // The scope exists once the resource server does.
        { dependsOn: [server] },
    );
    // A client credentials access token has no `aud`: it names its client
    // in `client_id`, which API Gateway checks against the audiences when a
    // token has no `aud` ("aud or client_id – Must match one of the
    // audience entries configured for the authorizer. API Gateway validates
    // client_id only if aud is not present": Amazon API Gateway Developer
    // Guide, Control access to HTTP APIs with JWT authorizers,
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html,
    // read 2026-12-06). Its `sub` is the client id too, so every order of
    // the rehearsal is the client's own (`sim load --customer`).
    const jwt = {
        issuer: pulumi.interpolate`https://cognito-idp.${region}.amazonaws.com/${pool.id}`,
        audiences: [client.id],
        customerClaim: "sub",
    };
    return {
        jwt,
        outputs: {
            rehearsal_token_url: pulumi.interpolate`https://${domain.domain}.auth.${region}.amazoncognito.com/oauth2/token`,
            rehearsal_client_id: client.id,
            rehearsal_client_secret: pulumi.secret(client.clientSecret),
            rehearsal_scope: `${RESOURCE_SERVER}/${SCOPE}`,
        },
    };
}
