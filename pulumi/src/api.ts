// The HTTP API: the order and read routes only (the DLQ routes stay
// private), behind a JWT authorizer when the stack names an issuer, each
// route to the live alias of the function that serves it; the $default
// stage with its throttles and access log.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

import { apiAlarms } from "./alarms";
import type { Pipeline } from "./functions";
import { live } from "./lambda";
import { ROUTES } from "./rules";
import type { Stack } from "./stack";

/** The API, its integrations with the live aliases, its routes and their invoke permissions. */
export function httpApi(st: Stack, { ingest, read }: Pipeline) {
    const { s, name, tags } = st;
    const liveIngest = live(st, "ingest", ingest);
    if (s.saleProvisionedConcurrency > 0) {
        new aws.lambda.ProvisionedConcurrencyConfig(`${name}-ingest-provisioned`, {
            functionName: ingest.name,
            qualifier: liveIngest.name,
            provisionedConcurrentExecutions: s.saleProvisionedConcurrency,
        });
    }
    const liveRead = read ? live(st, "read", read) : undefined;
    const api = new aws.apigatewayv2.Api(`${name}-api`, { protocolType: "HTTP", tags });
    const integrationOf = (fname: string, alias: aws.lambda.Alias) =>
        new aws.apigatewayv2.Integration(`${name}-${fname}`, {
            apiId: api.id,
            integrationType: "AWS_PROXY",
            integrationUri: alias.invokeArn,
            payloadFormatVersion: "2.0",
        });
    const ingestIntegration = integrationOf("ingest", liveIngest);
    const readIntegration = liveRead ? integrationOf("read", liveRead) : ingestIntegration;
    const authorizer = s.jwt
        ? new aws.apigatewayv2.Authorizer(`${name}-jwt`, {
              apiId: api.id,
              authorizerType: "JWT",
              identitySources: ["$request.header.Authorization"],
              jwtConfiguration: { issuer: s.jwt.issuer, audiences: s.jwt.audiences },
          })
        : undefined;
    if (!authorizer) {
        pulumi.log.warn("the API is public and anonymous: set jwtIssuer and jwtAudience for a JWT authorizer");
    }
    const routeResources = ROUTES.map(
        (routeKey, i) =>
            new aws.apigatewayv2.Route(`${name}-route-${i}`, {
                apiId: api.id,
                routeKey,
                target: pulumi.interpolate`integrations/${(routeKey === "POST /api/orders" ? ingestIntegration : readIntegration).id}`,
                ...(authorizer && routeKey !== "GET /health" ? { authorizationType: "JWT", authorizerId: authorizer.id } : {}),
            }),
    );
    const stage = apiStage(st, api, routeResources);
    // Each function's live alias may be invoked by API Gateway only for
    // the routes it serves, on the $default stage: one permission a route.
    ROUTES.forEach((routeKey, i) => {
        const [fname, func] = routeKey === "POST /api/orders" || !read ? (["ingest", ingest] as const) : (["read", read] as const);
        new aws.lambda.Permission(`${name}-api-invokes-${fname}-${i}`, {
            action: "lambda:InvokeFunction",
            function: func.name,
            qualifier: "live",
            principal: "apigateway.amazonaws.com",
            sourceArn: pulumi.interpolate`${api.executionArn}/${routeSourceArn(routeKey)}`,
        });
    });
    return { api, stage };
}

/** The part of an invoke permission's source ARN after the API's execution
 * ARN for `routeKey` on the $default stage: `$default/GET/api/orders/*` for
 * `GET /api/orders/{order_id}` (a path parameter matches one segment). */
export function routeSourceArn(routeKey: string): string {
    const [method, path] = routeKey.split(" ");
    return `$default/${method}${path.replace(/\{[^}]+\}/g, "*")}`;
}

/** The stage: its throttles, its access log, its alarms. */
export function apiStage(st: Stack, api: aws.apigatewayv2.Api, routeResources: aws.apigatewayv2.Route[]) {
    const { s, shape, name, physical, tags } = st;
    const accessLogs = new aws.cloudwatch.LogGroup(`${name}-api-access`, {
        name: `/aws/apigateway/${physical}-access`,
        retentionInDays: s.db.logRetentionDays,
        tags,
    });
    const stage = new aws.apigatewayv2.Stage(
        `${name}-default`,
        {
            apiId: api.id,
            name: "$default",
            autoDeploy: true,
            defaultRouteSettings: {
                throttlingRateLimit: shape.stage_throttle.rate,
                throttlingBurstLimit: shape.stage_throttle.burst,
            },
            routeSettings: Object.entries(shape.route_throttles ?? {}).map(([routeKey, t]) => ({
                routeKey,
                throttlingRateLimit: t.rate,
                throttlingBurstLimit: t.burst,
            })),
            accessLogSettings: {
                destinationArn: accessLogs.arn,
                // One JSON object a request, for Logs Insights.
                format: JSON.stringify({
                    requestId: "$context.requestId",
                    ip: "$context.identity.sourceIp",
                    time: "$context.requestTime",
                    route: "$context.routeKey",
                    status: "$context.status",
                    latencyMs: "$context.responseLatency",
                    integrationError: "$context.integrationErrorMessage",
                    authorizerError: "$context.authorizer.error",
                    subject: "$context.authorizer.claims.sub",
                }),
            },
            tags,
        },
        { dependsOn: routeResources },
    );
    apiAlarms(st, api, stage, accessLogs);
    return stage;
}
