// The settings file, deploy/settings.json: its type, generated from the
// JSON Schema the engine's Rust type generates (shape.generated.ts, by
// `npm run gen`), and its reading, which refuses what the engine's
// `DeploymentSettings::parse` refuses.

import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020";
import * as fs from "node:fs";
import * as path from "node:path";

import { checkSettings } from "./rules";
import type { DeploymentSettings } from "./shape.generated";

// The types below are read off the generated one by property, so they hold
// whether the schema gives `functions` and `event_sources` as maps keyed by
// name or as objects with a property a name.

/** One function's shape. */
export type FunctionShape = NonNullable<DeploymentSettings["functions"]["ingest"]>;
/** An SQS event source mapping's shape. */
export type EventSourceShape = NonNullable<DeploymentSettings["event_sources"]["processor"]>;
/** A token bucket: requests a second, steady, and the most at once. */
export type Throttle = DeploymentSettings["stage_throttle"];

/** The functions an SQS event source mapping feeds (rules.ts CONSUMERS). */
export type Consumer = "processor" | "notifier";

/**
 * The deployed shape: `deploy/settings.json`, the one file this program
 * deploys and `sim` simulates. `read`, if present, serves the read routes;
 * ingest then serves POST /api/orders only, and with pool_size 0 has no
 * database.
 */
export type Shape = Omit<DeploymentSettings, "functions" | "event_sources"> & {
    // `read` absent or null: ingest serves the reads (a schema that names
    // the properties may give an optional function as null).
    functions: { ingest: FunctionShape; processor: FunctionShape; notifier: FunctionShape; read?: FunctionShape | null };
    event_sources: Record<Consumer, EventSourceShape>;
};
export type FunctionName = keyof Shape["functions"];

/** The repository's deploy/ directory, from pulumi/ (where `pulumi up` and the tests run). */
export const deployDir = (...file: string[]) => path.resolve(process.cwd(), "..", "deploy", ...file);

/** Reads the shape; `file` defaults to `../deploy/settings.json` from here. */
export function readShape(file = deployDir("settings.json")): Shape {
    return validShape(JSON.parse(fs.readFileSync(file, "utf8")), file);
}

let settingsSchema: ValidateFunction<Shape> | undefined;

/** The schema's validator: `uint32` checked as serde checks a u32. */
function schemaValidator(): ValidateFunction<Shape> {
    if (settingsSchema === undefined) {
        const schema = JSON.parse(fs.readFileSync(deployDir("settings.schema.json"), "utf8"));
        const ajv = new Ajv2020({ allErrors: true, strict: false, verbose: true });
        ajv.addFormat("uint32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= 0 && n <= 0xffffffff });
        // The schema requires ingest, processor and notifier, and names
        // `read` the one other function: what `Shape` says.
        settingsSchema = ajv.compile<Shape>(schema);
    }
    return settingsSchema;
}

/**
 * The settings checked against `deploy/settings.schema.json` (a key the sim
 * would refuse, misspelt, missing, of the wrong type, a function it does not
 * know, fails `pulumi up` too, before anything is built), then against the
 * rules the engine's parse adds (rules.ts `checkSettings`).
 */
export function validShape(value: unknown, file: string): Shape {
    const valid = schemaValidator();
    if (!valid(value)) {
        // The key or the value at fault, in backticks as the engine's
        // messages give them (`max_connection`, `4294967296`, `"fast"`).
        const named = (e: ErrorObject) =>
            ["additionalProperty", "propertyName", "missingProperty"].filter((k) => k in e.params).map((k) => ` \`${String(e.params[k])}\``).join("") +
            (["type", "format", "minimum"].includes(e.keyword) ? `: \`${JSON.stringify(e.data)}\`` : "");
        const errors = (valid.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${named(e)}`);
        throw new Error(`${file} is not a settings file the engine reads: ${errors.join("; ")}`);
    }
    try {
        checkSettings(value);
    } catch (e) {
        throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return value;
}
