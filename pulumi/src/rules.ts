// The arithmetic and the refusals both languages share with
// sim/src/aws/settings/: the connection budget, the lock wait, the
// connection alarm, the account's concurrency; what the engine's parse
// refuses (`checkSettings`) and what a deploy refuses beside it
// (`checkShape`). deploy/settings-cases.json holds cases both compute.

import type { Consumer, FunctionName, FunctionShape, Shape } from "./shape";

/** The API's routes (sim/src/aws/settings/ API_ROUTES): orders go to ingest, the rest to the read function. */
export const ROUTES = [
    "POST /api/orders",
    "GET /api/orders/{order_id}",
    "GET /api/inventory",
    "GET /api/inventory/{product_id}",
    "GET /health",
] as const;

/** The functions an SQS event source mapping feeds (sim/src/aws/settings/ CONSUMERS). */
export const CONSUMERS: readonly Consumer[] = ["processor", "notifier"];

/**
 * Connections an execution environment's init opens beyond its pool (none:
 * sim/src/aws/settings/ INIT_EXTRA_CONNECTIONS, counted by a test).
 */
export const INIT_EXTRA_CONNECTIONS = 0;

/** What Lambda keeps unreserved in an account (AWS Lambda Developer Guide, "Configuring reserved concurrency"). */
export const UNRESERVED_MINIMUM = 100;

/** The Service Quotas code of Lambda's "Concurrent executions". */
export const LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384";

/** The migration function's shape: one at a time, one connection, time for a long migration (engine: MIGRATION_RESERVED). */
export const MIGRATION_FUNCTION: FunctionShape = { memory_mb: 256, timeout_secs: 300, reserved_concurrency: 1, pool_size: 1 };

/** The functions the shape has, in the order the engine keeps them (by name). */
export const functionNames = (shape: Shape) =>
    (Object.keys(shape.functions) as FunctionName[]).filter((f) => shape.functions[f] != null).sort();

/** The shapes of the functions the shape has. */
const functionShapes = (shape: Shape): FunctionShape[] => Object.values(shape.functions).filter((f): f is FunctionShape => f != null);

/** The most environments a function can have at once: its reservation, its mapping's cap, the account's limit. */
export function maxEnvironments(shape: Shape, fname: FunctionName): number {
    const caps = [shape.account_concurrency, shape.functions[fname]?.reserved_concurrency ?? null];
    // An absent cap is no cap, as a null one.
    if (fname === "processor" || fname === "notifier") caps.push(shape.event_sources[fname].maximum_concurrency ?? null);
    return Math.min(...caps.filter((c): c is number => c !== null));
}

/** Connections every function could hold at once, and what the explicit max_connections leaves them. */
export function connectionBudget(shape: Shape): { needed: number; available: number } {
    const needed = functionNames(shape).reduce((sum, f) => {
        const pool = shape.functions[f]?.pool_size ?? 0;
        // A function without a pool opens no connection at all.
        return sum + maxEnvironments(shape, f) * (pool === 0 ? 0 : pool + INIT_EXTRA_CONNECTIONS);
    }, 0);
    return { needed, available: Math.max(0, shape.max_connections - shape.reserved_connections) };
}

/** The connection alarm's threshold: 80% of the explicit max_connections. */
export function connectionAlarmThreshold(shape: Shape): number {
    return Math.floor((shape.max_connections * 4) / 5);
}

/** The lock wait that fits in the shortest function timeout, a third of it, so a waiting batch fails and is retried in time. */
export function lockWaitSecs(shape: Shape): number {
    const shortest = Math.min(...functionShapes(shape).map((f) => f.timeout_secs));
    return Math.max(1, Math.floor(shortest / 3));
}

/** Concurrency the stack reserves in the account: every function's reservation and the migration step's. */
export function reservedConcurrency(shape: Shape): number {
    const functions = functionShapes(shape).reduce((sum, f) => sum + (f.reserved_concurrency ?? 0), 0);
    return functions + (MIGRATION_FUNCTION.reserved_concurrency ?? 0);
}

