// Generated from deploy/settings.schema.json by json-schema-to-typescript:
// do not edit; after the schema changes, run `cd pulumi && npm run gen`.

/**
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "Architecture".
 */
export type Architecture = "x86_64" | "arm64";

export interface DeploymentSettings {
    /**
     * The account's Lambda concurrency limit in the region (AWS's default
     * is 1,000): the most environments a function without a cap may have.
     */
    account_concurrency: number;
    /**
     * The functions' processor architecture: what `scripts/build-lambdas.sh`
     * builds and the Pulumi program deploys (its stack config
     * `architecture` overrides it). arm64 (Graviton) costs about 20 % less
     * a GB-second.
     */
    architecture?: "x86_64" | "arm64";
    event_sources: EventSources;
    functions: Functions;
    /**
     * The RDS instance class (its price and memory; the connection limit
     * is [`DeploymentSettings::max_connections`], set explicitly).
     */
    instance_class: string;
    /**
     * MySQL's `max_connections`, set explicitly in the instance's parameter
     * group (RDS's default is a formula on `DBInstanceClassMemory`, the
     * memory left after the operating system and RDS's own processes,
     * which no table of classes knows exactly). The one number the
     * parameter group, the connection budget, the connection alarm and the
     * sim's limit all read.
     */
    max_connections: number;
    max_receive_count: number;
    /**
     * Whether each execution environment applies the migrations when it
     * starts (the first deployment did, as the master user). Off: the
     * migrations are a deploy step and the functions hold data rights only.
     */
    migrate_on_cold_start?: boolean;
    /**
     * The class a production stack runs instead (the Pulumi program's
     * `production` preset), with the same explicit `max_connections`.
     */
    production_instance_class?: string | null;
    /**
     * Connections kept free of the functions: RDS's own sessions
     * (`rdsadmin`), operators and the migration step.
     */
    reserved_connections: number;
    /**
     * Throttles of single routes (`"GET /health"`), each within the
     * stage's: API Gateway's route settings. A route without one has the
     * stage's.
     */
    route_throttles?: {
        [k: string]: Throttle;
    };
    stage_throttle: Throttle;
    visibility_timeout_secs: number;
    /**
     * MySQL's `wait_timeout` in the parameter group: how long the server
     * keeps an idle session, such as one left by an execution environment
     * Lambda reclaimed without closing its connections.
     */
    wait_timeout_secs: number;
}
/**
 * The SQS event source mapping of each queue consumer, by function.
 */
export interface EventSources {
    notifier: EventSource;
    processor: EventSource1;
}
/**
 * The processed queue's, invoking the notifier.
 */
export interface EventSource {
    batch_size: number;
    batching_window_secs: number;
    /**
     * The mapping's `maximumConcurrency` (2 to 1,000; none: no cap).
     */
    maximum_concurrency?: number | null;
}
/**
 * The order queue's, invoking the processor.
 */
export interface EventSource1 {
    batch_size: number;
    batching_window_secs: number;
    /**
     * The mapping's `maximumConcurrency` (2 to 1,000; none: no cap).
     */
    maximum_concurrency?: number | null;
}
/**
 * `ingest`, `processor`, `notifier`, and `read` if the read routes
 * have a function of their own (without one, ingest serves them).
 */
export interface Functions {
    ingest: Function;
    notifier: Function1;
    processor: Function1;
    /**
     * Serves the read routes, if the shape has a function for them.
     */
    read?: Function1 | null;
}
/**
 * Takes `POST /api/orders` (and, without a `read` function, the reads).
 */
export interface Function {
    memory_mb: number;
    /**
     * Database connections in each execution environment's pool.
     */
    pool_size: number;
    /**
     * Reserved concurrency: at most this many execution environments
     * (none: up to the account's limit).
     */
    reserved_concurrency?: number | null;
    timeout_secs: number;
}
/**
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "Function".
 */
export interface Function1 {
    memory_mb: number;
    /**
     * Database connections in each execution environment's pool.
     */
    pool_size: number;
    /**
     * Reserved concurrency: at most this many execution environments
     * (none: up to the account's limit).
     */
    reserved_concurrency?: number | null;
    timeout_secs: number;
}
/**
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "Throttle".
 */
export interface Throttle {
    burst: number;
    /**
     * Requests per second, steady.
     */
    rate: number;
}
/**
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "EventSource".
 */
export interface EventSource2 {
    batch_size: number;
    batching_window_secs: number;
    /**
     * The mapping's `maximumConcurrency` (2 to 1,000; none: no cap).
     */
    maximum_concurrency?: number | null;
}
/**
 * The SQS event source mapping of each queue consumer.
 *
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "EventSources".
 */
export interface EventSources1 {
    notifier: EventSource;
    processor: EventSource1;
}
/**
 * The shape's functions, by part: a misspelt or missing one does not
 * parse, and no code looks one up by a string.
 *
 * This interface was referenced by `DeploymentSettings`'s JSON-Schema
 * via the `definition` "Functions".
 */
export interface Functions1 {
    ingest: Function;
    notifier: Function1;
    processor: Function1;
    /**
     * Serves the read routes, if the shape has a function for them.
     */
    read?: Function1 | null;
}
