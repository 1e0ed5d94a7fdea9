// The table of settings cases the engine computes too
// (deploy/settings-cases.json): each case's refusals and every number the
// program derives, computed here with the program's own functions
// (src/shape.ts, src/rules.ts), so the TypeScript and the Rust rules
// cannot drift apart.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";

import * as rules from "../src/rules";
import { validShape, type FunctionName, type Shape } from "../src/shape";

const root = (...file: string[]) => path.resolve(process.cwd(), "..", ...file);
const json = (...file: string[]) => JSON.parse(fs.readFileSync(root(...file), "utf8"));
const table = json("deploy", "settings-cases.json");

/** `edit` laid over `base` as the engine's tests lay it: objects key by key, anything else (null too) replaced. */
function merge(base: unknown, edit: unknown): unknown {
    const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!isObject(base) || !isObject(edit)) return edit;
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(edit)) out[k] = merge(base[k], v);
    return out;
}

/** What the program says of a case, in the table's fields. */
function computed(c: { name: string; base?: string; edit: unknown }) {
    const settings = merge(json(c.base ?? "deploy/settings.json"), c.edit);
    let shape: Shape;
    try {
        shape = validShape(settings, c.name);
    } catch (e) {
        return { refused: e instanceof Error ? e.message : String(e) };
    }
    let refusedToDeploy: string | null = null;
    try {
        rules.checkShape(shape);
    } catch (e) {
        refusedToDeploy = e instanceof Error ? e.message : String(e);
    }
    const budget = rules.connectionBudget(shape);
    const names: FunctionName[] = rules.functionNames(shape);
    return {
        refused: null,
        refused_to_deploy: refusedToDeploy,
        needed: budget.needed,
        available: budget.available,
        fits: budget.needed <= budget.available,
        max_environments: Object.fromEntries(names.map((f) => [f, rules.maxEnvironments(shape, f)])),
        connection_alarm_threshold: rules.connectionAlarmThreshold(shape),
        lock_wait_secs: rules.lockWaitSecs(shape),
        reserved_concurrency: rules.reservedConcurrency(shape),
        fits_account: rules.fitsAccount(shape.account_concurrency, shape),
    };
}

describe("the settings cases both languages compute", () => {
    it("computes the connection budget of every hand-worked case the engine also computes", () => {
        assert.ok(table.cases.length >= 30, `${table.cases.length} cases`);
        for (const c of table.cases.filter((x: { refused: string | null }) => x.refused === null)) {
            const got = computed(c);
            assert.deepEqual(
                [got.needed, got.available, got.fits, got.max_environments],
                [c.needed, c.available, c.fits, c.max_environments],
                c.name,
            );
        }
    });

    it("computes every refusal and number of deploy/settings-cases.json the engine also computes: alarm, lock wait, account", () => {
        const fields = Object.keys(table.fields);
        for (const c of table.cases) {
            for (const k of Object.keys(c)) assert.ok(fields.includes(k), `${c.name}: ${k} is described in "fields"`);
            const got = computed(c);
            if (c.refused !== null) {
                assert.ok(got.refused?.includes(c.refused), `${c.name}: refused for "${c.refused}", not ${got.refused}`);
                for (const k of fields.filter((f) => !["name", "base", "edit", "refused", "routes", "constants"].includes(f))) {
                    assert.equal(c[k], null, `${c.name}: ${k} of settings refused`);
                }
                continue;
            }
            assert.equal(got.refused, null, c.name);
            if (c.refused_to_deploy === null) {
                assert.equal(got.refused_to_deploy, null, c.name);
            } else {
                assert.ok(got.refused_to_deploy?.includes(c.refused_to_deploy), `${c.name}: refused to deploy for "${c.refused_to_deploy}", not ${got.refused_to_deploy}`);
            }
            const { refused: _r, refused_to_deploy: _d, ...numbers } = got;
            const { name: _n, base: _b, edit: _e, refused: _cr, refused_to_deploy: _cd, ...want } = c;
            assert.deepEqual(numbers, want, c.name);
        }
    });

    it("holds the routes and constants of the table, the engine's API_ROUTES in its order", () => {
        assert.deepEqual([...rules.ROUTES], table.routes);
        assert.deepEqual(
            { init_extra_connections: rules.INIT_EXTRA_CONNECTIONS, unreserved_minimum: rules.UNRESERVED_MINIMUM, migration_reserved: rules.MIGRATION_FUNCTION.reserved_concurrency },
            table.constants,
        );
        // The Rust test of the same table holds its API_ROUTES to these.
    });
});