/** Whether an account's Lambda concurrency quota holds the reservations and what Lambda keeps unreserved. */
export function fitsAccount(quota: number, shape: Shape): boolean {
    return reservedConcurrency(shape) + UNRESERVED_MINIMUM <= quota;
}

/**
 * Refuses an account whose Lambda concurrency quota cannot hold the
 * functions' reserved concurrency (the migration step's included) and the
 * unreserved minimum: `pulumi up` would fail half way, on the first
 * PutFunctionConcurrency past it. Answers the quota.
 */
export function checkAccountConcurrency(quota: number, shape: Shape): number {
    if (!fitsAccount(quota, shape)) {
        const reserved = reservedConcurrency(shape);
        throw new Error(
            `the account's Lambda concurrency quota is ${quota}: the functions reserve ${reserved} and AWS keeps ${UNRESERVED_MINIMUM} unreserved; ` +
                `ask for at least ${reserved + UNRESERVED_MINIMUM} (Service Quotas, AWS Lambda, Concurrent executions, ${LAMBDA_CONCURRENCY_QUOTA})`,
        );
    }
    return quota;
}

/**
 * What the engine's `DeploymentSettings::parse` refuses beyond the schema,
 * in its order and in its words: an ingest without a database and no read
 * function, a throttle for a route the API lacks or above the stage's.
 */
export function checkSettings(shape: Shape) {
    if (shape.functions.ingest.pool_size === 0 && !shape.functions.read) {
        throw new Error("functions: ingest has no database (pool_size 0) and no `read` function serves the read routes");
    }
    // By route key, as the engine's map keeps them.
    const throttles = Object.entries(shape.route_throttles ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [route, t] of throttles) {
        if (!(ROUTES as readonly string[]).includes(route)) {
            throw new Error(`route_throttles: \`${route}\` is not a route of the API (${ROUTES.join(", ")})`);
        }
        if (t.rate > shape.stage_throttle.rate || t.burst > shape.stage_throttle.burst) {
            throw new Error(`route_throttles: \`${route}\` allows more than the stage's throttle`);
        }
    }
}

/** A mapping's maximumConcurrency: AWS's 2 or more; uncapped, it scales to 1,000 batches. */
export function mappingCap(shape: Shape, fname: Consumer): number {
    const cap = shape.event_sources[fname].maximum_concurrency ?? null;
    if (cap === null || cap < 2) {
        throw new Error(`the ${fname} mapping needs a maximum_concurrency of 2 or more (AWS's minimum): uncapped, it scales to 1,000 batches`);
    }
    return cap;
}

/** Refuses what the engine refuses, and a shape that would open more connections than the instance allows, or whose mappings are uncapped. */
export function checkShape(shape: Shape) {
    checkSettings(shape);
    // Past the limit, connections are refused and orders retried toward the DLQ.
    const budget = connectionBudget(shape);
    if (budget.needed > budget.available) {
        throw new Error(
            `deploy/settings.json lets the functions open ${budget.needed} database connections; ` +
                `max_connections ${shape.max_connections} less ${shape.reserved_connections} reserved leaves them ${budget.available}: cap reserved concurrency, ` +
                `maximumConcurrency or pool sizes`,
        );
    }
    // AWS: a queue's visibility timeout at least six times its consumer's
    // timeout, or a batch still running comes back to another poller.
    const longest = Math.max(...CONSUMERS.map((f) => shape.functions[f].timeout_secs));
    if (shape.visibility_timeout_secs < 6 * longest) {
        throw new Error(
            `visibility_timeout_secs ${shape.visibility_timeout_secs} is under six times the consumers' timeout (${longest} s): ` +
                `a batch still being processed would be delivered again`,
        );
    }
    for (const fname of CONSUMERS) {
        const cap = mappingCap(shape, fname);
        const reserved = shape.functions[fname].reserved_concurrency ?? null;
        if (reserved !== null && cap > reserved) {
            throw new Error(`the ${fname} mapping's maximum_concurrency ${cap} is above the function's reserved concurrency ${reserved}: Lambda would throttle its batches`);
        }
    }
}
